//! Listings for the book section database/upsert.

use rusqlite::{Connection, OptionalExtension, params};

/// Creates the tables of this section's examples.
pub fn create_tables(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS settings (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;

        CREATE TABLE IF NOT EXISTS page_views (
            path  TEXT    PRIMARY KEY,
            views INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE IF NOT EXISTS subscribers (
            id    INTEGER PRIMARY KEY,
            email TEXT    NOT NULL UNIQUE
        ) STRICT;",
    )
}

// ANCHOR: set_setting
/// Sets a setting, whether it exists or not. `ON CONFLICT (key)` names the
/// UNIQUE column (or primary key) whose collision turns the INSERT into the
/// UPDATE; `excluded.value` is the value the INSERT would have stored.
pub fn set_setting(db: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}
// ANCHOR_END: set_setting

// ANCHOR: count_view
/// Counts a view of `path` and returns its views so far. A bare column name
/// in `DO UPDATE` is the row already stored, so `views + 1` adds to what is
/// there, inside the one statement: no other connection can write between
/// the read and the write. `RETURNING` hands back the row as written, on
/// either path.
pub fn count_view(db: &Connection, path: &str) -> rusqlite::Result<i64> {
    db.query_row(
        "INSERT INTO page_views (path, views) VALUES (?1, 1)
         ON CONFLICT (path) DO UPDATE SET views = views + 1
         RETURNING views",
        [path],
        |row| row.get(0),
    )
}
// ANCHOR_END: count_view

// ANCHOR: subscribe
/// Subscribes an email once. `DO NOTHING` keeps the row already there; the
/// number of rows changed says which happened: 1 for a new subscriber, 0
/// for one who was already subscribed.
pub fn subscribe(db: &Connection, email: &str) -> rusqlite::Result<bool> {
    let added = db.execute(
        "INSERT INTO subscribers (email) VALUES (?1) ON CONFLICT (email) DO NOTHING",
        [email],
    )?;
    Ok(added == 1)
}
// ANCHOR_END: subscribe

// ANCHOR: racy
/// WRONG: look, then decide. Between the SELECT and the UPDATE another
/// connection can count a view, and this one writes back a number that no
/// longer includes it; between the SELECT and the INSERT another connection
/// can insert the row, and this INSERT fails on the primary key.
pub fn count_view_racy(db: &Connection, path: &str) -> rusqlite::Result<i64> {
    let stored: Option<i64> = db
        .query_row(
            "SELECT views FROM page_views WHERE path = ?1",
            [path],
            |row| row.get(0),
        )
        .optional()?;
    match stored {
        None => {
            db.execute(
                "INSERT INTO page_views (path, views) VALUES (?1, 1)",
                [path],
            )?;
            Ok(1)
        }
        Some(views) => {
            db.execute(
                "UPDATE page_views SET views = ?1 WHERE path = ?2",
                params![views + 1, path],
            )?;
            Ok(views + 1)
        }
    }
}
// ANCHOR_END: racy
