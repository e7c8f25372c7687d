//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with two customers, Ada (`ada@example.com`, password
//! `correct horse battery staple`) and Grace (`grace@example.com`, password
//! `grace's own passphrase`), sessions of an hour, and cookies without
//! `Secure` (the server is on plain http://), so you can call it by hand
//! with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p auth-password-change --example serve
//! ```
//!
//! The file is `auth-password-change.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use auth_password_change::{Clock, Settings, Shop, add_customer};
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
    let path = folder.join("auth-password-change.db");
    remove_database(&path);
    let settings = Settings {
        session_ttl: Duration::from_secs(3600),
        secure_cookie: false,
    };
    let shop = Shop::open(&path, settings, Clock::system())
        .expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    add_customer(
        &db,
        "ada@example.com",
        "Ada",
        "correct horse battery staple",
    )
    .expect("a new database takes Ada");
    add_customer(&db, "grace@example.com", "Grace", "grace's own passphrase")
        .expect("a new database takes Grace");
    auth_password_change::app(shop)
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
        "auth/password-change, a new shop with Ada and Grace, sessions of an hour: listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
