//! Serves this exercise's `app()` on <http://localhost:3000>, over an
//! in-memory database with a small shop in it (two customers, three
//! products, two orders), so you can call it by hand with `curl` (the
//! book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p api-snapshots --example serve
//! ```
//!
//! It serves your code as it was when it started: after a change, stop it
//! with Ctrl+C and run it again.

use std::sync::{Arc, Mutex};

use api_snapshots::{add_customer, add_product, create_schema, place_order};
use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, over the example's shop: customer 1, Ada
/// Lovelace, placed orders 1 and 2; customer 2, Grace Hopper, none.
pub fn app() -> Router {
    let mut db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace").expect("a new customer");
    add_customer(&db, "grace@example.com", "Grace Hopper").expect("a new customer");
    let mug = add_product(&db, "MUG-RED", "Red mug", 1250, 40).expect("a new product");
    let teapot = add_product(&db, "TEA-POT", "Teapot, 1 l", 3490, 5).expect("a new product");
    let cup = add_product(&db, "CUP-ESP", "Espresso cup", 790, 100).expect("a new product");
    let first = place_order(&mut db, ada, &[(mug, 2), (cup, 4)], 500).expect("an order");
    let second = place_order(&mut db, ada, &[(teapot, 1)], 0).expect("an order");
    // Fixed times, so that what `curl` shows is the same at every run.
    for (order, status, placed_at) in [
        (first, "paid", "2026-11-30T09:15:00Z"),
        (second, "pending", "2026-12-01T16:40:00Z"),
    ] {
        db.execute(
            "UPDATE orders SET status = ?2, created_at = ?3 WHERE id = ?1",
            rusqlite::params![order, status, placed_at],
        )
        .expect("an order's status and time can be set");
    }
    api_snapshots::app(Arc::new(Mutex::new(db)))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "api/snapshots, a shop of 2 customers and 2 orders: listening on http://{ADDRESS} \
         (Ctrl+C stops it)"
    )
}
