//! # database/async-access — reference solution

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
        assert!(size > 0, "a pool needs at least one connection");
        let (give_back, idle) = mpsc::unbounded_channel();
        for _ in 0..size {
            let connection = open_connection(path, busy_timeout)?;
            give_back
                .send(connection)
                .expect("the receiving end is right here");
        }
        let idle = Arc::new(Mutex::new(idle));
        Ok(Pool { idle, give_back })
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
        let connection = self.idle.lock().await.recv().await;
        let connection = connection.expect("the pool holds a sender, so the channel stays open");
        let mut lease = Lease {
            connection: Some(connection),
            give_back: self.give_back.clone(),
        };
        // The lease moves into the closure: even if the caller stops waiting
        // (a client hangs up), the connection comes back when the job ends.
        let task = tokio::task::spawn_blocking(move || job(lease.connection()));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
    // ANCHOR_END: run
}

// ANCHOR: lease
/// A connection borrowed from the pool. Dropping the lease gives the
/// connection back, whether the job returned or panicked.
struct Lease {
    connection: Option<Connection>,
    give_back: mpsc::UnboundedSender<Connection>,
}

impl Lease {
    fn connection(&mut self) -> &mut Connection {
        self.connection
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            // Fails only if every `Pool` is gone; the connection then closes.
            let _ = self.give_back.send(connection);
        }
    }
}
// ANCHOR_END: lease

// ANCHOR: open_connection
/// One connection, set up for concurrent use.
fn open_connection(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(busy_timeout)?;
    // WAL is a property of the file: the first connection switches the
    // file over, and for the others this is a no-op.
    connection.pragma_update(None, "journal_mode", "WAL")?;
    // Safe with WAL (a power cut may lose the last commits, never corrupt
    // the file), and much faster than the default FULL.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(connection)
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
    // The closure must own what it uses: it runs on another thread, maybe
    // after this handler has been dropped.
    let note = pool.run(move |db| insert_note(db, &new_note.text)).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

async fn count(State(pool): State<Pool>) -> Result<Json<serde_json::Value>, DatabaseError> {
    let count = pool.run(|db| count_notes(db)).await?;
    Ok(Json(json!({ "count": count })))
}

async fn report(
    State(pool): State<Pool>,
    Query(size): Query<ReportSize>,
) -> Result<Json<serde_json::Value>, DatabaseError> {
    let rows = size.rows;
    let total = pool.run(move |db| heavy_report(db, rows)).await?;
    Ok(Json(json!({ "rows": rows, "total": total })))
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
