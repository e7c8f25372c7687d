//! Tests for server/errors: a real server on 127.0.0.1 over a real SQLite
//! database, asked with a real client, and a tracing subscriber that records
//! what the server logs.

use rusqlite::Connection;
use server_errors::{INTERNAL_ERROR_MESSAGE, app, create_schema};
use testkit::trace::{Recording, list};
use testkit::{Reply, TestServer, json};
use tracing::Level;

/// A fresh in-memory database with the app's schema.
fn healthy_database() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    db
}

/// A database whose `notes` table has the wrong columns, as after a botched
/// migration: every query on notes fails with `no such column: text`.
fn database_with_a_broken_schema() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    db.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .expect("the test could not create the broken table");
    db
}

/// A database that refuses every write with `attempt to write a readonly
/// database`, as when the disk or the file's permissions forbid writing.
fn read_only_database() -> Connection {
    let db = healthy_database();
    db.execute_batch("PRAGMA query_only = ON")
        .expect("the test could not switch the database to read-only");
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
            reply.fail_with_diagnosis(
                &format!(
                    "the response leaks `{detail}`, a piece of the database's own error message"
                ),
                "A client must see only the generic 500 body; the detail belongs in the log.",
            );
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
async fn a_missing_note_with_an_id_beyond_i32_answers_404_naming_it() {
    let server = TestServer::spawn(app(healthy_database())).await;

    // Note ids are SQLite rowids: any `i64`.
    let reply = server.get("/notes/3000000000").send().await;

    if reply.status() != 404 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 404 Not Found, got {}",
                testkit::status_text(reply.status())
            ),
            "3000000000 is a valid note id (ids are SQLite rowids, which are `i64`), only \
             there is no such note. Is the id read from the path as an `i64`?",
        );
    }
    reply
        .assert_content_type("application/json")
        .assert_json(&json!({
            "error": "not_found",
            "message": "note 3000000000 does not exist",
        }));
}

#[tokio::test]
async fn a_blank_note_answers_422_with_a_json_error() {
    let server = TestServer::spawn(app(healthy_database())).await;

    // Blank is empty, or whitespace only: spaces, tabs, newlines.
    for text in ["", "   ", "\t", " \n\t\r\n "] {
        let reply = server
            .post("/notes")
            .json(&json!({ "text": text }))
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
    let log = Recording::start();
    let server = TestServer::spawn(app(database_with_a_broken_schema())).await;

    let reply = server.get("/notes/1").send().await;

    reply.assert_status(500);
    let errors = log.events_at(Level::ERROR);
    if !errors.iter().any(|event| event.contains("no such column")) {
        reply.fail_with_diagnosis(
            "no ERROR event logged while answering includes the database error \
             (`no such column: text`)",
            &format!(
                "The ERROR events logged while answering:\n{}The client must not see the \
                 database's message, but the people running the service must: log it with \
                 `tracing::error!`.",
                list(&errors)
            ),
        );
    }
}
// ANCHOR_END: logged
