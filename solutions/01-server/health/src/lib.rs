//! # server/health — reference solution

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};

// ANCHOR: app
/// Builds the application, whose database is the SQLite file at
/// `database_path`. Both endpoints answer JSON (`content-type:
/// application/json`):
///
/// - `GET /health/live` (liveness) always answers `200 OK` with
///   `{"status": "alive"}`. It never touches the database: a database outage
///   is no reason to restart the process.
/// - `GET /health/ready` (readiness) checks the database on every request.
///   It opens the file at `database_path` as it is at that moment, never
///   creating it, and runs a query that reads the file (such as
///   `SELECT count(*) FROM sqlite_schema`). If that works, it answers
///   `200 OK` with `{"status": "ready", "checks": {"database": "ok"}}`.
///   If not (the file is missing, or is not a SQLite database), it answers
///   `503 Service Unavailable` with
///   `{"status": "not ready", "checks": {"database": "failing"}}`.
///
/// The error itself is for the server's log, not for the response.
///
/// A check may have to wait (for a database that another connection has
/// locked, for a slow disk): while it waits, every other request is still
/// answered at once, liveness first of all.
pub fn app(database_path: PathBuf) -> Router {
    let database_path: Arc<Path> = database_path.into();
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(database_path)
}
// ANCHOR_END: app

/// Liveness: answering at all proves the process is up.
async fn live() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

// ANCHOR: ready
/// Readiness: the service is ready when its database answers a query.
async fn ready(State(database_path): State<Arc<Path>>) -> (StatusCode, Json<Value>) {
    // Opening a file and querying it blocks the thread, so it runs on
    // tokio's blocking pool, not on a thread that serves other requests.
    let check = tokio::task::spawn_blocking(move || check_database(&database_path)).await;
    match check {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": { "database": "ok" } })),
        ),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the database check failed");
            not_ready()
        }
        Err(join_error) => {
            tracing::error!(%join_error, "readiness: the database check panicked");
            not_ready()
        }
    }
}

fn not_ready() -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "not ready", "checks": { "database": "failing" } })),
    )
}

/// Opens the database without creating it, then runs a query. The query
/// matters: SQLite opens lazily, so opening a text file as a database
/// succeeds, and only the first query finds out that it is not one.
fn check_database(path: &Path) -> rusqlite::Result<()> {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    connection.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
}
// ANCHOR_END: ready
