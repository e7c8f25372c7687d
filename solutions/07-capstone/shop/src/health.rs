//! Health checks (lesson server/health): alive whenever the process
//! answers, ready when a query on the database works.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::AppState;

/// `GET /health/live`.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "alive"}))
}

/// `GET /health/ready`.
pub async fn ready(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let works = app
        .db
        .read(|conn| conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)))
        .await
        .is_ok();
    if works {
        (
            StatusCode::OK,
            Json(json!({"status": "ready", "checks": {"database": "ok"}})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "checks": {"database": "failing"}})),
        )
    }
}
