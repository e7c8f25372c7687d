//! Grades your tests, the ones `tests()` lists in `src/app_tests.rs`.
//!
//! Each of your tests runs against the notes app of `src/lib.rs` (it must
//! pass) and against broken copies of that app, each wrong in one place and
//! the same as the correct app everywhere else (at least one of your tests
//! must fail against each). Every run gets a fresh app, and against a broken
//! copy each of your tests runs several times, once with the broken app and
//! otherwise with the correct one, in an order no test can guess: only what
//! the app answers can tell them apart.
//!
//! The broken copies are at the end of this file. Write your tests before
//! you read them: tests written to catch bugs you have seen check the code;
//! tests written from the specification check the app.

use std::cell::RefCell;
use std::hash::{BuildHasher, RandomState};
use std::sync::Once;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use server_testing::Test;
use tower::ServiceExt;

/// Your tests: `src/app_tests.rs`, compiled into this test binary.
mod app_tests {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/app_tests.rs"));
}

#[tokio::test]
async fn your_tests_pass_against_the_correct_app() {
    let tests = your_tests().await;
    let mut failures = Vec::new();
    for test in &tests {
        if let Err(failure) = run(test, notes::correct_app()).await {
            failures.push((test.name(), failure));
        }
    }
    if !failures.is_empty() {
        let mut message = format!(
            "\n{} against the correct app: a test must pass when the app does what the specification says.\n",
            fail_count(failures.len(), tests.len())
        );
        for (name, failure) in &failures {
            message.push_str(&format!("\n  `{name}` {failure}\n"));
        }
        panic!("{}\n", message.trim_end());
    }
}

#[tokio::test]
async fn your_tests_catch_post_notes_answering_200_instead_of_201() {
    expect_caught(Fault::CreatedAnswers200).await;
}

#[tokio::test]
async fn your_tests_catch_post_notes_without_a_location_header() {
    expect_caught(Fault::NoLocation).await;
}

#[tokio::test]
async fn your_tests_catch_post_notes_answering_without_the_new_id() {
    expect_caught(Fault::CreatedNoteWithoutId).await;
}

#[tokio::test]
async fn your_tests_catch_ids_that_start_at_0() {
    expect_caught(Fault::IdsStartAt0).await;
}

#[tokio::test]
async fn your_tests_catch_a_list_that_leaves_out_the_newest_note() {
    expect_caught(Fault::ListLeavesOutNewest).await;
}

#[tokio::test]
async fn your_tests_catch_a_missing_note_answered_200_null() {
    expect_caught(Fault::MissingNoteIs200Null).await;
}

#[tokio::test]
async fn your_tests_catch_a_note_that_answers_every_method() {
    expect_caught(Fault::NoteAnswersEveryMethod).await;
}

#[tokio::test]
async fn your_tests_catch_a_text_of_spaces_being_accepted() {
    expect_caught(Fault::SpacesAccepted).await;
}

/// How often each of your tests runs in a broken app's test: once against
/// the broken app, the other times against the correct one.
const RUNS_PER_TEST: usize = 4;

/// How long one run of one of your tests may take.
const TIME_LIMIT: Duration = Duration::from_secs(5);

/// Fails unless your tests pass against the correct app and at least one
/// fails against the app broken by `fault`.
async fn expect_caught(fault: Fault) {
    let tests = your_tests().await;
    let mut caught_by = Vec::new();
    for test in &tests {
        let broken_turn = random_below(RUNS_PER_TEST);
        for turn in 0..RUNS_PER_TEST {
            if turn == broken_turn {
                if run(test, notes::broken_app(fault)).await.is_err() {
                    caught_by.push(test.name());
                }
            } else if let Err(failure) = run(test, notes::correct_app()).await {
                panic!(
                    "\nNot graded yet: your test `{}` fails against the correct app, so its failing against a broken app would prove nothing.\n  `{}` {failure}\nMake every test pass against the correct app first: `your_tests_pass_against_the_correct_app` shows each failure.\n",
                    test.name(),
                    test.name()
                );
            }
        }
    }
    if caught_by.is_empty() {
        let names: Vec<String> = tests.iter().map(|t| format!("`{}`", t.name())).collect();
        panic!(
            "\nYour tests missed a broken app: {}.\n  passed against it: {} ({})\n  the correct app:   {}\nWrite a test that fails against this broken app and passes against the correct one.\n",
            fault.what_is_wrong(),
            names.join(", "),
            if tests.len() == 1 {
                "your only test".to_string()
            } else {
                format!("all {} of your tests", tests.len())
            },
            fault.what_is_right()
        );
    }
}

