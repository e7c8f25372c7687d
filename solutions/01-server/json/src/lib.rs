//! # server/json — reference solution

use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The body of `POST /users`, for example
/// `{"username": "ada", "name": "Ada Lovelace"}`.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub name: String,
}

/// The body of a `201 Created` answer.
#[derive(Debug, Serialize)]
pub struct User {
    pub username: String,
    pub name: String,
    pub url: String,
}

/// The body of every error answer: `{"error": "...", "detail": "..."}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub detail: String,
}

/// Builds the application: `POST /users` creates a user.
pub fn app() -> Router {
    Router::new().route("/users", post(create_user))
}

// ANCHOR: create_user
/// Taking `Result<Json<_>, JsonRejection>` instead of `Json<_>` means a bad
/// body reaches this handler as an `Err`, and `?` turns it into our own
/// JSON error (see `From<JsonRejection> for JsonError` below).
async fn create_user(
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<impl IntoResponse, JsonError> {
    let Json(new_user) = body?;
    let url = format!("/users/{}", new_user.username);
    let user = User {
        username: new_user.username,
        name: new_user.name,
        url: url.clone(),
    };
    Ok((StatusCode::CREATED, [(header::LOCATION, url)], Json(user)))
}
// ANCHOR_END: create_user

// ANCHOR: json_error
/// A request body we refuse, answered as `(status, Json(ErrorBody))`.
struct JsonError {
    status: StatusCode,
    body: ErrorBody,
}

impl From<JsonRejection> for JsonError {
    fn from(rejection: JsonRejection) -> Self {
        let error = match &rejection {
            JsonRejection::MissingJsonContentType(_) => "unsupported media type",
            JsonRejection::JsonSyntaxError(_) => "malformed json",
            JsonRejection::JsonDataError(_) => "invalid fields",
            // The body could not be read at all: larger than axum's 2 MB
            // limit, or the connection broke. `JsonRejection` is
            // `#[non_exhaustive]`, so this arm is required anyway.
            _ => "unreadable body",
        };
        JsonError {
            status: rejection.status(),
            body: ErrorBody {
                error,
                detail: rejection.body_text(),
            },
        }
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
// ANCHOR_END: json_error
