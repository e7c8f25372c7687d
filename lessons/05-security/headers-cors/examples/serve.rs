//! Serves this exercise's `app()` on <http://localhost:3000>, over a new
//! in-memory database with one product (1: "Red mug"), allowing the
//! origins `https://shop.example` and `https://admin.shop.example`, so you
//! can call it by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-headers-cors --example serve
//! ```
//!
//! It serves your code as it was when it started: after a change, stop it
//! with Ctrl+C and run it again.

use axum::Router;
use rusqlite::Connection;
use security_headers_cors::{Db, Settings, create_schema, insert_product};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The origins whose pages may call the API.
const ALLOWED_ORIGINS: [&str; 2] = ["https://shop.example", "https://admin.shop.example"];

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, on a new database with one product.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("an in-memory database opens");
    create_schema(&db).expect("a new database takes the schema");
    insert_product(&db, "MUG-RED", "Red mug", 1250, 12).expect("a new database takes a product");
    let settings = Settings {
        allowed_origins: ALLOWED_ORIGINS.map(String::from).to_vec(),
    };
    security_headers_cors::app(Db::new(db), &settings)
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "security/headers-cors, allowing {}: listening on http://{ADDRESS} (Ctrl+C stops it)",
        ALLOWED_ORIGINS.join(" and ")
    )
}
