//! # api/pagination — Pagination
//!
//! Serve the shop's products one page at a time: `GET
//! /products?limit=N&cursor=C` answers `{"items": [...], "next": "..."}`,
//! where `next` is the URL of the following page, or `null` on the last
//! one. Pages follow the order of the ids and start after the last id of the
//! page before (keyset pagination), so that a client walking the pages
//! neither misses nor repeats a product while others add and delete
//! products. The page size has a default and a maximum.
//! The book's section "Pagination" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How many products a page holds when the request does not say.
pub const DEFAULT_LIMIT: u32 = 20;
/// The most products a page holds, whatever the request asks for.
pub const MAX_LIMIT: u32 = 100;

/// A product, as stored and as sent:
/// `{"id": 7, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

// ANCHOR: page
/// One page of products: `{"items": [...], "next": "/products?limit=20&cursor=..."}`,
/// with `"next": null` on the last page.
#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<Product>,
    pub next: Option<String>,
}

/// The query of `GET /products`, as sent: both parameters are optional, and
/// read as text so that a bad value is answered by [`invalid_parameter`].
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}
// ANCHOR_END: page

/// Creates the `products` table, if it does not exist yet.
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
        ) STRICT",
    )
}

/// A product from a row of `SELECT id, sku, name, price_cents, stock`.
pub fn product_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        sku: row.get(1)?,
        name: row.get(2)?,
        price_cents: row.get(3)?,
        stock: row.get(4)?,
    })
}

// ANCHOR: cursor
/// The cursor of the page that starts after the product `last_id`.
///
/// A cursor is opaque to clients: they get it in `next` and send it back as
/// it is, never build or read one. Here it is `after:<id>`, in lowercase
/// hexadecimal: `after:42` is `61667465723a3432`.
pub fn encode_cursor(last_id: i64) -> String {
    format!("after:{last_id}")
        .bytes()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The product id a cursor made by [`encode_cursor`] holds, or `None` if
/// `cursor` is not one (garbage, cut short, changed by hand).
pub fn decode_cursor(cursor: &str) -> Option<i64> {
    if !cursor.len().is_multiple_of(2)
        || !cursor
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&cursor[at..at + 2], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let id: i64 = text.strip_prefix("after:")?.parse().ok()?;
    // Only the one spelling encode_cursor makes: no `+1`, no `007`.
    (encode_cursor(id) == cursor).then_some(id)
}

/// `400 Bad Request` as a problem (see api/problem-details) that names the
/// query parameter at fault:
/// `{"type": "https://shop.example/problems/invalid-parameter", "title":
/// "Invalid query parameter", "status": 400, "detail": ..., "parameter": "limit"}`.
pub fn invalid_parameter(parameter: &str, detail: &str) -> Response {
    let body = json!({
        "type": "https://shop.example/problems/invalid-parameter",
        "title": "Invalid query parameter",
        "status": 400,
        "detail": detail,
        "parameter": parameter,
    });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
// ANCHOR_END: cursor

/// One connection, shared by the handlers, one request at a time.
type Db = Arc<Mutex<Connection>>;

// ANCHOR: app
/// The products API on `db`, a database whose schema [`create_schema`]
/// made: `GET /products?limit=N&cursor=C`, one [`Page`] of products in the
/// order of their ids.
pub fn app(db: Connection) -> Router {
    Router::new()
        .route("/products", get(list_products))
        .with_state(Arc::new(Mutex::new(db)))
}
// ANCHOR_END: app

// ANCHOR: limit
/// The page size a request asks for: [`DEFAULT_LIMIT`] when it does not
/// say, at most [`MAX_LIMIT`] (a larger whole number, however large, means
/// [`MAX_LIMIT`]). Anything but a whole number of at least 1 is refused,
/// with the `detail` of the problem that says so.
fn page_size(limit: Option<&str>) -> Result<u32, &'static str> {
    // TODO: the page size for this `limit` parameter: the default when
    // there is none, and at most the maximum (however many digits the number
    // has); what is not a whole number of at least 1 is refused: the
    // handler answers the problem `invalid_parameter` makes for "limit".
    let _ = (limit, DEFAULT_LIMIT, MAX_LIMIT);
    todo!()
}
// ANCHOR_END: limit

// ANCHOR: query
/// Up to `limit` products whose id is greater than `after`, in the order of
/// their ids.
fn products_after(db: &Connection, after: i64, limit: u32) -> rusqlite::Result<Vec<Product>> {
    // TODO: the first `limit` products whose id is greater than `after`,
    // in the order of their ids.
    let _ = (db, after, limit, product_from_row);
    todo!()
}
// ANCHOR_END: query

// ANCHOR: handler
async fn list_products(State(db): State<Db>, Query(query): Query<PageQuery>) -> Response {
    // TODO: answer one page: the products after the cursor's id (from the
    // first product when there is no cursor), as many as the limit allows;
    // `next` is `/products?limit={limit}&cursor={cursor}` with this page's
    // limit and a cursor after its last product, or null when no product
    // follows (never a link to an empty page). While there is a next page,
    // the header `Link: <{next}>; rel="next"` says the same. A limit
    // `page_size` refuses, or a cursor that `decode_cursor` does not accept,
    // is answered with the problem `invalid_parameter` makes for its
    // parameter.
    let _ = (
        lock(&db),
        query,
        page_size,
        products_after,
        encode_cursor,
        decode_cursor,
    );
    todo!()
}
// ANCHOR_END: handler

/// Locks the connection. A poisoned lock only means a handler panicked
/// while holding it; the connection itself is still usable.
fn lock(db: &Db) -> MutexGuard<'_, Connection> {
    db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
