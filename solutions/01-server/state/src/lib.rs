//! # server/state — reference solution

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

// ANCHOR: state
/// What every handler shares: a hit counter and a key-value store.
///
/// axum hands each handler its own *clone* of the state, so every field is
/// behind an `Arc`: cloning the state clones the pointers, and all clones
/// see the same counter and the same map.
#[derive(Clone, Default)]
pub struct AppState {
    /// An atomic integer: `fetch_add` reads and adds in one indivisible step.
    hits: Arc<AtomicU64>,
    /// A map is no atomic type, so a lock lets one handler at a time in.
    store: Arc<Mutex<HashMap<String, String>>>,
}

impl AppState {
    /// Locks the store. A lock is poisoned only when a handler panicked
    /// while holding it; the map itself is still whole, so we carry on.
    fn store(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
// ANCHOR_END: state

/// The body of both `/hits` routes.
#[derive(Serialize)]
struct Hits {
    hits: u64,
}

// ANCHOR: app
/// Builds the application, with one fresh [`AppState`] shared by every route.
///
/// | request            | answer                                                        |
/// | ------------------ | ------------------------------------------------------------- |
/// | `POST /hits`       | counts one hit; `200 OK`, JSON `{"hits": n}`, n the new total |
/// | `GET /hits`        | `200 OK`, JSON `{"hits": n}`; reading counts no hit           |
/// | `PUT /kv/{key}`    | stores the body text under `key`; `201 Created` if the key    |
/// |                    | is new, `200 OK` if it replaced a value; empty body           |
/// | `GET /kv/{key}`    | `200 OK` with the value as `text/plain`, `404 Not Found` with |
/// |                    | an empty body if the key is not stored                        |
/// | `GET /kv`          | `200 OK`, a JSON object of every pair: `{"key": "value"}`     |
///
/// No update may be lost, however many requests arrive at once.
pub fn app() -> Router {
    Router::new()
        .route("/hits", get(read_hits).post(add_hit))
        .route("/kv", get(list_pairs))
        .route("/kv/{key}", get(read_value).put(store_value))
        .with_state(AppState::default())
}
// ANCHOR_END: app

async fn add_hit(State(state): State<AppState>) -> Json<Hits> {
    // `fetch_add` returns the value *before* the addition.
    let hits = state.hits.fetch_add(1, Ordering::Relaxed) + 1;
    Json(Hits { hits })
}

async fn read_hits(State(state): State<AppState>) -> Json<Hits> {
    let hits = state.hits.load(Ordering::Relaxed);
    Json(Hits { hits })
}

async fn store_value(
    State(state): State<AppState>,
    Path(key): Path<String>,
    value: String,
) -> StatusCode {
    // `insert` hands back the value it replaced, if any: one locked step
    // both stores and tells us whether the key was new.
    match state.store().insert(key, value) {
        None => StatusCode::CREATED,
        Some(_previous) => StatusCode::OK,
    }
}

async fn read_value(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<String, StatusCode> {
    state
        .store()
        .get(&key)
        .cloned()
        .ok_or(StatusCode::NOT_FOUND)
}

async fn list_pairs(State(state): State<AppState>) -> Json<HashMap<String, String>> {
    Json(state.store().clone())
}
