//! # database/migrations — a schema that changes without losing data
//!
//! Write the migration runner of a small shop: it brings any database, new
//! or years old, up to the latest schema by running, in order, the
//! migrations it has not run yet, and it records how far it got in the
//! database itself, in `PRAGMA user_version`. A migration that fails leaves
//! the database exactly as it was before that migration.
//! The book's section "Migrations" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;

use rusqlite::Connection;

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
    // TODO: run each migration after the database's version and record its
    // number as the new version, so that a failure midway leaves no trace of
    // the failed migration, and a migration another program ran meanwhile is
    // never run again. Return how many ran.
    let _ = (db, migrations);
    todo!()
}
