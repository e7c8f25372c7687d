//! Serves this exercise's `app()` on <http://localhost:3000>, over a new
//! database in memory with a few customers, products and orders, so you can
//! ask it queries by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p graphql-dataloader --example serve
//! ```
//!
//! Every SQL statement the app runs is printed on this terminal, one line
//! each: ask for the orders with their items and count them. The shop is
//! the same at every start, and serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use axum::Router;
use graphql_dataloader::{Db, add_customer, add_order, add_product, create_schema};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app()).await
}

/// The app the tests check, on a small shop, printing each statement it
/// runs to standard error.
pub fn app() -> Router {
    let mut db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    fill(&db).expect("a new shop takes its customers, products and orders");
    let print = |event: TraceEvent<'_>| {
        if let TraceEvent::Stmt(_, sql) = event {
            eprintln!(
                "sql> {}",
                sql.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
    };
    db.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(print))
        .expect("SQLite takes a trace hook");
    graphql_dataloader::app(Db::new(db))
}

/// Two customers, four products, four orders (one without items).
fn fill(db: &Connection) -> rusqlite::Result<()> {
    let ada = add_customer(db, "Ada Lovelace", "ada@example.com")?;
    let grace = add_customer(db, "Grace Hopper", "grace@example.com")?;
    let red = add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
    let blue = add_product(db, "MUG-BLUE", "Blue mug", 1300, 0)?;
    let tea = add_product(db, "TEA-GREEN", "Green tea, 100 g", 799, 40)?;
    let pot = add_product(db, "POT-CAST", "Cast-iron teapot", 4500, 3)?;
    add_order(db, ada, "paid", &[(pot, 1), (red, 2)])?;
    add_order(db, grace, "pending", &[(red, 1), (tea, 3)])?;
    add_order(db, ada, "shipped", &[(blue, 4)])?;
    add_order(db, grace, "pending", &[])?;
    Ok(())
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "graphql/dataloader, a shop of 4 orders: listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
