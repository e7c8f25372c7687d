//! Serves this exercise's `app()` on <http://localhost:3000>, over an
//! in-memory database with two products in it, so you can call it, and read
//! its OpenAPI document, by hand with `curl` (the book's "Try it" shows
//! how):
//!
//! ```console
//! cargo run -q -p api-openapi --example serve
//! ```
//!
//! It serves your code as it was when it started: after a change, stop it
//! with Ctrl+C and run it again.

use std::sync::{Arc, Mutex};

use api_openapi::{NewProduct, create_schema, insert_product};
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

/// The app the tests check, over a shop of two products: 1 `MUG-RED` and
/// 2 `TEA-POT`.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    for (sku, name, price_cents, stock) in [
        ("MUG-RED", "Red mug", 1250, 12),
        ("TEA-POT", "Teapot, 1 l", 3490, 5),
    ] {
        let new = NewProduct {
            sku: sku.to_string(),
            name: name.to_string(),
            price_cents,
            stock,
        };
        insert_product(&db, &new).expect("a new product");
    }
    api_openapi::app(Arc::new(Mutex::new(db)))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "api/openapi, a shop of 2 products: listening on http://{ADDRESS}, its document at \
         /openapi.json (Ctrl+C stops it)"
    )
}
