//! The application this server runs. Given: nothing to change here.
//!
//! - `GET /` answers `Hello from your first server!` as plain text.
//! - `POST /echo` answers with the request's body, as it came. A client that
//!   sends its body slowly keeps this request in flight for as long as it
//!   likes, which is how the tests hold a request across a shutdown.
//!
//! tower-http's `TraceLayer` logs every request at level `debug`
//! (`started processing request`, then `finished processing request`), so
//! requests show up in the logs only when the log level lets debug events
//! through.

use axum::Router;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

// ANCHOR: app
/// The router: two routes, and a log event for every request.
pub fn app() -> Router {
    Router::new()
        .route("/", get(hello))
        .route("/echo", post(echo))
        .layer(TraceLayer::new_for_http())
}

async fn hello() -> &'static str {
    "Hello from your first server!"
}

/// Answers with the body it received, once it has all of it.
async fn echo(body: String) -> String {
    body
}
// ANCHOR_END: app
