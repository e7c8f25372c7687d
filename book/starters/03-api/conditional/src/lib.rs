//! # api/conditional — Caching and optimistic concurrency
//!
//! Every answer about a product carries an `ETag`, a short name of the
//! version the client got. A client that already holds that version asks
//! with `If-None-Match` and gets `304 Not Modified` instead of the same
//! body again. A client that changes the product says with `If-Match`
//! which version it changed, and the change is refused with
//! `412 Precondition Failed` if someone else changed the product in the
//! meantime: no update is ever lost, even when two arrive at the same
//! moment.
//! The book's section "Caching and optimistic concurrency" explains every
//! piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::panic::resume_unwind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Creates the `products` table of the shop, if it does not exist yet.
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

/// Stores a new product, created now at version 1, and returns its id.
pub fn insert_product(
    db: &Connection,
    sku: &str,
    name: &str,
    price_cents: i64,
    stock: i64,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        (sku, name, price_cents, stock),
    )?;
    Ok(db.last_insert_rowid())
}

/// A product, as sent: `{"id": 7, "sku": "MUG-RED", "name": "Red mug",
/// "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

// ANCHOR: types
/// A product as stored: what is sent, and the version it is at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub product: Product,
    /// The `version` column: 1 for a new product, one more after every
    /// change.
    pub version: i64,
}

/// The body of `PUT /products/{id}`: the fields a client may change,
/// `{"name": "Red mug", "price_cents": 1300, "stock": 10}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProductChanges {
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The product with this id, and its version, if there is one.
pub fn read_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Stored>> {
    db.query_row(
        "SELECT id, sku, name, price_cents, stock, version FROM products WHERE id = ?1",
        [id],
        stored_from_row,
    )
    .optional()
}
// ANCHOR_END: types

/// A [`Stored`] from a row of `id, sku, name, price_cents, stock, version`.
pub fn stored_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    Ok(Stored {
        product: Product {
            id: row.get(0)?,
            sku: row.get(1)?,
            name: row.get(2)?,
            price_cents: row.get(3)?,
            stock: row.get(4)?,
        },
        version: row.get(5)?,
    })
}

/// An error answered as RFC 9457 problem details, with the content type
/// `application/problem+json`:
/// `{"type": "about:blank", "title": "Precondition Failed", "status": 412, "detail": "..."}`.
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

    /// `404 Not Found`: there is no product with this id.
    pub fn not_found(id: i64) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, format!("there is no product {id}"))
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

/// A failed database call: logged, and answered `500` without SQLite's
/// words.
impl From<rusqlite::Error> for Problem {
    fn from(error: rusqlite::Error) -> Problem {
        tracing::error!(%error, "database error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not use its database",
        )
    }
}

/// How every new connection is set up, after the usual setup: see
/// [`Db::open_with`].
type Setup = dyn Fn(&mut Connection) -> rusqlite::Result<()> + Send + Sync;

/// The shop's database, a SQLite file shared by every request: each call
/// runs on a connection of its own (idle connections are kept for the
/// next calls, new ones opened when all are busy), on tokio's blocking
/// threads. Several calls may run at the same time, as in a real server.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    setup: Box<Setup>,
}

impl Db {
    /// The database in the SQLite file at `path` (created if missing).
    /// Connections use WAL mode and wait up to 5 seconds for another
    /// connection's write lock.
    pub fn open(path: &Path) -> Db {
        Db::open_with(path, |_| Ok(()))
    }

    /// Like [`Db::open`], and `setup` runs on every new connection after
    /// the usual setup (the tests use it to watch the connections wait for
    /// a lock).
    pub fn open_with(
        path: &Path,
        setup: impl Fn(&mut Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    ) -> Db {
        Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
                setup: Box::new(setup),
            }),
        }
    }

    /// Runs `job` with a connection, off the async runtime's threads. A
    /// panic in `job` continues in the caller.
    pub async fn call<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || {
            let mut connection = inner.connection()?;
            let result = job(&mut connection);
            inner.give_back(connection);
            result
        });
        match task.await {
            Ok(result) => result,
            Err(error) => resume_unwind(error.into_panic()),
        }
    }
}

impl Inner {
    fn connection(&self) -> rusqlite::Result<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(connection) = idle {
            return Ok(connection);
        }
        let mut connection = Connection::open(&self.path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.busy_timeout(Duration::from_secs(5))?;
        (self.setup)(&mut connection)?;
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.push(connection);
    }
}

