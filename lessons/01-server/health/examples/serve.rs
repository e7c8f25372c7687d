//! Serves this exercise's `app()` on <http://localhost:3000>, with the SQLite
//! file given on the command line as its database, so you can call it by hand
//! with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p server-health --example serve -- /tmp/health.db
//! ```
//!
//! If there is no file at that path, it makes a SQLite database there first.
//! Move the file away, or put another file in its place, while it runs, and
//! see readiness follow. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::Path;

use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The database when the command line names none.
const DEFAULT_DATABASE: &str = "health.db";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner(&args));
    axum::serve(listener, app(&args)).await
}

/// The app the tests check, on the database the arguments name, made first
/// if there is no file there yet.
pub fn app(args: &[String]) -> Router {
    let path = Path::new(database(args));
    if !path.exists() {
        let db = Connection::open(path).expect("a new database file can be made there");
        db.execute_batch("CREATE TABLE visits (at TEXT)")
            .expect("a new database takes a table");
    }
    server_health::app(path.to_path_buf())
}

fn database(args: &[String]) -> &str {
    args.first().map_or(DEFAULT_DATABASE, String::as_str)
}

/// What the example prints once it listens.
pub fn banner(args: &[String]) -> String {
    let database = database(args);
    format!("server/health, database {database}: listening on http://{ADDRESS} (Ctrl+C stops it)")
}
