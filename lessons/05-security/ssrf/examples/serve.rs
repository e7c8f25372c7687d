//! Serves this exercise's `app()` on <http://localhost:3000>, on the real
//! network (the system's resolver, real connections), so you can call it
//! by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-ssrf --example serve
//! ```
//!
//! Careful: as the starter has it, the preview fetches whatever it is
//! given, from your machine, including `http://localhost:...` and your
//! router's admin page. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::sync::Arc;

use axum::Router;
use security_ssrf::Internet;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, on the real network.
pub fn app() -> Router {
    security_ssrf::app(Arc::new(Internet))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "security/ssrf, the link preview on the real network: listening on http://{ADDRESS} \
         (Ctrl+C stops it)"
    )
}
