//! Serves this exercise's `app()` on <http://localhost:3000/graphql>, over a
//! new database in memory with one customer (id 1) and two products (ids 1
//! and 2), so you can call it by hand with `curl` (the book's "Try it" shows
//! how):
//!
//! ```console
//! cargo run -q -p graphql-mutations --example serve
//! ```
//!
//! The shop starts afresh at every start, and serves your code as it was
//! when it started: after a change, stop it with Ctrl+C and run it again.

use axum::Router;
use graphql_mutations::{Db, NewProduct, create_schema, insert_customer, insert_product};
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

/// The app the tests check, on a shop with a customer and two products.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    insert_customer(&db, "Ada Lovelace", "ada@example.com").expect("the customer is stored");
    for (sku, name, price_cents, stock) in [
        ("MUG-RED", "Red mug", 1250, 12),
        ("TEA-GREEN", "Thé vert", 450, 3),
    ] {
        let product = NewProduct {
            sku: sku.to_string(),
            name: name.to_string(),
            price_cents,
            stock,
        };
        insert_product(&db, &product).expect("the product is stored");
    }
    graphql_mutations::app(Db::new(db))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "graphql/mutations, a shop with a customer and 2 products: \
         POST http://{ADDRESS}/graphql (Ctrl+C stops it)"
    )
}
