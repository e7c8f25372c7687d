//! # api/idempotency — Idempotent retries
//!
//! A client whose `POST /orders` timed out cannot know whether the order was
//! placed. Make it safe to send again: the first request with an
//! `Idempotency-Key` header is processed and its response stored with the
//! key, in the database; a retry with the same key gets that response again
//! and creates nothing, also when the retries arrive all at once.
//! The book's section "Idempotent retries" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The longest `Idempotency-Key` the shop takes, in bytes.
pub const MAX_KEY_LENGTH: usize = 255;

// ANCHOR: shop
/// The shop's database: a SQLite file, with a connection of its own for
/// every request (SQLite opens one in microseconds).
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    /// Called whenever a connection of the shop starts waiting for a lock
    /// another connection holds (the tests watch it).
    on_lock_wait: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode.
    pub fn open(path: &Path) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
            on_lock_wait: None,
        })
    }

    /// The same shop, calling `watcher` whenever one of its connections
    /// starts waiting for another connection's lock.
    pub fn on_lock_wait(self, watcher: impl Fn() + Send + Sync + 'static) -> Shop {
        Shop {
            on_lock_wait: Some(Arc::new(watcher)),
            ..self
        }
    }
    // ANCHOR_END: shop

    /// A new connection to the shop's file: foreign keys on, and waiting up
    /// to 10 seconds for another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let mut db = Connection::open(&self.path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        let on_lock_wait = self.on_lock_wait.clone();
        let mut waiting_since = Instant::now();
        db.busy_handler(Some(move |attempts: i32| {
            if attempts == 0 {
                waiting_since = Instant::now();
                if let Some(watcher) = &on_lock_wait {
                    watcher();
                }
            }
            std::thread::sleep(Duration::from_millis(1));
            waiting_since.elapsed() < Duration::from_secs(10)
        }))?;
        Ok(db)
    }

    /// Runs `job` on a new connection, on tokio's blocking threads.
    async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let shop = self.clone();
        let task = tokio::task::spawn_blocking(move || job(&mut shop.connect()?));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    // ANCHOR: idempotent
    /// Runs `operation` once per `key`, and answers every request with that
    /// key the same way:
    ///
    /// - the first request with `key` runs `operation` (which changes the
    ///   database through the transaction it is given) and gets the response
    ///   it returns; that response (status, `content-type`, `location`, body)
    ///   is stored with `key` and `fingerprint`, in the same transaction;
    /// - a later request with `key` and the same `fingerprint` gets the
    ///   stored response again, with the header `Idempotent-Replayed: true`,
    ///   and runs nothing; it may come a second or a day later, after a
    ///   restart, or while the first is still running: then it waits for the
    ///   first to finish;
    /// - a later request with `key` and another `fingerprint` gets
    ///   [`key_reused`]'s `422`, and runs nothing;
    /// - a database error (from `operation` too) changes nothing, stores
    ///   nothing, and answers [`internal_error`]'s `500`.
    async fn idempotent<F>(&self, key: String, fingerprint: String, operation: F) -> Response
    where
        F: FnOnce(&Transaction) -> rusqlite::Result<Stored> + Send + 'static,
    {
        // TODO: make the three cases above true. Twenty requests with one key
        // arriving at the same moment, on two servers that share the
        // database file, must create one order and get one response: only
        // one of them may ever find the key missing. The table
        // `idempotency_keys` is ready for the stored responses.
        let _ = (key, fingerprint, operation, key_reused);
        todo!()
    }
    // ANCHOR_END: idempotent
}

// ANCHOR: key
/// The request's `Idempotency-Key` header, if it is a valid key: 1 to
/// [`MAX_KEY_LENGTH`] characters of visible ASCII (the header's value as
/// sent, quotes included if any). Otherwise, the response that refuses the
/// request: [`key_missing`] if there is no such header, [`key_invalid`] if
/// its value is not a valid key.
#[allow(clippy::result_large_err)]
fn idempotency_key(headers: &HeaderMap) -> Result<String, Response> {
    // TODO: the key, or the 400 that refuses the request.
    let _ = (headers, MAX_KEY_LENGTH, key_missing, key_invalid);
    todo!()
}

/// What makes two requests with one key the same request, as text stored
/// with the key: two requests have the same fingerprint exactly when they
/// have the same method, the same path and the same body.
fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    // TODO: a text that tells any two different requests apart.
    let _ = (method, path, body);
    todo!()
}
// ANCHOR_END: key

/// `400`: `{"type": "about:blank", "title": "Idempotency-Key is missing",
/// "status": 400, "detail": "This request needs an Idempotency-Key header."}`
fn key_missing() -> Response {
    let detail = "This request needs an Idempotency-Key header.";
    problem(
        StatusCode::BAD_REQUEST,
        "Idempotency-Key is missing",
        detail,
    )
}

