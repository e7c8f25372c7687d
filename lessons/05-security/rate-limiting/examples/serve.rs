//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with two customers, Ada (`ada@example.com`, password
//! `correct horse battery staple`) and Bob (`bob@example.com`, password
//! `Tr0ub4dor&3`), reading the time from the computer's clock, so you can
//! call it by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-rate-limiting --example serve
//! ```
//!
//! The limiter lives in the server's memory: stopping the server forgets
//! every count. The file is `security-rate-limiting.db` in the system's
//! temporary folder, made anew at every start. It serves your code as it
//! was when it started: after a change, stop it with Ctrl+C and run it
//! again.

use std::path::{Path, PathBuf};

use axum::Router;
use rusqlite::Connection;
use security_rate_limiting::{Clock, Shop, add_customer};
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
    let path = folder.join("security-rate-limiting.db");
    remove_database(&path);
    let shop = Shop::open(&path, Clock::system()).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    add_customer(
        &db,
        "ada@example.com",
        "Ada",
        "correct horse battery staple",
    )
    .expect("a new database takes Ada");
    add_customer(&db, "bob@example.com", "Bob", "Tr0ub4dor&3").expect("a new database takes Bob");
    security_rate_limiting::app(shop)
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
        "security/rate-limiting, a new shop with Ada (ada@example.com) and Bob \
         (bob@example.com), 5 attempts per account in 15 minutes: listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
