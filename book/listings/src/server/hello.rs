//! Listings for the book section server/hello.

// ANCHOR: ping
use axum::Router;
use axum::routing::get;

/// A router with one route: `GET /ping` answers `pong`.
pub fn ping_app() -> Router {
    Router::new().route("/ping", get(ping))
}

async fn ping() -> &'static str {
    "pong"
}
// ANCHOR_END: ping

// ANCHOR: serve
/// Serves `app` on `addr` until the process ends.
pub async fn serve(app: Router, addr: &str) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await
}
// ANCHOR_END: serve
