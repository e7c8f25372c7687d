//! Serves this exercise's `app()` on <http://localhost:3000>, on a fresh
//! database in memory, so you can call it by hand with `curl` (the book's
//! "Try it" shows how). Log events, such as the detail of a database error,
//! are printed on this terminal.
//!
//! ```console
//! cargo run -q -p server-errors --example serve
//! cargo run -q -p server-errors --example serve -- --broken
//! ```
//!
//! With `--broken`, the `notes` table has the wrong columns, as after a
//! botched migration, so every request meets a database error. It serves
//! your code as it was when it started: after a change, stop it with Ctrl+C
//! and run it again.

use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// A `notes` table without the `text` column the app reads and writes.
const BROKEN_SCHEMA: &str = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // A subscriber prints the events (at INFO and above) on standard output.
    tracing_subscriber::fmt().init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner(&args));
    axum::serve(listener, app(&args)).await
}

/// The app the tests check, on a new database in memory: with the right
/// schema, or with `--broken` the wrong one.
pub fn app(args: &[String]) -> Router {
    let db = Connection::open_in_memory().expect("a database in memory always opens");
    if is_broken(args) {
        db.execute_batch(BROKEN_SCHEMA)
    } else {
        server_errors::create_schema(&db)
    }
    .expect("a new database in memory takes a table");
    server_errors::app(db)
}

fn is_broken(args: &[String]) -> bool {
    args.iter().any(|arg| arg == "--broken")
}

/// What the example prints once it listens.
pub fn banner(args: &[String]) -> String {
    let database = if is_broken(args) {
        "a broken database"
    } else {
        "a new database"
    };
    format!("server/errors, on {database}: listening on http://{ADDRESS} (Ctrl+C stops it)")
}
