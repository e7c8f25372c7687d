//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! in-memory database holding eleven products (the tests' own), so you can
//! call it by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p api-filtering --example serve
//! ```
//!
//! It serves your code as it was when it started: after a change, stop it
//! with Ctrl+C and run it again.

use api_filtering::{Db, create_schema};
use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The products served: sku, name, price_cents, stock, created_at.
const PRODUCTS: [(&str, &str, i64, i64, &str); 11] = [
    ("MUG-RED", "Red mug", 1250, 12, "2026-11-01T09:00:00Z"),
    ("MUG-BLUE", "Blue mug", 1250, 0, "2026-11-02T09:00:00Z"),
    (
        "TEE-COTTON",
        "100% cotton tee",
        1999,
        5,
        "2026-11-02T09:00:00Z",
    ),
    (
        "PUZZLE-1000",
        "1000 piece puzzle",
        2000,
        7,
        "2026-11-03T10:30:00Z",
    ),
    (
        "MUG-SNAKE",
        "snake_case mug",
        1500,
        3,
        "2026-11-03T10:30:00Z",
    ),
    (
        "MUG-KEBAB",
        "snake-case mug",
        1500,
        0,
        "2026-11-04T08:00:00Z",
    ),
    (
        "POSTER-PATH",
        "Back\\slash poster",
        800,
        2,
        "2026-10-30T12:00:00Z",
    ),
    (
        "TORCH-CREME",
        "Crème brûlée torch",
        3400,
        1,
        "2026-11-05T16:45:00Z",
    ),
    (
        "TOWEL-OBRIEN",
        "O'Brien's tea towel",
        650,
        0,
        "2026-11-05T16:45:00Z",
    ),
    ("MUG-RACK", "Cup rack", 2000, 4, "2026-11-01T09:00:00Z"),
    ("TREE-MUG", "Mug tree", 2000, 0, "2026-11-06T07:00:00Z"),
];

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, on a new in-memory database with the products.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    for (sku, name, price_cents, stock, created_at) in PRODUCTS {
        db.execute(
            "INSERT INTO products (sku, name, price_cents, stock, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (sku, name, price_cents, stock, created_at),
        )
        .expect("a new database takes the products");
    }
    api_filtering::app(Db::new(db))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "api/filtering, {} products: listening on http://{ADDRESS} (Ctrl+C stops it)",
        PRODUCTS.len()
    )
}