/// Your tests, once the given app is confirmed unchanged.
async fn your_tests() -> Vec<Test> {
    given_app_is_unchanged().await;
    let tests = app_tests::tests();
    if tests.is_empty() {
        panic!(
            "\nYou have no tests yet: `tests()` in src/app_tests.rs lists none, and no tests catch no bugs.\nList your test functions there: `tests![first_test, second_test]`.\n"
        );
    }
    tests
}

fn fail_count(failed: usize, all: usize) -> String {
    match (failed, all) {
        (1, 1) => "Your only test fails".to_string(),
        (1, _) => format!("1 of your {all} tests fails"),
        _ if failed == all => format!("All {all} of your tests fail"),
        _ => format!("{failed} of your {all} tests fail"),
    }
}

/// A number below `n`, different from run to run.
fn random_below(n: usize) -> usize {
    (RandomState::new().hash_one(Instant::now()) % n as u64) as usize
}

/// Runs one of your tests against `app`, in a task of its own: `Err` says
/// how it failed (a panic, with its message and where it happened, or no
/// end within the time limit).
async fn run(test: &Test, app: Router) -> Result<(), String> {
    record_panic_locations();
    LAST_PANIC_AT.with(|at| at.borrow_mut().take());
    let mut task = tokio::spawn(test.run(app));
    match tokio::time::timeout(TIME_LIMIT, &mut task).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if error.is_panic() => {
            let message = panic_message(error.into_panic());
            let at = LAST_PANIC_AT
                .with(|at| at.borrow_mut().take())
                .map(|at| format!(" at {at}"))
                .unwrap_or_default();
            Err(format!("panicked{at}:\n{}", indent(&message)))
        }
        Ok(Err(_)) => Err("was cancelled before it ended".to_string()),
        Err(_) => {
            task.abort();
            Err(format!(
                "did not end within {} seconds: does it wait for something that never comes?",
                TIME_LIMIT.as_secs()
            ))
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}

fn indent(text: &str) -> String {
    text.trim_matches('\n')
        .lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

thread_local! {
    /// Where the last panic on this thread happened. Your tests run on the
    /// thread of the test that runs them (`#[tokio::test]` runs every task
    /// on one thread), so a panic of yours is recorded where it is read.
    static LAST_PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Adds to the panic hook a note of where each panic happened, relative to
/// the exercise's folder (`src/app_tests.rs:12:5`); the panic message, which
/// the test sees, does not say.
fn record_panic_locations() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(location) = info.location() {
                let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/");
                let file = location.file();
                let file = file.strip_prefix(dir).unwrap_or(file);
                let at = format!("{file}:{}:{}", location.line(), location.column());
                LAST_PANIC_AT.with(|last| *last.borrow_mut() = Some(at));
            }
            default_hook(info);
        }));
    });
}

