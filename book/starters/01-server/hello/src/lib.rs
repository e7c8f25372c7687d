//! # server/hello — your first axum application
//!
//! Build a router that answers `GET /` with the text `Hello, world!`.
//! The book's section "Hello, world" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use axum::Router;

// ANCHOR: app
/// Builds the application: `GET /` answers `Hello, world!` as plain text.
pub fn app() -> Router {
    // TODO: make `GET /` answer `Hello, world!` as plain text.
    Router::new()
}
// ANCHOR_END: app
