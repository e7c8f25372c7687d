//! # production/jobs — A durable job queue
//!
//! The shop's confirmation emails go through a queue in its own SQLite
//! file: placing an order stores a job in the same transaction, and workers,
//! each on a connection of its own, claim due jobs, run them, and complete
//! or fail them. A job is claimed by one worker only; a worker that dies
//! loses its job only until its lease ends; a failed job waits 1, 2, 4 ...
//! seconds before its next attempt and is dead after its last; and the
//! email handler may run twice without sending two emails.
//! The book's section "A durable job queue" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The kind of the job an order enqueues.
pub const ORDER_CONFIRMATION: &str = "order_confirmation";

/// How many times an order confirmation is tried before it is dead.
pub const MAX_ATTEMPTS: i64 = 5;

/// The longest wait between two attempts: one hour, in seconds.
pub const BACKOFF_CAP: i64 = 3600;

/// The `last_error` of a job whose lease expired during its last attempt.
pub const LEASE_EXPIRED: &str = "the lease expired during the last attempt";

/// Where the queue reads the time: seconds since the Unix epoch. The
/// example serves with [`Clock::system`]; the tests give a clock they move
/// forward themselves.
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

/// A new connection to the shop's file at `path`, created if needed: WAL
/// mode, foreign keys on, and waiting up to 5 seconds for another
/// connection's write lock.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(5))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    Ok(db)
}

/// Creates the shop's tables and the queue's, if they do not exist yet.
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
        CREATE TABLE IF NOT EXISTS jobs (
            id           INTEGER PRIMARY KEY,
            kind         TEXT NOT NULL,
            payload      TEXT NOT NULL,
            state        TEXT NOT NULL DEFAULT 'queued'
                         CHECK (state IN ('queued', 'running', 'done', 'dead')),
            attempts     INTEGER NOT NULL DEFAULT 0,
            max_attempts INTEGER NOT NULL,
            run_at       INTEGER NOT NULL,
            locked_until INTEGER,
            last_error   TEXT
        ) STRICT;
        -- What a claim looks for: the due jobs of a state, by run_at.
        CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, run_at);
        CREATE TABLE IF NOT EXISTS outbox (
            id        INTEGER PRIMARY KEY,
            order_id  INTEGER NOT NULL UNIQUE REFERENCES orders (id),
            recipient TEXT NOT NULL,
            subject   TEXT NOT NULL,
            body      TEXT NOT NULL
        ) STRICT;",
    )
}

/// A claimed job, as [`claim`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    /// What to do: [`ORDER_CONFIRMATION`].
    pub kind: String,
    /// The job's arguments as JSON text: `{"order_id":7}`.
    pub payload: String,
    /// How many times the job has been claimed, this claim included.
    pub attempts: i64,
    pub max_attempts: i64,
}

/// Stores a new job of `kind` with its `payload` (JSON text), to run at
/// `run_at` (Unix seconds) or later, tried at most `max_attempts` times.
/// Returns its id. The job is `queued` and has not been tried yet.
pub fn enqueue(
    db: &Connection,
    kind: &str,
    payload: &str,
    run_at: i64,
    max_attempts: i64,
) -> rusqlite::Result<i64> {
    // TODO: store a new job, queued and not tried yet, and return its id.
    let _ = (db, kind, payload, run_at, max_attempts);
    todo!()
}

/// Claims the next job due at `now` for `lease` seconds, and returns it, or
/// `None` if no job is due.
///
/// - A job is due when it is `queued` with a `run_at` of `now` or earlier,
///   or `running` with a lease that ended at `now` or earlier (its worker
///   died) and attempts left. Of those, the earliest `run_at` comes first,
///   then the lowest id.
/// - The claimed job is `running`, its `attempts` one more than before, its
///   lease until `now + lease` (`locked_until`).
/// - Two workers claiming at the same time, each on its own connection,
///   never get the same job.
/// - A `running` job whose lease ended during its last attempt is not
///   claimed: it becomes `dead`, with [`LEASE_EXPIRED`] as its last error.
pub fn claim(db: &Connection, now: i64, lease: i64) -> rusqlite::Result<Option<Job>> {
    // TODO: mark the next due job running, with one more attempt and a
    // lease until `now + lease`, and return it; `None` when no job is due.
    // Two workers claiming at once must never get the same job. A running
    // job whose lease ended during its last attempt becomes dead instead.
    let _ = (db, now, lease, LEASE_EXPIRED);
    todo!()
}

