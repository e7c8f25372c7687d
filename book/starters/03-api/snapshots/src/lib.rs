//! # api/snapshots — Snapshot testing
//!
//! Two read endpoints of the shop, whose whole JSON responses the tests
//! compare with snapshots committed next to them: an order with its
//! customer, its items and its totals, and the list of a customer's orders.
//! An unknown order or customer is a `404` with an RFC 9457 problem body.
//! The book's section "Snapshot testing" explains how to read a snapshot's
//! diff, and why you must not update the snapshots of this exercise.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, params};
use serde::Serialize;

/// The shop's database, shared by every request. Each query here is short,
/// so a plain mutex is enough (lesson 02's `async-access` shows a pool).
pub type Db = Arc<Mutex<Connection>>;

// ANCHOR: types
/// A customer, as it appears inside an order and above a list of orders:
///
/// ```json
/// {"id": 1, "email": "ada@example.com", "name": "Ada Lovelace"}
/// ```
#[derive(Debug, Serialize)]
pub struct Customer {
    // TODO: the fields of the JSON above.
}

/// One line of an order: which product, how many, at what price.
///
/// ```json
/// {
///   "product_id": 7,
///   "sku": "MUG-RED",
///   "name": "Red mug",
///   "quantity": 2,
///   "unit_price_cents": 1250,
///   "line_total_cents": 2500
/// }
/// ```
///
/// `unit_price_cents` is the price of one when the order was placed (the
/// line's `price_cents`), whatever the product costs today;
/// `line_total_cents` is `quantity * unit_price_cents`.
#[derive(Debug, Serialize)]
pub struct OrderLine {
    // TODO: the fields of the JSON above.
}

/// The body of `GET /orders/{id}`:
///
/// ```json
/// {
///   "id": 3,
///   "status": "paid",
///   "created_at": "2026-11-30T09:15:00Z",
///   "customer": {"id": 1, "email": "ada@example.com", "name": "Ada Lovelace"},
///   "items": [
///     {"product_id": 9, "sku": "CUP-ESP", "name": "Espresso cup", "quantity": 4,
///      "unit_price_cents": 790, "line_total_cents": 3160},
///     {"product_id": 7, "sku": "MUG-RED", "name": "Red mug", "quantity": 2,
///      "unit_price_cents": 1250, "line_total_cents": 2500}
///   ],
///   "subtotal_cents": 5660,
///   "total_cents": 5160
/// }
/// ```
///
/// - `status` and `created_at` are the order's, as stored (`created_at` is
///   RFC 3339 in UTC, as SQLite wrote it).
/// - `items` come in the order of their SKUs (`CUP-ESP` before `MUG-RED`).
/// - `subtotal_cents` adds up the lines' totals; `total_cents` is what the
///   customer pays, as stored with the order (a discount may have made it
///   less than the subtotal).
/// - Every amount is an integer number of cents, never a float.
#[derive(Debug, Serialize)]
pub struct Order {
    // TODO: the fields of the JSON above.
}

/// One order in a customer's list:
///
/// ```json
/// {"id": 3, "status": "paid", "created_at": "2026-11-30T09:15:00Z",
///  "item_count": 6, "total_cents": 5160}
/// ```
///
/// `item_count` is how many things were ordered: the quantities added up
/// (4 cups and 2 mugs are 6).
#[derive(Debug, Serialize)]
pub struct OrderSummary {
    // TODO: the fields of the JSON above.
}

/// The body of `GET /customers/{id}/orders`:
///
/// ```json
/// {
///   "customer": {"id": 1, "email": "ada@example.com", "name": "Ada Lovelace"},
///   "orders": [
///     {"id": 4, "status": "pending", "created_at": "2026-11-30T09:15:00Z",
///      "item_count": 1, "total_cents": 1250},
///     {"id": 3, "status": "paid", "created_at": "2026-11-30T09:15:00Z",
///      "item_count": 6, "total_cents": 5160}
///   ]
/// }
/// ```
///
/// The customer's orders, and only theirs, newest first: by `created_at`,
/// newest first, and between orders placed in the same second, the greater
/// id first. A customer who has ordered nothing has `"orders": []`.
#[derive(Debug, Serialize)]
pub struct CustomerOrders {
    // TODO: the fields of the JSON above.
}
// ANCHOR_END: types

// ANCHOR: find_order
/// The order `id` with its customer and items, or `None` if there is no
/// such order.
pub fn find_order(db: &Connection, id: i64) -> rusqlite::Result<Option<Order>> {
    // TODO: read the order, its customer and its lines (with their
    // products' SKUs and names) from the database, shaped as `Order` says.
    let _ = (db, id);
    todo!()
}
// ANCHOR_END: find_order

// ANCHOR: find_customer_orders
/// The customer `customer_id` with their orders, newest first, or `None` if
/// there is no such customer.
pub fn find_customer_orders(
    db: &Connection,
    customer_id: i64,
) -> rusqlite::Result<Option<CustomerOrders>> {
    // TODO: read the customer and a summary of each of their orders, shaped
    // and ordered as `CustomerOrders` says.
    let _ = (db, customer_id);
    todo!()
}
// ANCHOR_END: find_customer_orders

