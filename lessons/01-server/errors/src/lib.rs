//! # server/errors — errors as responses, and nothing leaked
//!
//! Give a small notes service one error type that every handler returns and
//! that turns itself into a response: a status and a JSON body. Client
//! mistakes say what was wrong; a database failure says only that something
//! failed, while its detail goes to the log.
//! The book's section "Errors as responses" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// The `message` of every `500`: it says that something failed, never what.
pub const INTERNAL_ERROR_MESSAGE: &str = "something went wrong on our side";

/// Everything a handler can fail with, and what the client sees of it.
///
/// Every variant becomes a response with `content-type: application/json`
/// and the body `{"error": "<code>", "message": "<text>"}`:
///
/// | variant        | status                      | `error`         | `message`                     |
/// | -------------- | --------------------------- | --------------- | ----------------------------- |
/// | `NotFound`     | `404 Not Found`             | `not_found`     | the variant's text            |
/// | `InvalidInput` | `422 Unprocessable Entity`  | `invalid_input` | the variant's text            |
/// | `Database`     | `500 Internal Server Error` | `internal`      | [`INTERNAL_ERROR_MESSAGE`]    |
///
/// A `Database` error's own message (which may name tables, columns or
/// files) never reaches the client: it is logged with `tracing::error!`
/// instead, so the people running the service can see what went wrong.
#[derive(Debug)]
pub enum AppError {
    /// What the client asked for does not exist.
    NotFound(String),
    /// What the client sent cannot be accepted.
    InvalidInput(String),
    /// The database failed: a bug, a broken schema, a full disk...
    Database(rusqlite::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        // TODO: answer each variant as the table above says. A `Database`
        // error's cause goes to the log, never into the response.
        todo!()
    }
}

/// Lets `?` turn a `rusqlite::Error` into an `AppError` in any handler.
impl From<rusqlite::Error> for AppError {
    fn from(_cause: rusqlite::Error) -> Self {
        // TODO: wrap the cause in the `Database` variant.
        todo!()
    }
}

/// A note, as stored and as sent: `{"id": 1, "text": "buy milk"}`.
#[derive(Serialize)]
struct Note {
    id: i64,
    text: String,
}

/// The body of `POST /notes`: `{"text": "buy milk"}`.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// One connection, shared by the handlers, one request at a time.
type Db = Arc<Mutex<Connection>>;

/// Creates the `notes` table, if it does not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS notes (
            id   INTEGER PRIMARY KEY,
            text TEXT NOT NULL
        )",
    )
}

/// Builds the application on `db`, a database whose schema
/// [`create_schema`] made. `app` does not create or change the schema.
///
/// | request             | success                                   | errors               |
/// | ------------------- | ----------------------------------------- | -------------------- |
/// | `POST /notes`       | `201 Created`, the note as JSON           | `422`: blank `text`  |
/// | `GET /notes/{id}`   | `200 OK`, the note as JSON                | `404`: no such note  |
///
/// A note is `{"id": 1, "text": "buy milk"}`; `POST /notes` takes
/// `{"text": "buy milk"}`. A `text` that is empty or only whitespace is
/// refused with the message `text must not be empty`; a missing note `7`
/// answers with the message `note 7 does not exist`. Any database failure
/// is a `500` (see [`AppError`]).
pub fn app(db: Connection) -> Router {
    Router::new()
        .route("/notes", post(create_note))
        .route("/notes/{id}", get(read_note))
        .with_state(Arc::new(Mutex::new(db)))
}

async fn create_note(
    State(db): State<Db>,
    Json(new_note): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), AppError> {
    // TODO: refuse a blank text as `InvalidInput`; otherwise store the note
    // and answer 201 with it. A database failure is an `AppError`, not a panic.
    let _ = (db, new_note.text, insert_note, lock);
    todo!()
}

async fn read_note(State(db): State<Db>, Path(id): Path<i64>) -> Result<Json<Note>, AppError> {
    // TODO: answer the note with this id, or `NotFound` when there is none.
    let _ = (db, id, find_note);
    todo!()
}

/// Locks the connection. A poisoned lock only means a handler panicked
/// while holding it; the connection itself is still usable.
fn lock(db: &Db) -> MutexGuard<'_, Connection> {
    db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stores a new note and returns it with its id.
fn insert_note(db: &Connection, text: &str) -> rusqlite::Result<Note> {
    db.execute("INSERT INTO notes (text) VALUES (?1)", [text])?;
    let id = db.last_insert_rowid();
    let text = text.to_string();
    Ok(Note { id, text })
}

/// The note with this id, if there is one.
fn find_note(db: &Connection, id: i64) -> rusqlite::Result<Option<Note>> {
    db.query_row("SELECT id, text FROM notes WHERE id = ?1", [id], |row| {
        let id = row.get(0)?;
        let text = row.get(1)?;
        Ok(Note { id, text })
    })
    .optional()
}
