//! Listings for the book section server/shutdown.

use std::future::{Future, IntoFuture};
use std::io;

use axum::Router;
use tokio::net::TcpListener;

// ANCHOR: signal
/// Completes when the process is asked to stop: Ctrl+C in a terminal
/// (`SIGINT`), or `SIGTERM`, which is what `docker stop`, Kubernetes and
/// systemd send.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("could not listen for Ctrl+C");
    };

    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("could not listen for SIGTERM")
            .recv()
            .await;
    };
    // Other systems have no SIGTERM: a future that never completes.
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    // Whichever comes first; the other future is dropped.
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
// ANCHOR_END: signal

// ANCHOR: abrupt
/// DON'T: races the server against the signal. When the signal wins,
/// `select!` drops the server future and returns at once, while requests
/// are still being answered in tasks nobody waits for. `main` then returns,
/// the runtime shuts down, and those requests are cut off mid-answer.
pub async fn serve_abruptly(
    listener: TcpListener,
    app: Router,
    signal: impl Future<Output = ()>,
) -> io::Result<()> {
    tokio::select! {
        result = axum::serve(listener, app).into_future() => result,
        () = signal => Ok(()),
    }
}
// ANCHOR_END: abrupt

// ANCHOR: stop_worker
/// A background job that stops when told to: here `select!` is right,
/// because a loop iteration that is dropped half-way loses nothing (the next
/// tick never happens).
pub async fn cleanup_worker(mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = every_minute.tick() => tracing::info!("removing expired sessions"),
            _ = stop.changed() => break,
        }
    }
    tracing::info!("cleanup worker stopped");
}
// ANCHOR_END: stop_worker
