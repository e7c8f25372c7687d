//! # database/queries — reference solution

use rusqlite::{Connection, OptionalExtension, Row, params};

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
    db.execute(
        "INSERT INTO customers (name, email) VALUES (?1, ?2)",
        params![name, email],
    )?;
    Ok(db.last_insert_rowid())
}

/// The customer with this id, or `None` if there is none (not an error).
pub fn find_customer(db: &Connection, id: i64) -> rusqlite::Result<Option<Customer>> {
    db.query_row(
        "SELECT id, name, email FROM customers WHERE id = ?1",
        [id],
        customer_from_row,
    )
    .optional()
}

/// The customer whose email is exactly `email`, or `None` if there is none.
pub fn find_customer_by_email(db: &Connection, email: &str) -> rusqlite::Result<Option<Customer>> {
    db.query_row(
        "SELECT id, name, email FROM customers WHERE email = ?1",
        [email],
        customer_from_row,
    )
    .optional()
}

/// Gives the customer with this id the name `name`, changing no other row,
/// and returns the number of rows changed: 1, or 0 if there is no such
/// customer (not an error).
pub fn rename_customer(db: &Connection, id: i64, name: &str) -> rusqlite::Result<usize> {
    db.execute(
        "UPDATE customers SET name = ?1 WHERE id = ?2",
        params![name, id],
    )
}

/// Deletes the customer with this id, and no other, and returns the number
/// of rows deleted: 1, or 0 if there is no such customer (not an error).
pub fn delete_customer(db: &Connection, id: i64) -> rusqlite::Result<usize> {
    db.execute("DELETE FROM customers WHERE id = ?1", [id])
}
// ANCHOR_END: functions
