//! # server/json — JSON in, JSON out
//!
//! Write `POST /users`: it reads a JSON body, answers `201 Created` with the
//! new user as JSON and a `Location` header, and answers every kind of bad
//! body (wrong content type, broken JSON, wrong fields) with the right status
//! and a JSON error body.
//! The book's section "JSON in, JSON out" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use axum::Router;
use axum::routing::post;
use serde::{Deserialize, Serialize};

/// The body of `POST /users`, for example
/// `{"username": "ada", "name": "Ada Lovelace"}`.
/// Both fields are required strings; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub name: String,
}

/// The body of a `201 Created` answer:
/// `{"username": "ada", "name": "Ada Lovelace", "url": "/users/ada"}`,
/// where `url` is `/users/` followed by the username.
#[derive(Debug, Serialize)]
pub struct User {
    pub username: String,
    pub name: String,
    pub url: String,
}

/// The body of every error answer, for example
///
/// ```json
/// {
///   "error": "malformed json",
///   "detail": "Failed to parse the request body as JSON: EOF while parsing a value at line 1 column 19"
/// }
/// ```
///
/// | the request...                                   | status                       | `error`                    |
/// | ------------------------------------------------ | ---------------------------- | -------------------------- |
/// | has no `content-type: application/json`          | `415 Unsupported Media Type` | `"unsupported media type"` |
/// | has a body that is not valid JSON (or is empty)  | `400 Bad Request`            | `"malformed json"`         |
/// | has valid JSON of the wrong shape: a field       | `422 Unprocessable Entity`   | `"invalid fields"`         |
/// | missing or of the wrong type, or not an object   |                              |                            |
///
/// `detail` is a sentence for a human, never empty. For a `422` it names the
/// field at fault (axum's rejection text, `rejection.body_text()`, does).
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub detail: String,
}

/// Builds the application: `POST /users` creates a user.
///
/// A good request answers `201 Created`, `content-type: application/json`,
/// the [`User`] as its body, and `Location: /users/{username}`.
/// `content-type: application/json; charset=utf-8` is JSON too.
/// Bad requests answer as the table on [`ErrorBody`] says.
pub fn app() -> Router {
    Router::new().route("/users", post(create_user))
}

// TODO: read the body as a `NewUser` and answer `201 Created` with the
// `User` and its `Location` header. Answer every bad body yourself, with the
// status and the JSON `ErrorBody` of the table on `ErrorBody`, instead of
// axum's plain-text answer.
async fn create_user() -> String {
    todo!("create the user from the JSON body")
}
