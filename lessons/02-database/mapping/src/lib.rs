//! # database/mapping — rows to structs, and back
//!
//! Store payments and read them back as Rust structs: money as integer
//! cents, times as Unix seconds, and "no value" as SQL's NULL, read back as
//! `None`. Add up payments without losing a cent.
//! The book's section "Rows to structs" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;
use std::time::SystemTime;

use rusqlite::{Connection, Row};

/// An amount of money, as a whole number of cents: `Cents(1999)` is 19.99,
/// as in the exercise `database/money`. Stored in an INTEGER column as the
/// number of cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cents(pub i64);

/// `Cents(1999)` displays as `19.99`, `Cents(5)` as `0.05`, `Cents(-5)` as
/// `-0.05`: always two decimals, computed with integers only.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let cents = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", cents / 100, cents % 100)
    }
}

/// A payment, as stored in the `payments` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: i64,
    /// Who paid.
    pub payer: String,
    pub amount: Cents,
    /// A note from the payer; `None` when there is none (NULL in the table),
    /// which is not the same as an empty note, `Some("")`.
    pub note: Option<String>,
    pub paid_at: SystemTime,
    /// When the payment was refunded; `None` (NULL) while it is not.
    pub refunded_at: Option<SystemTime>,
}

/// A payment to store: everything but the id, which SQLite chooses, and
/// the refund, which comes later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub payer: String,
    pub amount: Cents,
    pub note: Option<String>,
    pub paid_at: SystemTime,
}

/// Creates the `payments` table, if it does not exist yet.
///
/// Money is stored as integer cents (`amount_cents`: 1999 is 19.99). Times
/// are stored as Unix time: whole seconds since 1970-01-01 00:00:00 UTC in
/// an INTEGER column (`paid_at`: 1700000000 is 2023-11-14 22:13:20 UTC); a
/// fraction of a second is dropped. A missing note or refund time is NULL.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS payments (
            id           INTEGER PRIMARY KEY,
            payer        TEXT    NOT NULL,
            amount_cents INTEGER NOT NULL,
            note         TEXT,
            paid_at      INTEGER NOT NULL,
            refunded_at  INTEGER
        ) STRICT",
    )
}

/// Builds a [`Payment`] from a row with the columns `id, payer,
/// amount_cents, note, paid_at, refunded_at`.
fn payment_from_row(row: &Row<'_>) -> rusqlite::Result<Payment> {
    // TODO: build the `Payment` from the row: a NULL column becomes `None`,
    // and a time stored as Unix seconds becomes a `SystemTime` again.
    let _ = row;
    todo!()
}

/// Stores a new payment and returns it as stored: with its id, no refund,
/// and `paid_at` in whole seconds.
pub fn insert_payment(db: &Connection, payment: &NewPayment) -> rusqlite::Result<Payment> {
    // TODO: store the payment, its values bound as parameters and in the
    // shapes `create_schema` describes (cents, NULL for no note, Unix
    // seconds), and return it as it was stored.
    let _ = (db, payment, payment_from_row);
    todo!()
}

/// The payment with this id, or `None` if there is none.
pub fn find_payment(db: &Connection, id: i64) -> rusqlite::Result<Option<Payment>> {
    // TODO: read the payment with this id; no such payment is `Ok(None)`,
    // not an error.
    let _ = (db, id);
    todo!()
}

/// Every payment made at or after `since` (to the second), refunded or not,
/// oldest first; payments made in the same second in the order they were
/// stored.
pub fn payments_since(db: &Connection, since: SystemTime) -> rusqlite::Result<Vec<Payment>> {
    // TODO: every payment made at or after `since`, in the order described
    // above.
    let _ = (db, since);
    todo!()
}

/// The sum of every payment that has not been refunded; `Cents(0)` when
/// there is none.
pub fn total_paid(db: &Connection) -> rusqlite::Result<Cents> {
    // TODO: the sum, in integer cents added up by SQLite, of every payment
    // that has not been refunded; `Cents(0)` when there is none.
    let _ = db;
    todo!()
}
