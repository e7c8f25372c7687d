//! What every exercise's tests share.
//!
//! [`TestServer::spawn`] binds `127.0.0.1:0` *before* it starts serving, so a
//! test never sleeps and never races the server, and runs the learner's
//! router on a real socket. Requests go through a real HTTP client
//! (`reqwest`). Every assertion on a [`Reply`] fails with a message whose
//! first line is the verdict (the checker shows that line beside the test's
//! name), then the request that was sent and what came back, so a learner
//! can fix their code without reading the test.

use std::fmt::Write as _;
use std::future::{Future, IntoFuture as _};
use std::net::SocketAddr;
use std::panic::Location;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

pub mod trace;

/// The HTTP client behind [`client`], for tests that build their own
/// requests and name its types (`server/testing`, where learners write tests).
pub use reqwest;
pub use reqwest::Method;
pub use serde_json::{Value, json};
/// Temporary files and folders for real SQLite databases, removed when dropped.
pub use tempfile;

/// A response header the panic catcher sets, so a panic in a handler is told
/// apart from a 500 the learner's code returned on purpose.
const PANIC_HEADER: &str = "x-testkit-handler-panicked";

/// How long one request may take before the test fails with a clear message.
/// The checker's own timeout (60 s by default) is the last resort; this one
/// names the request that hung.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest body a failure message quotes.
const BODY_QUOTE_LIMIT: usize = 600;

/// A learner's router served on a free loopback port for the length of a test.
pub struct TestServer {
    addr: SocketAddr,
    client: reqwest::Client,
    serving: Serving,
}

/// Where a [`TestServer`] runs, and how it is stopped when dropped.
enum Serving {
    /// A task on the test's own runtime.
    Task(tokio::task::JoinHandle<()>),
    /// A thread with a runtime of its own; sending (or dropping) stops it.
    Thread(Option<tokio::sync::oneshot::Sender<()>>),
}

impl TestServer {
    /// Serves `app` on `127.0.0.1:0`.
    ///
    /// A panic inside a handler becomes a failed test that quotes the panic
    /// message (`not yet implemented`, say) instead of a confusing
    /// "connection closed" from the client.
    pub async fn spawn(app: Router) -> TestServer {
        let app = app.layer(CatchPanicLayer::custom(panic_to_response));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the test could not bind a port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the test server stopped with an error");
        });
        TestServer {
            addr,
            client: client(),
            serving: Serving::Task(task),
        }
    }

    /// Serves `app` on `127.0.0.1:0` like [`TestServer::spawn`], but on a
    /// thread of its own, with a single-threaded runtime of its own.
    ///
    /// The test's requests then come from another thread, so a handler that
    /// blocks its thread (a blocking call made straight in an `async fn`)
    /// holds up every other request to this server, and only those: the test
    /// can see it, and time it, instead of hanging with the server. Two
    /// servers spawned this way from clones of one router run the same app
    /// on two threads.
    pub fn spawn_on_its_own_thread(app: Router) -> TestServer {
        let app = app.layer(CatchPanicLayer::custom(panic_to_response));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("the test could not bind a port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        listener
            .set_nonblocking(true)
            .expect("the test could not make its listener non-blocking");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the test could not start a runtime for its server");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .expect("the test could not hand its listener to tokio");
                tokio::select! {
                    served = axum::serve(listener, app).into_future() => {
                        served.expect("the test server stopped with an error");
                    }
                    _ = stopped => {}
                }
            });
        });
        TestServer {
            addr,
            client: client(),
            serving: Serving::Thread(Some(stop)),
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The full URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.request(Method::PUT, path)
    }

    pub fn patch(&self, path: &str) -> Call {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }

    /// A request with any method, to be completed and then [`Call::send`].
    pub fn request(&self, method: Method, path: &str) -> Call {
        Call::new(&self.client, method, self.url(path), path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        match &mut self.serving {
            Serving::Task(task) => task.abort(),
            // The thread ends once its runtime gets a turn; it is not waited
            // for, as a handler may still be blocking it.
            Serving::Thread(stop) => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
            }
        }
    }
}

/// An HTTP client for loopback tests: no proxy from the environment, no
/// redirects followed (a test wants to see a 3xx), and a timeout per request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("a plain HTTP client always builds")
}

fn panic_to_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    };
    let mut response = (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
    response
        .headers_mut()
        .insert(PANIC_HEADER, HeaderValue::from_static("1"));
    response
}

/// A request being put together. Nothing is sent until [`Call::send`].
pub struct Call {
    builder: reqwest::RequestBuilder,
    summary: String,
}

