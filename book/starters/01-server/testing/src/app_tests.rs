// # server/testing — your tests for the notes app
//
// The app in `src/lib.rs` is given and correct; its doc comment is the
// specification. Write tests for it here: async functions that take the app
// and panic (`assert!`, `assert_eq!`, `panic!`) when it does not do what the
// specification says. List them in `tests()` below.
//
// The grader runs every test you list against the correct app, where each
// must pass, and against several broken copies of the app, each wrong in one
// place; each broken copy must make at least one of your tests fail. A test
// that checks nothing catches nothing.
//
// Write some tests that hand requests straight to the app, and some that
// serve it on a free port of 127.0.0.1 and talk to it over HTTP. This file
// is compiled into the test binary (`tests/testing.rs` includes it), so it
// can use the test-only crates too: `testkit` (and its `client()`, a reqwest
// client for loopback), `tokio` and `serde_json`.
//
// Run `cargo checker check` to grade your tests.

use axum::Router;
use server_testing::{Test, tests};

// ANCHOR: tests
/// Every test the grader runs, by name.
pub fn tests() -> Vec<Test> {
    tests![
        creating_a_note_answers_201_created,
        notes_are_listed_oldest_first,
    ]
}

/// A test that hands its requests straight to `app`.
async fn creating_a_note_answers_201_created(app: Router) {
    // TODO: send `POST /notes` with a note to `app` itself (no server, no
    // socket), and fail unless the answer is everything the specification
    // promises for it.
    let _ = app;
    todo!()
}

/// A test that talks to `app` over HTTP.
async fn notes_are_listed_oldest_first(app: Router) {
    // TODO: serve `app` on a free port of 127.0.0.1, create two notes over
    // HTTP, and fail unless `GET /notes` then answers what the specification
    // says.
    let _ = app;
    todo!()
}
// ANCHOR_END: tests
