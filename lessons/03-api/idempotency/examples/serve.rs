//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with one customer (1, Ada) and two products (7, the red
//! mug, 12 in stock; 8, the green tea, 1 in stock), so you can call it by
//! hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p api-idempotency --example serve
//! ```
//!
//! The file is `api-idempotency.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use api_idempotency::Shop;
use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("api-idempotency.db");
    remove_database(&path);
    let shop = Shop::open(&path).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    db.execute_batch(
        "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada');
         INSERT INTO products (id, sku, name, price_cents, stock, created_at) VALUES
             (7, 'MUG-RED', 'Red mug', 1250, 12, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
             (8, 'TEA-GREEN', 'Green tea', 450, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));",
    )
    .expect("a new database takes the example's customer and products");
    api_idempotency::app(shop)
}

/// Removes a database file left from an earlier run, with its WAL files.
fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = PathBuf::from(path).into_os_string();
        file.push(suffix);
        // A file that is not there is what we want.
        let _ = std::fs::remove_file(file);
    }
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "api/idempotency, a new shop with customer 1 and products 7 and 8: listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
