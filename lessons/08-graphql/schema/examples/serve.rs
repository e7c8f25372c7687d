//! Serves this exercise's `app()` on <http://localhost:3000>, over a new
//! database in memory with a few products, customers and orders, so you can
//! send it queries by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p graphql-schema --example serve
//! ```
//!
//! The shop is the same at every start, and serves your code as it was
//! when it started: after a change, stop it with Ctrl+C and run it again.

use axum::Router;
use graphql_schema::{Db, add_customer, add_order, add_product, create_schema};
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

/// The app the tests check, on a small shop: products 1 to 4, customers 1
/// (Ada) and 2 (Grace), orders 1 (Ada's, paid) and 2 (Grace's, pending).
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    seed(&db).expect("a new shop takes its first products and orders");
    graphql_schema::app(Db::new(db))
}

fn seed(db: &Connection) -> rusqlite::Result<()> {
    let mug = add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
    let blue = add_product(db, "MUG-BLUE", "Blue mug", 1300, 5)?;
    let tea = add_product(db, "TEA-GREEN", "Thé vert", 450, 40)?;
    add_product(db, "MUG-SALE", "Mug, 50% off", 625, 3)?;
    let ada = add_customer(db, "Ada", "ada@example.com")?;
    let grace = add_customer(db, "Grace", "grace@example.com")?;
    add_order(db, ada, "paid", &[(tea, 2), (mug, 1)])?;
    add_order(db, grace, "pending", &[(blue, 1)])?;
    Ok(())
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "graphql/schema, a shop of 4 products and 2 orders: listening on http://{ADDRESS}/graphql (Ctrl+C stops it)"
    )
}
