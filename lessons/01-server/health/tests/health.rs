//! Tests for server/health: a real server on 127.0.0.1 in front of a real
//! SQLite file, which the tests break and mend between requests.
//!
//! Every test works in a directory of its own under the system's temporary
//! directory, removed when the test ends (also when it fails).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use server_health::app;
use testkit::{Reply, TestServer, Value, json, status_text};
use tokio::sync::mpsc;
use tokio::time::timeout;

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

/// Locks the database at `path` as a long write does: until the returned
/// connection is dropped, no other connection can read it, and a query waits
/// for the lock (rusqlite's connections wait up to 5 seconds by default).
fn lock_database(path: &Path) -> rusqlite::Connection {
    let connection =
        rusqlite::Connection::open(path).expect("the test could not open its SQLite database");
    connection
        .execute_batch("BEGIN EXCLUSIVE")
        .expect("the test could not lock its SQLite database");
    connection
}

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

/// How long liveness may take to answer while a readiness check waits for a
/// locked database: far more than a free server needs, and far less than
/// the 5 seconds a query waits for a lock.
const LIVENESS_PATIENCE: Duration = Duration::from_secs(2);

#[tokio::test]
async fn liveness_answers_while_a_readiness_check_waits_for_a_locked_database() {
    let dir = TempDir::new();
    let database = dir.join("app.db");
    create_database(&database);
    // Tells the test when a readiness request reaches the app.
    let (reached, mut readiness_reached) = mpsc::unbounded_channel();
    let tell_the_test = move |request: Request, next: Next| {
        if request.uri().path() == "/health/ready" {
            let _ = reached.send(());
        }
        next.run(request)
    };
    let app = app(database.clone()).layer(middleware::from_fn(tell_the_test));
    // A server with one thread of its own: a handler that blocks it holds up
    // every other request, as it would hold up a worker thread in production.
    let server = TestServer::spawn_on_its_own_thread(app);
    let lock = lock_database(&database);

    let readiness = tokio::spawn(server.get("/health/ready").send());
    if timeout(LIVENESS_PATIENCE, readiness_reached.recv())
        .await
        .is_err()
    {
        panic!(
            "\nthe readiness request never reached the app within {LIVENESS_PATIENCE:?}\n  request:  GET /health/ready\n"
        );
    }
    let liveness = timeout(LIVENESS_PATIENCE, server.get("/health/live").send()).await;

    let Ok(liveness) = liveness else {
        panic!(
            "\nliveness did not answer within {LIVENESS_PATIENCE:?} while a readiness check waited for a locked database\n  request:  GET /health/live, sent while GET /health/ready was checking a database that another connection had locked\n  expected: 200 OK with the JSON body {} at once\n  got:      no answer within {LIVENESS_PATIENCE:?}\nThe readiness check blocks the thread it runs on while it waits for the lock, so nothing else on that thread is answered, not even liveness: a slow disk would get the process restarted. Run the check on tokio's blocking pool (`tokio::task::spawn_blocking`).\n",
            alive()
        );
    };
    expect(
        &liveness,
        "The process is up, though a readiness check is waiting for a locked database",
        200,
        alive(),
    );
    drop(lock);
    let readiness = readiness
        .await
        .expect("the test's readiness request panicked");
    // A check that waits for the lock finds the database working once it is
    // released; one that does not wait has found it locked. Both are fine.
    let body = readiness.json();
    if (readiness.status(), &body) != (200, &ready())
        && (readiness.status(), &body) != (503, &not_ready())
    {
        readiness.fail(&format!(
            "expected 200 OK with {} (the database worked once the lock was released) or 503 Service Unavailable with {} (it was locked)",
            ready(),
            not_ready()
        ));
    }
}
