//! # security/limits — Resource limits
//!
//! The shop's back office works: `POST /products/import` takes a JSON array
//! of products and stores them all, and `GET /reports/stock` sums up what
//! the warehouse holds. It also does whatever a client asks, for as long as
//! the client likes. The import reads a body of any size into memory before
//! it looks at it, so a few uploads of a few gigabytes each use up the
//! server's memory; it stores any number of rows, so one request can keep
//! the database busy for minutes; and nothing ever gives up on a request,
//! so a client that sends its body one byte a minute, or a report waiting
//! on a database the nightly backup holds, keeps a connection and a task
//! for as long as it lasts. Each is a denial of service that costs the
//! attacker almost nothing.
//!
//! Put a limit on each: the size of a body, the rows of an import, and the
//! time a request may take. The book's section "Resource limits" shows each
//! attack and the fix.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Creates the shop's `products` table, if it does not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS products (
            id          INTEGER PRIMARY KEY,
            sku         TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            stock       INTEGER NOT NULL CHECK (stock >= 0),
            version     INTEGER NOT NULL DEFAULT 1,
            created_at  TEXT NOT NULL
        ) STRICT;",
    )
}

/// How much the shop lets one request use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest request body read, in bytes, on every route.
    pub max_body_bytes: usize,
    /// The most rows one import may hold.
    pub max_import_rows: usize,
    /// The longest a request may take, from its first byte to its answer.
    pub request_timeout: Duration,
}

impl Default for Limits {
    /// 64 KiB, 1000 rows, 10 seconds.
    fn default() -> Limits {
        Limits {
            max_body_bytes: 64 * 1024,
            max_import_rows: 1000,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// One row of an import: `{"sku": "MUG-RED", "name": "Red mug",
/// "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRow {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The answer to an import: `{"imported": 3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Imported {
    pub imported: usize,
}

/// The answer to `GET /reports/stock`: how many products, how many units
/// of them in all, and what those units are worth at their prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StockReport {
    pub products: i64,
    pub units: i64,
    pub value_cents: i64,
}

/// An error answered as RFC 9457 problem details, with the content type
/// `application/problem+json`:
/// `{"type": "about:blank", "title": "Unprocessable Content", "status": 422, "detail": "..."}`.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
        (self.status, content_type, body.to_string()).into_response()
    }
}

/// A failed database call: logged, and answered `500` without SQLite's words.
impl From<rusqlite::Error> for Problem {
    fn from(error: rusqlite::Error) -> Problem {
        tracing::error!(%error, "database error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not use its database",
        )
    }
}

/// The shop's database: one connection, used by one job at a time, on
/// tokio's blocking threads. A job waits its turn without holding a thread.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn new(connection: Connection) -> Db {
        Db(Arc::new(Mutex::new(connection)))
    }

    /// Runs `job` with the connection once it is free, off the async
    /// runtime's threads. A panic in `job` continues in the caller.
    pub async fn call<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let mut connection = self.hold().await;
        let task = tokio::task::spawn_blocking(move || job(&mut connection));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// Takes the connection for as long as the guard lives, as the nightly
    /// backup does: every [`Db::call`] waits until the guard is dropped.
    pub async fn hold(&self) -> OwnedMutexGuard<Connection> {
        Arc::clone(&self.0).lock_owned().await
    }
}

/// What every handler is given.
#[derive(Clone)]
struct Shop {
    db: Db,
    limits: Limits,
}

