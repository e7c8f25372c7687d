//! Serves this exercise's `app()` on <http://localhost:3000>, so you can
//! call it by hand (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p production-websocket --example serve
//! ```
//!
//! The rooms live in the server's memory: a restart empties them. It serves
//! your code as it was when it started: after a change, stop it with Ctrl+C
//! and run it again.

use axum::Router;
use production_websocket::Chat;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, with no room yet.
pub fn app() -> Router {
    production_websocket::app(Chat::new())
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "production/websocket, the support chat: listening on http://{ADDRESS} and \
         ws://{ADDRESS}/chat/{{room}}?name={{name}} (Ctrl+C stops it)"
    )
}
