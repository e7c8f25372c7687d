//! # server/state — shared state: a hit counter and a key-value store
//!
//! Give the handlers something to remember: a counter of hits and a map of
//! keys to values, shared by every request, so that many requests arriving at
//! the same moment lose no update.
//! The book's section "Shared state" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

// ANCHOR: state
/// What every handler shares: a hit counter and a key-value store.
#[derive(Clone, Default)]
pub struct AppState {
    // TODO: add the hit counter and the map from keys to values. axum gives
    // every request its own *clone* of this struct: choose field types whose
    // clones all point at one and the same counter and map.
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

// ANCHOR: handlers
async fn add_hit(State(_state): State<AppState>) -> Json<Hits> {
    // TODO: add one to the counter and answer the total *this* hit made,
    // in one indivisible step: two hits at the same instant must make two.
    todo!()
}

async fn read_hits(State(_state): State<AppState>) -> Json<Hits> {
    // TODO: answer the counter's current value.
    todo!()
}

async fn store_value(
    State(_state): State<AppState>,
    Path(_key): Path<String>,
    _value: String,
) -> StatusCode {
    // TODO: store the value under the key; 201 if the key was new, 200 if
    // it replaced a value.
    todo!()
}

async fn read_value(
    State(_state): State<AppState>,
    Path(_key): Path<String>,
) -> Result<String, StatusCode> {
    // TODO: the value stored under the key, or `Err(StatusCode::NOT_FOUND)`.
    todo!()
}

async fn list_pairs(State(_state): State<AppState>) -> Json<HashMap<String, String>> {
    // TODO: a copy of the whole map (axum serialises it as a JSON object).
    todo!()
}
// ANCHOR_END: handlers
