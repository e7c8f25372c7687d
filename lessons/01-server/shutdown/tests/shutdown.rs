//! Tests for server/shutdown: `serve` on a real socket, stopped by a signal
//! the test controls.
//!
//! Nothing here sleeps. A request is held "in flight" by a handler that tells
//! the test it has started and then waits until the test releases it, so the
//! test knows exactly when to send the shutdown signal. Waits that may never
//! end (a `serve` that ignores the signal) are bounded by `PATIENCE`, a limit
//! that a correct `serve` never comes near.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use server_shutdown::serve;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest a test waits for something a correct `serve` does at once.
const PATIENCE: Duration = Duration::from_secs(5);

/// How many times a test tries to connect while waiting for the server to
/// stop accepting connections. A correct `serve` needs one or two.
const CONNECT_TRIES: usize = 200;

/// The body the held request answers with once released.
const SLOW_BODY: &str = "the slow request finished";

/// How long one test holds its request in flight after the shutdown signal,
/// to see that `serve` waits for it rather than give up after a grace period.
const HOLD: Duration = Duration::from_secs(1);

// ANCHOR: held_request
/// A router with `GET /ping` (answers `pong` at once) and `GET /slow`, whose
/// handler reports on `started` that a request arrived, then waits for
/// `release` before it answers.
fn app_with_a_slow_route() -> (Router, mpsc::Receiver<()>, Arc<Notify>) {
    let (started_tx, started_rx) = mpsc::channel(1);
    let release = Arc::new(Notify::new());
    let gate = Gate {
        started: started_tx,
        release: release.clone(),
    };
    let app = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route("/slow", get(slow))
        .with_state(gate);
    (app, started_rx, release)
}

#[derive(Clone)]
struct Gate {
    started: mpsc::Sender<()>,
    release: Arc<Notify>,
}

async fn slow(State(gate): State<Gate>) -> &'static str {
    let _ = gate.started.send(()).await;
    // `Notify` keeps a `notify_one` that came first, so no release is lost.
    gate.release.notified().await;
    SLOW_BODY
}
// ANCHOR_END: held_request

/// The learner's `serve` running in its own task, with the shutdown trigger
/// in the test's hand.
struct Running {
    addr: SocketAddr,
    trigger: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

/// Binds 127.0.0.1:0, then runs `serve` with a shutdown signal that completes
/// when the test calls [`Running::send_shutdown_signal`].
async fn start(app: Router) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the test could not bind a port on 127.0.0.1");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let (trigger, signal) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = signal.await;
    };
    let serving = serve(listener, app, shutdown);
    Running {
        addr,
        trigger: Some(trigger),
        task: tokio::spawn(serving),
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn send_shutdown_signal(&mut self) {
        if let Some(trigger) = self.trigger.take() {
            let _ = trigger.send(());
        }
    }

    /// Waits until a request reached the slow handler. If `serve` stopped
    /// first, fails with what became of it (a panic such as
    /// `not yet implemented`, say).
    async fn wait_until_the_slow_request_started(&mut self, started: &mut mpsc::Receiver<()>) {
        match timeout(PATIENCE, started.recv()).await {
            Ok(Some(())) => {}
            Ok(None) => panic!(
                "\nThe request GET /slow never reached its handler: `serve` {}.\n",
                self.what_became_of_serve().await
            ),
            Err(_) => panic!(
                "\nThe request GET /slow did not reach its handler within {PATIENCE:?}. Is `serve` serving the app it is given?\n"
            ),
        }
    }

    /// Fails the test unless `serve` returns `Ok(())` within `PATIENCE`.
    async fn expect_serve_to_return(self, when: &str) {
        match timeout(PATIENCE, self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => panic!(
                "\n`serve` returned an error: {error}\n(The test was waiting for it to return {when}.)\n"
            ),
            Ok(Err(join_error)) => {
                panic!(
                    "\n`serve` panicked: {}\n(The test was waiting for it to return {when}.)\n",
                    panic_message(join_error)
                )
            }
            Err(_) => panic!(
                "\n`serve` did not return within {PATIENCE:?} {when}. Does it ever look at the `shutdown` future?\n"
            ),
        }
    }

    /// For a failure message: whether `serve` is still running, and if not,
    /// how it ended ("had panicked: not yet implemented", say).
    async fn what_became_of_serve(&mut self) -> String {
        if !self.task.is_finished() {
            return "is still running".to_string();
        }
        match (&mut self.task).await {
            Ok(Ok(())) => "had already returned Ok(())".to_string(),
            Ok(Err(error)) => format!("had returned an error: {error}"),
            Err(join_error) => format!("had panicked: {}", panic_message(join_error)),
        }
    }
}

