//! Listings for the book section server/errors.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

// ANCHOR: tuple
/// A handler may return `Result<T, E>` when both `T` and `E` are responses.
/// A tuple `(StatusCode, String)` is one: quick, and fine for one handler,
/// but every handler now invents its own error format.
async fn user_name(Path(id): Path<u32>) -> Result<String, (StatusCode, String)> {
    match id {
        1 => Ok("Ada".to_string()),
        _ => Err((StatusCode::NOT_FOUND, format!("no user {id}"))),
    }
}

pub fn users_app() -> Router {
    Router::new().route("/users/{id}", get(user_name))
}
// ANCHOR_END: tuple

// ANCHOR: internal
/// Any internal failure, whatever its type. The client learns only that
/// something failed; the log learns what.
#[derive(Debug)]
pub struct Internal(Box<dyn Error + Send + Sync>);

/// `?` converts through `From`. This one impl accepts every error type that
/// converts into a boxed error: `io::Error`, `JoinError`, `rusqlite::Error`...
impl<E> From<E> for Internal
where
    E: Into<Box<dyn Error + Send + Sync>>,
{
    fn from(error: E) -> Self {
        Internal(error.into())
    }
}

impl IntoResponse for Internal {
    fn into_response(self) -> Response {
        // `%` records the error with `Display`; `?` would use `Debug`.
        tracing::error!(error = %self.0, "request failed");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
    }
}

/// Serves the message of the day from a file chosen at startup. Reading a
/// file blocks, so it runs on tokio's blocking pool; the first `?` handles a
/// panicked blocking task, the second a failed read.
async fn message_of_the_day(State(file): State<Arc<PathBuf>>) -> Result<String, Internal> {
    let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(&*file)).await??;
    Ok(text)
}

pub fn motd_app(file: PathBuf) -> Router {
    Router::new()
        .route("/motd", get(message_of_the_day))
        .with_state(Arc::new(file))
}
// ANCHOR_END: internal

// ANCHOR: rejection
#[derive(Deserialize)]
pub struct Signup {
    email: String,
}

/// Asking for `Result<Json<T>, JsonRejection>` instead of `Json<T>` hands
/// the rejection to the handler, which can answer in the service's own error
/// format instead of axum's plain-text one.
async fn sign_up(
    payload: Result<Json<Signup>, JsonRejection>,
) -> Result<StatusCode, (StatusCode, Json<Value>)> {
    let Json(signup) = payload.map_err(|rejection| {
        let body = json!({ "error": "invalid_input", "message": rejection.body_text() });
        (rejection.status(), Json(body))
    })?;
    if !signup.email.contains('@') {
        let body = json!({ "error": "invalid_input", "message": "email must contain @" });
        return Err((StatusCode::UNPROCESSABLE_ENTITY, Json(body)));
    }
    Ok(StatusCode::CREATED)
}

pub fn signup_app() -> Router {
    Router::new().route("/signups", post(sign_up))
}
// ANCHOR_END: rejection
