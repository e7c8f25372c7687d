//! # production/scaling — Two instances, one shop
//!
//! This shop works, as long as it runs once. It keeps four things in the
//! memory of its process: who is logged in (sessions), which
//! `Idempotency-Key`s it has answered, how many times each account tried a
//! password, and which jobs it handed out. Start it twice on one database,
//! put a load balancer in front, and a customer logged in on one instance
//! is a stranger to the other, a retried order is placed twice, a password
//! guesser gets twice the tries, and two workers send the same email.
//!
//! Move each of the four into the shared database, so that any number of
//! instances behave as one shop, also when requests reach them at the same
//! moment. The book's section "Two instances, one shop" explains what to
//! share, where, and how.
//!
//! Run `cargo checker check` when you think you are done.

use std::collections::HashMap;
use std::hash::Hasher as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The name of the cookie that carries the session id.
pub const SESSION_COOKIE: &str = "session";

/// How long a session lasts after its login, in seconds: one hour.
pub const SESSION_TTL: i64 = 60 * 60;

/// How many login attempts an account gets in one window.
pub const MAX_LOGIN_ATTEMPTS: i64 = 5;

/// How long a window of login attempts lasts, in seconds: 15 minutes.
pub const LOGIN_WINDOW: i64 = 15 * 60;

/// How long a claimed job belongs to the worker that claimed it, in
/// seconds: if the worker has not finished it by then, it is presumed dead
/// and the job may be claimed again.
pub const JOB_LEASE: i64 = 60;

/// How many times an order's confirmation job may run.
pub const CONFIRMATION_ATTEMPTS: i64 = 5;

/// The longest `Idempotency-Key` the shop takes, in bytes.
pub const MAX_KEY_LENGTH: usize = 255;

// ANCHOR: clock
/// Where the shop reads the time: Unix seconds. The system's clock in
/// production; in the tests, one clock that both instances read and the
/// test moves forward.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system's clock.
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

    /// The time now, in Unix seconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}
// ANCHOR_END: clock

// ANCHOR: shop
/// One instance of the shop: the database file it shares with every other
/// instance, and its clock. Cloning it is cheap; every request of this
/// instance gets a clone.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    clock: Clock,
    /// Called whenever a connection of the shop starts waiting for a lock
    /// another connection holds (the tests watch it).
    on_lock_wait: Option<Arc<dyn Fn() + Send + Sync>>,
    /// What this instance remembers in its own memory.
    // TODO: nothing that another instance must know may stay here.
    memory: Arc<Memory>,
}