/// `400`: `{"type": "about:blank", "title": "Idempotency-Key is invalid",
/// "status": 400, "detail": "An Idempotency-Key is 1 to 255 characters of
/// visible ASCII."}`
fn key_invalid() -> Response {
    let detail = "An Idempotency-Key is 1 to 255 characters of visible ASCII.";
    problem(
        StatusCode::BAD_REQUEST,
        "Idempotency-Key is invalid",
        detail,
    )
}

/// `422`: `{"type": "about:blank", "title": "Idempotency-Key is already
/// used", "status": 422, "detail": "This Idempotency-Key was sent with a
/// different request."}`
fn key_reused() -> Response {
    let detail = "This Idempotency-Key was sent with a different request.";
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Idempotency-Key is already used",
        detail,
    )
}

/// Creates the shop's tables, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
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
        ) STRICT;
        -- ANCHOR: keys_table
        CREATE TABLE IF NOT EXISTS idempotency_keys (
            key          TEXT PRIMARY KEY,
            fingerprint  TEXT NOT NULL,
            status       INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            location     TEXT,
            body         TEXT NOT NULL,
            created_at   TEXT NOT NULL
        ) STRICT;
        -- ANCHOR_END: keys_table
        ",
    )
}

// ANCHOR: stored
/// A response as stored with its key: everything a replay sends again.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub body: String,
}

impl Stored {
    /// `status` with `value` as its JSON body.
    fn json(status: StatusCode, value: &impl Serialize) -> Stored {
        Stored {
            status: status.as_u16(),
            content_type: "application/json".to_string(),
            location: None,
            body: serde_json::to_string(value).expect("the shop's types serialize"),
        }
    }

    /// A problem details body (RFC 9457).
    fn problem(status: StatusCode, title: &str, detail: &str) -> Stored {
        Stored {
            content_type: "application/problem+json".to_string(),
            ..Stored::json(status, &problem_body(status, title, detail))
        }
    }

    /// The HTTP response: status, `content-type`, `location` if any, body.
    pub fn to_response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.body.clone()).into_response();
        let headers = response.headers_mut();
        if let Ok(content_type) = HeaderValue::from_str(&self.content_type) {
            headers.insert(CONTENT_TYPE, content_type);
        }
        if let Some(location) = self.location.as_deref().and_then(|l| l.parse().ok()) {
            headers.insert(LOCATION, location);
        }
        response
    }
}
// ANCHOR_END: stored

/// The body of `POST /orders`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub customer_id: i64,
    pub items: Vec<NewItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub product_id: i64,
    pub quantity: i64,
}

/// An order, as sent.
#[derive(Serialize)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub items: Vec<Item>,
    pub total_cents: i64,
    pub created_at: String,
}

#[derive(Serialize)]
pub struct Item {
    pub product_id: i64,
    pub quantity: i64,
    pub price_cents: i64,
}

/// Places `new_order` inside `tx`: checks the customer, the products and
/// their stock, takes the stock, and stores the order. Answers `201` with
/// the order and its `Location`, or the problem that refused it (`422` for
/// an unknown customer or product, `409` when stock is short); a refused
/// order changes nothing.
pub fn create_order(tx: &Transaction, new_order: &NewOrder) -> rusqlite::Result<Stored> {
    if new_order.items.is_empty() {
        let detail = "An order needs at least one item.";
        return Ok(Stored::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Empty order",
            detail,
        ));
    }
    let customer: Option<i64> = tx
        .query_row(
            "SELECT id FROM customers WHERE id = ?1",
            [new_order.customer_id],
            |row| row.get(0),
        )
        .optional()?;
    if customer.is_none() {
        let detail = format!("There is no customer {}.", new_order.customer_id);
        return Ok(Stored::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unknown customer",
            &detail,
        ));
    }
    let mut items = Vec::new();
    for item in &new_order.items {
        if item.quantity < 1 || items.iter().any(|i: &Item| i.product_id == item.product_id) {
            let detail = "Each product appears once, with a quantity of at least 1.";
            return Ok(Stored::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid item",
                detail,
            ));
        }
        let product: Option<(i64, i64)> = tx
            .query_row(
                "SELECT price_cents, stock FROM products WHERE id = ?1",
                [item.product_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((price_cents, stock)) = product else {
            let detail = format!("There is no product {}.", item.product_id);
            return Ok(Stored::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unknown product",
                &detail,
            ));
        };
        if stock < item.quantity {
            let detail = format!("Only {stock} of product {} left.", item.product_id);
            return Ok(Stored::problem(
                StatusCode::CONFLICT,
                "Out of stock",
                &detail,
            ));
        }
        items.push(Item {
            product_id: item.product_id,
            quantity: item.quantity,
            price_cents,
        });
    }
    let total_cents: i64 = items
        .iter()
        .map(|item| item.price_cents * item.quantity)
        .sum();
    let (id, created_at): (i64, String) = tx.query_row(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING id, created_at",
        params![new_order.customer_id, total_cents],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    for item in &items {
        tx.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, item.product_id, item.quantity, item.price_cents],
        )?;
        tx.execute(
            "UPDATE products SET stock = stock - ?1, version = version + 1 WHERE id = ?2",
            params![item.quantity, item.product_id],
        )?;
    }
    let order = Order {
        id,
        customer_id: new_order.customer_id,
        status: "pending".to_string(),
        items,
        total_cents,
        created_at,
    };
    Ok(Stored {
        location: Some(format!("/orders/{id}")),
        ..Stored::json(StatusCode::CREATED, &order)
    })
}

