//! # server/health — liveness and readiness
//!
//! Build two health endpoints: liveness ("the process is up") and readiness
//! ("the service can do its work right now"), where readiness runs a real
//! query against the SQLite database and answers `503 Service Unavailable`
//! while the database cannot be used. The book's section "Health checks"
//! explains the difference and how to run blocking SQLite calls from an
//! async handler.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::PathBuf;

use axum::Router;

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
    // TODO: make `GET /health/live` and `GET /health/ready` answer as
    // described above; the readiness check needs `database_path`.
    let _ = database_path;
    Router::new()
}
