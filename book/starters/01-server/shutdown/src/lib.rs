//! # server/shutdown — graceful shutdown
//!
//! Write `serve`: it serves an application until a shutdown signal arrives,
//! then stops taking new connections, lets the requests already in flight
//! finish, and returns. The book's section "Graceful shutdown" explains how
//! axum and tokio do this, and why the signal is a parameter.
//!
//! Run `cargo checker check` when you think you are done.

use std::future::Future;
use std::io;

use axum::Router;
use tokio::net::TcpListener;

// ANCHOR: serve
/// Serves `app` on `listener` until `shutdown` completes, then shuts down
/// gracefully:
///
/// 1. before `shutdown` completes, every request is answered as usual;
/// 2. once it completes, no new connection is accepted (the listener is
///    closed, so connecting is refused);
/// 3. every request already in flight still gets its complete response;
/// 4. then `serve` returns `Ok(())`, and not before.
///
/// In `main`, `shutdown` is a future that waits for Ctrl+C or `SIGTERM`; in
/// the tests it is a channel the test controls.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // TODO: serve `app` on `listener` until `shutdown` completes, then shut
    // down gracefully, as the four steps above say.
    let _ = (listener, app, shutdown);
    todo!("serve until the shutdown signal")
}
// ANCHOR_END: serve