impl Shop {
    /// An instance of the shop on the SQLite file at `path`, created with
    /// the schema if needed, in WAL mode, reading the time from `clock`.
    /// Two calls with the same path are two instances of one shop, as two
    /// processes on one machine would be.
    pub fn open(path: &Path, clock: Clock) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
            clock,
            on_lock_wait: None,
            memory: Arc::new(Memory::default()),
        })
    }
    // ANCHOR_END: shop

    /// The same instance, calling `watcher` whenever one of its connections
    /// starts waiting for another connection's lock.
    pub fn on_lock_wait(self, watcher: impl Fn() + Send + Sync + 'static) -> Shop {
        Shop {
            on_lock_wait: Some(Arc::new(watcher)),
            ..self
        }
    }

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

    // ANCHOR: sessions
    /// Starts a session for `customer_id`, valid for [`SESSION_TTL`] seconds
    /// from now, and returns its id.
    async fn start_session(&self, customer_id: i64) -> rusqlite::Result<String> {
        // TODO: the session must be known to every instance of the shop,
        // not only to this one, and outlive this instance.
        let id = new_session_id();
        let expires_at = self.clock.now() + SESSION_TTL;
        let mut sessions = lock(&self.memory.sessions);
        sessions.insert(id.clone(), (customer_id, expires_at));
        Ok(id)
    }

    /// The customer of session `id`, if it exists and has not expired: a
    /// session is valid while now is before its `expires_at`.
    async fn session_customer(&self, id: String) -> rusqlite::Result<Option<Customer>> {
        // TODO: every instance must find a session that any instance
        // started, and none may find one that any instance ended.
        let now = self.clock.now();
        let customer_id = match lock(&self.memory.sessions).get(&id) {
            Some(&(customer_id, expires_at)) if now < expires_at => customer_id,
            _ => return Ok(None),
        };
        self.run(move |db| {
            db.query_row(
                "SELECT id, email, name FROM customers WHERE id = ?1",
                [customer_id],
                Customer::from_row,
            )
            .optional()
        })
        .await
    }

    /// Ends session `id`, if there is one.
    async fn end_session(&self, id: String) -> rusqlite::Result<()> {
        // TODO: once this returns, no instance may accept session `id`.
        lock(&self.memory.sessions).remove(&id);
        Ok(())
    }
    // ANCHOR_END: sessions

    // ANCHOR: attempts
    /// Counts a login attempt on `account` now, and says whether it may go
    /// ahead: `Ok(())` for the first [`MAX_LOGIN_ATTEMPTS`] attempts of a
    /// window, `Err(seconds)` until the window is over for every attempt
    /// after them. A window opens with the first attempt after the last
    /// one ended, and lasts [`LOGIN_WINDOW`] seconds.
    async fn login_attempt(&self, account: String) -> rusqlite::Result<Result<(), i64>> {
        // TODO: the attempts on an account must be counted over all the
        // instances together: the sixth attempt of a window is refused
        // whichever instance it reaches, also when attempts arrive at once.
        let now = self.clock.now();
        let mut windows = lock(&self.memory.attempts);
        let (window_start, attempts) = windows.entry(account).or_insert((now, 0));
        if *window_start + LOGIN_WINDOW <= now {
            (*window_start, *attempts) = (now, 0);
        }
        *attempts += 1;
        if *attempts <= MAX_LOGIN_ATTEMPTS {
            Ok(Ok(()))
        } else {
            Ok(Err(*window_start + LOGIN_WINDOW - now))
        }
    }

    /// A successful login on `account` starts its count again.
    async fn login_succeeded(&self, account: String) -> rusqlite::Result<()> {
        // TODO: the count starts again for every instance.
        lock(&self.memory.attempts).remove(&account);
        Ok(())
    }
    // ANCHOR_END: attempts

    // ANCHOR: idempotent
    /// Runs `operation` once per `key`: the first request with `key` runs
    /// it and stores its response with `fingerprint`; a later request with
    /// the same key and fingerprint gets the stored response again, marked
    /// `Idempotent-Replayed: true`; with another fingerprint, `422`. A
    /// request that arrives while the first is running waits for it.
    async fn idempotent<F>(&self, key: String, fingerprint: String, operation: F) -> Response
    where
        F: FnOnce(&Transaction, i64) -> rusqlite::Result<Stored> + Send + 'static,
    {
        // TODO: a key must mean one operation for the whole shop: the same
        // key sent to two instances, one after the other or at the same
        // moment, runs the operation once, and every caller gets its
        // response. Keys, like orders, must outlive this instance.
        let now = self.clock.now();
        // Held until the response is stored: keyed requests take turns.
        let mut keys = self.memory.keys.lock().await;
        let outcome = match keys.get(&key) {
            Some((stored_fingerprint, response)) if *stored_fingerprint == fingerprint => {
                Ok(Outcome::Replayed(response.clone()))
            }
            Some(_) => Ok(Outcome::KeyReused),
            None => {
                let ran = self
                    .run(move |db| {
                        let tx = db.transaction()?;
                        let response = operation(&tx, now)?;
                        tx.commit()?;
                        Ok(response)
                    })
                    .await;
                ran.map(|response| {
                    keys.insert(key, (fingerprint, response.clone()));
                    Outcome::Fresh(response)
                })
            }
        };
        match outcome {
            Ok(Outcome::Fresh(response)) => response.to_response(),
            Ok(Outcome::Replayed(response)) => replayed(response.to_response()),
            Ok(Outcome::KeyReused) => key_reused(),
            Err(error) => internal_error(&error),
        }
    }
    // ANCHOR_END: idempotent

    // ANCHOR: claim
    /// Hands out one due job, or `None`: a queued job whose `run_at` has
    /// come, or a running job whose lease has expired (its worker died).
    /// The job becomes `running`, with one more attempt and a lease of
    /// [`JOB_LEASE`] seconds from now. No job is ever handed out twice
    /// while its lease runs, whichever instance is asked.
    async fn claim_job(&self) -> rusqlite::Result<Option<Job>> {
        // TODO: a claim must hold for every instance: a job handed out by
        // one is not handed out by another until its lease has expired,
        // even when claims reach both at the same moment. The database
        // must show each job's state, attempts and lease.
        let now = self.clock.now();
        let due = self
            .run(move |db| {
                let mut statement = db.prepare(
                    "SELECT id, kind, payload, attempts FROM jobs
                     WHERE state = 'queued' AND run_at <= ?1
                     ORDER BY run_at, id",
                )?;
                let jobs = statement.query_map([now], Job::from_row)?;
                jobs.collect::<rusqlite::Result<Vec<Job>>>()
            })
            .await?;
        let mut claimed = lock(&self.memory.claimed);
        for mut job in due {
            let (locked_until, attempts) = claimed.entry(job.id).or_insert((now, job.attempts));
            if *locked_until <= now {
                *locked_until = now + JOB_LEASE;
                *attempts += 1;
                job.attempts = *attempts;
                return Ok(Some(job));
            }
        }
        Ok(None)
    }
    // ANCHOR_END: claim
}

