//! Tests for server/errors: a real server on 127.0.0.1 over a real SQLite
//! database, asked with a real client, and a tracing subscriber that records
//! what the server logs.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, Once};

use rusqlite::Connection;
use server_errors::{INTERNAL_ERROR_MESSAGE, app, create_schema};
use testkit::{Reply, TestServer, json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// A fresh in-memory database with the app's schema.
fn healthy_database() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("create_schema works on an empty database");
    db
}

/// A database whose `notes` table has the wrong columns, as after a botched
/// migration: every query on notes fails with `no such column: text`.
fn database_with_a_broken_schema() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    db.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .expect("the broken table is created");
    db
}

/// A database that refuses every write with `attempt to write a readonly
/// database`, as when the disk or the file's permissions forbid writing.
fn read_only_database() -> Connection {
    let db = healthy_database();
    db.execute_batch("PRAGMA query_only = ON")
        .expect("the database switches to read-only");
    db
}

/// Pieces of the database's own error messages (`no such column: text in
/// SELECT ...`, `attempt to write a readonly database`, rusqlite's
/// `SqliteFailure(..)`), in lower case: none may reach a client.
const INTERNAL_DETAILS: [&str; 4] = ["no such column", "readonly", "sqlite", "select"];

/// Fails if the response, its status, headers or body, shows anything of the
/// database's own error message.
#[track_caller]
fn assert_no_internal_detail(reply: &Reply) {
    let everything = reply.describe().to_lowercase();
    for detail in INTERNAL_DETAILS {
        if everything.contains(detail) {
            reply.fail(&format!(
                "the response leaks `{detail}`, a piece of the database's own error \
                 message; a client must see only the generic 500 body, and the detail \
                 belongs in the log"
            ));
        }
    }
}

#[tokio::test]
async fn a_created_note_answers_201_and_can_be_read_back() {
    let server = TestServer::spawn(app(healthy_database())).await;

    let created = server
        .post("/notes")
        .json(&json!({ "text": "buy milk" }))
        .send()
        .await;
    created
        .assert_status(201)
        .assert_content_type("application/json");
    let note = created.json();
    let Some(id) = note["id"].as_i64() else {
        created.fail("expected a JSON body of the shape {\"id\": 1, \"text\": \"buy milk\"}");
    };
    created.assert_json(&json!({ "id": id, "text": "buy milk" }));

    server
        .get(&format!("/notes/{id}"))
        .send()
        .await
        .assert_status(200)
        .assert_json(&json!({ "id": id, "text": "buy milk" }));
}

// ANCHOR: not_found
#[tokio::test]
async fn a_missing_note_answers_404_with_a_json_error() {
    let server = TestServer::spawn(app(healthy_database())).await;

    let reply = server.get("/notes/42").send().await;

    reply
        .assert_status(404)
        .assert_content_type("application/json")
        .assert_json(&json!({
            "error": "not_found",
            "message": "note 42 does not exist",
        }));
}
// ANCHOR_END: not_found

#[tokio::test]
async fn a_blank_note_answers_422_with_a_json_error() {
    let server = TestServer::spawn(app(healthy_database())).await;

    let reply = server
        .post("/notes")
        .json(&json!({ "text": "   " }))
        .send()
        .await;

    reply
        .assert_status(422)
        .assert_content_type("application/json")
        .assert_json(&json!({
            "error": "invalid_input",
            "message": "text must not be empty",
        }));
}

// ANCHOR: internal
#[tokio::test]
async fn a_failed_read_answers_500_without_leaking_the_database_error() {
    let server = TestServer::spawn(app(database_with_a_broken_schema())).await;

    let reply = server.get("/notes/1").send().await;

    reply.assert_status(500);
    assert_no_internal_detail(&reply);
    reply
        .assert_content_type("application/json")
        .assert_json(&json!({ "error": "internal", "message": INTERNAL_ERROR_MESSAGE }));
}
// ANCHOR_END: internal

