//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file holding one product (id 1, the red mug, at version 1), so
//! you can call it by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p api-conditional --example serve
//! ```
//!
//! The file is `api-conditional.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use api_conditional::{Db, create_schema, insert_product};
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

/// The app the tests check, on a new database in `folder` with one product.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("api-conditional.db");
    remove_database(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    insert_product(&db, "MUG-RED", "Red mug", 1250, 12).expect("a new database takes a product");
    api_conditional::app(Db::open(&path))
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
        "api/conditional, product 1 at version 1: listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
