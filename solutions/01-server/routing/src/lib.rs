//! # server/routing — reference solution

use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

// ANCHOR: app
/// Builds the application: books to list and add, authors to list, a JSON
/// 404 for unknown paths, and axum's own 405 (with `Allow`) for wrong methods.
pub fn app() -> Router {
    Router::new()
        .route("/books", get(list_books).post(add_book))
        .route("/authors", get(list_authors))
        .fallback(not_found)
}
// ANCHOR_END: app

async fn list_books() -> &'static str {
    "Here are the books."
}

/// A `(StatusCode, body)` tuple sets the status; the body stays plain text.
async fn add_book() -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "Book added.")
}

async fn list_authors() -> &'static str {
    "Here are the authors."
}

// ANCHOR: fallback
/// Answers every request no route matched. `Uri::path` leaves out the query
/// string.
async fn not_found(uri: Uri) -> (StatusCode, Json<Value>) {
    let body = json!({ "error": "not found", "path": uri.path() });
    (StatusCode::NOT_FOUND, Json(body))
}
// ANCHOR_END: fallback
