//! # security/access-control — Broken access control
//!
//! The shop's order and address endpoints work: a logged-in customer lists
//! their orders, reads one, cancels one, and reads and changes their
//! shipping address. They also believe whatever the request says about who
//! is asking: a `customer_id` in the query string or in the body, an id in
//! the path, an `X-Customer-Id` header. Change one number and you read
//! another customer's orders and address, cancel their orders, and send
//! their parcels to your door.
//!
//! Make every endpoint act for the customer of the session, and for nobody
//! else: the session (the given [`Caller`]) says who is asking, the
//! database says what is theirs, and another customer's record answers
//! exactly like a record that does not exist (`404`).
//! The book's section "Broken access control" explains the attack and the
//! fix.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Path as UrlPath, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower::Layer as _;

/// The name of the cookie that carries the session id.
pub const SESSION_COOKIE: &str = "session";

/// The header the shop's old mobile app sends with the customer's id.
pub const CUSTOMER_HEADER: &str = "x-customer-id";

/// The header with which a form (which can only GET or POST) asks for
/// another method: `X-HTTP-Method-Override: PUT`.
pub const METHOD_OVERRIDE_HEADER: &str = "x-http-method-override";

/// The shop: its database file. Cloning it is cheap; every request gets a
/// clone.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
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
        })
    }

    /// A new connection to the shop's file, foreign keys on, waiting up to
    /// 5 seconds for another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let db = Connection::open(&self.path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(Duration::from_secs(5))?;
        Ok(db)
    }

    /// Runs `job` on a new connection, on tokio's blocking threads.
    pub async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
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
}

/// Creates the tables this exercise uses, if they do not exist yet: the
/// shop's customers, sessions and orders, and each customer's shipping
/// address.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id            INTEGER PRIMARY KEY,
            email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name          TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role          TEXT NOT NULL DEFAULT 'customer'
                          CHECK (role IN ('customer', 'admin'))
        ) STRICT;
        CREATE TABLE IF NOT EXISTS sessions (
            id          TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            expires_at  INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            status      TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS addresses (
            customer_id INTEGER PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
            street      TEXT NOT NULL,
            city        TEXT NOT NULL,
            postcode    TEXT NOT NULL,
            country     TEXT NOT NULL
        ) STRICT;",
    )
}

/// What this exercise stores as every customer's password hash: nobody logs
/// in with a password here (lesson 04 did that), sessions are made directly.
const NO_PASSWORD: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bm90LXVzZWQ$bm90LXVzZWQtaW4tdGhpcy1leGVyY2lzZQ";

/// Adds a customer and returns their id.
pub fn add_customer(db: &Connection, email: &str, name: &str) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name, password_hash) VALUES (?1, ?2, ?3)",
        params![email, name, NO_PASSWORD],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds an order of `customer_id` with `status` (`pending`, `paid`,
/// `shipped` or `cancelled`) and returns its id.
pub fn add_order(
    db: &Connection,
    customer_id: i64,
    status: &str,
    total_cents: i64,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO orders (customer_id, status, total_cents, created_at)
         VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![customer_id, status, total_cents],
    )?;
    Ok(db.last_insert_rowid())
}

/// A shipping address: where a customer's parcels go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub city: String,
    pub postcode: String,
    pub country: String,
}

/// Stores `address` as the shipping address of `customer_id`, replacing
/// the one they had.
pub fn save_address(db: &Connection, customer_id: i64, address: &Address) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO addresses (customer_id, street, city, postcode, country)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (customer_id) DO UPDATE SET
             street = excluded.street, city = excluded.city,
             postcode = excluded.postcode, country = excluded.country",
        params![
            customer_id,
            address.street,
            address.city,
            address.postcode,
            address.country
        ],
    )?;
    Ok(())
}

/// The shipping address of `customer_id`, if they have one.
pub fn find_address(db: &Connection, customer_id: i64) -> rusqlite::Result<Option<Address>> {
    db.query_row(
        "SELECT street, city, postcode, country FROM addresses WHERE customer_id = ?1",
        [customer_id],
        |row| {
            Ok(Address {
                street: row.get(0)?,
                city: row.get(1)?,
                postcode: row.get(2)?,
                country: row.get(3)?,
            })
        },
    )
    .optional()
}

