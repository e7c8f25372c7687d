//! # database/migrations — reference solution

use std::fmt;

use rusqlite::{Connection, TransactionBehavior};

// ANCHOR: migrations
/// The shop's schema, as the list of changes that built it, oldest first.
/// Migration `n` (counting from 1) takes a database from version `n - 1` to
/// version `n`: a new, empty database is at version 0, and one that has
/// run all of these is at version `MIGRATIONS.len()`.
///
/// A migration, once released, is never edited: a later change to the
/// schema is a new migration, added at the end.
pub const MIGRATIONS: &[&str] = &[
    // 1: customers.
    "CREATE TABLE customers (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL
    );",
    // 2: customers get an email address; the ones who exist already have none.
    "ALTER TABLE customers ADD COLUMN email TEXT;
     CREATE UNIQUE INDEX customers_by_email ON customers (email);",
    // 3: orders.
    "CREATE TABLE orders (
        id          INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customers (id),
        total_cents INTEGER NOT NULL CHECK (total_cents >= 0)
    );
     CREATE INDEX orders_by_customer ON orders (customer_id);",
];
// ANCHOR_END: migrations

// ANCHOR: error
/// Why [`migrate`] stopped.
#[derive(Debug)]
pub enum MigrationError {
    /// Migration number `version` (counting from 1, so the version it would
    /// have produced) failed with `cause`. Nothing of it was kept: the
    /// database is at version `version - 1`, with the schema and data it had
    /// at that version.
    Failed {
        version: u32,
        cause: rusqlite::Error,
    },
    /// The database is at version `found`, but only `known` migrations are
    /// known: a newer release of the program has migrated it. Nothing was
    /// changed.
    TooNew { found: u32, known: u32 },
    /// SQLite failed outside of any migration (reading the version, beginning
    /// or committing a transaction...).
    Database(rusqlite::Error),
}
// ANCHOR_END: error

/// Lets `?` turn a `rusqlite::Error` into a `MigrationError::Database`.
impl From<rusqlite::Error> for MigrationError {
    fn from(cause: rusqlite::Error) -> Self {
        MigrationError::Database(cause)
    }
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrationError::Failed { version, cause } => {
                write!(f, "migration {version} failed: {cause}")
            }
            MigrationError::TooNew { found, known } => write!(
                f,
                "the database is at version {found}, but this program knows only {known} migrations"
            ),
            MigrationError::Database(cause) => write!(f, "database error: {cause}"),
        }
    }
}

impl std::error::Error for MigrationError {}

// ANCHOR: migrate
/// Brings `db` up to date with `migrations` and returns how many it ran.
///
/// The database's version is its `PRAGMA user_version` (0 in a new
/// database). `migrate` runs, in order, every migration whose number is
/// higher than that version, and after each one the version is that
/// migration's number. A migration may hold several SQL statements.
///
/// - An up-to-date database is left alone: `Ok(0)`. Running `migrate`
///   twice in a row is harmless.
/// - Each migration is all or nothing: its statements and its new version
///   are committed together, or not at all. If migration `n` fails,
///   `migrate` stops with [`MigrationError::Failed`] `{ version: n, .. }`;
///   the migrations before it stay applied (the database is at version
///   `n - 1`), and no trace of migration `n` remains, in the schema, the
///   data or the version.
/// - A database whose version is higher than `migrations.len()` is refused
///   with [`MigrationError::TooNew`], and left untouched.
/// - Another program may be migrating the same file at the same time (two
///   instances of a server starting together). While it holds the write
///   lock, `migrate` waits for it (up to the connection's busy timeout),
///   then carries on from the version that program left: no migration runs
///   twice.
pub fn migrate(db: &mut Connection, migrations: &[&str]) -> Result<usize, MigrationError> {
    let known = u32::try_from(migrations.len()).expect("fewer than 4 billion migrations");
    let mut applied = 0;
    loop {
        // One transaction per migration. IMMEDIATE takes the write lock
        // before the version is read: a second process migrating the same
        // file waits, then sees the version this one left.
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&tx)?;
        if version > known {
            return Err(MigrationError::TooNew {
                found: version,
                known,
            });
        }
        let Some(sql) = migrations.get(version as usize) else {
            return Ok(applied);
        };
        let next = version + 1;
        tx.execute_batch(sql)
            .map_err(|cause| MigrationError::Failed {
                version: next,
                cause,
            })?;
        // `user_version` lives in the database file's header, which the
        // transaction covers: it is committed, or rolled back, with the
        // migration's own changes.
        tx.pragma_update(None, "user_version", next)?;
        tx.commit()?;
        applied += 1;
    }
}

/// The database's schema version: `PRAGMA user_version`, 0 in a new file.
fn schema_version(db: &Connection) -> rusqlite::Result<u32> {
    db.pragma_query_value(None, "user_version", |row| row.get(0))
}
// ANCHOR_END: migrate
