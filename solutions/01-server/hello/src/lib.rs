//! # server/hello — reference solution

use axum::Router;
use axum::routing::get;

// ANCHOR: app
/// Builds the application: `GET /` answers `Hello, world!` as plain text.
pub fn app() -> Router {
    Router::new().route("/", get(hello))
}

/// A `&'static str` becomes a `200 OK` response with
/// `content-type: text/plain; charset=utf-8`.
async fn hello() -> &'static str {
    "Hello, world!"
}
// ANCHOR_END: app