// ANCHOR: memory
/// What one instance keeps in its own memory, where no other instance can
/// see it. Each [`Shop::open`] makes a new one: two instances, two memories.
#[derive(Default)]
struct Memory {
    /// Session id → (customer id, expires at).
    sessions: Mutex<HashMap<String, (i64, i64)>>,
    /// Idempotency key → (fingerprint, stored response). An async mutex,
    /// held for the whole of a keyed request: keyed requests to this
    /// instance take turns.
    keys: tokio::sync::Mutex<HashMap<String, (String, Stored)>>,
    /// Account → (start of its window, attempts in it).
    attempts: Mutex<HashMap<String, (i64, i64)>>,
    /// Job id → (end of its lease, attempts), for the jobs this instance
    /// handed out.
    claimed: Mutex<HashMap<i64, (i64, i64)>>,
}
// ANCHOR_END: memory

/// Locks `mutex`, also if a thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What happened to a request with an `Idempotency-Key`.
enum Outcome {
    /// First seen: the operation ran, this is its response (now stored).
    Fresh(Stored),
    /// Seen before, with the same fingerprint: the stored response.
    Replayed(Stored),
    /// Seen before with another fingerprint.
    KeyReused,
}

/// Creates the shop's tables, if they do not exist yet.
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
        -- ANCHOR: shared_tables
        -- Lesson 04's sessions: the id is the cookie's value.
        CREATE TABLE IF NOT EXISTS sessions (
            id          TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            expires_at  INTEGER NOT NULL                -- Unix seconds
        ) STRICT;
        -- Lesson 03's keys: each with the response its first request got.
        CREATE TABLE IF NOT EXISTS idempotency_keys (
            key          TEXT PRIMARY KEY,
            fingerprint  TEXT NOT NULL,                 -- method, path and body
            status       INTEGER NOT NULL,
            content_type TEXT NOT NULL,
            location     TEXT,
            body         TEXT NOT NULL,
            created_at   TEXT NOT NULL
        ) STRICT;
        -- Lesson 05's login limit: one window per account.
        CREATE TABLE IF NOT EXISTS login_attempts (
            account      TEXT PRIMARY KEY,              -- the email, trimmed, in lowercase
            window_start INTEGER NOT NULL,              -- Unix seconds: the window's first attempt
            attempts     INTEGER NOT NULL               -- in this window, refused ones included
        ) STRICT;
        -- ANCHOR_END: shared_tables
        ",
    )
}

/// Adds a customer with `password` and returns their id.
pub fn add_customer(
    db: &Connection,
    email: &str,
    name: &str,
    password: &str,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name, password_hash) VALUES (?1, ?2, ?3)",
        params![email, name, stand_in_hash(password)],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a product and returns its id.
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

/// Queues a job of `kind` with `payload` (JSON text), due at `run_at` (Unix
/// seconds), and returns its id.
pub fn enqueue_job(
    db: &Connection,
    kind: &str,
    payload: &str,
    run_at: i64,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO jobs (kind, payload, max_attempts, run_at) VALUES (?1, ?2, ?3, ?4)",
        params![kind, payload, CONFIRMATION_ATTEMPTS, run_at],
    )?;
    Ok(db.last_insert_rowid())
}

