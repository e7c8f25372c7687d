//! Tests for server/health: a real server on 127.0.0.1 in front of a real
//! SQLite file, which the tests break and mend between requests.
//!
//! Every test works in a directory of its own under the system's temporary
//! directory, removed when the test ends (also when it fails).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use server_health::app;
use testkit::{Reply, TestServer, Value, json, status_text};

/// A directory for one test, removed when it is dropped. Its name holds the
/// process id and a counter, so tests running at the same time, in this
/// process or another, never share one.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let number = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("server-health-{}-{number}", std::process::id());
        let path = std::env::temp_dir().join(name);
        // A directory left over by an earlier run that had the same process id.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("the test could not create its temporary directory");
        TempDir { path }
    }

    fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ANCHOR: databases
/// A working SQLite database at `path`, with one table and one row.
fn create_database(path: &Path) {
    let connection =
        rusqlite::Connection::open(path).expect("the test could not create its SQLite database");
    connection
        .execute_batch(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
             INSERT INTO products (name) VALUES ('teapot');",
        )
        .expect("the test could not fill its SQLite database");
}

/// A file at `path` that is not a SQLite database at all.
fn create_text_file(path: &Path) {
    let text = "This is a text file, not a SQLite database.\n".repeat(50);
    fs::write(path, text).expect("the test could not write its text file");
}
// ANCHOR_END: databases

fn alive() -> Value {
    json!({ "status": "alive" })
}

fn ready() -> Value {
    json!({ "status": "ready", "checks": { "database": "ok" } })
}

fn not_ready() -> Value {
    json!({ "status": "not ready", "checks": { "database": "failing" } })
}

/// Fails unless `reply` is `status` with the JSON body `body`, saying that
/// this was expected because of `situation`.
#[track_caller]
fn expect(reply: &Reply, situation: &str, status: u16, body: Value) {
    if reply.status() != status {
        reply.fail_with_diagnosis(
            &format!(
                "expected status {}, got {}",
                status_text(status),
                status_text(reply.status())
            ),
            &format!(
                "{situation}, so the answer should be {} with the JSON body {body}.",
                status_text(status)
            ),
        );
    }
    reply
        .assert_content_type("application/json")
        .assert_json(&body);
}

#[tokio::test]
async fn liveness_answers_200_alive() {
    let dir = TempDir::new();
    let database = dir.join("app.db");
    create_database(&database);
    let server = TestServer::spawn(app(database)).await;

    let reply = server.get("/health/live").send().await;

    expect(&reply, "The process is up", 200, alive());
}

#[tokio::test]
async fn liveness_stays_200_while_the_database_is_unavailable() {
    let dir = TempDir::new();
    let database = dir.join("app.db");
    create_text_file(&database);
    let server = TestServer::spawn(app(database)).await;

    let reply = server.get("/health/live").send().await;

    expect(
        &reply,
        "The database file is not a database, but the process is up",
        200,
        alive(),
    );
}

#[tokio::test]
async fn readiness_answers_200_ready_when_the_database_answers_a_query() {
    let dir = TempDir::new();
    let database = dir.join("app.db");
    create_database(&database);
    let server = TestServer::spawn(app(database)).await;

    let reply = server.get("/health/ready").send().await;

    expect(&reply, "The database works", 200, ready());
}

#[tokio::test]
async fn readiness_answers_503_naming_the_database_when_the_file_is_not_a_database() {
    let dir = TempDir::new();
    let database = dir.join("app.db");
    create_text_file(&database);
    let server = TestServer::spawn(app(database)).await;

    let reply = server.get("/health/ready").send().await;

    expect(
        &reply,
        "The database file is a text file, not a SQLite database (opening a connection does not read the file: only a query does)",
        503,
        not_ready(),
    );
}

#[tokio::test]
async fn readiness_answers_503_when_the_database_file_is_missing_and_does_not_create_it() {
    let dir = TempDir::new();
    let database = dir.join("app.db");
    let server = TestServer::spawn(app(database.clone())).await;

    let reply = server.get("/health/ready").send().await;

    expect(&reply, "There is no database file", 503, not_ready());
    assert!(
        !database.exists(),
        "\nthe readiness check created the missing database file\n  request:  GET /health/ready\n  file:     {}\nA readiness check must never create the database: an empty new one would pass the check and hide the outage.\n",
        database.display()
    );
}

// ANCHOR: comes_back
#[tokio::test]
async fn readiness_follows_the_database_as_it_goes_away_and_comes_back() {
    let dir = TempDir::new();
    let database = dir.join("app.db");
    let moved_away = dir.join("app.db.moved-away");
    create_database(&database);
    let server = TestServer::spawn(app(database.clone())).await;

    let before = server.get("/health/ready").send().await;
    expect(&before, "The database works", 200, ready());

    fs::rename(&database, &moved_away).expect("the test could not move the database away");
    let during = server.get("/health/ready").send().await;
    expect(
        &during,
        "The database file has been moved away since the last request",
        503,
        not_ready(),
    );

    fs::rename(&moved_away, &database).expect("the test could not move the database back");
    let after = server.get("/health/ready").send().await;
    expect(
        &after,
        "The database file is back in its place since the last request",
        200,
        ready(),
    );
}
// ANCHOR_END: comes_back
