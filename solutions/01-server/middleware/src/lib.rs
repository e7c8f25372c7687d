//! # server/middleware — reference solution

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};

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
    let request_id = HeaderName::from_static(REQUEST_ID);
    // A `ServiceBuilder` lists layers outermost first: a request passes them
    // top to bottom on its way in, the response bottom to top on its way out.
    let middleware = ServiceBuilder::new()
        .layer(middleware::from_fn(response_time))
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id));

    Router::new()
        .route("/", get(echo_request_id))
        .route("/slow", get(slow))
        // `layer`, not `route_layer`: the middleware wraps the fallback too,
        // so a 404 also has an id, a time and a span.
        .layer(middleware)
}
// ANCHOR_END: app

// ANCHOR: response_time
/// Middleware that sets `x-response-time: <n>ms` on every response, `<n>` the
/// whole milliseconds between the request's arrival here and the response's
/// return here.
pub async fn response_time(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let mut response = next.run(request).await;
    let millis = started.elapsed().as_millis();
    let value = HeaderValue::from_str(&format!("{millis}ms"))
        .expect("digits followed by `ms` are a valid header value");
    response.headers_mut().insert(RESPONSE_TIME, value);
    response
}
// ANCHOR_END: response_time

// ANCHOR: request_span
/// The span `TraceLayer` opens for each request. `SetRequestIdLayer` runs
/// before it, so every request has an id by the time we get here.
fn request_span(request: &Request) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        uri = %request.uri(),
        request_id,
    )
}
// ANCHOR_END: request_span

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
