//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with no customer yet, hashing with the real argon2id
//! hasher, so you can call it by hand with `curl` (the book's "Try it"
//! shows how):
//!
//! ```console
//! cargo run -q -p auth-register-login --example serve
//! ```
//!
//! The file is `auth-register-login.db` in the system's temporary folder,
//! made anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth_register_login::{Argon2Hasher, Shop};
use axum::Router;
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
    let path = folder.join("auth-register-login.db");
    remove_database(&path);
    let shop = Shop::open(&path).expect("a new database file can be made there");
    auth_register_login::app(shop, Arc::new(Argon2Hasher))
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
        "auth/register-login, a new shop with no customer yet: listening on http://{ADDRESS} \
         (Ctrl+C stops it)"
    )
}