impl Call {
    fn new(client: &reqwest::Client, method: Method, url: String, path: &str) -> Call {
        Call {
            summary: format!("{method} {path}"),
            builder: client.request(method, url),
        }
    }

    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Call {
        let _ = write!(self.summary, "\n            {name}: {value}");
        self.builder = self.builder.header(name, value);
        self
    }

    /// Sends `value` as a JSON body with `content-type: application/json`.
    pub fn json(mut self, value: &Value) -> Call {
        let _ = write!(
            self.summary,
            "\n            content-type: application/json\n            {value}"
        );
        self.builder = self.builder.json(value);
        self
    }

    /// Sends `text` as the body, exactly as given, with no content type
    /// unless a [`Call::header`] sets one.
    pub fn body(mut self, text: &str) -> Call {
        let _ = write!(self.summary, "\n            {}", quote(text));
        self.builder = self.builder.body(text.to_string());
        self
    }

    /// Sends the request and reads the whole response.
    ///
    /// Fails the test with the request quoted if the server cannot be
    /// reached, times out, or panicked while answering. The failure names the
    /// test line that sent the request (a plain `async fn` cannot know it).
    #[track_caller]
    pub fn send(self) -> impl Future<Output = Reply> + Send + 'static {
        let sent_at = Location::caller();
        async move {
            let request = self.summary;
            let fail = |problem: &str, detail: &str| -> ! {
                panic!(
                    "\n{problem}\n  request:  {request}\n  {detail}\n  sent at:  {}:{}\n",
                    sent_at.file(),
                    sent_at.line()
                )
            };
            let response = match self.builder.send().await {
                Ok(response) => response,
                Err(error) => fail(
                    "The request got no response.",
                    &format!("error:    {}", describe_client_error(&error)),
                ),
            };
            let status = response.status();
            let headers = response.headers().clone();
            let body = match response.text().await {
                Ok(body) => body,
                Err(error) => fail(
                    "The response body could not be read.",
                    &format!("error:    {}", describe_client_error(&error)),
                ),
            };
            if headers.contains_key(PANIC_HEADER) {
                fail(
                    "Your handler panicked while answering the request.",
                    &format!("panic:    {body}"),
                );
            }
            Reply {
                request,
                status,
                headers,
                body,
            }
        }
    }
}

fn describe_client_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!(
            "no answer within {} seconds: does the handler ever return?",
            REQUEST_TIMEOUT.as_secs()
        )
    } else if error.is_connect() {
        "the connection was refused: is the server listening?".to_string()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            let _ = write!(text, ": {cause}");
            source = cause.source();
        }
        text
    }
}

/// A complete response, with the request that produced it, for assertions.
#[derive(Debug)]
pub struct Reply {
    request: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    /// The status code, as a number.
    pub fn status(&self) -> u16 {
        self.status.as_u16()
    }

