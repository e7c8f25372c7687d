//! # database/mapping — reference solution

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

// ANCHOR: cents
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
// ANCHOR_END: cents

// ANCHOR: payment
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
// ANCHOR_END: payment

/// A time as the table stores it: whole seconds since 1970-01-01 00:00:00
/// UTC. rusqlite has no conversion for `SystemTime` (a type from `std`, which
/// this crate cannot implement rusqlite's traits for), so this wrapper
/// carries one: in a parameter, `UnixTime(time)`; out of a row,
/// `row.get::<_, UnixTime>(..)?.0`.
struct UnixTime(SystemTime);

impl ToSql for UnixTime {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let since_epoch = self
            .0
            .duration_since(UNIX_EPOCH)
            .map_err(|before_1970| rusqlite::Error::ToSqlConversionFailure(before_1970.into()))?;
        let seconds = i64::try_from(since_epoch.as_secs())
            .map_err(|too_late| rusqlite::Error::ToSqlConversionFailure(too_late.into()))?;
        Ok(ToSqlOutput::from(seconds))
    }
}

impl FromSql for UnixTime {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let seconds = value.as_i64()?;
        let since_epoch = u64::try_from(seconds).map_err(|_| FromSqlError::OutOfRange(seconds))?;
        Ok(UnixTime(UNIX_EPOCH + Duration::from_secs(since_epoch)))
    }
}

/// Builds a [`Payment`] from a row with the columns `id, payer,
/// amount_cents, note, paid_at, refunded_at` (read by name, in any order).
fn payment_from_row(row: &Row<'_>) -> rusqlite::Result<Payment> {
    Ok(Payment {
        id: row.get("id")?,
        payer: row.get("payer")?,
        amount: Cents(row.get("amount_cents")?),
        // `Option<T>` reads NULL as `None`; a plain `String` would fail on it.
        note: row.get("note")?,
        paid_at: row.get::<_, UnixTime>("paid_at")?.0,
        refunded_at: row
            .get::<_, Option<UnixTime>>("refunded_at")?
            .map(|time| time.0),
    })
}

// ANCHOR: functions
/// Stores a new payment and returns it as stored: with its id, no refund,
/// and `paid_at` in whole seconds.
pub fn insert_payment(db: &Connection, payment: &NewPayment) -> rusqlite::Result<Payment> {
    // RETURNING hands back the row just inserted, so the answer is exactly
    // what the table holds.
    db.query_row(
        "INSERT INTO payments (payer, amount_cents, note, paid_at)
         VALUES (?1, ?2, ?3, ?4)
         RETURNING id, payer, amount_cents, note, paid_at, refunded_at",
        params![
            payment.payer,
            payment.amount.0,
            payment.note,
            UnixTime(payment.paid_at)
        ],
        payment_from_row,
    )
}

/// The payment with this id, or `None` if there is none.
pub fn find_payment(db: &Connection, id: i64) -> rusqlite::Result<Option<Payment>> {
    db.query_row(
        "SELECT id, payer, amount_cents, note, paid_at, refunded_at
         FROM payments WHERE id = ?1",
        [id],
        payment_from_row,
    )
    .optional()
}

/// Every payment made at or after `since` (to the second), refunded or not,
/// oldest first; payments made in the same second in the order they were
/// stored.
pub fn payments_since(db: &Connection, since: SystemTime) -> rusqlite::Result<Vec<Payment>> {
    let mut statement = db.prepare(
        "SELECT id, payer, amount_cents, note, paid_at, refunded_at
         FROM payments WHERE paid_at >= ?1 ORDER BY paid_at, id",
    )?;
    let payments = statement.query_map([UnixTime(since)], payment_from_row)?;
    payments.collect()
}

/// The sum of every payment that has not been refunded; `Cents(0)` when
/// there is none.
pub fn total_paid(db: &Connection) -> rusqlite::Result<Cents> {
    // `sum` over no rows is NULL, not 0: `coalesce` turns that into 0.
    // (SQLite's `total` would give 0.0, a floating-point number.)
    let cents = db.query_row(
        "SELECT coalesce(sum(amount_cents), 0) FROM payments WHERE refunded_at IS NULL",
        [],
        |row| row.get(0),
    )?;
    Ok(Cents(cents))
}
// ANCHOR_END: functions