// ANCHOR: app
/// The shop's read API, on the database behind `db` (whose schema
/// [`create_schema`] made):
///
/// | request                       | answer                                       |
/// | ----------------------------- | -------------------------------------------- |
/// | `GET /orders/{id}`            | `200 OK`, an [`Order`]                       |
/// | `GET /customers/{id}/orders`  | `200 OK`, a [`CustomerOrders`]               |
/// | an unknown order or customer  | `404 Not Found`, a problem ([`ApiError`])    |
pub fn app(db: Db) -> Router {
    Router::new()
        .route("/orders/{id}", get(get_order))
        .route("/customers/{id}/orders", get(get_customer_orders))
        .with_state(db)
}

async fn get_order(State(db): State<Db>, Path(id): Path<i64>) -> Result<Json<Order>, ApiError> {
    let db = db.lock().expect("no query panics while holding the lock");
    match find_order(&db, id)? {
        Some(order) => Ok(Json(order)),
        None => Err(ApiError::NotFound(format!("order {id} does not exist"))),
    }
}

async fn get_customer_orders(
    State(db): State<Db>,
    Path(id): Path<i64>,
) -> Result<Json<CustomerOrders>, ApiError> {
    let db = db.lock().expect("no query panics while holding the lock");
    match find_customer_orders(&db, id)? {
        Some(orders) => Ok(Json(orders)),
        None => Err(ApiError::NotFound(format!("customer {id} does not exist"))),
    }
}
// ANCHOR_END: app

// ANCHOR: error
/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// `404 Not Found`; the text says what does not exist.
    NotFound(String),
    /// A database error: logged, and answered with a bare `500`.
    Database(rusqlite::Error),
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        ApiError::Database(error)
    }
}

/// The media type of an RFC 9457 problem.
const PROBLEM_JSON: &str = "application/problem+json";

/// Every error is an RFC 9457 problem, with the content type
/// `application/problem+json` and these four members, and no others:
///
/// ```json
/// {"type": "about:blank", "title": "Not Found", "status": 404,
///  "detail": "order 999 does not exist"}
/// ```
///
/// `title` is the status's reason phrase, `status` its code, and `detail`
/// the text the error carries.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = match self {
            ApiError::NotFound(detail) => (StatusCode::NOT_FOUND, detail),
            ApiError::Database(error) => {
                tracing::error!(%error, "database error");
                let detail = "the request could not be completed".to_string();
                (StatusCode::INTERNAL_SERVER_ERROR, detail)
            }
        };
        // TODO: answer `status` with the problem described above, whose
        // detail is `detail`, as `application/problem+json`.
        let _ = (status, detail, PROBLEM_JSON);
        todo!()
    }
}
// ANCHOR_END: error

/// Creates the shop's tables (the book's "The shop"), if they do not exist.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "PRAGMA foreign_keys = ON;
        CREATE TABLE IF NOT EXISTS customers (
            id    INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS products (
            id          INTEGER PRIMARY KEY,
            sku         TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            stock       INTEGER NOT NULL CHECK (stock >= 0),
            version     INTEGER NOT NULL DEFAULT 1,
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            status      TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS order_items (
            order_id    INTEGER NOT NULL REFERENCES orders (id),
            product_id  INTEGER NOT NULL REFERENCES products (id),
            quantity    INTEGER NOT NULL CHECK (quantity > 0),
            price_cents INTEGER NOT NULL,
            PRIMARY KEY (order_id, product_id)
        ) STRICT;",
    )
}

/// Adds a customer; returns their id.
pub fn add_customer(db: &Connection, email: &str, name: &str) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name) VALUES (?1, ?2)",
        [email, name],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a product; returns its id.
pub fn add_product(
    db: &Connection,
    sku: &str,
    name: &str,
    price_cents: i64,
    stock: i64,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![sku, name, price_cents, stock],
    )?;
    Ok(db.last_insert_rowid())
}

/// Places an order of `lines` (product id, quantity) for a customer, at the
/// products' prices of now, minus a discount of `discount_cents` on the
/// total; takes the quantities from stock. Returns the order's id. The order
/// is `pending`, and its `created_at` is now. An unknown product is an
/// error, and nothing is stored.
pub fn place_order(
    db: &mut Connection,
    customer_id: i64,
    lines: &[(i64, i64)],
    discount_cents: i64,
) -> rusqlite::Result<i64> {
    let tx = db.transaction()?;
    tx.execute(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, 0, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        [customer_id],
    )?;
    let order_id = tx.last_insert_rowid();
    for &(product_id, quantity) in lines {
        let added = tx.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
             SELECT ?1, id, ?3, price_cents FROM products WHERE id = ?2",
            [order_id, product_id, quantity],
        )?;
        if added == 0 {
            // No such product.
            return Err(rusqlite::Error::QueryReturnedNoRows);
        }
        tx.execute(
            "UPDATE products SET stock = stock - ?2, version = version + 1 WHERE id = ?1",
            [product_id, quantity],
        )?;
    }
    tx.execute(
        "UPDATE orders
         SET total_cents = (SELECT sum(quantity * price_cents) FROM order_items
                            WHERE order_id = ?1) - ?2
         WHERE id = ?1",
        [order_id, discount_cents],
    )?;
    tx.commit()?;
    Ok(order_id)
}