    /// A response header as text, if present (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Every value of a response header (for headers such as `set-cookie`).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect()
    }

    /// The body as text.
    pub fn text(&self) -> &str {
        &self.body
    }

    /// The body parsed as JSON; fails the test if it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        match serde_json::from_str(&self.body) {
            Ok(value) => value,
            Err(error) => self.fail(&format!(
                "expected a JSON body, but it does not parse as JSON ({error})"
            )),
        }
    }

    /// Fails unless the status is `expected`.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Reply {
        if self.status() != expected {
            self.fail(&format!(
                "expected status {}, got {}",
                status_text(expected),
                status_text(self.status())
            ));
        }
        self
    }

    /// Fails unless header `name` is present with exactly `expected`.
    #[track_caller]
    pub fn assert_header(&self, name: &str, expected: &str) -> &Reply {
        match self.header(name) {
            Some(actual) if actual == expected => self,
            Some(actual) => self.fail(&format!(
                "expected header `{name}: {expected}`, got `{name}: {actual}`"
            )),
            None => self.fail(&format!(
                "expected header `{name}: {expected}`, but the response has no `{name}` header"
            )),
        }
    }

    /// Fails unless header `name` is present; returns its value.
    #[track_caller]
    pub fn expect_header(&self, name: &str) -> &str {
        match self.header(name) {
            Some(value) => value,
            None => self.fail(&format!(
                "expected a `{name}` header, but the response has none"
            )),
        }
    }

    /// Fails if header `name` is present.
    #[track_caller]
    pub fn assert_no_header(&self, name: &str) -> &Reply {
        if let Some(value) = self.header(name) {
            self.fail(&format!(
                "expected no `{name}` header, got `{name}: {value}`"
            ));
        }
        self
    }

    /// Fails unless the content type's media type is `expected` (parameters
    /// such as `; charset=utf-8` are allowed).
    #[track_caller]
    pub fn assert_content_type(&self, expected: &str) -> &Reply {
        let actual = self.expect_header("content-type");
        let media_type = actual.split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case(expected) {
            self.fail(&format!(
                "expected content type `{expected}`, got `{actual}`"
            ));
        }
        self
    }

    /// Fails unless the body is exactly `expected`.
    #[track_caller]
    pub fn assert_text(&self, expected: &str) -> &Reply {
        if self.body != expected {
            self.fail(&format!(
                "expected the body {}, got {}",
                quote(expected),
                quote(&self.body)
            ));
        }
        self
    }

    /// Fails unless the body is JSON equal to `expected`.
    #[track_caller]
    pub fn assert_json(&self, expected: &Value) -> &Reply {
        let actual = self.json();
        if &actual != expected {
            self.fail(&format!("expected the JSON body {expected}, got {actual}"));
        }
        self
    }

    /// Fails the test with `problem`, quoting the request and the response.
    /// Use it for checks the helpers above do not cover.
    #[track_caller]
    pub fn fail(&self, problem: &str) -> ! {
        panic!("\n{problem}\n{}", self.describe())
    }

    /// Fails the test like [`Reply::fail`], then says what usually causes
    /// this failure: the verdict first, the request and the response, then
    /// `diagnosis`.
    #[track_caller]
    pub fn fail_with_diagnosis(&self, verdict: &str, diagnosis: &str) -> ! {
        panic!("\n{verdict}\n{}{diagnosis}\n", self.describe())
    }

    /// The request and the response, as a failure message shows them.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "  request:  {}\n  response: {}",
            self.request,
            status_text(self.status())
        );
        // `date` changes with every run and never matters to an exercise.
        for (name, value) in self.headers.iter().filter(|(name, _)| *name != "date") {
            let value = value.to_str().unwrap_or("<not text>");
            let _ = write!(text, "\n            {name}: {value}");
        }
        if !self.body.is_empty() {
            match pretty_json(&self.body) {
                // A JSON body reads as JSON, not as an escaped string.
                Some(pretty) => {
                    for line in pretty.lines() {
                        let _ = write!(text, "\n            {line}");
                    }
                }
                None => {
                    let _ = write!(text, "\n            {}", quote(&self.body));
                }
            }
        }
        text.push('\n');
        text
    }
}

/// How many lines of a pretty-printed JSON body a failure message shows.
const JSON_LINES_LIMIT: usize = 40;

/// `body` pretty-printed, if it is a JSON object or array, cut to a
/// readable length.
fn pretty_json(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    if !value.is_object() && !value.is_array() {
        return None;
    }
    let pretty = serde_json::to_string_pretty(&value).ok()?;
    let lines: Vec<&str> = pretty.lines().collect();
    if lines.len() <= JSON_LINES_LIMIT {
        return Some(pretty);
    }
    Some(format!(
        "{}\n... ({} lines in all)",
        lines[..JSON_LINES_LIMIT].join("\n"),
        lines.len()
    ))
}

/// `200 OK`, `404 Not Found`, ...
pub fn status_text(code: u16) -> String {
    match StatusCode::from_u16(code)
        .ok()
        .and_then(|status| status.canonical_reason())
    {
        Some(reason) => format!("{code} {reason}"),
        None => code.to_string(),
    }
}

/// Quotes text for a failure message, cut to a readable length.
pub fn quote(text: &str) -> String {
    if text.chars().count() <= BODY_QUOTE_LIMIT {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(BODY_QUOTE_LIMIT).collect();
    format!("{cut:?}... ({} bytes in all)", text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_is_shown_as_json_and_anything_else_quoted() {
        let pretty = pretty_json(r#"{"hits":7967,"tags":["a"]}"#).unwrap();
        let expected = "{\n  \"hits\": 7967,\n  \"tags\": [\n    \"a\"\n  ]\n}";
        assert!(
            pretty == expected,
            "the JSON body is not pretty-printed:\n{pretty}"
        );
        let bare = pretty_json("42");
        assert!(
            bare.is_none(),
            "a bare number was printed as JSON: {bare:?}"
        );
        let text = pretty_json("Hello, world!");
        assert!(text.is_none(), "text was printed as JSON: {text:?}");
        let long = format!("[{}]", vec!["1"; 100].join(","));
        let cut = pretty_json(&long).unwrap();
        let lines = cut.lines().count();
        assert!(
            lines == JSON_LINES_LIMIT + 1,
            "a long body shows {lines} lines"
        );
        assert!(
            cut.ends_with("(102 lines in all)"),
            "the cut is not said: {cut}"
        );
    }
}
