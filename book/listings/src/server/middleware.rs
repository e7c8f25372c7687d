//! Listings for the book section server/middleware.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};
use tracing_subscriber::EnvFilter;

// ANCHOR: no_store
/// Middleware is an `async fn` that receives the request and `next`, the rest
/// of the stack. Code before `next.run` sees the request; code after it sees
/// the response.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn private_app() -> Router {
    Router::new()
        .route("/account", get(|| async { "your account" }))
        .layer(middleware::from_fn(no_store))
}
// ANCHOR_END: no_store

// ANCHOR: api_key
/// Middleware may also answer by itself and never call `next`: the request
/// then never reaches a handler.
async fn require_api_key(request: Request, next: Next) -> Response {
    let key = request.headers().get("x-api-key");
    if key.is_none_or(|key| key != "let-me-in") {
        return (StatusCode::UNAUTHORIZED, "an x-api-key header is required").into_response();
    }
    next.run(request).await
}

pub fn admin_app() -> Router {
    Router::new()
        .route("/admin/stats", get(|| async { "42 users" }))
        // `route_layer` wraps the routes only: an unknown path is still a
        // plain 404, not a 401 that reveals nothing lives there.
        .route_layer(middleware::from_fn(require_api_key))
}
// ANCHOR_END: api_key

// ANCHOR: order
/// Two ways to stack the same layers. With `Router::layer`, each call wraps
/// everything added so far, so the *last* call is the outermost. With a
/// `ServiceBuilder`, the *first* layer listed is the outermost, which reads
/// top to bottom in the order a request meets them.
pub fn layered_app() -> Router {
    let routes = Router::new().route("/", get(|| async { "hello" }));

    // The request meets CatchPanic first, then Timeout, then the routes.
    let stacked_by_router = routes
        .clone()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        .layer(CatchPanicLayer::new());

    // The same stack, written in the order the request meets it.
    let _stacked_by_builder =
        routes.layer(ServiceBuilder::new().layer(CatchPanicLayer::new()).layer(
            TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)),
        ));

    stacked_by_router
}
// ANCHOR_END: order

// ANCHOR: request_id
/// The two request-id layers of tower-http, for a header of this service's
/// choosing, `x-correlation-id`. Both take the header's name; the setting
/// layer also takes what mints a fresh id (`MakeRequestUuid`: a random UUID).
pub fn correlated_app() -> Router {
    let correlation_id = HeaderName::from_static("x-correlation-id");
    let ids = ServiceBuilder::new()
        // Outer: a request without the header gets one, a fresh UUID; a
        // request that has one keeps it. Either way it is on the request.
        .layer(SetRequestIdLayer::new(
            correlation_id.clone(),
            MakeRequestUuid,
        ))
        // Inner: notes the request's id on the way in, and sets it on the
        // response on the way out. Outside `SetRequestIdLayer`, it would
        // look before an id was minted, and find none.
        .layer(PropagateRequestIdLayer::new(correlation_id));

    Router::new()
        .route("/", get(show_correlation_id))
        .layer(ids)
}

/// A handler sees the id as an ordinary request header.
async fn show_correlation_id(headers: HeaderMap) -> String {
    let id = headers.get("x-correlation-id");
    let id = id.and_then(|value| value.to_str().ok()).unwrap_or("none");
    format!("this request is {id}")
}
// ANCHOR_END: request_id

// ANCHOR: fields
/// An event with fields. A field is `name = value`, or just `name` for a
/// variable of that name. Numbers, `bool`s and text are recorded as they
/// are; any other value must say how to become text: `%` with its
/// `Display`, `?` with its `Debug`.
pub fn log_an_order(customer: &str, items: &[&str], status: StatusCode, total_cents: i64) {
    tracing::info!(
        %customer,   // Display: the text itself
        ?items,      // a slice has no Display; Debug shows the list
        %status,     // Display: `201 Created` (Debug would say `201`)
        total_cents, // a number, recorded as it is
        "order paid"
    );
}
// ANCHOR_END: fields

// ANCHOR: make_span
/// A span of our own for each request: the method and the URI with `%`
/// (their `Display` is what a person reads), and the client's
/// `user-agent` header, or `-` when it sent none (or one that is not text).
fn request_span(request: &Request) -> Span {
    let agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        uri = %request.uri(),
        agent,
    )
}

pub fn agent_traced_app() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        // A function, or a closure, from `&Request` to `Span`.
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
}
// ANCHOR_END: make_span

// ANCHOR: trace
/// `TraceLayer` with its parts chosen. By default its spans and events are at
/// DEBUG, invisible under the usual INFO filter; here the span is at INFO, and
/// each finished request is logged at INFO with its status and latency.
pub fn traced_app() -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
        .on_response(DefaultOnResponse::new().level(Level::INFO));

    Router::new()
        .route("/", get(|| async { "hello" }))
        .layer(trace)
}
// ANCHOR_END: trace

// ANCHOR: subscriber
/// Spans and events go nowhere until a *subscriber* is installed, once, at
/// the top of `main`. This one prints them, filtered by `RUST_LOG`
/// (for example `RUST_LOG=info,tower_http=debug`), or INFO and up by default.
pub fn init_logging() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}
// ANCHOR_END: subscriber
