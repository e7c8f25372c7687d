//! Listings for the book section server/routing.

use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

// ANCHOR: methods
/// A blog: `GET /posts` lists, `POST /posts` publishes, `GET /drafts` lists
/// the drafts. One `.route` per path; the methods of a path are chained.
pub fn blog_app() -> Router {
    Router::new()
        .route("/posts", get(list_posts).post(publish_post))
        .route("/drafts", get(list_drafts))
}

async fn list_posts() -> &'static str {
    "all the posts"
}

async fn publish_post() -> &'static str {
    "published"
}

async fn list_drafts() -> &'static str {
    "all the drafts"
}
// ANCHOR_END: methods

// ANCHOR: responses
/// A tuple `(StatusCode, body)` chooses the status; `Json(value)` serialises
/// `value` and sets `content-type: application/json`. The two combine.
async fn accepted() -> (StatusCode, Json<Value>) {
    let body = json!({ "queued": true, "position": 3 });
    (StatusCode::ACCEPTED, Json(body))
}
// ANCHOR_END: responses

// ANCHOR: fallback
/// A router whose unknown paths get a plain-text 404 that quotes the URI.
pub fn app_with_fallback() -> Router {
    Router::new()
        .route("/jobs", get(accepted))
        .fallback(no_route)
}

/// `Uri` is an extractor: the handler asks for the request's URI by naming
/// the type. Its `Display` includes the query string (`/x?page=2`); its
/// `path()` does not (`/x`).
async fn no_route(uri: Uri) -> (StatusCode, String) {
    (StatusCode::NOT_FOUND, format!("nothing at {uri}"))
}
// ANCHOR_END: fallback

// ANCHOR: custom_405
/// Replaces the empty body of axum's 405s with a sentence. axum still adds
/// the `Allow` header, because the handler does not set one itself.
pub fn app_with_custom_405() -> Router {
    blog_app().method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> (StatusCode, &'static str) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "this path does not support that method; see the Allow header",
    )
}
// ANCHOR_END: custom_405

// ANCHOR: nest
/// `nest` mounts a whole router under a prefix: `GET /api/v1/posts` reaches
/// `list_posts`. Inside a nested router, `Uri` holds the path *without* the
/// prefix (`/posts`); `axum::extract::OriginalUri` holds the one the client sent.
pub fn versioned_app() -> Router {
    Router::new().nest("/api/v1", blog_app())
}
// ANCHOR_END: nest