/// A complete response, or why there was none.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body: String,
}

/// An answer for a failure message: `200 with the body "pong"`, or the error.
fn show(answer: &Result<Answer, String>) -> String {
    match answer {
        Ok(Answer { status, body }) => format!("{status} with the body {body:?}"),
        Err(error) => format!("no response: {error}"),
    }
}

/// Sends `GET url` and reads the whole response.
async fn fetch(url: String) -> Result<Answer, String> {
    let response = testkit::client()
        .get(&url)
        .send()
        .await
        .map_err(|error| describe(&error))?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|error| describe(&error))?;
    Ok(Answer { status, body })
}

/// An error with its causes, which say what really went wrong
/// ("connection refused", "connection reset by peer").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn panic_message(join_error: tokio::task::JoinError) -> String {
    if !join_error.is_panic() {
        return join_error.to_string();
    }
    let panic = join_error.into_panic();
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Fails the test unless `answer` is the slow handler's complete response.
#[track_caller]
fn assert_complete_slow_answer(answer: Result<Answer, String>) {
    let expected = Answer {
        status: 200,
        body: SLOW_BODY.to_string(),
    };
    match answer {
        Ok(answer) if answer == expected => {}
        Ok(answer) => panic!(
            "\nThe request in flight during shutdown got the wrong response.\n  request:  GET /slow\n  expected: 200 OK with the body {SLOW_BODY:?}\n  got:      {}\n",
            show(&Ok(answer))
        ),
        Err(error) => panic!(
            "\nThe request in flight during shutdown got no complete response: a graceful shutdown lets it finish.\n  request:  GET /slow\n  error:    {error}\n"
        ),
    }
}

/// Connects to `addr` until the connection is refused, as it must be once
/// the server has closed its listener. Fails if that does not happen within
/// `CONNECT_TRIES` tries.
async fn wait_until_connections_are_refused(addr: SocketAddr) {
    let connect_until_refused = async {
        for _ in 0..CONNECT_TRIES {
            match TcpStream::connect(addr).await {
                Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => return true,
                // Reset: the connection was waiting in the listener's queue
                // as the listener closed. Try again.
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {}
                Err(error) => panic!("\nConnecting to the server failed unexpectedly: {error}\n"),
                Ok(stream) => {
                    // A reset instead of a polite close: the probe leaves no
                    // socket waiting in TIME_WAIT behind.
                    let _ = stream.set_zero_linger();
                }
            }
            // Give the server's tasks a turn before trying again.
            tokio::task::yield_now().await;
        }
        false
    };
    let refused = timeout(PATIENCE, connect_until_refused)
        .await
        .unwrap_or(false);
    assert!(
        refused,
        "\nAfter the shutdown signal the server still accepted new connections ({CONNECT_TRIES} tries).\nOnce the signal arrives, `serve` must stop accepting connections.\n"
    );
}

/// Fails the test unless connecting to `addr` is refused right now.
async fn assert_connection_refused(addr: SocketAddr) {
    match TcpStream::connect(addr).await {
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {}
        Err(error) => panic!("\nConnecting after `serve` returned failed unexpectedly: {error}\n"),
        Ok(_) => panic!(
            "\nA new connection was accepted after `serve` returned: the listener is still open. When `serve` returns, nothing should be listening any more.\n"
        ),
    }
}

