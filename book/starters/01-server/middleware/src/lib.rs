//! # server/middleware — request ids, response times and tracing
//!
//! Wrap a finished router in middleware: give every request an id (reusing
//! the client's `x-request-id`, minting one otherwise, echoing it on the
//! response), time every request into an `x-response-time` header, and trace
//! every request with tower-http's `TraceLayer`.
//! The book's section "Middleware" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;

/// The header that carries a request's id, on the request and the response.
pub const REQUEST_ID: &str = "x-request-id";

/// The response header that tells how long the server spent on a request.
pub const RESPONSE_TIME: &str = "x-response-time";

/// How long `GET /slow` works before it answers.
pub const SLOW_WORK: Duration = Duration::from_millis(50);

// ANCHOR: app
/// Builds the application: two routes wrapped in three middleware.
///
/// Routes:
/// - `GET /` answers, as text, the `x-request-id` the handler saw on its
///   request (or `no request id` if there was none);
/// - `GET /slow` waits [`SLOW_WORK`] (50 ms), then answers `done`.
///
/// Middleware, on every response, also the `404` of an unknown path:
/// - **Request id.** A request that arrives with an `x-request-id` header
///   keeps it. A request without one gets a fresh id, unique per request (a
///   UUID such as `67e55044-10b1-426f-9247-bb680e5fe0c8`), set on the request
///   *before* the handler runs. Either way the response carries the same
///   `x-request-id`.
/// - **Response time.** The response carries `x-response-time: <n>ms`, `<n>`
///   the whole number of milliseconds (rounded down) from the moment the
///   request reached the middleware until the response came back to it:
///   `x-response-time: 52ms`. Use [`response_time`].
/// - **Tracing.** tower-http's `TraceLayer` opens a span for every request
///   that records its method, its URI and its request id (for example
///   `method=GET uri=/slow request_id=67e55044-...`).
pub fn app() -> Router {
    // TODO: put every request, also one for an unknown path, through the
    // three middleware described above, in an order where both the handler
    // and the trace span see the request's id.
    Router::new()
        .route("/", get(echo_request_id))
        .route("/slow", get(slow))
}
// ANCHOR_END: app

// ANCHOR: response_time
/// Middleware that sets `x-response-time: <n>ms` on every response, `<n>` the
/// whole milliseconds between the request's arrival here and the response's
/// return here.
pub async fn response_time(_request: Request, _next: Next) -> Response {
    // TODO: answer what the rest of the stack answers, with
    // `x-response-time` set to the time it took.
    todo!()
}
// ANCHOR_END: response_time

/// Answers the request id this handler saw, as text.
async fn echo_request_id(headers: HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("no request id")
        .to_string()
}

/// Stands for a handler that does real work (a query, a call to another
/// service) and so takes a while.
async fn slow() -> &'static str {
    tokio::time::sleep(SLOW_WORK).await;
    "done"
}
