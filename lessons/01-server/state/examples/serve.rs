//! Serves this exercise's `app()` on <http://localhost:3000>, so you can call
//! it by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p server-state --example serve
//! ```
//!
//! It serves your code as it was when it started: after a change, stop it
//! with Ctrl+C and run it again.

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

/// The app the tests check.
pub fn app() -> Router {
    server_state::app()
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!("server/state: listening on http://{ADDRESS} (Ctrl+C stops it)")
}
