//! # security/webhooks — Verifying webhooks
//!
//! The payment gateway tells the shop, with a `POST /webhooks/payments`,
//! that an order was paid or refunded, and the shop marks the order `paid`
//! or `cancelled`. The endpoint is on the internet, like every other: as
//! the starter has it, anyone who sends `{"type": "payment.succeeded",
//! ...}` gets their order marked paid, and whoever once saw a real event
//! can send it again.
//!
//! Apply only the events the gateway signed, and each one only once. The
//! gateway signs every event with the secret it shares with the shop, and
//! says so in a header:
//!
//! ```text
//! Shop-Signature: t=1800000000,v1=5f0c9b...e2a1
//! ```
//!
//! - `t` is when the gateway signed, in Unix seconds; exactly one `t`.
//! - each `v1` is the HMAC-SHA256 of `{t}.{body}` (the `t` as written in
//!   the header, a `.`, then the request body byte for byte as it arrived)
//!   keyed with the shared secret, in hex (either case). There may be
//!   several `v1` (while the gateway's secret is being rotated, one per
//!   secret): one that matches is enough. Entries with other names (`v0`)
//!   are ignored.
//! - a `t` more than [`TOLERANCE_SECS`] (5 minutes) away from the shop's
//!   clock, in the past or in the future, is refused: exactly 300 seconds
//!   away is still accepted.
//!
//! Anything else (no header, a malformed one, no matching signature, a
//! stale or future `t`) is `400 Bad Request` with a problem details body,
//! and changes nothing. An event whose `id` the shop has already applied,
//! also before a restart, is answered `200 OK` as the first time and
//! changes nothing.
//!
//! The book's section "Verifying webhooks" explains the attacks and the fix.
//! You write [`verify_signature`], the handler `payment_webhook` and the
//! replay check in `apply_event`; the rest is given.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::json;

/// The header that carries the gateway's signature.
pub const SIGNATURE_HEADER: &str = "shop-signature";

/// How far, in seconds, a signature's `t` may be from the shop's clock, in
/// the past or in the future: 5 minutes.
pub const TOLERANCE_SECS: i64 = 300;

/// Where the shop reads the time: seconds since the Unix epoch. The
/// example serves with [`Clock::system`]; the tests give a clock they set
/// themselves.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The computer's clock.
    pub fn system() -> Clock {
        Clock::from_fn(|| {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
        })
    }

    /// A clock that reads the time from `now`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now, in seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

/// The shop: one connection to its database, the secret it shares with
/// the payment gateway, and its clock. Cloning it is cheap; every clone
/// shares the connection, so requests take turns at it.
#[derive(Clone)]
pub struct Shop {
    db: Arc<Mutex<Connection>>,
    webhook_secret: Arc<[u8]>,
    clock: Clock,
}

impl Shop {
    /// The shop on the SQLite file at `path` (created with the schema if
    /// needed), verifying webhooks with `webhook_secret`, reading the time
    /// from `clock`.
    pub fn open(path: &Path, webhook_secret: &str, clock: Clock) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        create_schema(&db)?;
        Ok(Shop {
            db: Arc::new(Mutex::new(db)),
            webhook_secret: Arc::from(webhook_secret.as_bytes()),
            clock,
        })
    }

    /// The secret the shop shares with the payment gateway, which signs
    /// its events with it.
    pub fn webhook_secret(&self) -> &[u8] {
        &self.webhook_secret
    }

    /// Applies `event`, received at `now`, in one transaction, on tokio's
    /// blocking threads.
    async fn apply(&self, event: Event, now: i64) -> Result<(), Refusal> {
        let db = self.db.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut db = db.lock().unwrap_or_else(PoisonError::into_inner);
            apply_event(&mut db, &event, now)
        });
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// Creates the tables this exercise uses, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id    INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            status      TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS webhook_events (
            id          TEXT PRIMARY KEY,  -- the gateway's event id: \"evt_...\"
            received_at INTEGER NOT NULL   -- Unix seconds
        ) STRICT;",
    )
}

/// Adds a customer and returns their id.
pub fn add_customer(db: &Connection, email: &str, name: &str) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name) VALUES (?1, ?2)",
        params![email, name],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a `pending` order of `total_cents` for the customer and returns
/// its id.
pub fn add_order(db: &Connection, customer_id: i64, total_cents: i64) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![customer_id, total_cents],
    )?;
    Ok(db.last_insert_rowid())
}

/// An event from the payment gateway, as its JSON body says. Fields the
/// shop does not read (the gateway adds some over time) are ignored.
#[derive(Debug, Deserialize)]
pub struct Event {
    /// The gateway's id for this event: `"evt_..."`. A retry of the same
    /// event has the same id.
    pub id: String,
    /// `"payment.succeeded"` or `"payment.refunded"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub order_id: i64,
    pub amount_cents: i64,
}

/// The shop's webhook, on the database of `shop`:
///
/// | request                   | answer                                                   |
/// | ------------------------- | -------------------------------------------------------- |
/// | `POST /webhooks/payments` | `200 OK`, `{"received": "evt_..."}`; `400` for a missing or wrong signature; `422` for an event the shop cannot apply |
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/webhooks/payments", post(payment_webhook))
        .with_state(shop)
}

