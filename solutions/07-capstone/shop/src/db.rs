//! The database: one SQLite file, reached from async handlers on blocking
//! threads (lesson database/async-access).
//!
//! SQLite lets many connections read at once (WAL) but only one write.
//! Writers queue on an async mutex in the process, in arrival order, rather
//! than in SQLite's busy handler, whose sleeps let an unlucky writer wait
//! far longer than its turn; the busy timeout stays as a safety net for
//! anything else that holds the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// How long a connection waits for a lock held elsewhere before
/// "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections kept for reuse; more are opened when needed.
const POOL_SIZE: usize = 16;

/// The tables, created if the file does not have them yet.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL,
    -- the email trimmed and in ASCII lower case: what makes two the same
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS products (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    -- one more on every change of the representation: the ETag
    version     INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS discount_codes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    code             TEXT NOT NULL UNIQUE,
    percent_off      INTEGER,
    amount_off_cents INTEGER,
    expires_at_ms    INTEGER,
    max_uses         INTEGER,
    -- paid orders that used the code
    uses             INTEGER NOT NULL DEFAULT 0,
    -- checkouts holding a use while their payment runs
    reserved         INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cart_items (
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    product_id  INTEGER NOT NULL REFERENCES products (id),
    quantity    INTEGER NOT NULL,
    PRIMARY KEY (customer_id, product_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id    INTEGER NOT NULL REFERENCES customers (id),
    status         TEXT NOT NULL
                   CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
    subtotal_cents INTEGER NOT NULL,
    discount_code  TEXT,
    discount_cents INTEGER NOT NULL,
    total_cents    INTEGER NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, id);
CREATE TABLE IF NOT EXISTS order_items (
    order_id    INTEGER NOT NULL REFERENCES orders (id),
    product_id  INTEGER NOT NULL REFERENCES products (id),
    quantity    INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    PRIMARY KEY (order_id, product_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS order_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    status   TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events (order_id, id);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    customer_id  INTEGER NOT NULL REFERENCES customers (id),
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    -- NULL while the first request with the key runs; then its answer
    status       INTEGER,
    content_type TEXT,
    location     TEXT,
    body         BLOB,
    PRIMARY KEY (customer_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    run_at_ms       INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER,
    done_at_ms      INTEGER,
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs (done_at_ms, run_at_ms);
CREATE TABLE IF NOT EXISTS emails (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    kind       TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- however often a job runs, an order gets one email of each kind
    UNIQUE (order_id, kind)
);
";

/// The shop's database: where the file is, idle connections, and the
/// queue of writers.
#[derive(Clone)]
pub struct Db {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl Db {
    /// Opens (creating it if needed) the file at `path` and its tables.
    pub fn open(path: &Path) -> rusqlite::Result<Db> {
        let db = Db {
            path: Arc::new(path.to_path_buf()),
            idle: Arc::default(),
            writer: Arc::default(),
        };
        let conn = db.connect()?;
        // WAL is a property of the file: readers never wait for the writer.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SCHEMA)?;
        db.put_back(conn);
        Ok(db)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(self.path.as_path())?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(conn)
    }

    fn take(&self) -> rusqlite::Result<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }

    /// Runs `work` with a connection on a blocking thread: for reads, which
    /// never wait for writers.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let db = self.clone();
        blocking(move || {
            let conn = db.take()?;
            let outcome = work(&conn);
            db.put_back(conn);
            outcome
        })
        .await
    }

    /// Runs `work` in one `IMMEDIATE` transaction (it takes SQLite's write
    /// lock at `BEGIN`, so what it reads cannot change before it writes):
    /// committed if `work` returns `Ok`, rolled back otherwise. Writers
    /// take their turns in the order they came.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let _turn = self.writer.lock().await;
        let db = self.clone();
        blocking(move || {
            let mut conn = db.take()?;
            let outcome = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            })();
            db.put_back(conn);
            outcome
        })
        .await
    }
}

/// Runs `work` on tokio's blocking threads. A panic there is reported as a
/// failed query: the request gets a `500`, the shop keeps running.
async fn blocking<T, E, F>(work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<rusqlite::Error> + Send + 'static,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(outcome) => outcome,
        Err(join_error) => Err(E::from(rusqlite::Error::ToSqlConversionFailure(Box::new(
            join_error,
        )))),
    }
}