#[tokio::test]
async fn serve_answers_requests_before_the_shutdown_signal() {
    let (app, _started, _release) = app_with_a_slow_route();
    let mut server = start(app).await;

    let answer = fetch(server.url("/ping")).await;

    let expected = Answer {
        status: 200,
        body: "pong".to_string(),
    };
    if answer.as_ref() != Ok(&expected) {
        panic!(
            "\nA request before the shutdown signal got no answer, or a wrong one.\n  request:  GET /ping\n  expected: 200 OK with the body \"pong\"\n  got:      {}\n  `serve` {}.\n",
            show(&answer),
            server.what_became_of_serve().await
        );
    }
}

#[tokio::test]
async fn serve_returns_once_the_shutdown_signal_arrives() {
    let (app, _started, _release) = app_with_a_slow_route();
    let mut server = start(app).await;

    server.send_shutdown_signal();

    server
        .expect_serve_to_return("after the shutdown signal, with no request in flight")
        .await;
}

#[tokio::test]
async fn no_new_connection_is_accepted_after_serve_returns() {
    let (app, _started, _release) = app_with_a_slow_route();
    let mut server = start(app).await;
    let addr = server.addr;

    server.send_shutdown_signal();
    server
        .expect_serve_to_return("after the shutdown signal, with no request in flight")
        .await;

    assert_connection_refused(addr).await;
}

// ANCHOR: in_flight
#[tokio::test]
async fn a_request_in_flight_gets_its_complete_response_after_the_shutdown_signal() {
    let (app, mut started, release) = app_with_a_slow_route();
    let mut server = start(app).await;
    let addr = server.addr;
    let request = tokio::spawn(fetch(server.url("/slow")));
    server
        .wait_until_the_slow_request_started(&mut started)
        .await;

    server.send_shutdown_signal();
    release.notify_one();

    assert_complete_slow_answer(request.await.expect("the test's request task panicked"));
    server
        .expect_serve_to_return("after the request in flight was answered")
        .await;
    assert_connection_refused(addr).await;
}
// ANCHOR_END: in_flight

#[tokio::test]
async fn serve_stops_accepting_but_does_not_return_while_a_request_is_in_flight() {
    let (app, mut started, release) = app_with_a_slow_route();
    let mut server = start(app).await;
    let request = tokio::spawn(fetch(server.url("/slow")));
    server
        .wait_until_the_slow_request_started(&mut started)
        .await;

    server.send_shutdown_signal();
    wait_until_connections_are_refused(server.addr).await;

    assert!(
        !server.task.is_finished(),
        "\n`serve` {} while a request was still in flight.\n  request:  GET /slow\nA graceful shutdown waits for every request in flight before it returns.\n",
        server.what_became_of_serve().await
    );
    // However long the request takes, `serve` waits for it: no grace period
    // after which it stops anyway.
    if let Ok(ended) = timeout(HOLD, &mut server.task).await {
        let how = match ended {
            Ok(Ok(())) => "returned Ok(())".to_string(),
            Ok(Err(error)) => format!("returned an error: {error}"),
            Err(join_error) => format!("panicked: {}", panic_message(join_error)),
        };
        panic!(
            "\n`serve` ended within {HOLD:?} of the shutdown signal, while a request was still in flight.\n  request:  GET /slow, held by the test for {HOLD:?} after the signal\n  expected: `serve` still running until the request is answered\n  got:      `serve` {how}\nA graceful shutdown waits for every request in flight, however long it takes. A grace period after which `serve` returns anyway cuts slow requests off.\n"
        );
    }
    release.notify_one();
    assert_complete_slow_answer(request.await.expect("the test's request task panicked"));
    server
        .expect_serve_to_return("after the request in flight was answered")
        .await;
}
