//! Serves this exercise's app on <http://localhost:3000>, on a new database
//! file, so you can call its routes by hand with `curl` (the book's "Try
//! it" shows how):
//!
//! ```console
//! cargo run -q -p production-deploy --example serve
//! ```
//!
//! The file is `production-deploy.db` in the system's temporary folder,
//! made anew at every start. The container runs the program itself
//! (`src/main.rs`), which reads its settings from the environment and
//! listens on every interface, on port 8080 unless `PORT` says otherwise:
//!
//! ```console
//! SESSION_SECRET=$(openssl rand -hex 32) cargo run -q -p production-deploy
//! ```

use std::path::{Path, PathBuf};

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

/// The app the tests start, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("production-deploy.db");
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = PathBuf::from(&path).into_os_string();
        file.push(suffix);
        // A file that is not there is what we want.
        let _ = std::fs::remove_file(file);
    }
    production_deploy::prepare_database(&path).expect("a new database file can be made there");
    production_deploy::app(path)
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!("production/deploy, a new database: listening on http://{ADDRESS} (Ctrl+C stops it)")
}
