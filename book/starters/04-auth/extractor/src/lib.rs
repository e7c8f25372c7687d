//! # auth/extractor — Who is calling: an extractor
//!
//! Every handler that needs to know who is calling takes a
//! [`CurrentCustomer`] argument, and never looks at a header or a cookie
//! itself: the extractor does, once, for every route. It reads the
//! caller's credentials (a bearer token in the `Authorization` header, or
//! the `session` cookie of a server-side session), checks them, loads the
//! customer, and refuses the request with `401 Unauthorized` and a
//! `WWW-Authenticate` challenge when they are missing or no good. A handler
//! that works for everybody but says more to a customer it knows takes an
//! `Option<CurrentCustomer>`: no credentials is `None`, but bad
//! credentials are still refused.
//! The book's section "Who is calling: an extractor" explains every piece
//! you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::panic::resume_unwind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{Argon2, PasswordHasher};
use axum::extract::{FromRequestParts, OptionalFromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

// ANCHOR: schema
/// Creates the tables of the shop this exercise uses, if they do not exist
/// yet: customers with their password hash and role, their sessions,
/// products, and orders with their items.
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
// ANCHOR_END: schema

/// The argon2id PHC string of `password`, with a new random salt and the
/// library's default (OWASP's) parameters.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashes any password with its default parameters")
        .to_string()
}

/// Stores a new customer whose password hash is `password_hash` (made by
/// [`hash_password`]) and returns their id.
pub fn insert_customer(
    db: &Connection,
    email: &str,
    name: &str,
    password_hash: &str,
    role: &str,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name, password_hash, role) VALUES (?1, ?2, ?3, ?4)",
        (email, name, password_hash, role),
    )?;
    Ok(db.last_insert_rowid())
}

/// Stores a session of customer `customer_id` under `id` (a random id, in
/// the real shop: see `auth/sessions`), good while the time is before
/// `expires_at` (Unix seconds).
pub fn insert_session(
    db: &Connection,
    id: &str,
    customer_id: i64,
    expires_at: u64,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?1, ?2, ?3)",
        (
            id,
            customer_id,
            i64::try_from(expires_at).unwrap_or(i64::MAX),
        ),
    )?;
    Ok(())
}

/// The customer of the session `session_id`, and when the session expires
/// (Unix seconds), if there is such a session and its customer exists.
/// Whether it has expired is the caller's to decide.
pub fn customer_for_session(
    db: &Connection,
    session_id: &str,
) -> rusqlite::Result<Option<(Customer, u64)>> {
    db.query_row(
        "SELECT customers.id, email, name, role, sessions.expires_at
         FROM sessions JOIN customers ON customers.id = sessions.customer_id
         WHERE sessions.id = ?1",
        [session_id],
        |row| {
            // A negative time, which nothing here stores, is long past.
            let expires_at: i64 = row.get(4)?;
            Ok((
                customer_from_row(row)?,
                u64::try_from(expires_at).unwrap_or(0),
            ))
        },
    )
    .optional()
}

/// Stores a new product, created now, and returns its id.
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

/// Stores a new pending order of customer `customer_id`, created now, for
/// these `(product id, quantity)` at the products' current prices, and
/// returns its id.
pub fn insert_order(
    db: &mut Connection,
    customer_id: i64,
    items: &[(i64, i64)],
) -> rusqlite::Result<i64> {
    let transaction = db.transaction()?;
    transaction.execute(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, 0, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        [customer_id],
    )?;
    let order_id = transaction.last_insert_rowid();
    for (product_id, quantity) in items {
        transaction.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
             SELECT ?1, id, ?3, price_cents FROM products WHERE id = ?2",
            (order_id, product_id, quantity),
        )?;
    }
    transaction.execute(
        "UPDATE orders SET total_cents =
             (SELECT coalesce(sum(quantity * price_cents), 0) FROM order_items WHERE order_id = ?1)
         WHERE id = ?1",
        [order_id],
    )?;
    transaction.commit()?;
    Ok(order_id)
}

// ANCHOR: types
/// A customer, as sent: `{"id": 1, "email": "ada@example.com", "name":
/// "Ada", "role": "customer"}`. Never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
}

/// A product, as sent: `{"id": 7, "sku": "MUG-RED", "name": "Red mug",
/// "price_cents": 1250, "stock": 12}`, and, for a customer the request
/// names, `"ordered_before": true` if one of their orders holds it
/// (`false` if none does). An anonymous caller's products have no
/// `ordered_before` field at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordered_before: Option<bool>,
}

/// An order, as sent (see the shop's schema in the book).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub items: Vec<OrderItem>,
    pub total_cents: i64,
    pub created_at: String,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderItem {
    pub product_id: i64,
    pub quantity: i64,
    pub price_cents: i64,
}
// ANCHOR_END: types

/// A [`Customer`] from a row that starts with `id, email, name, role`.
fn customer_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        role: row.get(3)?,
    })
}

/// The customer with this id, if there is one.
pub fn find_customer(db: &Connection, id: i64) -> rusqlite::Result<Option<Customer>> {
    db.query_row(
        "SELECT id, email, name, role FROM customers WHERE id = ?1",
        [id],
        customer_from_row,
    )
    .optional()
}

