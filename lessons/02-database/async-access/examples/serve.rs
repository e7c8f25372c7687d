//! Serves this exercise's `app()` on <http://localhost:3000>, on a pool of
//! four connections to a new database file, so you can call it by hand with
//! `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p database-async-access --example serve
//! ```
//!
//! The file is `database-async-access.db` in the system's temporary folder,
//! made anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use database_async_access::{Pool, create_schema};
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// How many connections the pool holds.
const CONNECTIONS: usize = 4;

/// How long a connection waits for another's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("database-async-access.db");
    remove_database(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    let pool =
        Pool::open(&path, CONNECTIONS, BUSY_TIMEOUT).expect("the pool opens its connections");
    database_async_access::app(pool)
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
        "database/async-access, {CONNECTIONS} connections to a new database: \
         listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