/// 32 bytes from the operating system's CSPRNG, in base64url without
/// padding: 43 characters of `A-Z a-z 0-9 - _`.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a new session of `customer_id`, valid until `expires_at` (Unix
/// seconds), and returns its random id: the cookie's value. Logging in
/// (lesson 04) ends here.
pub fn start_session(
    db: &Connection,
    customer_id: i64,
    expires_at: i64,
) -> rusqlite::Result<String> {
    let id = random_token();
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?1, ?2, ?3)",
        params![id, customer_id, expires_at],
    )?;
    Ok(id)
}

/// The customer of session `id`, if it is still valid at `now`
/// (`now < expires_at`).
pub fn find_session(db: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<i64>> {
    db.query_row(
        "SELECT customer_id FROM sessions WHERE id = ?1 AND ?2 < expires_at",
        params![id, now],
        |row| row.get(0),
    )
    .optional()
}

/// The time now, in Unix seconds.
fn now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// The customer whose valid session cookie came with the request: the only
/// proof of who is asking. Extracting a `Caller` answers `401` to a request
/// without one.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub customer_id: i64,
}

impl FromRequestParts<Shop> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Caller, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(id) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Err(unauthorized());
        };
        match shop.run(move |db| find_session(db, &id, now())).await {
            Ok(Some(customer_id)) => Ok(Caller { customer_id }),
            Ok(None) => Err(unauthorized()),
            Err(error) => Err(internal_error(&error)),
        }
    }
}

/// An order, as the endpoints answer it.
#[derive(Debug, Serialize)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub total_cents: i64,
    pub created_at: String,
}

/// The columns [`order_from_row`] reads, in its order, for a `SELECT`.
pub const ORDER_COLUMNS: &str = "id, customer_id, status, total_cents, created_at";

/// An [`Order`] from a row of `SELECT` [`ORDER_COLUMNS`] `FROM orders`.
pub fn order_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        status: row.get(2)?,
        total_cents: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// A shipping address as the endpoints answer it: whose it is, and where.
#[derive(Debug, Serialize)]
pub struct ShippingAddress {
    pub customer_id: i64,
    #[serde(flatten)]
    pub address: Address,
}

/// The shop's order and address endpoints, on the database of `shop`:
///
/// | request                          | answer                                        |
/// | -------------------------------- | --------------------------------------------- |
/// | `GET /orders`                    | `200 OK`, the orders, oldest first            |
/// | `GET /orders/{id}`               | `200 OK`, the order                           |
/// | `POST /orders/{id}/cancel`       | `200 OK`, the order, now `cancelled`          |
/// | `GET /customers/{id}/address`    | `200 OK`, the shipping address                |
/// | `PUT /customers/{id}/address`    | `200 OK`, the new shipping address            |
///
/// Every route needs a valid session cookie (`401` without one). A `POST`
/// with `X-HTTP-Method-Override: PUT` is routed as a `PUT`: the shop's
/// HTML forms can send only `GET` and `POST`.
pub fn app(shop: Shop) -> Router {
    let routes = Router::new()
        .route("/orders", get(list_orders))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/customers/{id}/address", get(get_address).put(put_address))
        .with_state(shop);
    // The method is rewritten before the router chooses a route.
    let overridden = axum::middleware::map_request(method_override).layer(routes);
    Router::new().fallback_service(overridden)
}

/// A `POST` whose `X-HTTP-Method-Override` says `PUT` (in any case)
/// becomes a `PUT`; any other request is left alone.
async fn method_override(mut request: Request) -> Request {
    let wants_put = request.method() == Method::POST
        && request
            .headers()
            .get(METHOD_OVERRIDE_HEADER)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim().eq_ignore_ascii_case("PUT"));
    if wants_put {
        *request.method_mut() = Method::PUT;
    }
    request
}

