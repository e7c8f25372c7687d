//! # database/schema — reference solution

use std::path::Path;

use rusqlite::Connection;

// ANCHOR: schema
/// The shop's two tables, and the rules every row must keep.
///
/// `customers`: one row per customer.
///
/// | column  | type    | rule                                                               |
/// | ------- | ------- | ------------------------------------------------------------------ |
/// | `id`    | integer | the primary key, chosen by SQLite                                  |
/// | `email` | text    | required (NOT NULL); unique, ignoring letter case (UNIQUE)         |
/// | `name`  | text    | required (NOT NULL)                                                |
///
/// `orders`: one row per order, each belonging to one customer.
///
/// | column        | type    | rule                                                                |
/// | ------------- | ------- | ------------------------------------------------------------------- |
/// | `id`          | integer | the primary key, chosen by SQLite                                   |
/// | `customer_id` | integer | required (NOT NULL); the `id` of an existing customer (FOREIGN KEY) |
/// | `status`      | text    | `pending`, `paid` or `shipped` (CHECK); `pending` when not given    |
/// | `total_cents` | integer | required (NOT NULL); zero or more (CHECK); a whole number (STRICT)  |
///
/// Both tables are `STRICT`: a value of the wrong type (the text `'ten'`, or
/// `12.5`, in `total_cents`) is refused instead of stored. A customer who
/// still has orders cannot be deleted.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS customers (
        id    INTEGER PRIMARY KEY,
        email TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        name  TEXT    NOT NULL
    ) STRICT;

    CREATE TABLE IF NOT EXISTS orders (
        id          INTEGER PRIMARY KEY,
        customer_id INTEGER NOT NULL REFERENCES customers (id),
        status      TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'paid', 'shipped')),
        total_cents INTEGER NOT NULL CHECK (total_cents >= 0)
    ) STRICT;
";
// ANCHOR_END: schema

// ANCHOR: open
/// Opens the database file at `path`, creating it if it does not exist, and
/// sets it up with [`set_up`]. Opening a file again keeps its rows.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    set_up(&db)?;
    Ok(db)
}

/// Opens a new, empty database in memory and sets it up with [`set_up`].
/// It disappears when the connection is dropped.
pub fn open_in_memory() -> rusqlite::Result<Connection> {
    let db = Connection::open_in_memory()?;
    set_up(&db)?;
    Ok(db)
}

/// Makes a freshly opened connection ready for use: switches on foreign
/// keys for this connection, then creates the tables of [`SCHEMA`] if they
/// do not exist yet (the rows of a database that has them are kept).
///
/// Foreign keys must be switched on whatever the connection's starting
/// state: the tests also call `set_up` on connections that start with them
/// off, as SQLite's own default is.
pub fn set_up(db: &Connection) -> rusqlite::Result<()> {
    // Foreign keys are a setting of the connection, not of the file, and
    // SQLite's default is off (whatever the build we happen to link has):
    // every connection turns them on. Inside a transaction this pragma does
    // nothing, so it runs first, on its own.
    db.execute_batch("PRAGMA foreign_keys = ON")?;
    db.execute_batch(SCHEMA)
}
// ANCHOR_END: open