/// The shop's back office, on `db` (whose schema [`create_schema`] made),
/// within `limits`.
///
/// - `POST /products/import` takes a JSON array of [`ImportRow`]s and
///   stores each, all or none: a new `sku` is a new product, a known one
///   gets the row's name, price and stock (and its `version` grows by one).
///   It answers `200 OK` with `{"imported": <rows>}`. A body that is not
///   such an array is `400`, a row with an empty `sku` or `name` or a
///   negative number is `422`, both problem details.
/// - `GET /reports/stock` answers `200 OK` with a [`StockReport`].
///
/// The limits hold on every route:
///
/// - A body is read up to `limits.max_body_bytes` bytes, and no further: a
///   longer one is answered `413 Content Too Large`, whether its
///   `Content-Length` says so up front or it comes in chunks with no
///   length at all. A body of exactly `max_body_bytes` is read.
/// - An import of more than `limits.max_import_rows` rows is answered
///   `422 Unprocessable Content`, problem details whose `detail` gives the
///   limit, and stores nothing.
/// - A request still unanswered `limits.request_timeout` after it arrived
///   is answered `503 Service Unavailable`, whatever it is waiting for (the
///   database, or the rest of its body), and its work is dropped.
pub fn app(limits: Limits, db: Db) -> Router {
    // TODO: no route may read a body past `limits.max_body_bytes`, whether
    // it announces its length or comes in chunks, and a longer one must be
    // answered 413 before it is read whole. Every request still unanswered
    // after `limits.request_timeout` must be answered 503, on every route.
    Router::new()
        .route(
            "/products/import",
            // Imports can be big: axum's own limit on bodies is off here.
            post(import).layer(DefaultBodyLimit::disable()),
        )
        .route("/reports/stock", get(stock_report))
        .with_state(Shop { db, limits })
}

async fn import(State(shop): State<Shop>, body: Bytes) -> Result<Json<Imported>, Problem> {
    let rows = parse_import(&body, &shop.limits)?;
    let imported = shop.db.call(move |db| store_rows(db, &rows)).await?;
    Ok(Json(Imported { imported }))
}

/// Reads an import's body: a JSON array of rows, each of them valid, and
/// no more of them than `limits` allows.
pub fn parse_import(body: &[u8], limits: &Limits) -> Result<Vec<ImportRow>, Problem> {
    let rows: Vec<ImportRow> = serde_json::from_slice(body).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not a JSON array of products: {error}"),
        )
    })?;
    // TODO: an import of more than `limits.max_import_rows` rows must be
    // refused with a 422 whose detail gives the limit, and store nothing.
    let _ = limits;
    for (index, row) in rows.iter().enumerate() {
        check_row(index, row)?;
    }
    Ok(rows)
}

/// Refuses a row that breaks the rules of the `products` table.
pub fn check_row(index: usize, row: &ImportRow) -> Result<(), Problem> {
    let broken = if row.sku.trim().is_empty() {
        "an empty sku"
    } else if row.name.trim().is_empty() {
        "an empty name"
    } else if row.price_cents < 0 {
        "a negative price_cents"
    } else if row.stock < 0 {
        "a negative stock"
    } else {
        return Ok(());
    };
    Err(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("row {index} has {broken}"),
    ))
}

/// Stores every row in one transaction; returns how many it stored.
pub fn store_rows(db: &mut Connection, rows: &[ImportRow]) -> rusqlite::Result<usize> {
    let transaction = db.transaction()?;
    {
        let mut upsert = transaction.prepare(
            "INSERT INTO products (sku, name, price_cents, stock, created_at)
             VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
             ON CONFLICT (sku) DO UPDATE SET
                 name = excluded.name,
                 price_cents = excluded.price_cents,
                 stock = excluded.stock,
                 version = version + 1",
        )?;
        for row in rows {
            upsert.execute((&row.sku, &row.name, row.price_cents, row.stock))?;
        }
    }
    transaction.commit()?;
    Ok(rows.len())
}

async fn stock_report(State(shop): State<Shop>) -> Result<Json<StockReport>, Problem> {
    let report = shop
        .db
        .call(|db| {
            db.query_row(
                "SELECT count(*), coalesce(sum(stock), 0),
                        coalesce(sum(stock * price_cents), 0)
                 FROM products",
                [],
                |row| {
                    Ok(StockReport {
                        products: row.get(0)?,
                        units: row.get(1)?,
                        value_cents: row.get(2)?,
                    })
                },
            )
        })
        .await?;
    Ok(Json(report))
}