/// A stand-in for lesson 04's argon2id, whose crate this lesson does not
/// build: std's SipHash of a random salt and the password, as
/// `sip$SALT$HASH` in hex. It is fast, which is exactly what a password
/// hash must not be: never store passwords like this outside an exercise.
fn stand_in_hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system gives random bytes");
    let salt = hex(&salt);
    format!("sip${salt}${:016x}", sip_hash(&salt, password))
}

fn sip_hash(salt: &str, password: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(salt.as_bytes());
    hasher.write_u8(0xff);
    hasher.write(password.as_bytes());
    hasher.finish()
}

/// Whether `password` is the one `hash` was made from.
fn verify_password(password: &str, hash: &str) -> bool {
    let mut parts = hash.split('$');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("sip"), Some(salt), Some(expected), None) => {
            format!("{:016x}", sip_hash(salt, password)) == expected
        }
        _ => false,
    }
}

/// Bytes as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A new session id: 32 bytes (256 bits) from the operating system's
/// cryptographically secure random number generator, as 64 hex digits.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    hex(&bytes)
}

/// The account an email stands for: ` Ada@Example.com` is `ada@example.com`.
pub fn account(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A customer, as `POST /login` and `GET /me` answer it:
/// `{"id": 1, "email": "ada@example.com", "name": "Ada"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
}

impl Customer {
    /// A customer from a row of `id, email, name`.
    fn from_row(row: &Row) -> rusqlite::Result<Customer> {
        Ok(Customer {
            id: row.get(0)?,
            email: row.get(1)?,
            name: row.get(2)?,
        })
    }
}

/// The customer whose email (trimmed, in any case) and password these are,
/// or `None`.
fn authenticate(
    db: &Connection,
    email: &str,
    password: &str,
) -> rusqlite::Result<Option<Customer>> {
    let found = db
        .query_row(
            "SELECT id, email, name, password_hash FROM customers WHERE email = ?1",
            [email.trim()],
            |row| Ok((Customer::from_row(row)?, row.get::<_, String>(3)?)),
        )
        .optional()?;
    Ok(found.and_then(|(customer, hash)| verify_password(password, &hash).then_some(customer)))
}

/// A job, as `POST /jobs/claim` hands it out:
/// `{"id": 1, "kind": "order_confirmation", "payload": {"order_id": 7}, "attempts": 1}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// How many times the job has been claimed, this time included.
    pub attempts: i64,
}

impl Job {
    /// A job from a row of `id, kind, payload, attempts`.
    fn from_row(row: &Row) -> rusqlite::Result<Job> {
        let payload: String = row.get(2)?;
        Ok(Job {
            id: row.get(0)?,
            kind: row.get(1)?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            attempts: row.get(3)?,
        })
    }
}

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

/// Places `new_order` inside `tx` at `now` (Unix seconds): checks the
/// customer, the products and their stock, takes the stock, stores the
/// order and queues its confirmation job. Answers `201` with the order and
/// its `Location`, or the problem that refused it (`422` for an unknown
/// customer or product, `409` when stock is short); a refused order
/// changes nothing.
pub fn create_order(tx: &Transaction, new_order: &NewOrder, now: i64) -> rusqlite::Result<Stored> {
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
    let payload = json!({ "order_id": id }).to_string();
    enqueue_job(tx, "order_confirmation", &payload, now)?;
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
/// One instance of the shop, on the database and clock of `shop`:
///
/// | request            | answer                                                                 |
/// | ------------------ | ---------------------------------------------------------------------- |
/// | `POST /login`      | `200 OK`, the customer, a session cookie; `401` for a wrong email or password; `429` with `Retry-After` once the account has no attempt left |
/// | `GET /me`          | `200 OK`, the customer of the session cookie; `401` without a valid session |
/// | `POST /logout`     | `204 No Content`; the session is over, on every instance               |
/// | `POST /orders`     | `201 Created`, `Location`, the order; needs an `Idempotency-Key`       |
/// | `GET /orders/{id}` | `200 OK`, the order; `404` if there is none                            |
/// | `POST /jobs/claim` | `200 OK`, a due job, now leased to the caller; `204` when none is due  |
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/orders", post(post_order))
        .route("/orders/{id}", get(get_order))
        .route("/jobs/claim", post(claim))
        .with_state(shop)
}
// ANCHOR_END: app

/// The body of `POST /login`.
#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

