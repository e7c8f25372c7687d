//! Listings for the book section database/migrations.

use rusqlite::Connection;

// ANCHOR: pragmas
/// SQLite's file header holds two integers that belong to the application:
/// `user_version`, which this section uses as the schema version, and
/// `application_id`, which says what kind of file this is. Both are read
/// and written with PRAGMA statements, which take no bound parameters:
/// rusqlite's `pragma_update` writes the value into the SQL for you, safely
/// quoted (here it is a number you chose anyway).
pub const SHOP_APPLICATION_ID: i32 = 0x5348_4f50; // "SHOP" in ASCII

/// Marks a new database file as one of ours.
pub fn stamp(db: &Connection) -> rusqlite::Result<()> {
    db.pragma_update(None, "application_id", SHOP_APPLICATION_ID)
}

/// Whether the file is one of ours: a new, empty file says 0.
pub fn is_a_shop_database(db: &Connection) -> rusqlite::Result<bool> {
    let id: i32 = db.pragma_query_value(None, "application_id", |row| row.get(0))?;
    Ok(id == SHOP_APPLICATION_ID)
}
// ANCHOR_END: pragmas

// ANCHOR: rebuild
/// A migration that `ALTER TABLE` cannot express: making `customers.email`
/// required (NOT NULL). SQLite's way is to build the table anew and copy
/// the rows across, inside the migration's transaction: the old rows get a
/// placeholder address, as `NOT NULL` demands one. Indexes and triggers of
/// the old table are dropped with it, so they are made again.
pub const REQUIRE_EMAIL: &str = "
    CREATE TABLE customers_new (
        id    INTEGER PRIMARY KEY,
        name  TEXT NOT NULL,
        email TEXT NOT NULL
    );
    INSERT INTO customers_new (id, name, email)
        SELECT id, name, coalesce(email, 'unknown-' || id || '@invalid')
        FROM customers;
    DROP TABLE customers;
    ALTER TABLE customers_new RENAME TO customers;
    CREATE UNIQUE INDEX customers_by_email ON customers (email);
";
// ANCHOR_END: rebuild

// ANCHOR: expand
/// Renaming a column while the old release still runs, in two migrations
/// shipped in two releases ("expand, then contract"). The first adds the
/// new column and fills it, and the code of that release writes both...
pub const ADD_FULL_NAME: &str = "
    ALTER TABLE customers ADD COLUMN full_name TEXT;
    UPDATE customers SET full_name = name;
";

/// ...and once no running release reads `name` any more, the second drops
/// it (`DROP COLUMN` exists since SQLite 3.35).
pub const DROP_NAME: &str = "ALTER TABLE customers DROP COLUMN name;";
// ANCHOR_END: expand