/// Marks `job` as `done`, if this claim still holds it: the job is still
/// `running` with the `attempts` it was claimed with. Returns whether it
/// did. (A worker whose lease expired, and whose job another worker has
/// claimed since, changes nothing.)
pub fn complete(db: &Connection, job: &Job) -> rusqlite::Result<bool> {
    // TODO: mark the job done, only if it is still running with the
    // attempts of this claim; say whether it was.
    let _ = (db, job);
    todo!()
}

/// Records that `job` failed at `now` with `error`, if this claim still
/// holds it (as [`complete`] says). Returns whether it did.
///
/// - With attempts left, the job is `queued` again, to run at
///   `now + backoff(job.attempts)`.
/// - After its last attempt (`attempts` equal to `max_attempts`), it is
///   `dead`: it stays in the table and is never claimed again.
/// - Either way, `last_error` is `error`, and the lease is gone.
pub fn fail(db: &Connection, job: &Job, now: i64, error: &str) -> rusqlite::Result<bool> {
    // TODO: queue the job again after its backoff, or make it dead after
    // its last attempt, keeping `error`; only if it is still running with
    // the attempts of this claim. Say whether it was.
    let _ = (db, job, now, error);
    todo!()
}

/// How long a job waits after its `attempts`-th attempt failed, in seconds:
/// 1 after the first, then twice as long after each further one (2, 4, 8
/// ...), and never more than [`BACKOFF_CAP`]. `attempts` is 1 or more.
pub fn backoff(attempts: i64) -> i64 {
    // TODO: 1, 2, 4, 8 ... seconds, never more than BACKOFF_CAP, for any
    // number of attempts.
    let _ = attempts;
    todo!()
}

/// What a job does: given the worker's connection and the claimed job,
/// `Ok` when the work is done, or the error to record.
pub type Handler = Arc<dyn Fn(&Connection, &Job) -> Result<(), String> + Send + Sync>;

/// The shop's handler: [`send_confirmation`] for an order confirmation, an
/// error for any other kind.
pub fn shop_handler() -> Handler {
    Arc::new(|db: &Connection, job: &Job| match job.kind.as_str() {
        ORDER_CONFIRMATION => send_confirmation(db, job),
        other => Err(format!("no handler for jobs of kind {other:?}")),
    })
}

/// One step of a worker: claims the job due at `now` (for `lease`
/// seconds), runs `handler` on it, and completes it if the handler
/// succeeded or fails it with the handler's error. Returns the id of the
/// job it ran, or `None` if no job was due.
pub fn run_once(
    db: &Connection,
    now: i64,
    lease: i64,
    handler: &Handler,
) -> rusqlite::Result<Option<i64>> {
    // TODO: claim the due job, run the handler on it, then complete it or
    // fail it with the handler's error; return its id (`None`: none due).
    let _ = (db, now, lease, handler, claim, complete, fail);
    todo!()
}

/// A worker: runs the due jobs of the queue in the file at `path`, one at a
/// time, on a connection of its own.
pub struct Worker {
    pub path: PathBuf,
    /// Where the worker reads the time: its `now` for every claim.
    pub clock: Clock,
    /// How long a claim holds a job, in seconds.
    pub lease: i64,
    /// How long the worker waits before it looks again when no job was due.
    pub poll: Duration,
    pub handler: Handler,
}

impl Worker {
    /// Runs jobs until the task running it is aborted (or the runtime stops).
    ///
    /// - The worker opens its own connection with [`open`], and returns an
    ///   error only if it cannot.
    /// - Every SQLite call and every handler runs on tokio's blocking
    ///   threads, never on the async ones.
    /// - After a step that ran a job the worker looks for the next one at
    ///   once; when none was due it waits `poll` first. A step that failed
    ///   (an error from SQLite, a handler that panicked) is logged, and the
    ///   worker carries on: the job's lease brings it back.
    pub async fn run(self) -> rusqlite::Result<()> {
        // TODO: on a connection of the worker's own, run one step after
        // another off the async threads, reading the clock for every step;
        // wait `poll` after a step that found no job due, and carry on
        // after a step that failed.
        let _ = (self.path, self.clock, self.lease, self.poll, self.handler);
        let _ = run_once;
        todo!()
    }
}