async fn login(
    State(shop): State<Shop>,
    credentials: Result<Json<Credentials>, JsonRejection>,
) -> Response {
    let Ok(Json(credentials)) = credentials else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Content",
            "Send {\"email\": \"...\", \"password\": \"...\"} as JSON.",
        );
    };
    let account = account(&credentials.email);
    // Counted before the password is checked: a refused attempt never
    // reaches the password, right or wrong.
    match shop.login_attempt(account.clone()).await {
        Ok(Ok(())) => {}
        Ok(Err(seconds)) => return too_many_attempts(seconds),
        Err(error) => return internal_error(&error),
    }
    let Credentials { email, password } = credentials;
    let checked = shop
        .run(move |db| authenticate(db, &email, &password))
        .await;
    let customer = match checked {
        Ok(Some(customer)) => customer,
        Ok(None) => return invalid_credentials(),
        Err(error) => return internal_error(&error),
    };
    if let Err(error) = shop.login_succeeded(account).await {
        return internal_error(&error);
    }
    match shop.start_session(customer.id).await {
        Ok(id) => {
            let cookie = format!(
                "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={SESSION_TTL}"
            );
            let mut response = Json(customer).into_response();
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => internal_error(&error),
    }
}

async fn me(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    let Some(id) = session_id(&headers) else {
        return session_over();
    };
    match shop.session_customer(id).await {
        Ok(Some(customer)) => Json(customer).into_response(),
        Ok(None) => session_over(),
        Err(error) => internal_error(&error),
    }
}

async fn logout(State(shop): State<Shop>, headers: HeaderMap) -> Response {
    if let Some(id) = session_id(&headers)
        && let Err(error) = shop.end_session(id).await
    {
        return internal_error(&error);
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// The session id of the request's `session` cookie, if it sends one.
fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
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
        Err(refusal) => return *refusal,
    };
    let fingerprint = format!(
        "{method} {}\n{}",
        uri.path(),
        String::from_utf8_lossy(&body)
    );
    let new_order: NewOrder = match serde_json::from_slice(&body) {
        Ok(new_order) => new_order,
        Err(error) => {
            let detail = format!("The body is not an order: {error}.");
            return problem(StatusCode::BAD_REQUEST, "Invalid body", &detail);
        }
    };
    shop.idempotent(key, fingerprint, move |tx, now| {
        create_order(tx, &new_order, now)
    })
    .await
}

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

async fn claim(State(shop): State<Shop>) -> Response {
    match shop.claim_job().await {
        Ok(Some(job)) => Json(job).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => internal_error(&error),
    }
}

/// The request's `Idempotency-Key`: present, 1 to [`MAX_KEY_LENGTH`] bytes
/// of visible ASCII. Otherwise the `400` to answer.
fn idempotency_key(headers: &HeaderMap) -> Result<String, Box<Response>> {
    let Some(value) = headers.get("idempotency-key") else {
        let detail = "This request needs an Idempotency-Key header.";
        let missing = problem(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key is missing",
            detail,
        );
        return Err(Box::new(missing));
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LENGTH => Ok(key.to_string()),
        _ => {
            let detail = "An Idempotency-Key is 1 to 255 characters of visible ASCII.";
            let invalid = problem(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key is invalid",
                detail,
            );
            Err(Box::new(invalid))
        }
    }
}

/// A replayed response, marked `Idempotent-Replayed: true`.
fn replayed(mut response: Response) -> Response {
    let replayed = HeaderValue::from_static("true");
    response
        .headers_mut()
        .insert("idempotent-replayed", replayed);
    response
}

/// `422`: the key was first sent with another request.
fn key_reused() -> Response {
    let detail = "This Idempotency-Key was sent with a different request.";
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Idempotency-Key is already used",
        detail,
    )
}

/// `401 Unauthorized`: the same for an unknown email and a wrong password.
fn invalid_credentials() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "The email or the password is wrong.",
    )
}

/// `401 Unauthorized`: no session, or one that is over.
fn session_over() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "The session has ended or never existed: log in again.",
    )
}

/// `429 Too Many Requests` with `Retry-After: seconds` (RFC 6585, RFC 9110).
fn too_many_attempts(seconds: i64) -> Response {
    let mut response = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "Too many login attempts on this account: try again later.",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds.max(0)));
    response
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