#[tokio::test]
async fn a_failed_write_answers_500_without_leaking_the_database_error() {
    let server = TestServer::spawn(app(read_only_database())).await;

    let reply = server
        .post("/notes")
        .json(&json!({ "text": "buy milk" }))
        .send()
        .await;

    reply.assert_status(500);
    assert_no_internal_detail(&reply);
    reply
        .assert_content_type("application/json")
        .assert_json(&json!({ "error": "internal", "message": INTERNAL_ERROR_MESSAGE }));
}

// ANCHOR: logged
#[tokio::test]
async fn a_database_error_is_logged_with_its_detail() {
    let log = LogRecording::start();
    let server = TestServer::spawn(app(database_with_a_broken_schema())).await;

    let reply = server.get("/notes/1").send().await;

    reply.assert_status(500);
    let errors = log.events_at(Level::ERROR);
    if !errors.iter().any(|event| event.contains("no such column")) {
        reply.fail(&format!(
            "the client must not see the database's message, but the people running \
             the service must: expected an event logged with `tracing::error!` that \
             includes the database error (`no such column: text`); the ERROR events \
             logged while answering:\n{}",
            list(&errors)
        ));
    }
}
// ANCHOR_END: logged

/// The events logged on this thread while a [`LogRecording`] is alive.
///
/// A `#[tokio::test]` runs the test, the server and the client on one thread,
/// so the recording sees every event the server logs for the test's requests,
/// and none of the other tests, which run on other threads.
struct LogRecording {
    events: Events,
}

/// The events of one recording: each event's level, and its text.
type Events = Arc<Mutex<Vec<(Level, String)>>>;

thread_local! {
    /// Where [`ToThisThreadsRecording`] puts the events logged on this thread.
    static RECORDING: RefCell<Option<Events>> = const { RefCell::new(None) };
}

impl LogRecording {
    /// Starts recording the events logged on this thread.
    fn start() -> LogRecording {
        // One subscriber for the whole test binary, installed by the first
        // test that records, hands each event to the recording of the thread
        // that logged it. (A per-thread subscriber, `set_default`, is not
        // enough: while only one exists, tracing caches "nobody is interested"
        // for an event first logged on any other thread, and the recording
        // would miss it.)
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::registry().with(ToThisThreadsRecording);
            tracing::subscriber::set_global_default(subscriber).expect(
                "the test could not install its tracing subscriber: does app() install \
                 one? Only main should.",
            );
        });
        // Events first logged before the subscriber was installed are cached
        // as uninteresting; ask tracing to look again.
        tracing::callsite::rebuild_interest_cache();
        let events = Events::default();
        RECORDING.set(Some(Arc::clone(&events)));
        LogRecording { events }
    }

    /// The events recorded so far at `level`, each as `field=value ...`.
    fn events_at(&self, level: Level) -> Vec<String> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|(event_level, _)| *event_level == level)
            .map(|(_, text)| text.clone())
            .collect()
    }
}

impl Drop for LogRecording {
    fn drop(&mut self) {
        RECORDING.set(None);
    }
}

/// The layer that writes each event, as text, into the recording of the
/// thread that logged it, if that thread is recording.
struct ToThisThreadsRecording;

impl<S: Subscriber> Layer<S> for ToThisThreadsRecording {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = String::new();
        event.record(&mut FieldsAsText(&mut text));
        let level = *event.metadata().level();
        RECORDING.with_borrow(|recording| {
            if let Some(events) = recording {
                events.lock().unwrap().push((level, text));
            }
        });
    }
}

/// Appends ` name=value` to the text for every field it visits.
struct FieldsAsText<'a>(&'a mut String);

impl Visit for FieldsAsText<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

/// The events, one a line, for a failure message.
fn list(events: &[String]) -> String {
    if events.is_empty() {
        return "  (none at all)\n".to_string();
    }
    events.iter().map(|event| format!(" {event}\n")).collect()
}
