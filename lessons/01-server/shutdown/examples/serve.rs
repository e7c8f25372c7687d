//! Serves a small app with your `serve`, until you press Ctrl+C, so you can
//! watch a graceful shutdown by hand (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p server-shutdown --example serve
//! ```
//!
//! `GET /slow` takes five seconds to answer: call it with `curl`, press
//! Ctrl+C here while it waits, and see whether its answer still arrives.
//! It runs your code as it was when it started: after a change, stop it
//! and run it again.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// How long `GET /slow` works before it answers.
const SLOW_WORK: Duration = Duration::from_secs(5);

/// What the example prints when Ctrl+C is pressed, and when `serve` returns.
pub const STOPPING: [&str; 2] = [
    "Ctrl+C: shutting down",
    "serve returned: the server has stopped",
];

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("the program can listen for Ctrl+C");
        // The terminal has echoed `^C` where the next line starts: end it.
        println!("\n{}", STOPPING[0]);
    };
    server_shutdown::serve(listener, app(SLOW_WORK), ctrl_c).await?;
    println!("{}", STOPPING[1]);
    Ok(())
}

/// `GET /` answers at once, `GET /slow` after `slow_work`.
pub fn app(slow_work: Duration) -> Router {
    let slow = move || async move {
        tokio::time::sleep(slow_work).await;
        "the slow request is complete"
    };
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/slow", get(slow))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!("server/shutdown: listening on http://{ADDRESS} (Ctrl+C stops it)")
}
