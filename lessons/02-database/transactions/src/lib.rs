//! # database/transactions — a money transfer that is all or nothing
//!
//! Move money from one bank account to another: take it from one balance,
//! add it to the other. Either both changes happen or neither does, whatever
//! goes wrong in between, and transfers running at the same time on other
//! connections never lose money or overdraw an account.
//! The book's section "Transactions" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;

use rusqlite::{Connection, OptionalExtension};

/// Creates the `accounts` table, if it does not exist yet. Money is an
/// integer number of cents, never a float; the `CHECK` is the database's
/// last line of defence against a negative balance.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS accounts (
            id            INTEGER PRIMARY KEY,
            owner         TEXT    NOT NULL,
            balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0)
        )",
    )
}

/// Opens an account for `owner` holding `cents`, and returns its id.
pub fn open_account(db: &Connection, owner: &str, cents: i64) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO accounts (owner, balance_cents) VALUES (?1, ?2)",
        (owner, cents),
    )?;
    Ok(db.last_insert_rowid())
}

/// The balance of `account` in cents, or `None` if there is no such account.
pub fn balance(db: &Connection, account: i64) -> rusqlite::Result<Option<i64>> {
    db.query_row(
        "SELECT balance_cents FROM accounts WHERE id = ?1",
        [account],
        |row| row.get(0),
    )
    .optional()
}

/// Why a transfer did not happen. Whatever the reason, a transfer that
/// returns an error has changed nothing.
#[derive(Debug)]
pub enum TransferError {
    /// The amount was zero or negative (it is in the variant).
    InvalidAmount(i64),
    /// There is no account with this id (the id is in the variant).
    NoSuchAccount(i64),
    /// The account to take the money from holds less than the amount.
    InsufficientFunds,
    /// SQLite failed: a broken constraint, a locked database, a full disk...
    Database(rusqlite::Error),
}

/// Lets `?` turn a `rusqlite::Error` into a `TransferError`.
impl From<rusqlite::Error> for TransferError {
    fn from(cause: rusqlite::Error) -> Self {
        TransferError::Database(cause)
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::InvalidAmount(cents) => write!(f, "invalid amount: {cents} cents"),
            TransferError::NoSuchAccount(id) => write!(f, "account {id} does not exist"),
            TransferError::InsufficientFunds => write!(f, "insufficient funds"),
            TransferError::Database(cause) => write!(f, "database error: {cause}"),
        }
    }
}

impl std::error::Error for TransferError {}

/// Moves `cents` from account `from` to account `to`, all or nothing.
///
/// On success, `from`'s balance is `cents` lower and `to`'s is `cents`
/// higher. Otherwise it returns an error and **neither balance has
/// changed**:
///
/// - `cents` zero or negative: [`TransferError::InvalidAmount`];
/// - `from` or `to` not an existing account: [`TransferError::NoSuchAccount`]
///   with that id;
/// - `from` holds less than `cents`: [`TransferError::InsufficientFunds`]
///   (moving the whole balance, down to 0, is allowed);
/// - SQLite fails at any step, also after one balance was already changed:
///   [`TransferError::Database`] (or whichever variant your code maps the
///   failure to), and the change already made is undone.
///
/// Other connections, in other threads, may be running transfers on the same
/// database at the same time. When one of them holds the write lock, a
/// transfer waits for it (up to the connection's busy timeout) instead of
/// failing with "database is locked", and together the transfers never
/// create, lose or overdraw a single cent.
pub fn transfer(db: &mut Connection, from: i64, to: i64, cents: i64) -> Result<(), TransferError> {
    // TODO: move the money as described above: every check and change of the
    // transfer (both accounts, the balance, the two new balances) happens
    // all together or not at all, and no other connection can change a
    // balance between this transfer's check and its change.
    let _ = (db, from, to, cents);
    todo!()
}
