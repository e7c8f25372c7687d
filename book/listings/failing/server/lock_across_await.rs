//! Code the book shows failing to compile: cargo never builds this folder;
//! the test `transcripts` compiles this file with rustc, with and without
//! the `#[axum::debug_handler]` line, and checks what the book quotes of
//! rustc's errors.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;

async fn save(_likes: u64) {}

#[axum::debug_handler]
// ANCHOR: like
async fn like(State(likes): State<Arc<Mutex<u64>>>) -> String {
    let mut guard = likes.lock().unwrap();
    *guard += 1;
    save(*guard).await; // the guard is still alive here
    guard.to_string()
}
// ANCHOR_END: like

pub fn app() -> Router {
    Router::new()
        .route("/like", post(like))
        .with_state(Arc::new(Mutex::new(0)))
}
