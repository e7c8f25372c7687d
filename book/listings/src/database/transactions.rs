//! Listings for the book section database/transactions: a small concert
//! ticket office, with `concerts (id, tickets_left)`, `tickets (concert_id,
//! buyer)` and an `archived_tickets` table shaped like `tickets`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

// ANCHOR: autocommit
/// Moves a concert's tickets to the archive. Without a transaction, each
/// statement commits on its own: if the DELETE fails, or the process dies
/// between the two, every ticket is both archived and still current.
pub fn archive_tickets_carelessly(db: &Connection, concert: i64) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO archived_tickets SELECT * FROM tickets WHERE concert_id = ?1",
        [concert],
    )?;
    db.execute("DELETE FROM tickets WHERE concert_id = ?1", [concert])?;
    Ok(())
}
// ANCHOR_END: autocommit

// ANCHOR: transaction
/// The same two statements in one transaction: both happen, or neither.
/// `Transaction` derefs to `Connection`, so `tx.execute` is the usual call.
/// If a `?` returns early, `tx` is dropped without `commit`, and dropping
/// it rolls the transaction back.
pub fn archive_tickets(db: &mut Connection, concert: i64) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    tx.execute(
        "INSERT INTO archived_tickets SELECT * FROM tickets WHERE concert_id = ?1",
        [concert],
    )?;
    tx.execute("DELETE FROM tickets WHERE concert_id = ?1", [concert])?;
    tx.commit()
}
// ANCHOR_END: transaction

// ANCHOR: immediate
/// Sells one ticket if any is left, and says whether it did. It reads,
/// decides, then writes, so it takes the write lock *before* reading
/// (IMMEDIATE): no other connection can sell the last ticket between our
/// read and our write, and if one is writing, we wait for it instead of
/// failing.
pub fn sell_ticket(db: &mut Connection, concert: i64, buyer: &str) -> rusqlite::Result<bool> {
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let left: i64 = tx.query_row(
        "SELECT tickets_left FROM concerts WHERE id = ?1",
        [concert],
        |row| row.get(0),
    )?;
    if left == 0 {
        return Ok(false); // `tx` is dropped: rolled back, nothing was written
    }
    tx.execute(
        "UPDATE concerts SET tickets_left = tickets_left - 1 WHERE id = ?1",
        [concert],
    )?;
    tx.execute(
        "INSERT INTO tickets (concert_id, buyer) VALUES (?1, ?2)",
        (concert, buyer),
    )?;
    tx.commit()?;
    Ok(true)
}
// ANCHOR_END: immediate

// ANCHOR: guarded
/// The same sale without reading first: the UPDATE checks and writes in one
/// statement, and the number of rows it changed says whether a ticket was
/// left. A write as the first statement takes the write lock (waiting for
/// it if need be), so a deferred transaction is safe here.
pub fn sell_ticket_guarded(
    db: &mut Connection,
    concert: i64,
    buyer: &str,
) -> rusqlite::Result<bool> {
    let tx = db.transaction()?;
    let sold = tx.execute(
        "UPDATE concerts SET tickets_left = tickets_left - 1
         WHERE id = ?1 AND tickets_left > 0",
        [concert],
    )?;
    if sold == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO tickets (concert_id, buyer) VALUES (?1, ?2)",
        (concert, buyer),
    )?;
    tx.commit()?;
    Ok(true)
}
// ANCHOR_END: guarded

// ANCHOR: connect
/// A connection for one thread of a program in which several threads (or
/// processes) write the same file. When another connection holds the lock
/// this one needs, SQLite retries for up to 5 seconds before it gives up
/// with `database is locked`. (rusqlite already sets 5 s on every new
/// connection; saying so makes the choice visible.)
pub fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.busy_timeout(Duration::from_secs(5))?;
    Ok(db)
}
// ANCHOR_END: connect

// ANCHOR: savepoint
/// Imports tickets for `concert`, skipping the buyers the database refuses
/// (a constraint says no), as one transaction. Each row gets a savepoint,
/// a transaction inside the transaction: dropping it without `commit`
/// undoes that row alone.
pub fn import_tickets(
    db: &mut Connection,
    concert: i64,
    buyers: &[&str],
) -> rusqlite::Result<usize> {
    let mut tx = db.transaction()?;
    let mut imported = 0;
    for buyer in buyers {
        let row = tx.savepoint()?;
        match row.execute(
            "INSERT INTO tickets (concert_id, buyer) VALUES (?1, ?2)",
            (concert, buyer),
        ) {
            Ok(_) => {
                row.commit()?;
                imported += 1;
            }
            Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {}
            Err(error) => return Err(error),
        }
    }
    tx.commit()?;
    Ok(imported)
}
// ANCHOR_END: savepoint
