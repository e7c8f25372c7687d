//! Listings for the book section server/main.

use std::future::Future;
use std::io;

#[cfg(unix)]
use tokio::signal::unix::{SignalKind, signal};

#[cfg(unix)]
// ANCHOR: lazy
/// An `async fn` runs none of its body when called: it only returns a
/// future. The handler for SIGTERM is installed when that future is first
/// awaited, and until then SIGTERM still does what it does by default:
/// kill the process.
pub async fn terminated() {
    signal(SignalKind::terminate())
        .expect("could not listen for SIGTERM")
        .recv()
        .await;
}
// ANCHOR_END: lazy

#[cfg(unix)]
// ANCHOR: eager
/// Listens for SIGHUP (which many servers take as "read your configuration
/// again") from the moment it is called, and returns a future that
/// completes at the next SIGHUP. One that arrives before the future is
/// awaited is not lost: the handler is in place, and the signal waits in it.
pub fn hangup() -> io::Result<impl Future<Output = ()>> {
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(async move {
        hangups.recv().await;
    })
}
// ANCHOR_END: eager
