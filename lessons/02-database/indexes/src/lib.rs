//! # database/indexes — make the slow lookups use an index
//!
//! A shop's three lookups work, and each one reads every row of its table
//! to find the few it needs: fine for a hundred orders, a disaster for ten
//! million. Give them indexes, so that `EXPLAIN QUERY PLAN` shows each one
//! *searching* an index instead of *scanning* the table, and keep every
//! lookup returning exactly the rows it returns now.
//! The book's section "Indexes and query plans" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use rusqlite::{Connection, OptionalExtension, Row};

/// A customer, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: i64,
    pub name: String,
    pub email: String,
}

/// An order, as stored. `placed_at` is an ISO-8601 UTC timestamp such as
/// `2025-03-14T09:26:53Z`: as text, those sort in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub placed_at: String,
    pub total_cents: i64,
}

/// Creates the shop's tables. The only indexes are the ones SQLite makes by
/// itself: the rowid (`id`) of each table, and the one behind
/// `UNIQUE (email)`.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE customers (
            id    INTEGER PRIMARY KEY,
            name  TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE
        );
        CREATE TABLE orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            placed_at   TEXT    NOT NULL,
            total_cents INTEGER NOT NULL
        );",
    )
}

/// Adds the indexes that let every lookup below search instead of scan.
/// Called once, on a database that [`create_schema`] has just made.
///
/// For each lookup, `EXPLAIN QUERY PLAN` of its statement must show a
/// `SEARCH` of its table `USING INDEX` (or `USING COVERING INDEX`) and no
/// `SCAN` at all; [`orders_of_customer`] must also need no
/// `USE TEMP B-TREE FOR ORDER BY`: its rows come out of the index already
/// in order.
pub fn create_indexes(db: &Connection) -> rusqlite::Result<()> {
    // TODO: give every lookup below an index it can search, as described
    // above, without changing the rows any lookup returns.
    let _ = db;
    todo!()
}

/// The customer whose email is `email`, ignoring letter case:
/// `Ada@Example.com` finds `ada@example.com`. `None` if there is none.
pub fn customer_by_email(db: &Connection, email: &str) -> rusqlite::Result<Option<Customer>> {
    db.query_row(
        "SELECT id, name, email FROM customers WHERE lower(email) = lower(?1)",
        [email],
        |row| {
            Ok(Customer {
                id: row.get(0)?,
                name: row.get(1)?,
                email: row.get(2)?,
            })
        },
    )
    .optional()
}

/// Every order of the customer `customer_id`, newest first (and, between
/// orders placed in the same second, the highest id first).
pub fn orders_of_customer(db: &Connection, customer_id: i64) -> rusqlite::Result<Vec<Order>> {
    let mut statement = db.prepare(
        "SELECT id, customer_id, placed_at, total_cents FROM orders
         WHERE customer_id = ?1
         ORDER BY placed_at DESC, id DESC",
    )?;
    let orders = statement.query_map([customer_id], order_from_row)?;
    orders.collect()
}

/// The sum of `total_cents` of the orders placed from `from` (included)
/// until `until` (excluded), two timestamps in the format of
/// [`Order::placed_at`]; 0 if there are none.
pub fn revenue_between(db: &Connection, from: &str, until: &str) -> rusqlite::Result<i64> {
    db.query_row(
        "SELECT coalesce(sum(total_cents), 0) FROM orders
         WHERE placed_at >= ?1 AND placed_at < ?2",
        [from, until],
        |row| row.get(0),
    )
}

fn order_from_row(row: &Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        placed_at: row.get(2)?,
        total_cents: row.get(3)?,
    })
}
