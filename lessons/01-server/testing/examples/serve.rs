//! Serves the notes app of `src/lib.rs` on <http://localhost:3000>, so you
//! can call it by hand with `curl` (the book's "Try it" shows how) and see
//! what your tests should expect:
//!
//! ```console
//! cargo run -q -p server-testing --example serve
//! ```
//!
//! Stop it with Ctrl+C. Its notes live in memory: each start begins empty.

use axum::Router;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app your tests test.
pub fn app() -> Router {
    server_testing::app()
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!("server/testing: listening on http://{ADDRESS} (Ctrl+C stops it)")
}
