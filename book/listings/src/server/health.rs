//! Listings for the book section server/health.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};

// ANCHOR: stats
/// `GET /stats` answers `{"products": N}`, counted in the SQLite file at
/// `database_path`, or `500 Internal Server Error` if that fails.
pub fn stats_app(database_path: PathBuf) -> Router {
    let database_path: Arc<Path> = database_path.into();
    Router::new()
        .route("/stats", get(stats))
        .with_state(database_path)
}

async fn stats(State(database_path): State<Arc<Path>>) -> Result<Json<Value>, StatusCode> {
    // The closure runs on tokio's blocking pool; `.await` gives back its
    // result, or an error if it panicked.
    let counted = tokio::task::spawn_blocking(move || count_products(&database_path)).await;
    match counted {
        Ok(Ok(products)) => Ok(Json(json!({ "products": products }))),
        Ok(Err(error)) => {
            tracing::error!(%error, "counting products failed");
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(panicked) => {
            tracing::error!(%panicked, "counting products panicked");
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// Plain blocking code: open, query, close (when `connection` is dropped).
fn count_products(database_path: &Path) -> rusqlite::Result<i64> {
    let connection = Connection::open_with_flags(database_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    connection.query_row("SELECT count(*) FROM products", [], |row| row.get(0))
}
// ANCHOR_END: stats
