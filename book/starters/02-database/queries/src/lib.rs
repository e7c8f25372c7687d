//! # database/queries — queries with bound parameters
//!
//! Write the five queries every table needs: insert a row and learn its id,
//! find one row (or none), update and delete one row and report how many
//! rows changed. Every value travels to SQLite as a bound parameter, never
//! pasted into the SQL text, so a name like `O'Brien`, or one written to
//! attack you, is stored exactly as it is.
//! The book's section "Queries with bound parameters" explains every piece
//! you need.
//!
//! Run `cargo checker check` when you think you are done.

use rusqlite::{Connection, Row};

/// A customer, as stored in the `customers` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// Creates the `customers` table, if it does not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id    INTEGER PRIMARY KEY,
            name  TEXT    NOT NULL,
            email TEXT    NOT NULL UNIQUE
        ) STRICT",
    )
}

/// Builds a [`Customer`] from a row whose columns are `id, name, email`, in
/// that order.
fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
    })
}

// ANCHOR: functions
// Every function below passes its values to SQLite as bound parameters
// (`?1`, `?2`, ...), never written into the SQL text: the tests read the SQL
// that reaches SQLite, and fail if a value shows up in it.

/// Adds a customer and returns the id SQLite gave the new row. A name or
/// email is stored exactly as given, quotes and all. An insert the table
/// refuses (a second customer with the same email) is an `Err`.
pub fn insert_customer(db: &Connection, name: &str, email: &str) -> rusqlite::Result<i64> {
    // TODO: store the customer, its values bound as parameters, and return
    // the id SQLite gave the new row.
    let _ = (db, name, email);
    todo!()
}

/// The customer with this id, or `None` if there is none (not an error).
pub fn find_customer(db: &Connection, id: i64) -> rusqlite::Result<Option<Customer>> {
    // TODO: read the customer with this id (`customer_from_row` builds a
    // `Customer` from a row); no such customer is `Ok(None)`, not an error.
    let _ = (db, id, customer_from_row);
    todo!()
}

/// The customer whose email is exactly `email`, or `None` if there is none.
pub fn find_customer_by_email(db: &Connection, email: &str) -> rusqlite::Result<Option<Customer>> {
    // TODO: like `find_customer`, with the email as the parameter.
    let _ = (db, email);
    todo!()
}

/// Gives the customer with this id the name `name`, changing no other row,
/// and returns the number of rows changed: 1, or 0 if there is no such
/// customer (not an error).
pub fn rename_customer(db: &Connection, id: i64, name: &str) -> rusqlite::Result<usize> {
    // TODO: rename this customer, and no other, and return how many rows
    // changed.
    let _ = (db, id, name);
    todo!()
}

/// Deletes the customer with this id, and no other, and returns the number
/// of rows deleted: 1, or 0 if there is no such customer (not an error).
pub fn delete_customer(db: &Connection, id: i64) -> rusqlite::Result<usize> {
    // TODO: delete this customer, and no other, and return how many rows
    // were deleted.
    let _ = (db, id);
    todo!()
}
// ANCHOR_END: functions
