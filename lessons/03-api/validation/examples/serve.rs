//! Serves this exercise's `app()` on <http://localhost:3000>, over a new
//! database in memory, so you can call it by hand with `curl` (the book's
//! "Try it" shows how):
//!
//! ```console
//! cargo run -q -p api-validation --example serve
//! ```
//!
//! The shop starts empty at every start, and serves your code as it was
//! when it started: after a change, stop it with Ctrl+C and run it again.

use api_validation::{Db, create_schema};
use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, on an empty shop.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    api_validation::app(Db::new(db))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!("api/validation, an empty shop: listening on http://{ADDRESS} (Ctrl+C stops it)")
}
