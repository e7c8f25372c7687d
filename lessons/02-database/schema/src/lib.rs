//! # database/schema — tables that refuse bad data
//!
//! Write the schema of a tiny shop, customers and their orders, so that the
//! database itself refuses every row that breaks a rule: a missing email, a
//! duplicate email, an unknown order status, a negative total, an order for
//! a customer who does not exist. Then open databases, in a file and in
//! memory, that enforce those rules on every connection.
//! The book's section "Schema and constraints" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::Path;

use rusqlite::Connection;

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
        email TEXT,
        name  TEXT
    );

    CREATE TABLE IF NOT EXISTS orders (
        id          INTEGER PRIMARY KEY,
        customer_id INTEGER,
        status      TEXT,
        total_cents INTEGER
    );
";
// TODO: the tables above accept anything. Make them keep every rule of the
// doc comment: refuse each row that breaks one, and give an order inserted
// without a status the status `pending`.

/// Opens the database file at `path`, creating it if it does not exist, and
/// sets it up with [`set_up`]. Opening a file again keeps its rows.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    // TODO: return a connection to the file at `path`, set up by `set_up`.
    // A failure is an `Err`, not a panic.
    let _ = path;
    todo!()
}

/// Opens a new, empty database in memory and sets it up with [`set_up`].
/// It disappears when the connection is dropped.
pub fn open_in_memory() -> rusqlite::Result<Connection> {
    // TODO: the same as `open`, for a new database in memory.
    todo!()
}

/// Makes a freshly opened connection ready for use: afterwards, it enforces
/// foreign keys, and the tables of [`SCHEMA`] exist (created if they did
/// not; the rows of a database that has them are kept).
///
/// Foreign keys must be switched on whatever the connection's starting
/// state: the tests also call `set_up` on connections that start with them
/// off, as SQLite's own default is.
pub fn set_up(db: &Connection) -> rusqlite::Result<()> {
    // TODO: make this connection enforce foreign keys, and make the tables
    // of SCHEMA exist.
    let _ = (db, SCHEMA);
    todo!()
}
