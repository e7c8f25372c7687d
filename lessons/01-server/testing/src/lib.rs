//! # server/testing — the app you write tests for
//!
//! This file is given, and correct: a tiny notes API. Do not change it. Your
//! work is in `src/app_tests.rs`: tests that pass against this app and fail
//! against each of the broken copies of it that the grader holds. The book's
//! section "Testing" explains what makes a test catch a bug.
//!
//! Run the app with `cargo run -q -p server-testing --example serve` to try it
//! with `curl`; run `cargo checker check` to grade your tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

// ANCHOR: spec
/// The notes app. Every body, in and out, is JSON
/// (`content-type: application/json`).
///
/// | request | answer |
/// | --- | --- |
/// | `GET /notes` | `200 OK` and every note, oldest first: `[{"id": 1, "text": "buy milk"}]`, or `[]` when there is none |
/// | `POST /notes` with `{"text": "buy milk"}` | `201 Created`, the header `location: /notes/1`, and the new note: `{"id": 1, "text": "buy milk"}` |
/// | `POST /notes` with a blank text: empty (`""`) or only whitespace (`"  "`) | `422 Unprocessable Entity` and `{"error": "text must not be empty"}`; no note is created |
/// | `GET /notes/{id}` | `200 OK` and that note, or `404 Not Found` and `{"error": "no note with id 7"}` |
///
/// Ids start at 1 and go up by one with each new note. Any other method on
/// `/notes` or `/notes/{id}` answers `405 Method Not Allowed` with an `allow`
/// header naming the methods that work (`GET,HEAD,POST` on `/notes`,
/// `GET,HEAD` on `/notes/{id}`). Notes live in memory: every app starts
/// empty.
pub fn app() -> Router {
    Router::new()
        .route("/notes", get(list_notes).post(create_note))
        .route("/notes/{id}", get(show_note))
        .with_state(Notes::default())
}
// ANCHOR_END: spec

#[derive(Clone, Serialize)]
struct Note {
    id: u64,
    text: String,
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

type Notes = Arc<Mutex<Vec<Note>>>;

async fn list_notes(State(notes): State<Notes>) -> Json<Vec<Note>> {
    let notes = notes.lock().expect("no handler panics holding the lock");
    Json(notes.clone())
}

async fn create_note(State(notes): State<Notes>, Json(new): Json<NewNote>) -> Response {
    if new.text.trim().is_empty() {
        let error = json!({ "error": "text must not be empty" });
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response();
    }
    let mut notes = notes.lock().expect("no handler panics holding the lock");
    let note = Note {
        id: notes.len() as u64 + 1,
        text: new.text,
    };
    notes.push(note.clone());
    let location = [(header::LOCATION, format!("/notes/{}", note.id))];
    (StatusCode::CREATED, location, Json(note)).into_response()
}

async fn show_note(State(notes): State<Notes>, Path(id): Path<u64>) -> Response {
    let notes = notes.lock().expect("no handler panics holding the lock");
    match notes.iter().find(|note| note.id == id) {
        Some(note) => Json(note.clone()).into_response(),
        None => {
            let error = json!({ "error": format!("no note with id {id}") });
            (StatusCode::NOT_FOUND, Json(error)).into_response()
        }
    }
}

// ANCHOR: test_type
/// One of your tests: a name, and an async function that takes an app and
/// panics (with `assert!`, `assert_eq!`, `panic!`, ...) when the app does not
/// do what the specification says. The grader calls it with the correct app
/// and with each broken copy, a fresh app every time.
pub struct Test {
    name: &'static str,
    run: Box<dyn Fn(Router) -> TestFuture + Send + Sync>,
}

type TestFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Test {
    /// A test called `name` that runs `test(app)`.
    pub fn new<F, Fut>(name: &'static str, test: F) -> Test
    where
        F: Fn(Router) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Test {
            name,
            run: Box::new(move |app| Box::pin(test(app))),
        }
    }

    /// The test's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The test, run against `app`: it completes if the app passed, and
    /// panics if it did not.
    pub fn run(&self, app: Router) -> impl Future<Output = ()> + Send + 'static {
        (self.run)(app)
    }
}

/// `tests![first, second]` is the list of the async functions `first` and
/// `second` as [`Test`]s, each named after its function.
#[macro_export]
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        vec![$($crate::Test::new(stringify!($test), $test)),*]
    };
}
// ANCHOR_END: test_type
