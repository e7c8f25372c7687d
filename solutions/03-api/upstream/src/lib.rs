//! # api/upstream — reference solution

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Waits for the given time: the pause between two attempts.
pub type Sleep = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A random number from 0.0 to 1.0 (both included), new at every call.
pub type Random = Arc<dyn Fn() -> f64 + Send + Sync>;

/// How the shop calls the payment gateway.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where the gateway is: `http://127.0.0.1:4000`, no `/` at the end.
    pub base_url: String,
    /// How long one attempt may take, from connecting to the last byte of
    /// the answer.
    pub timeout: Duration,
    /// How many attempts a charge gets at most, the first included (at
    /// least 1).
    pub attempts: u32,
    /// The longest wait before the second attempt; it doubles for each
    /// attempt after that...
    pub backoff_base: Duration,
    /// ...but never exceeds this.
    pub backoff_cap: Duration,
    /// How the shop waits between attempts ([`tokio_sleep`] unless a test
    /// says otherwise).
    pub sleep: Sleep,
    /// Where the jitter comes from ([`random_fraction`] unless a test says
    /// otherwise).
    pub random: Random,
}

impl GatewayConfig {
    /// The gateway at `base_url`, with the shop's usual settings: 2 s per
    /// attempt, 3 attempts, waits of up to 100 ms, 200 ms, 400 ms... capped
    /// at 2 s, real sleeps and real randomness.
    pub fn new(base_url: &str) -> GatewayConfig {
        GatewayConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(2),
            attempts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(2),
            sleep: Arc::new(tokio_sleep),
            random: Arc::new(random_fraction),
        }
    }
}

/// Sleeps for `duration` on tokio's timer.
pub fn tokio_sleep(duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(tokio::time::sleep(duration))
}

/// A random number in [0, 1), from the random keys the standard library
/// makes for its hash maps (the workbook has no `rand` crate).
pub fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // The top 53 bits, as many as an f64 holds exactly.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A charge the gateway made: `{"id": "ch_1", "status": "succeeded"}`.
#[derive(Debug, Deserialize)]
pub struct Charge {
    pub id: String,
}

/// Why a charge did not happen, as far as the shop knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// The gateway answered `402`: the card was declined. Final.
    Declined,
    /// The gateway failed: `503` on every attempt, a refused connection,
    /// an answer the shop cannot read, or a status it does not expect.
    BadGateway,
    /// The last attempt got no complete answer in time.
    TimedOut,
}

/// What one attempt tells the retry loop.
enum Failure {
    /// Worth another attempt: the gateway may do better in a moment.
    Transient(GatewayError),
    /// The gateway's final word, or an answer it would give again.
    Final(GatewayError),
}

/// The payment gateway's client: one HTTP client, reused for every call.
#[derive(Clone)]
pub struct Gateway {
    client: reqwest::Client,
    config: GatewayConfig,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Gateway {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a plain HTTP client always builds");
        Gateway { client, config }
    }

    /// Charges `amount_cents` with `POST {base_url}/charges`, body
    /// `{"amount_cents": 2500, "reference": "order-1"}` and the header
    /// `Idempotency-Key: {key}`, the same key on every attempt.
    pub async fn charge(
        &self,
        amount_cents: i64,
        reference: &str,
        key: &str,
    ) -> Result<Charge, GatewayError> {
        let attempts = self.config.attempts.max(1);
        let mut attempt = 1;
        loop {
            let one = self.attempt(amount_cents, reference, key);
            let outcome = match tokio::time::timeout(self.config.timeout, one).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::Transient(GatewayError::TimedOut)),
            };
            match outcome {
                Ok(charge) => return Ok(charge),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Transient(error)) if attempt >= attempts => return Err(error),
                Err(Failure::Transient(error)) => {
                    tracing::warn!(?error, attempt, "the payment gateway failed; retrying");
                    (self.config.sleep)(backoff(&self.config, attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One call to the gateway, without a time limit of its own.
    async fn attempt(
        &self,
        amount_cents: i64,
        reference: &str,
        key: &str,
    ) -> Result<Charge, Failure> {
        let url = format!("{}/charges", self.config.base_url);
        let body = json!({ "amount_cents": amount_cents, "reference": reference });
        let sent = self
            .client
            .post(url)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await;
        let response = sent.map_err(|error| {
            tracing::warn!(%error, "the payment gateway could not be reached");
            Failure::Transient(GatewayError::BadGateway)
        })?;
        let status = response.status();
        match status {
            StatusCode::CREATED => {}
            StatusCode::PAYMENT_REQUIRED => return Err(Failure::Final(GatewayError::Declined)),
            StatusCode::SERVICE_UNAVAILABLE => {
                return Err(Failure::Transient(GatewayError::BadGateway));
            }
            _ => {
                tracing::error!(%status, "the payment gateway answered an unexpected status");
                return Err(Failure::Final(GatewayError::BadGateway));
            }
        }
        let bytes = response.bytes().await.map_err(|error| {
            tracing::warn!(%error, "the payment gateway's answer broke off");
            Failure::Transient(GatewayError::BadGateway)
        })?;
        serde_json::from_slice(&bytes).map_err(|error| {
            tracing::error!(%error, "the payment gateway's answer is not a charge");
            Failure::Final(GatewayError::BadGateway)
        })
    }
}

/// How long to wait before attempt `attempt + 1`, after attempt `attempt`
/// (1 for the wait after the first attempt) failed: "full jitter", a
/// random fraction (from `config.random`) of a ceiling that starts at
/// `backoff_base` and doubles at each attempt, but never exceeds
/// `backoff_cap`.
pub fn backoff(config: &GatewayConfig, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1);
    let factor = 2u32.saturating_pow(doublings);
    let ceiling = config
        .backoff_base
        .checked_mul(factor)
        .unwrap_or(Duration::MAX)
        .min(config.backoff_cap);
    ceiling.mul_f64((config.random)().clamp(0.0, 1.0))
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        match self {
            GatewayError::Declined => problem(
                StatusCode::PAYMENT_REQUIRED,
                "Payment declined",
                "The payment was declined.",
            ),
            GatewayError::BadGateway => problem(
                StatusCode::BAD_GATEWAY,
                "Bad Gateway",
                "The payment service failed. Please try again later.",
            ),
            GatewayError::TimedOut => problem(
                StatusCode::GATEWAY_TIMEOUT,
                "Gateway Timeout",
                "The payment service did not answer in time. Please try again later.",
            ),
        }
    }
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
        CREATE TABLE IF NOT EXISTS payments (
            id         INTEGER PRIMARY KEY,
            order_id   INTEGER NOT NULL REFERENCES orders (id),
            status     TEXT NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'succeeded', 'declined')),
            charge_id  TEXT,
            created_at TEXT NOT NULL
        ) STRICT;",
    )
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