/// The customer a request acts for.
fn acting_customer(caller: Caller, headers: &HeaderMap) -> i64 {
    // TODO: a request acts for the customer of its session, always. Nothing
    // the client writes into the request (this header, a query string, a
    // body, a path) can make it act for anyone else.
    // The old mobile app sends the customer's id in a header, and it is
    // always right, isn't it?
    headers
        .get(CUSTOMER_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(caller.customer_id)
}

/// The query string of `GET /orders`: older clients send the customer's id.
#[derive(Deserialize)]
struct ListQuery {
    customer_id: Option<i64>,
}

async fn list_orders(
    State(shop): State<Shop>,
    caller: Caller,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    // TODO: the list holds the orders of the session's customer, and only
    // theirs, whatever `customer_id` the query string names (older clients
    // send their own: it is ignored).
    let customer_id = query
        .customer_id
        .unwrap_or_else(|| acting_customer(caller, &headers));
    let orders = shop
        .run(move |db| {
            let sql =
                format!("SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = ?1 ORDER BY id");
            let mut statement = db.prepare(&sql)?;
            let orders = statement.query_map([customer_id], order_from_row)?;
            orders.collect::<rusqlite::Result<Vec<Order>>>()
        })
        .await;
    match orders {
        Ok(orders) => Json(orders).into_response(),
        Err(error) => internal_error(&error),
    }
}

async fn get_order(
    State(shop): State<Shop>,
    caller: Caller,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    // TODO: another customer's order is `not_found("order")`, exactly like
    // an order that does not exist.
    let _ = caller;
    let order = shop
        .run(move |db| {
            let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
            db.query_row(&sql, [id], order_from_row).optional()
        })
        .await;
    match order {
        Ok(Some(order)) => Json(order).into_response(),
        Ok(None) => not_found("order"),
        Err(error) => internal_error(&error),
    }
}

/// The body of `POST /orders/{id}/cancel`: the shop's clients send the
/// customer's id with it.
#[derive(Deserialize)]
struct CancelRequest {
    customer_id: i64,
}

async fn cancel_order(
    State(shop): State<Shop>,
    caller: Caller,
    UrlPath(id): UrlPath<i64>,
    Json(body): Json<CancelRequest>,
) -> Response {
    // TODO: only the session's customer may cancel their order; another
    // customer's order is `not_found("order")`, whatever its status, and
    // stays as it was. The body's `customer_id` is ignored: the order is
    // the path's, its owner the session's.
    let _ = caller;
    let customer_id = body.customer_id;
    let cancelled = shop
        .run(move |db| {
            db.execute(
                "UPDATE orders SET status = 'cancelled'
                 WHERE id = ?1 AND customer_id = ?2 AND status IN ('pending', 'paid')",
                params![id, customer_id],
            )?;
            let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = ?1");
            db.query_row(&sql, [id], order_from_row).optional()
        })
        .await;
    match cancelled {
        Ok(Some(order)) if order.status != "cancelled" => problem(
            StatusCode::CONFLICT,
            "Conflict",
            "The order has shipped: it can no longer be cancelled.",
        ),
        Ok(Some(order)) => Json(order).into_response(),
        Ok(None) => not_found("order"),
        Err(error) => internal_error(&error),
    }
}

async fn get_address(
    State(shop): State<Shop>,
    caller: Caller,
    UrlPath(customer_id): UrlPath<i64>,
) -> Response {
    // TODO: a customer reads their own address only; any other customer's
    // (or one that does not exist) is `not_found("customer")`.
    let _ = caller;
    let address = shop.run(move |db| find_address(db, customer_id)).await;
    match address {
        Ok(Some(address)) => Json(ShippingAddress {
            customer_id,
            address,
        })
        .into_response(),
        Ok(None) => not_found("customer"),
        Err(error) => internal_error(&error),
    }
}

async fn put_address(
    State(shop): State<Shop>,
    caller: Caller,
    UrlPath(customer_id): UrlPath<i64>,
    Json(address): Json<Address>,
) -> Response {
    // TODO: a customer changes their own address only; for any other id the
    // answer is `not_found("customer")` and nothing is stored.
    let _ = caller;
    let saved = shop
        .run(move |db| {
            let exists = db
                .query_row(
                    "SELECT 1 FROM customers WHERE id = ?1",
                    [customer_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if exists {
                save_address(db, customer_id, &address)?;
            }
            Ok(exists.then_some(address))
        })
        .await;
    match saved {
        Ok(Some(address)) => Json(ShippingAddress {
            customer_id,
            address,
        })
        .into_response(),
        Ok(None) => not_found("customer"),
        Err(error) => internal_error(&error),
    }
}

/// `404 Not Found` for a `what` (`"order"`, `"customer"`) that does not
/// exist, or that the caller may not know exists: the two answers are the
/// same, byte for byte.
pub fn not_found(what: &str) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Not Found",
        &format!("There is no such {what}."),
    )
}

/// `401 Unauthorized`: the request has no valid session.
fn unauthorized() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Log in first: the request has no valid session cookie.",
    )
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let content_type = HeaderValue::from_static("application/problem+json");
    (status, [(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

/// A database error: logged, and answered with a `500` that tells nothing.
fn internal_error(error: &rusqlite::Error) -> Response {
    tracing::error!(%error, "database error");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        "Something went wrong on our side. Please try again.",
    )
}
