//! Listings for the book section database/schema.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, ffi};

// ANCHOR: library
/// A lending library: members borrow books. A loan links one member to one
/// book, so members and books are in a many-to-many relationship through
/// the `loans` table.
pub const LIBRARY: &str = "
    CREATE TABLE IF NOT EXISTS members (
        id    INTEGER PRIMARY KEY,
        card  TEXT    NOT NULL UNIQUE,
        name  TEXT    NOT NULL
    ) STRICT;

    CREATE TABLE IF NOT EXISTS books (
        id     INTEGER PRIMARY KEY,
        isbn   TEXT    NOT NULL UNIQUE CHECK (length(isbn) = 13),
        title  TEXT    NOT NULL,
        copies INTEGER NOT NULL DEFAULT 1 CHECK (copies >= 0)
    ) STRICT;

    CREATE TABLE IF NOT EXISTS loans (
        member_id INTEGER NOT NULL REFERENCES members (id),
        book_id   INTEGER NOT NULL REFERENCES books (id) ON DELETE CASCADE,
        due_on    TEXT    NOT NULL,
        PRIMARY KEY (member_id, book_id)
    ) STRICT;

    CREATE INDEX IF NOT EXISTS loans_by_book ON loans (book_id);
";
// ANCHOR_END: library

// ANCHOR: open_library
/// Opens the library's database file and makes the connection enforce its
/// foreign keys before anything else runs on it.
pub fn open_library(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    // The same as `PRAGMA foreign_keys = ON`, with the value as a parameter.
    db.pragma_update(None, "foreign_keys", true)?;
    db.execute_batch(LIBRARY)?;
    Ok(db)
}

/// Whether this connection enforces foreign keys right now.
pub fn enforces_foreign_keys(db: &Connection) -> rusqlite::Result<bool> {
    db.pragma_query_value(None, "foreign_keys", |row| row.get(0))
}
// ANCHOR_END: open_library

// ANCHOR: refused
/// Why the library refused a new member.
#[derive(Debug)]
pub enum NewMemberError {
    /// Another member already has this card number.
    CardTaken,
    /// Anything else: a bug, a full disk, a broken file.
    Database(rusqlite::Error),
}

/// Adds a member. A duplicate card is a normal outcome the caller can
/// report (an HTTP API would answer `409 Conflict`), so it gets a variant of
/// its own; every other failure stays a database error.
pub fn add_member(db: &Connection, card: &str, name: &str) -> Result<i64, NewMemberError> {
    let inserted = db.execute(
        "INSERT INTO members (card, name) VALUES (?1, ?2)",
        [card, name],
    );
    match inserted {
        Ok(_) => Ok(db.last_insert_rowid()),
        Err(error) if is_unique_violation(&error) => Err(NewMemberError::CardTaken),
        Err(error) => Err(NewMemberError::Database(error)),
    }
}

/// True if SQLite refused a row because of a UNIQUE constraint (or a
/// primary key, which is unique too).
fn is_unique_violation(error: &rusqlite::Error) -> bool {
    match error.sqlite_error() {
        Some(failure) => {
            failure.code == ErrorCode::ConstraintViolation
                && matches!(
                    failure.extended_code,
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                )
        }
        None => false,
    }
}
// ANCHOR_END: refused