/// The app of `src/lib.rs` must be the correct app kept here: the same
/// requests get the same answers from both.
async fn given_app_is_unchanged() {
    let given = server_testing::app();
    let kept = notes::app(None);
    let requests = [
        ("GET", "/notes", ""),
        ("POST", "/notes", r#"{"text": "buy milk"}"#),
        ("POST", "/notes", r#"{"text": ""}"#),
        ("POST", "/notes", r#"{"text": " \t\n"}"#),
        ("POST", "/notes", r#"{"text": "call Zoë"}"#),
        ("GET", "/notes", ""),
        ("GET", "/notes/1", ""),
        ("GET", "/notes/2", ""),
        ("GET", "/notes/0", ""),
        ("GET", "/notes/3", ""),
        ("PUT", "/notes/1", r#"{"text": "buy bread"}"#),
        ("DELETE", "/notes", ""),
    ];
    for (method, path, body) in requests {
        let from_given = summary(&given, method, path, body).await;
        let from_kept = summary(&kept, method, path, body).await;
        if from_given != from_kept {
            panic!(
                "\nThe app in src/lib.rs has changed, so your tests cannot be graded: it is given, and the grader's copies are made from it as it was.\n  request:  {method} {path} {body}\n  it answers:          {from_given}\n  it should answer:    {from_kept}\nPut src/lib.rs back as it was (`git checkout` it); your tests go in src/app_tests.rs.\n"
            );
        }
    }
}

/// What `app` answers `method path` with `body`: status, the headers the
/// specification names, and the body.
async fn summary(app: &Router, method: &str, path: &str, body: &str) -> String {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("a valid request");
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("a router never fails");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-")
            .to_string()
    };
    let head = format!(
        "{} content-type: {}, location: {}, allow: {}",
        response.status(),
        header("content-type"),
        header("location"),
        header("allow")
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("an in-memory body reads");
    format!("{head}, body: {}", String::from_utf8_lossy(&bytes))
}

/// What a broken copy of the app gets wrong, one fault per copy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fault {
    CreatedAnswers200,
    NoLocation,
    CreatedNoteWithoutId,
    IdsStartAt0,
    ListLeavesOutNewest,
    MissingNoteIs200Null,
    NoteAnswersEveryMethod,
    SpacesAccepted,
}

impl Fault {
    fn what_is_wrong(self) -> &'static str {
        match self {
            Fault::CreatedAnswers200 => {
                "`POST /notes` creates the note but answers `200 OK` instead of `201 Created`"
            }
            Fault::NoLocation => "`POST /notes` answers without its `location` header",
            Fault::CreatedNoteWithoutId => {
                "`POST /notes` answers with the text it was sent, `{\"text\": \"buy milk\"}`, instead of the new note with its id"
            }
            Fault::IdsStartAt0 => {
                "ids start at 0: the first note is `{\"id\": 0, ...}` at `/notes/0`"
            }
            Fault::ListLeavesOutNewest => {
                "`GET /notes` leaves out the newest note (an off-by-one: it stops one note short)"
            }
            Fault::MissingNoteIs200Null => {
                "`GET /notes/{id}` for a note that does not exist answers `200 OK` and `null`"
            }
            Fault::NoteAnswersEveryMethod => {
                "`/notes/{id}` answers every method as if it were `GET`: `PUT`, `DELETE`, `POST` and `PATCH` get `200 OK` and the note"
            }
            Fault::SpacesAccepted => {
                "`POST /notes` refuses an empty text but accepts a text of only whitespace, such as `\"   \"`, and creates the note"
            }
        }
    }

    fn what_is_right(self) -> &'static str {
        match self {
            Fault::CreatedAnswers200 => "answers `201 Created`",
            Fault::NoLocation => "answers with `location: /notes/{id}` of the new note",
            Fault::CreatedNoteWithoutId => {
                "answers the new note, `{\"id\": 1, \"text\": \"buy milk\"}`"
            }
            Fault::IdsStartAt0 => "gives the first note the id 1",
            Fault::ListLeavesOutNewest => "lists every note, oldest first",
            Fault::MissingNoteIs200Null => {
                "answers `404 Not Found` and `{\"error\": \"no note with id 7\"}`"
            }
            Fault::NoteAnswersEveryMethod => {
                "answers `405 Method Not Allowed` with `allow: GET,HEAD`"
            }
            Fault::SpacesAccepted => {
                "refuses any blank text with `422 Unprocessable Entity` and creates nothing"
            }
        }
    }
}

/// The grader's copy of the notes app, correct or with one fault. Each fault
/// is a mistake that is easy to make and that no compiler catches.
mod notes {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, State};
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::{any, get};
    use axum::{Json, Router};
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::Fault;

    /// The correct app, as your tests get it.
    pub fn correct_app() -> Router {
        opaque(app(None))
    }

    /// The app broken by `fault`, as your tests get it.
    pub fn broken_app(fault: Fault) -> Router {
        opaque(app(Some(fault)))
    }

    /// `app` behind a router with nothing but a fallback: every app a test
    /// gets looks the same (a router's `Debug` output lists its routes),
    /// apart from what it answers.
    fn opaque(app: Router) -> Router {
        Router::new().fallback_service(app)
    }

    /// The app of `src/lib.rs`, with `fault` if there is one.
    pub fn app(fault: Option<Fault>) -> Router {
        let note = if fault == Some(Fault::NoteAnswersEveryMethod) {
            any(show_note)
        } else {
            get(show_note)
        };
        Router::new()
            .route("/notes", get(list_notes).post(create_note))
            .route("/notes/{id}", note)
            .with_state(Notes {
                notes: Arc::default(),
                fault,
            })
    }

    #[derive(Clone, Serialize)]
    struct Note {
        id: u64,
        text: String,
    }

    #[derive(Deserialize)]
    struct NewNote {
        text: String,
    }

    #[derive(Clone)]
    struct Notes {
        notes: Arc<Mutex<Vec<Note>>>,
        fault: Option<Fault>,
    }

    impl Notes {
        fn has(&self, fault: Fault) -> bool {
            self.fault == Some(fault)
        }
    }

    async fn list_notes(State(state): State<Notes>) -> Json<Vec<Note>> {
        let notes = state
            .notes
            .lock()
            .expect("no handler panics holding the lock");
        if state.has(Fault::ListLeavesOutNewest) {
            let shown = notes.len().saturating_sub(1);
            return Json(notes[..shown].to_vec());
        }
        Json(notes.clone())
    }

    async fn create_note(State(state): State<Notes>, Json(new): Json<NewNote>) -> Response {
        let blank = if state.has(Fault::SpacesAccepted) {
            new.text.is_empty()
        } else {
            new.text.trim().is_empty()
        };
        if blank {
            let error = json!({ "error": "text must not be empty" });
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response();
        }
        let mut notes = state
            .notes
            .lock()
            .expect("no handler panics holding the lock");
        let first_id = if state.has(Fault::IdsStartAt0) { 0 } else { 1 };
        let note = Note {
            id: notes.len() as u64 + first_id,
            text: new.text,
        };
        notes.push(note.clone());
        let location = [(header::LOCATION, format!("/notes/{}", note.id))];
        let status = if state.has(Fault::CreatedAnswers200) {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let body = if state.has(Fault::CreatedNoteWithoutId) {
            Json(json!({ "text": note.text }))
        } else {
            Json(json!(note))
        };
        if state.has(Fault::NoLocation) {
            return (status, body).into_response();
        }
        (status, location, body).into_response()
    }

    async fn show_note(State(state): State<Notes>, Path(id): Path<u64>) -> Response {
        let notes = state
            .notes
            .lock()
            .expect("no handler panics holding the lock");
        let found = notes.iter().find(|note| note.id == id);
        if state.has(Fault::MissingNoteIs200Null) {
            return Json(found.cloned()).into_response();
        }
        match found {
            Some(note) => Json(note.clone()).into_response(),
            None => {
                let error = json!({ "error": format!("no note with id {id}") });
                (StatusCode::NOT_FOUND, Json(error)).into_response()
            }
        }
    }
}