/// A payment of an order, as the shop asks the gateway for it.
struct Payment {
    id: i64,
    /// The gateway's `Idempotency-Key`: `payment-{id}`.
    key: String,
    amount_cents: i64,
    /// What the gateway shows with the charge: `order-{order id}`.
    reference: String,
}

/// The open payment of pending order `order_id`: the one whose outcome is
/// still unknown (its key is reused, so the gateway charges it at most
/// once), or a new one. Otherwise, the problem that refuses to pay.
fn open_payment(db: &Connection, order_id: i64) -> rusqlite::Result<Result<Payment, Response>> {
    let Some(order) = load_order(db, order_id)? else {
        let detail = format!("There is no order {order_id}.");
        return Ok(Err(problem(StatusCode::NOT_FOUND, "Not found", &detail)));
    };
    if order.status != "pending" {
        let detail = format!(
            "Order {order_id} is {}: only a pending order is paid.",
            order.status
        );
        return Ok(Err(problem(StatusCode::CONFLICT, "Not pending", &detail)));
    }
    let open: Option<i64> = db
        .query_row(
            "SELECT id FROM payments WHERE order_id = ?1 AND status = 'open'",
            [order_id],
            |row| row.get(0),
        )
        .optional()?;
    let id = match open {
        Some(id) => id,
        None => db.query_row(
            "INSERT INTO payments (order_id, created_at)
             VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) RETURNING id",
            [order_id],
            |row| row.get(0),
        )?,
    };
    Ok(Ok(Payment {
        id,
        key: format!("payment-{id}"),
        amount_cents: order.total_cents,
        reference: format!("order-{order_id}"),
    }))
}

/// Records what the gateway said about payment `payment_id` of order
/// `order_id`: a charge marks both done, a decline closes the payment (the
/// next one gets a new key). Anything else leaves it open.
fn record(
    db: &mut Connection,
    payment_id: i64,
    order_id: i64,
    outcome: &Result<Charge, GatewayError>,
) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    match outcome {
        Ok(charge) => {
            tx.execute(
                "UPDATE payments SET status = 'succeeded', charge_id = ?1 WHERE id = ?2",
                params![charge.id, payment_id],
            )?;
            tx.execute(
                "UPDATE orders SET status = 'paid' WHERE id = ?1",
                [order_id],
            )?;
        }
        Err(GatewayError::Declined) => {
            tx.execute(
                "UPDATE payments SET status = 'declined' WHERE id = ?1",
                [payment_id],
            )?;
        }
        Err(_) => {}
    }
    tx.commit()
}

/// The shop: its database and its gateway.
#[derive(Clone)]
struct Shop {
    db: Arc<Mutex<Connection>>,
    gateway: Gateway,
}

impl Shop {
    /// Runs `job` with the database, on tokio's blocking threads.
    async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let task = tokio::task::spawn_blocking(move || {
            let mut db = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            job(&mut db)
        });
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// The shop's payments API, on the database `db` (whose schema
/// [`create_schema`] made), paying through the gateway `config` describes:
///
/// | request                     | answer                                           |
/// | --------------------------- | ------------------------------------------------ |
/// | `POST /orders/{id}/payment` | `200 OK`, the paid order                         |
///
/// or `402`, `502`, `504` from [`GatewayError`], `404` if there is no such
/// order, `409` if it is not pending.
pub fn app(db: Connection, config: GatewayConfig) -> Router {
    let shop = Shop {
        db: Arc::new(Mutex::new(db)),
        gateway: Gateway::new(config),
    };
    Router::new()
        .route("/orders/{id}/payment", post(pay_order))
        .with_state(shop)
}

async fn pay_order(State(shop): State<Shop>, Path(order_id): Path<i64>) -> Response {
    let payment = match shop.run(move |db| open_payment(db, order_id)).await {
        Ok(Ok(payment)) => payment,
        Ok(Err(refusal)) => return refusal,
        Err(error) => return internal_error(&error),
    };
    // No database lock is held while the gateway is called.
    let outcome = shop
        .gateway
        .charge(payment.amount_cents, &payment.reference, &payment.key)
        .await;
    let failure = outcome.as_ref().err().copied();
    let recorded = shop
        .run(move |db| {
            record(db, payment.id, order_id, &outcome)?;
            load_order(db, order_id)
        })
        .await;
    match (failure, recorded) {
        (Some(error), _) => error.into_response(),
        (None, Ok(Some(order))) => Json(order).into_response(),
        (None, Ok(None)) => internal_error(&rusqlite::Error::QueryReturnedNoRows),
        (None, Err(error)) => internal_error(&error),
    }
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    response
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