async fn payment_webhook(State(shop): State<Shop>, Json(event): Json<Event>) -> Response {
    let now = shop.clock.now();
    // TODO: make these true before any event is applied:
    // - the `Shop-Signature` header is checked with `verify_signature`,
    //   over the request body exactly as it arrived, byte for byte: not the
    //   event parsed and written out again, which is not what the gateway
    //   signed;
    // - a refused signature is answered with `bad_signature(reason)`, and
    //   nothing is applied or recorded;
    // - only a verified body is parsed into an `Event`; one that does not
    //   parse is `unprocessable(...)`.
    let id = event.id.clone();
    match shop.apply(event, now).await {
        Ok(()) => Json(json!({ "received": id })).into_response(),
        Err(Refusal::Unprocessable(detail)) => unprocessable(&detail),
        Err(Refusal::Database(error)) => internal_error(&error),
    }
}

/// Why a signature was refused, as the `400`'s `detail` says it.
pub const NO_HEADER: &str = "The request has no Shop-Signature header.";
pub const MALFORMED: &str =
    "The Shop-Signature header is not `t=<unix seconds>,v1=<hex>`, with exactly one `t`.";
pub const OUT_OF_TOLERANCE: &str = "The signature's timestamp is more than 5 minutes away.";
pub const NO_MATCH: &str = "No v1 signature matches the body.";

/// Whether `header` (the `Shop-Signature` header, if any) holds a `v1`
/// signature of `body` made with `secret`, at a `t` within
/// [`TOLERANCE_SECS`] of `now`. `Err` says why not.
pub fn verify_signature(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    // TODO: make these true (the module's documentation shows the header):
    // - the header is a list of `name=value` entries separated by commas;
    //   it has exactly one `t`, and any number of `v1`; other names (`v0`)
    //   are ignored. No header is `Err(NO_HEADER)`; no `t`, or two, is
    //   `Err(MALFORMED)`.
    // - `t` is a whole number of Unix seconds; more than `TOLERANCE_SECS`
    //   from `now`, in the past or in the future, is
    //   `Err(OUT_OF_TOLERANCE)` (exactly 300 seconds away is accepted). No
    //   `t` an attacker writes may overflow or panic.
    // - the signature is the HMAC-SHA256, keyed with `secret`, of `t` as
    //   the header writes it, then `.`, then `body`. A `v1` is that
    //   signature, whole, in hex of either case; one `v1` that matches is
    //   enough, and none is `Err(NO_MATCH)`.
    // - comparing with the expected signature takes the same time whatever
    //   the bytes sent: no early exit at the first byte that differs.
    let _ = (secret, header, body, now);
    Ok(())
}

/// The bytes that `text` writes in hex (either case), or `None` if it is
/// not hex.
pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect()
}

/// Why an event was not applied.
enum Refusal {
    /// The event makes no sense for this shop: `422`, saying why.
    Unprocessable(String),
    Database(rusqlite::Error),
}

impl From<rusqlite::Error> for Refusal {
    fn from(error: rusqlite::Error) -> Refusal {
        Refusal::Database(error)
    }
}

/// Applies `event`, received at `now`, to its order, in one transaction:
/// a payment that succeeded makes the order `paid`, a refund `cancelled`.
/// An event for an unknown order, for another amount than the order's
/// total, or of an unknown type, changes nothing and is `422`.
fn apply_event(db: &mut Connection, event: &Event, now: i64) -> Result<(), Refusal> {
    let tx = db.transaction()?;
    // TODO: make these true:
    // - the id of every event applied is recorded in `webhook_events`
    //   (with `now`), in this transaction: with the event, or not at all;
    // - an event whose id is already recorded changes nothing, and is
    //   answered as the first time (`Ok`): the gateway sends an event
    //   again, with a new `t` and signature, when it did not see the 200;
    // - recorded ids outlive a restart of the shop.
    let _ = now;
    let status = match event.kind.as_str() {
        "payment.succeeded" => "paid",
        "payment.refunded" => "cancelled",
        other => {
            return Err(Refusal::Unprocessable(format!(
                "The event type {other:?} is not one the shop knows."
            )));
        }
    };
    let total: Option<i64> = tx
        .query_row(
            "SELECT total_cents FROM orders WHERE id = ?1",
            [event.order_id],
            |row| row.get(0),
        )
        .optional()?;
    match total {
        None => {
            return Err(Refusal::Unprocessable(format!(
                "There is no order {}.",
                event.order_id
            )));
        }
        Some(total) if total != event.amount_cents => {
            return Err(Refusal::Unprocessable(format!(
                "Order {} is {total} cents, not {}.",
                event.order_id, event.amount_cents
            )));
        }
        Some(_) => {}
    }
    tx.execute(
        "UPDATE orders SET status = ?1 WHERE id = ?2",
        params![status, event.order_id],
    )?;
    tx.commit()?;
    Ok(())
}

/// `400 Bad Request`: the signature does not hold up, for `reason`.
pub fn bad_signature(reason: &str) -> Response {
    problem(StatusCode::BAD_REQUEST, "Bad Request", reason)
}

/// `422 Unprocessable Content`: a signed event the shop cannot apply.
fn unprocessable(detail: &str) -> Response {
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Unprocessable Content",
        detail,
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
