//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file, so you can call it by hand with `curl` (the book's "Try
//! it" shows how):
//!
//! ```console
//! cargo run -q -p api-problem-details --example serve
//! ```
//!
//! The file is `api-problem-details.db` in the system's temporary folder,
//! made anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::Path;

use api_problem_details::create_schema;
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
    let path = folder.join("api-problem-details.db");
    // A file left from an earlier run is removed: a file that is not there
    // is what we want.
    let _ = std::fs::remove_file(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    api_problem_details::app(db)
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "api/problem-details, on a new database: listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