/// Cancels order `id` inside `tx` and puts its items back in stock. Answers
/// `200` with the cancelled order, `404` if there is no such order, `409` if
/// it is not pending.
pub fn cancel_order(tx: &Transaction, id: i64) -> rusqlite::Result<Stored> {
    let status: Option<String> = tx
        .query_row("SELECT status FROM orders WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .optional()?;
    match status.as_deref() {
        None => {
            let detail = format!("There is no order {id}.");
            return Ok(Stored::problem(StatusCode::NOT_FOUND, "Not found", &detail));
        }
        Some("pending") => {}
        Some(status) => {
            let detail = format!("Order {id} is {status}: only a pending order can be cancelled.");
            return Ok(Stored::problem(
                StatusCode::CONFLICT,
                "Not pending",
                &detail,
            ));
        }
    }
    tx.execute("UPDATE orders SET status = 'cancelled' WHERE id = ?1", [id])?;
    tx.execute(
        "UPDATE products SET stock = stock + items.quantity, version = version + 1
         FROM (SELECT product_id, quantity FROM order_items WHERE order_id = ?1) AS items
         WHERE products.id = items.product_id",
        [id],
    )?;
    let order = load_order(tx, id)?.expect("the order was just read");
    Ok(Stored::json(StatusCode::OK, &order))
}

/// Order `id` with its items, if there is one.
pub fn load_order(db: &Connection, id: i64) -> rusqlite::Result<Option<Order>> {
    let order = db
        .query_row(
            "SELECT customer_id, status, total_cents, created_at FROM orders WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let Some((customer_id, status, total_cents, created_at)) = order else {
        return Ok(None);
    };
    let mut statement = db.prepare(
        "SELECT product_id, quantity, price_cents FROM order_items
         WHERE order_id = ?1 ORDER BY product_id",
    )?;
    let items = statement
        .query_map([id], |row| {
            Ok(Item {
                product_id: row.get(0)?,
                quantity: row.get(1)?,
                price_cents: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(Order {
        id,
        customer_id,
        status,
        items,
        total_cents,
        created_at,
    }))
}

// ANCHOR: app
/// The shop's orders API:
///
/// | request                    | answer                                              |
/// | -------------------------- | --------------------------------------------------- |
/// | `POST /orders`             | `201 Created`, `Location`, the order (keyed)        |
/// | `POST /orders/{id}/cancel` | `200 OK`, the cancelled order (keyed)               |
/// | `GET /orders/{id}`         | `200 OK`, the order; `404` if there is none         |
///
/// The two `POST` routes need an `Idempotency-Key` header.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/orders", post(post_order))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/cancel", post(post_cancel))
        .with_state(shop)
}

async fn post_order(
    State(shop): State<Shop>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    let fingerprint = fingerprint(&method, uri.path(), &body);
    let new_order: NewOrder = match serde_json::from_slice(&body) {
        Ok(new_order) => new_order,
        Err(error) => {
            let detail = format!("The body is not an order: {error}.");
            return problem(StatusCode::BAD_REQUEST, "Invalid body", &detail);
        }
    };
    shop.idempotent(key, fingerprint, move |tx| create_order(tx, &new_order))
        .await
}

async fn post_cancel(
    State(shop): State<Shop>,
    UrlPath(id): UrlPath<i64>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    let fingerprint = fingerprint(&method, uri.path(), &body);
    shop.idempotent(key, fingerprint, move |tx| cancel_order(tx, id))
        .await
}
// ANCHOR_END: app

async fn get_order(State(shop): State<Shop>, UrlPath(id): UrlPath<i64>) -> Response {
    match shop.run(move |db| load_order(db, id)).await {
        Ok(Some(order)) => Json(order).into_response(),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("There is no order {id}."),
        ),
        Err(error) => internal_error(&error),
    }
}

fn problem_body(status: StatusCode, title: &str, detail: &str) -> serde_json::Value {
    json!({ "type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail })
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    Stored::problem(status, title, detail).to_response()
}

/// A database error: logged, and answered with a `500` that tells nothing.
fn internal_error(error: &rusqlite::Error) -> Response {
    tracing::error!(%error, "database error");
    let detail = "Something went wrong on our side. Please try again.";
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        detail,
    )
}
