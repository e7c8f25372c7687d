//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file holding two customers, Ada (`ada@example.com`, id 1) and
//! Bob (`bob@example.com`, id 2, an admin), both with the password
//! `correct horse battery staple`, so you can call it by hand with `curl`
//! (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p auth-tokens --example serve
//! ```
//!
//! Tokens last 15 minutes by the system's clock, and are signed with the
//! example's key below, which is no secret: a real key is 32 random bytes
//! or more, read from the environment or a secret store.
//!
//! The file is `auth-tokens.db` in the system's temporary folder, made anew
//! at every start. It serves your code as it was when it started: after a
//! change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use auth_tokens::{Clock, Db, Settings, create_schema, hash_password, insert_customer};
use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The example's signing key: printed in a book, so no secret at all.
pub const EXAMPLE_KEY: &[u8] = b"auth/tokens example key: never use it for anything real";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder` with Ada and Bob.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("auth-tokens.db");
    remove_database(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    let hash = hash_password("correct horse battery staple");
    insert_customer(&db, "ada@example.com", "Ada", &hash, "customer")
        .expect("a new database takes a customer");
    insert_customer(&db, "bob@example.com", "Bob", &hash, "admin")
        .expect("a new database takes a customer");
    let settings = Settings {
        signing_key: EXAMPLE_KEY.to_vec(),
        token_ttl: 900,
    };
    auth_tokens::app(Db::open(&path), settings, Clock::system())
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
        "auth/tokens, customers ada@example.com and bob@example.com: listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
