//! Serves this exercise's `app()` on <http://localhost:3000>, over a new
//! database in memory holding a small shop, so you can call it by hand with
//! `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p graphql-limits --example serve
//! ```
//!
//! Three callers have a session: `Authorization: Bearer ada-token` (Ada,
//! customer 2, order 3), `bob-token` (Bob, customer 3, orders 1 and 2) and
//! `root-token` (Root, customer 1, an admin). The shop starts afresh at
//! every start, and serves your code as it was when it started: after a
//! change, stop it with Ctrl+C and run it again.

use axum::Router;
use graphql_limits::{Db, add_customer, add_order, add_product, add_session, create_schema};
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

/// The app the tests check, on the small shop the module's comment
/// describes.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    seed(&db).expect("the example's shop is stored");
    graphql_limits::app(Db::new(db))
}

fn seed(db: &Connection) -> rusqlite::Result<()> {
    let root = add_customer(db, "Root", "root@example.com", "admin")?;
    let ada = add_customer(db, "Ada", "ada@example.com", "customer")?;
    let bob = add_customer(db, "Bob", "bob@example.com", "customer")?;
    add_session(db, root, "root-token")?;
    add_session(db, ada, "ada-token")?;
    add_session(db, bob, "bob-token")?;
    let mug = add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
    let kettle = add_product(db, "KET-1", "Kettle", 31415, 3)?;
    let teapot = add_product(db, "POT-1", "Teapot", 27182, 5)?;
    let tea = add_product(db, "TEA-1", "Thé vert", 850, 40)?;
    add_order(db, bob, "paid", &[(kettle, 1), (mug, 1)])?;
    add_order(db, bob, "shipped", &[(teapot, 2)])?;
    add_order(db, ada, "pending", &[(mug, 2), (tea, 1)])?;
    add_order(db, root, "paid", &[(tea, 1)])?;
    Ok(())
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "graphql/limits, a shop of 3 customers and 4 orders: listening on http://{ADDRESS}/graphql \
         (Ctrl+C stops it)"
    )
}
