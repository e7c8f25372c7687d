//! # database/upsert — insert or update, in one statement
//!
//! A shop's catalogue is fed from its supplier's price list: saving a
//! product whose code is new adds it, and saving one that is already there
//! updates it where it stands, keeping its id. A cart's lines add up: putting
//! a product into a cart that already holds it adds to that line. Each of
//! the two is one statement, so no other connection can slip in between a
//! look and a change.
//! The book's section "Insert or update: upsert" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use rusqlite::Connection;

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
    // TODO: add the product, or update the one with this sku where it
    // stands, in one statement; return its id in both cases.
    let _ = (db, sku, name, price_cents);
    todo!()
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
    // TODO: make the line, or add to it, in one statement that no other
    // connection can interrupt; return the line's quantity afterwards.
    let _ = (db, cart_id, product_id, quantity);
    todo!()
}
// ANCHOR_END: functions