// ANCHOR: app
/// One product of the shop, on `db` (whose schema [`create_schema`] made),
/// with conditional requests (RFC 9110, section 13):
///
/// `GET /products/{id}` answers `200 OK` with the product as JSON, an `ETag`
/// header made by [`etag`] from its version, and `Cache-Control: no-cache`.
/// If the request's `If-None-Match` matches that ETag (see
/// [`if_none_match_matches`]) it answers `304 Not Modified` instead, with the
/// same two headers and no body (so no `Content-Type` either).
///
/// `PUT /products/{id}` changes the product's name, price and stock to those
/// of its [`ProductChanges`] body, and its version to one more, but only if
/// the request's `If-Match` matches the product's current ETag (see
/// [`update_product`]). It answers
///
/// | case                                    | status                      |
/// | --------------------------------------- | --------------------------- |
/// | no `If-Match` header                    | `428 Precondition Required` |
/// | no product with this id                 | `404 Not Found`             |
/// | `If-Match` does not match               | `412 Precondition Failed`   |
/// | changed                                 | `200 OK`                    |
///
/// in that order of checks (no `If-Match` is a 428 whether or not the
/// product exists). The `200` has the changed product as JSON and its new
/// `ETag`; every other answer is a problem details body. Every successful
/// PUT makes a new version, also when it sends the values already stored.
///
/// `GET` of an unknown product is a `404` too, whatever `If-None-Match` says.
pub fn app(db: Db) -> Router {
    Router::new()
        .route("/products/{id}", get(get_product).put(put_product))
        .with_state(db)
}
// ANCHOR_END: app

// ANCHOR: etag
/// The strong entity tag of a product at `version`: `"v3"` for version 3,
/// quotes included, as the `ETag` header sends it.
pub fn etag(version: i64) -> String {
    // TODO: return the product's entity tag for this version, as described
    // above.
    let _ = version;
    todo!()
}
// ANCHOR_END: etag

// ANCHOR: if_none_match
/// Whether an `If-None-Match` header's value matches a product whose ETag
/// is `current` (RFC 9110, section 13.1.2): the value is `*` (any product
/// that exists), or a comma-separated list of entity tags, one of which is
/// the same as `current` by the weak comparison: `W/` prefixes are ignored
/// and the quoted texts must be identical (`W/"v3"` matches `"v3"`; `"V3"`
/// and `"v30"` do not).
pub fn if_none_match_matches(if_none_match: &str, current: &str) -> bool {
    // TODO: return whether the header's value matches `current`, as
    // described above.
    let _ = (if_none_match, current);
    todo!()
}
// ANCHOR_END: if_none_match

// ANCHOR: update
/// What [`update_product`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// The product changed: here it is, at its new version.
    Done(Stored),
    /// There is no product with this id.
    NotFound,
    /// The product exists, and `If-Match` does not match its current ETag.
    Stale,
}

/// Changes product `id` to `changes`, and its version to one more, if
/// `if_match` (an `If-Match` header's value) matches its current ETag:
/// `if_match` is `*` (any version), or a comma-separated list of entity
/// tags one of which is strongly the same as the current ETag (RFC 9110,
/// section 13.1.1: a weak tag such as `W/"v3"` never matches, and the
/// quoted texts must be identical).
///
/// Other connections may be changing the same product at the same time:
/// when several calls carry the same ETag, exactly one of them changes the
/// product, and the others answer [`Update::Stale`].
pub fn update_product(
    db: &Connection,
    id: i64,
    if_match: &str,
    changes: &ProductChanges,
) -> rusqlite::Result<Update> {
    // TODO: change the product as described above, and say what happened.
    // Between the moment the version is found to match and the moment the
    // product changes, no other connection may change it.
    let _ = (db, id, if_match, changes);
    todo!()
}
// ANCHOR_END: update

// ANCHOR: get_product
async fn get_product(
    State(db): State<Db>,
    UrlPath(id): UrlPath<i64>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    // TODO: answer the product with its ETag and `Cache-Control: no-cache`,
    // or 304 with the same two headers and no body when `If-None-Match`
    // matches, or 404 when there is no such product (see `app`).
    let _ = (db, id, headers, read_product);
    todo!()
}
// ANCHOR_END: get_product

// ANCHOR: put_product
async fn put_product(
    State(db): State<Db>,
    UrlPath(id): UrlPath<i64>,
    headers: HeaderMap,
    Json(changes): Json<ProductChanges>,
) -> Result<Response, Problem> {
    // TODO: refuse a change without `If-Match` (428), make it with
    // `update_product` otherwise, and answer as the table in `app` says:
    // the changed product and its new ETag, or a problem.
    let _ = (db, id, headers, changes);
    todo!()
}
// ANCHOR_END: put_product
