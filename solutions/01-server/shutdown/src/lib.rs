//! # server/shutdown — reference solution

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
    let shutdown = async {
        shutdown.await;
        tracing::info!("shutdown signal received: finishing the requests in flight");
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("every request in flight answered: the server has stopped");
    Ok(())
}
// ANCHOR_END: serve
