//! # server/main — reference solution

// The two given modules are the lesson's own files: they exist once.
#[path = "../../../../lessons/01-server/main/src/app.rs"]
mod app;
#[path = "../../../../lessons/01-server/main/src/config.rs"]
mod config;

use std::future::Future;
use std::io;
use std::process::ExitCode;

use tokio::net::TcpListener;

use config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The server's whole life, from its settings to its shutdown. A startup
/// error comes back as the one-line message `main` prints.
async fn run() -> Result<(), String> {
    let config = Config::from_env().map_err(|error| error.to_string())?;

    // Logs go to standard error, so standard output carries only the line
    // that announces the address.
    tracing_subscriber::fmt()
        .with_max_level(config.log_level)
        .with_writer(io::stderr)
        .init();
    tracing::debug!("starting with {config}");

    // Before the announcement: from then on, a SIGTERM must find a listener.
    let shutdown =
        shutdown_signal().map_err(|error| format!("could not listen for signals: {error}"))?;

    let listener = TcpListener::bind(config.bind_addr)
        .await
        .map_err(|error| format!("could not listen on {}: {error}", config.bind_addr))?;
    // With port 0 the system chose the port: ask the listener which.
    let addr = listener
        .local_addr()
        .map_err(|error| format!("could not read the address listened on: {error}"))?;
    println!("listening on http://{addr}");

    axum::serve(listener, app::app())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|error| format!("the server stopped with an error: {error}"))?;
    tracing::info!("every request in flight answered: the server has stopped");
    Ok(())
}

/// Starts listening for SIGTERM and Ctrl+C (SIGINT) *now*, and returns a
/// future that completes when either arrives.
///
/// `signal()` installs the handler when it is called, not when the future
/// is first awaited: a signal that comes right after this function returns
/// already shuts the server down gracefully instead of killing it.
#[cfg(unix)]
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT (Ctrl+C)",
        };
        tracing::info!("{name} received: finishing the requests in flight");
    })
}

/// Windows has no SIGTERM: only Ctrl+C.
#[cfg(windows)]
fn shutdown_signal() -> io::Result<impl Future<Output = ()>> {
    let mut ctrl_c = tokio::signal::windows::ctrl_c()?;
    Ok(async move {
        ctrl_c.recv().await;
        tracing::info!("Ctrl+C received: finishing the requests in flight");
    })
}