/// Every product, by id; with `ordered_before` for `viewer`, the id of the
/// customer who asks, if the request names one.
pub fn list_products(db: &Connection, viewer: Option<i64>) -> rusqlite::Result<Vec<Product>> {
    let mut statement = db.prepare(
        "SELECT id, sku, name, price_cents, stock,
                EXISTS (SELECT 1 FROM order_items JOIN orders ON orders.id = order_items.order_id
                        WHERE order_items.product_id = products.id AND orders.customer_id = ?1)
         FROM products ORDER BY id",
    )?;
    let rows = statement.query_map([viewer], |row| {
        Ok(Product {
            id: row.get(0)?,
            sku: row.get(1)?,
            name: row.get(2)?,
            price_cents: row.get(3)?,
            stock: row.get(4)?,
            ordered_before: viewer.map(|_| row.get(5)).transpose()?,
        })
    })?;
    rows.collect()
}

/// The orders of customer `customer_id`, by id, with their items.
pub fn list_orders(db: &Connection, customer_id: i64) -> rusqlite::Result<Vec<Order>> {
    let mut orders = db.prepare(
        "SELECT id, customer_id, status, total_cents, created_at
         FROM orders WHERE customer_id = ?1 ORDER BY id",
    )?;
    let mut items = db.prepare(
        "SELECT product_id, quantity, price_cents FROM order_items
         WHERE order_id = ?1 ORDER BY product_id",
    )?;
    let found: Vec<Order> = orders
        .query_map([customer_id], |row| {
            Ok(Order {
                id: row.get(0)?,
                customer_id: row.get(1)?,
                status: row.get(2)?,
                items: Vec::new(),
                total_cents: row.get(3)?,
                created_at: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    found
        .into_iter()
        .map(|mut order| {
            order.items = items
                .query_map([order.id], |row| {
                    Ok(OrderItem {
                        product_id: row.get(0)?,
                        quantity: row.get(1)?,
                        price_cents: row.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(order)
        })
        .collect()
}

// ANCHOR: settings
/// What the app is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The secret key that signs and verifies bearer tokens (HS256).
    pub signing_key: Vec<u8>,
}

/// The name of the session cookie: `Cookie: session=<id>`.
pub const SESSION_COOKIE: &str = "session";

/// Where the app reads the time: Unix seconds. [`Clock::system`] in
/// production; the tests use a clock of their own, which they move.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// A clock that reads `now`.
    pub fn new(now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The system's clock.
    pub fn system() -> Clock {
        Clock::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs())
        })
    }

    /// The time now, in Unix seconds.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

/// The claims of the shop's tokens (RFC 7519, section 4.1):
/// `{"sub": "7", "iat": 1764494100, "exp": 1764495000}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The subject: the customer's id, as a string (RFC 7519 makes `sub` a
    /// string).
    pub sub: String,
    /// Issued at: when the token was made, in Unix seconds.
    pub iat: u64,
    /// Expiration time: the token is good while the time is before it.
    pub exp: u64,
}
// ANCHOR_END: settings

/// A token for customer `customer_id`, made at `now`, good for `ttl`
/// seconds (what `POST /token` of `auth/tokens` answers; the tests and the
/// example make tokens with it).
pub fn issue_token(settings: &Settings, customer_id: i64, now: u64, ttl: u64) -> String {
    let claims = Claims {
        sub: customer_id.to_string(),
        iat: now,
        exp: now + ttl,
    };
    let key =
        EncodingKey::from_secret(&settings.signing_key).expect("the settings hold a signing key");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .expect("HS256 signs any claims with any key")
}

// ANCHOR: verify
/// The id of the customer `token` names, if it is good at `now`: a JWT
/// signed with HS256 (and no other algorithm) under the settings'
/// `signing_key`, with a `sub` that is a customer id as a string and an
/// `exp` later than `now` (no leeway: at `exp` itself it has expired).
/// Otherwise why it is no good, for the problem's detail.
pub fn verify_token(settings: &Settings, token: &str, now: u64) -> Result<i64, &'static str> {
    let key = DecodingKey::from_secret(&settings.signing_key)
        .map_err(|_| "the server has no key to verify tokens with")?;
    let mut validation = Validation::new(Algorithm::HS256);
    // The library compares `exp` with the system's clock; the app has a
    // clock of its own, so the comparison is made below, without leeway.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| "the token is malformed, or not signed by this shop")?
        .claims;
    if now >= claims.exp {
        return Err("the token has expired");
    }
    claims
        .sub
        .parse()
        .map_err(|_| "the token's subject is not a customer id")
}
// ANCHOR_END: verify

/// An error answered as RFC 9457 problem details, with the content type
/// `application/problem+json`:
/// `{"type": "about:blank", "title": "Not Found", "status": 404, "detail": "..."}`.
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

/// The shop's database, a SQLite file shared by every request: each call
/// runs on a connection of its own (idle connections are kept for the
/// next calls), on tokio's blocking threads.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Db {
    /// The database in the SQLite file at `path` (created if missing).
    pub fn open(path: &Path) -> Db {
        Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
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
        let connection = Connection::open(&self.path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.busy_timeout(Duration::from_secs(5))?;
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.push(connection);
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Clock,
}

// ANCHOR: app
/// The shop's pages about the caller, on `db` (whose schema
/// [`create_schema`] made), verifying tokens with `settings` and reading
/// the time from `clock`:
///
/// | route            | who may call             | answer                                         |
/// | ---------------- | ------------------------ | ---------------------------------------------- |
/// | `GET /me`        | a customer               | the caller, as a [`Customer`]                  |
/// | `GET /me/orders` | a customer               | the caller's orders, by id, as [`Order`]s      |
/// | `GET /products`  | anybody                  | every product; with `ordered_before` for a customer |
///
/// Who calls is [`CurrentCustomer`]'s to say, for every route.
pub fn app(db: Db, settings: Settings, clock: Clock) -> Router {
    let state = AppState {
        db,
        settings: Arc::new(settings),
        clock,
    };
    Router::new()
        .route("/me", get(get_me))
        .route("/me/orders", get(get_my_orders))
        .route("/products", get(get_products))
        .with_state(state)
}
// ANCHOR_END: app

// ANCHOR: auth_error
/// Why a request's caller could not be told.
#[derive(Debug)]
pub enum AuthError {
    /// The request carries no credentials: no `Authorization: Bearer`
    /// header and no `session` cookie.
    Missing,
    /// The request carries credentials that are no good; why, for the
    /// problem's detail.
    Invalid(&'static str),
    /// The database failed while checking them.
    Database(rusqlite::Error),
}

impl From<rusqlite::Error> for AuthError {
    fn from(error: rusqlite::Error) -> AuthError {
        AuthError::Database(error)
    }
}

/// How a refusal is answered: `401 Unauthorized` as problem details, with
///
/// | error                | `WWW-Authenticate`                           |
/// | -------------------- | -------------------------------------------- |
/// | [`AuthError::Missing`] | `Bearer realm="shop"`                      |
/// | [`AuthError::Invalid`] | `Bearer realm="shop", error="invalid_token"` |
///
/// (the bearer challenge of RFC 6750, section 3, also when the bad
/// credential was a cookie), and a database failure as a `500` [`Problem`].
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        // TODO: answer as the table above says. Every 401 tells the
        // client how to authenticate, and which kind of refusal it is.
        let _ = self;
        todo!()
    }
}
// ANCHOR_END: auth_error

// ANCHOR: current_customer
/// The customer who is calling, as their credentials prove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentCustomer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
}

/// A request's caller comes from its credentials, in this order:
///
/// 1. An `Authorization` header with the `Bearer` scheme (in any case)
///    decides alone: its token must pass [`verify_token`] at the clock's
///    now, and name a customer who exists. A bad token is
///    [`AuthError::Invalid`], whatever cookie the request also has.
/// 2. Otherwise (no `Authorization` header, or one with another scheme,
///    which this API does not use), the `session` cookie: it must name a
///    session of a customer who exists, and the session is good while the
///    clock's now is before its `expires_at`. A bad one is
///    [`AuthError::Invalid`].
/// 3. Neither: [`AuthError::Missing`].
///
/// Nothing else in a request names a customer.
impl FromRequestParts<AppState> for CurrentCustomer {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<CurrentCustomer, AuthError> {
        // TODO: the caller the request's credentials prove, in the order
        // above, or why there is none. The app's clock says what time it
        // is; a customer must still exist to call.
        let _ = (parts, state);
        todo!()
    }
}

/// `Option<CurrentCustomer>`: `None` for a request with no credentials at
/// all, the customer for good ones, and a refusal for bad ones (never
/// `None`: a client whose session has expired must learn it).
impl OptionalFromRequestParts<AppState> for CurrentCustomer {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<CurrentCustomer>, AuthError> {
        // TODO: None when the request has no credentials at all; the
        // caller when they are good; a refusal when they are not.
        let _ = (parts, state);
        todo!()
    }
}
// ANCHOR_END: current_customer

impl From<Customer> for CurrentCustomer {
    fn from(customer: Customer) -> CurrentCustomer {
        CurrentCustomer {
            id: customer.id,
            email: customer.email,
            name: customer.name,
            role: customer.role,
        }
    }
}

// ANCHOR: handlers
async fn get_me(customer: CurrentCustomer) -> Json<CurrentCustomer> {
    // TODO: answer the caller.
    let _ = customer;
    todo!()
}

async fn get_my_orders(
    customer: CurrentCustomer,
    State(state): State<AppState>,
) -> Result<Json<Vec<Order>>, Problem> {
    // TODO: answer the caller's orders, and nobody else's.
    let _ = (customer, state, list_orders);
    todo!()
}

async fn get_products(
    customer: Option<CurrentCustomer>,
    State(state): State<AppState>,
) -> Result<Json<Vec<Product>>, Problem> {
    // TODO: answer every product, personal to the caller if there is one.
    let _ = (customer, state, list_products);
    todo!()
}
// ANCHOR_END: handlers
