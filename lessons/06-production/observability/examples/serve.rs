//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with one product (`MUG-RED`, id 1), measuring time with
//! the computer's clock, and writes its logs, one JSON object a line, to
//! the terminal, so you can call it by hand with `curl` and watch what it
//! logs (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p production-observability --example serve
//! ```
//!
//! The metrics live in the server's memory: stopping the server starts
//! them over. The file is `production-observability.db` in the system's
//! temporary folder, made anew at every start. It serves your code as it
//! was when it started: after a change, stop it with Ctrl+C and run it
//! again.

use std::path::{Path, PathBuf};

use axum::Router;
use production_observability::{Clock, Shop, subscriber};
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // The program, not the library, decides where logs go: here, the
    // terminal. In a container, standard output is where a log collector
    // reads them.
    tracing::subscriber::set_global_default(subscriber(std::io::stdout))
        .expect("nothing else installs a subscriber");
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("production-observability.db");
    remove_database(&path);
    let shop = Shop::open(&path, Clock::system()).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    db.execute(
        "INSERT INTO products (id, sku, name, price_cents, stock, created_at)
         VALUES (1, 'MUG-RED', 'Red mug', 1250, 12, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        [],
    )
    .expect("a new database takes the red mug");
    production_observability::app(shop)
}

/// Removes a database file left from an earlier run, with its journal.
fn remove_database(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut file = PathBuf::from(path).into_os_string();
        file.push(suffix);
        // A file that is not there is what we want.
        let _ = std::fs::remove_file(file);
    }
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "production/observability, a new shop with one product (MUG-RED, id 1), logs as \
         JSON lines below: listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
