//! # database/upsert — reference solution

use rusqlite::{Connection, params};

// ANCHOR: schema
/// A product in the catalogue. `sku` (stock-keeping unit) is the supplier's
/// code for it, unique in the table; `id` is ours, and other tables point at
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
}

/// Creates the `products` and `cart_items` tables, if they do not exist yet.
/// A cart holds at most one line per product (the primary key is the pair
/// `cart_id, product_id`), and a line disappears with its product.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "PRAGMA foreign_keys = ON;

        CREATE TABLE IF NOT EXISTS products (
            id          INTEGER PRIMARY KEY,
            sku         TEXT    NOT NULL UNIQUE,
            name        TEXT    NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
        ) STRICT;

        CREATE TABLE IF NOT EXISTS cart_items (
            cart_id    INTEGER NOT NULL,
            product_id INTEGER NOT NULL REFERENCES products (id) ON DELETE CASCADE,
            quantity   INTEGER NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (cart_id, product_id)
        ) STRICT;",
    )
}
// ANCHOR_END: schema

// ANCHOR: functions
/// Saves a product from the supplier's price list and returns its id. A
/// product whose `sku` is new is added. A product whose `sku` is already
/// stored is updated in place, to the `name` and `price_cents` given: the
/// same row, with the same id, so the cart lines that point at it still do.
/// Values the table refuses (a negative price) are an `Err`, and change
/// nothing. One statement, with every value a bound parameter.
pub fn save_product(
    db: &Connection,
    sku: &str,
    name: &str,
    price_cents: i64,
) -> rusqlite::Result<i64> {
    // `excluded` is the row the INSERT would have added. RETURNING gives the
    // id of the row written, inserted or updated; `last_insert_rowid` would
    // not change on an update.
    db.query_row(
        "INSERT INTO products (sku, name, price_cents) VALUES (?1, ?2, ?3)
         ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_cents = excluded.price_cents
         RETURNING id",
        params![sku, name, price_cents],
        |row| row.get(0),
    )
}

/// Puts `quantity` of a product into a cart and returns the quantity of the
/// cart's line for it afterwards. A product that is not in the cart yet
/// gets a new line with `quantity`; a product that is gets `quantity` added
/// to its line. An add that another connection makes at the same moment is
/// never lost, and never makes this one fail.
pub fn add_to_cart(
    db: &Connection,
    cart_id: i64,
    product_id: i64,
    quantity: i64,
) -> rusqlite::Result<i64> {
    // One statement reads and writes the line: no other connection can
    // write between the two, as it could between a SELECT and an UPDATE.
    db.query_row(
        "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?1, ?2, ?3)
         ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = quantity + excluded.quantity
         RETURNING quantity",
        params![cart_id, product_id, quantity],
        |row| row.get(0),
    )
}
// ANCHOR_END: functions
