//! Serves this exercise's `app()` on <http://localhost:3000>, over a new
//! in-memory database with two products (1: "Red mug", 2: "Salt & Pepper
//! set"), so you can call it by hand with `curl` or open it in a browser
//! (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-xss --example serve
//! ```
//!
//! Then open <http://localhost:3000/products/1> and write a review. It
//! serves your code as it was when it started: after a change, stop it with
//! Ctrl+C and run it again (the reviews go with it).

use axum::Router;
use rusqlite::Connection;
use security_xss::{Db, create_schema, insert_product};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, on a new database with two products.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("an in-memory database opens");
    create_schema(&db).expect("a new database takes the schema");
    insert_product(&db, "MUG-RED", "Red mug", 1250, 12).expect("a new database takes a product");
    insert_product(&db, "SALT-PEPPER", "Salt & Pepper set", 1890, 4)
        .expect("a new database takes a product");
    security_xss::app(Db::new(db))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "security/xss, a shop with two products: listening on http://{ADDRESS} \
         (Ctrl+C stops it)"
    )
}