/// Runs `work` on tokio's blocking threads; a panic continues in the caller.
async fn blocking<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// A confirmation email, as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Email {
    pub order_id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// The confirmation email of order `order_id`: to its customer, with its
/// items and total, or `None` if there is no such order.
pub fn confirmation_email(db: &Connection, order_id: i64) -> rusqlite::Result<Option<Email>> {
    let order = db
        .query_row(
            "SELECT customers.email, customers.name, orders.total_cents
             FROM orders JOIN customers ON customers.id = orders.customer_id
             WHERE orders.id = ?1",
            [order_id],
            |row| {
                let (email, name, total): (String, String, i64) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                Ok((email, name, total))
            },
        )
        .optional()?;
    let Some((recipient, name, total_cents)) = order else {
        return Ok(None);
    };
    let mut statement = db.prepare(
        "SELECT order_items.quantity, products.name, order_items.price_cents
         FROM order_items JOIN products ON products.id = order_items.product_id
         WHERE order_items.order_id = ?1 ORDER BY products.id",
    )?;
    let lines = statement
        .query_map([order_id], |row| {
            let (quantity, name, price): (i64, String, i64) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            Ok(format!("{quantity} x {name} at {}", money(price)))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let body = format!(
        "Hello {name},\nthank you for your order #{order_id}:\n{}\nTotal: {}\n",
        lines.join("\n"),
        money(total_cents)
    );
    Ok(Some(Email {
        order_id,
        recipient,
        subject: format!("Your order #{order_id}"),
        body,
    }))
}

/// 1250 cents as `12.50`.
fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The handler of an [`ORDER_CONFIRMATION`] job, whose payload is
/// `{"order_id": 7}`: writes the order's [`confirmation_email`] to the
/// outbox.
///
/// It may run more than once for the same order (a worker can die after
/// writing the email and before completing the job): the outbox then still
/// holds one email for the order, and the handler succeeds again. A payload
/// without an order id, or an order that does not exist, is an error.
pub fn send_confirmation(db: &Connection, job: &Job) -> Result<(), String> {
    // TODO: write the order's confirmation email to the outbox, once per
    // order however often this runs; an error if there is no such order.
    let _ = (db, job, confirmation_email);
    todo!()
}

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

/// What placing an order came to: the order, or the problem that refused
/// it (its status, title and detail).
pub enum Placed {
    Order(Order),
    Refused(StatusCode, &'static str, String),
}

/// Places `new_order` at `now` (Unix seconds), in one transaction: checks
/// the customer, the products and their stock, takes the stock, stores the
/// order, and enqueues its confirmation (an [`ORDER_CONFIRMATION`] job with
/// the payload `{"order_id": ID}`, due at `now`, tried at most
/// [`MAX_ATTEMPTS`] times). Either all of it is stored, or none of it: a
/// refused order, or any error, leaves the database as it was.
pub fn place_order(
    db: &mut Connection,
    new_order: &NewOrder,
    now: i64,
) -> rusqlite::Result<Placed> {
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if new_order.items.is_empty() {
        let detail = "An order needs at least one item.".to_string();
        return Ok(Placed::Refused(
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
        return Ok(Placed::Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unknown customer",
            detail,
        ));
    }
    let mut items: Vec<Item> = Vec::new();
    for item in &new_order.items {
        if item.quantity < 1 || items.iter().any(|i| i.product_id == item.product_id) {
            let detail = "Each product appears once, with a quantity of at least 1.".to_string();
            return Ok(Placed::Refused(
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
            return Ok(Placed::Refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unknown product",
                detail,
            ));
        };
        if stock < item.quantity {
            let detail = format!("Only {stock} of product {} left.", item.product_id);
            return Ok(Placed::Refused(
                StatusCode::CONFLICT,
                "Out of stock",
                detail,
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
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', ?3, 'unixepoch'))
         RETURNING id, created_at",
        params![new_order.customer_id, total_cents, now],
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
    // TODO: the order's confirmation job must be stored with the order: both
    // are stored, or neither is.
    tx.commit()?;
    Ok(Placed::Order(Order {
        id,
        customer_id: new_order.customer_id,
        status: "pending".to_string(),
        items,
        total_cents,
        created_at,
    }))
}

/// Job `id` as `GET /jobs/{id}` shows it, times as RFC 3339 text, or
/// `None` if there is no such job.
pub fn job_json(db: &Connection, id: i64) -> rusqlite::Result<Option<serde_json::Value>> {
    db.query_row(
        "SELECT kind, payload, state, attempts, max_attempts,
                strftime('%Y-%m-%dT%H:%M:%SZ', run_at, 'unixepoch'),
                strftime('%Y-%m-%dT%H:%M:%SZ', locked_until, 'unixepoch'),
                last_error
         FROM jobs WHERE id = ?1",
        [id],
        |row| {
            let payload: String = row.get(1)?;
            let payload: serde_json::Value =
                serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
            Ok(json!({
                "id": id,
                "kind": row.get::<_, String>(0)?,
                "payload": payload,
                "state": row.get::<_, String>(2)?,
                "attempts": row.get::<_, i64>(3)?,
                "max_attempts": row.get::<_, i64>(4)?,
                "run_at": row.get::<_, String>(5)?,
                "locked_until": row.get::<_, Option<String>>(6)?,
                "last_error": row.get::<_, Option<String>>(7)?,
            }))
        },
    )
    .optional()
}

/// Every email in the outbox, oldest first.
pub fn outbox(db: &Connection) -> rusqlite::Result<Vec<Email>> {
    let mut statement =
        db.prepare("SELECT order_id, recipient, subject, body FROM outbox ORDER BY id")?;
    statement
        .query_map([], |row| {
            Ok(Email {
                order_id: row.get(0)?,
                recipient: row.get(1)?,
                subject: row.get(2)?,
                body: row.get(3)?,
            })
        })?
        .collect()
}

/// The shop: its database file and its clock.
#[derive(Clone)]
pub struct Shop {
    pub path: PathBuf,
    pub clock: Clock,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, reading the time from `clock`.
    pub fn open(path: &Path, clock: Clock) -> rusqlite::Result<Shop> {
        create_schema(&open(path)?)?;
        Ok(Shop {
            path: path.to_path_buf(),
            clock,
        })
    }

    /// Runs `work` on a new connection, on tokio's blocking threads.
    pub async fn run<T, F>(&self, work: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let path = self.path.clone();
        blocking(move || work(&mut open(&path)?)).await
    }
}

/// The shop's orders, and a look into its queue:
///
/// | request            | answer                                                     |
/// | ------------------ | ---------------------------------------------------------- |
/// | `POST /orders`     | `201 Created`, `Location`, the order; its job is enqueued  |
/// | `GET /jobs/{id}`   | `200 OK`, the job; `404` if there is none                  |
/// | `GET /outbox`      | `200 OK`, every email written, oldest first                |
///
/// A refused order answers `422` or `409` with a problem details body; a
/// database error `500`.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/orders", post(post_order))
        .route("/jobs/{id}", get(get_job))
        .route("/outbox", get(get_outbox))
        .with_state(shop)
}

async fn post_order(State(shop): State<Shop>, Json(new_order): Json<NewOrder>) -> Response {
    let now = shop.clock.now();
    match shop.run(move |db| place_order(db, &new_order, now)).await {
        Ok(Placed::Order(order)) => {
            let location = format!("/orders/{}", order.id);
            let mut response = (StatusCode::CREATED, Json(order)).into_response();
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(LOCATION, location);
            }
            response
        }
        Ok(Placed::Refused(status, title, detail)) => problem(status, title, &detail),
        Err(error) => internal_error(&error),
    }
}

async fn get_job(State(shop): State<Shop>, UrlPath(id): UrlPath<i64>) -> Response {
    match shop.run(move |db| job_json(db, id)).await {
        Ok(Some(job)) => Json(job).into_response(),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("There is no job {id}."),
        ),
        Err(error) => internal_error(&error),
    }
}

async fn get_outbox(State(shop): State<Shop>) -> Response {
    match shop.run(|db| outbox(db)).await {
        Ok(emails) => Json(emails).into_response(),
        Err(error) => internal_error(&error),
    }
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
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
