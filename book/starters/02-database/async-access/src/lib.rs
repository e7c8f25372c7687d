//! # database/async-access — SQLite in an async server
//!
//! Share one SQLite file between all the requests of an axum app through a
//! small connection pool you write yourself: a few connections opened once,
//! in WAL mode and with a busy timeout, lent to one job at a time. Every
//! SQLite call runs on tokio's blocking threads, so that a slow query never
//! stops the server from answering other requests.
//! The book's section "SQLite in an async server" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Mutex, mpsc};

// ANCHOR: pool
/// A fixed set of connections to one SQLite file, shared by every request.
///
/// Cloning a `Pool` is cheap: the clones share the same connections.
#[derive(Clone)]
pub struct Pool {
    /// The connections that are not running a job, queued in a channel. The
    /// receiving end sits behind an async mutex: jobs waiting for a
    /// connection wait for the mutex, in turn, without blocking a thread.
    idle: Arc<Mutex<mpsc::UnboundedReceiver<Connection>>>,
    /// The sending end of the same channel: how a connection goes back.
    give_back: mpsc::UnboundedSender<Connection>,
}
// ANCHOR_END: pool

impl Pool {
    // ANCHOR: open
    /// Opens `size` connections (at least one) to the SQLite file at `path`,
    /// creating the file if it does not exist. Every connection is set up
    /// for a server shared by many requests:
    ///
    /// - the database is in WAL mode (`PRAGMA journal_mode` reads `wal`), so
    ///   that readers and a writer do not wait for each other;
    /// - the connection waits up to `busy_timeout` for a lock held by another
    ///   connection (`PRAGMA busy_timeout` reads it back in milliseconds),
    ///   instead of failing at once with "database is locked".
    pub fn open(path: &Path, size: usize, busy_timeout: Duration) -> rusqlite::Result<Pool> {
        // TODO: return a pool whose connections, opened by `open_connection`,
        // are all idle, ready for a job.
        let _ = (path, size, busy_timeout, open_connection);
        todo!()
    }
    // ANCHOR_END: open

    // ANCHOR: run
    /// Runs `job` with one of the pool's connections and returns what `job`
    /// returns.
    ///
    /// - While every connection is busy, `run` waits for one to come back,
    ///   without blocking the thread it runs on.
    /// - `job` runs on tokio's blocking threads (`spawn_blocking`), never on
    ///   the threads that run async tasks: SQLite calls block.
    /// - The connection goes back to the pool when `job` is done, also if
    ///   `job` panics; the panic then continues in the caller of `run`.
    pub async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        // TODO: wait for an idle connection without blocking the thread, run
        // `job` with it off the async threads, and make sure the connection is
        // idle again when the job ends, also when the job panics.
        let _ = (&self.idle, &self.give_back, job);
        todo!()
    }
    // ANCHOR_END: run
}

// ANCHOR: open_connection
/// One connection, set up for concurrent use.
fn open_connection(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    // TODO: return a connection to the file at `path` whose database is in
    // WAL mode and which waits up to `busy_timeout` for another connection's
    // lock.
    let _ = (path, busy_timeout);
    todo!()
}
// ANCHOR_END: open_connection

/// A note, as stored and as sent: `{"id": 1, "text": "buy milk"}`.
#[derive(Serialize)]
pub struct Note {
    pub id: i64,
    pub text: String,
}

/// The body of `POST /notes`: `{"text": "buy milk"}`.
#[derive(Deserialize)]
struct NewNote {
    text: String,
}

/// The query of `GET /report`: `?rows=1000000`.
#[derive(Deserialize)]
struct ReportSize {
    rows: i64,
}

/// Creates the `notes` table, if it does not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS notes (
            id   INTEGER PRIMARY KEY,
            text TEXT NOT NULL
        )",
    )
}

/// Stores a new note and returns it with its id.
pub fn insert_note(db: &Connection, text: &str) -> rusqlite::Result<Note> {
    db.execute("INSERT INTO notes (text) VALUES (?1)", [text])?;
    let id = db.last_insert_rowid();
    let text = text.to_string();
    Ok(Note { id, text })
}

/// How many notes there are.
pub fn count_notes(db: &Connection) -> rusqlite::Result<i64> {
    db.query_row("SELECT count(*) FROM notes", [], |row| row.get(0))
}

// ANCHOR: heavy_report
/// A stand-in for an expensive report: SQLite adds up the numbers from 1 to
/// `rows` (at least 1), generating them one row at a time with a recursive
/// query. It keeps a CPU busy for a time that grows with `rows`: a million
/// rows take around half a second, more or less depending on the machine.
pub fn heavy_report(db: &Connection, rows: i64) -> rusqlite::Result<i64> {
    db.query_row(
        "WITH RECURSIVE numbers (n) AS (
            SELECT 1
            UNION ALL
            SELECT n + 1 FROM numbers WHERE n < ?1
        )
        SELECT sum(n) FROM numbers",
        [rows],
        |row| row.get(0),
    )
}
// ANCHOR_END: heavy_report

// ANCHOR: app
/// The notes service, on the database behind `pool` (whose schema
/// [`create_schema`] made):
///
/// | request              | answer                                                       |
/// | -------------------- | ------------------------------------------------------------ |
/// | `POST /notes`        | `201 Created`, the stored note: `{"id": 1, "text": "..."}`   |
/// | `GET /notes/count`   | `200 OK`, `{"count": 3}`                                     |
/// | `GET /report?rows=N` | `200 OK`, `{"rows": N, "total": 1 + 2 + ... + N}`            |
///
/// `POST /notes` takes `{"text": "buy milk"}`. `GET /report` computes its
/// total with [`heavy_report`], which is slow on purpose. Every database call
/// goes through [`Pool::run`]. A database error answers `500 Internal Server
/// Error` with `{"error": "internal"}`.
pub fn app(pool: Pool) -> Router {
    Router::new()
        .route("/notes", post(create_note))
        .route("/notes/count", get(count))
        .route("/report", get(report))
        .with_state(pool)
}
// ANCHOR_END: app

// ANCHOR: handlers
async fn create_note(
    State(pool): State<Pool>,
    Json(new_note): Json<NewNote>,
) -> Result<(StatusCode, Json<Note>), DatabaseError> {
    // TODO: store the note, through the pool, and answer 201 with it.
    let _ = (pool, new_note.text, insert_note);
    todo!()
}

async fn count(State(pool): State<Pool>) -> Result<Json<serde_json::Value>, DatabaseError> {
    // TODO: answer how many notes there are, counted through the pool.
    let _ = (pool, count_notes);
    todo!()
}

async fn report(
    State(pool): State<Pool>,
    Query(size): Query<ReportSize>,
) -> Result<Json<serde_json::Value>, DatabaseError> {
    // TODO: answer `{"rows": ..., "total": ...}`, the total computed by
    // `heavy_report` through the pool.
    let _ = (pool, size.rows, heavy_report);
    todo!()
}
// ANCHOR_END: handlers

/// A failed database call: logged, and answered with a bare `500`.
struct DatabaseError(rusqlite::Error);

impl From<rusqlite::Error> for DatabaseError {
    fn from(error: rusqlite::Error) -> Self {
        DatabaseError(error)
    }
}

impl IntoResponse for DatabaseError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "database error");
        let body = Json(json!({ "error": "internal" }));
        (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
    }
}
