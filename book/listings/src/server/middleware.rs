//! Listings for the book section server/middleware.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
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
