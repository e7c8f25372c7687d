//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with one customer (1, Ada) and two orders: order 1 was
//! placed, paid and shipped (events 1, 3 and 4), order 2 is pending (event
//! 2). Call it by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p production-sse --example serve
//! ```
//!
//! The file is `production-sse.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use axum::Router;
use production_sse::{Shop, place_order};
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("production-sse.db");
    remove_database(&path);
    let shop = Shop::open(&path).expect("a new database file can be made there");
    let mut db = Connection::open(&path).expect("the new database opens");
    db.execute(
        "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada')",
        [],
    )
    .expect("a new database takes the example's customer");
    let shipped = place_order(&mut db, 1, 2500).expect("the first order is placed");
    place_order(&mut db, 1, 450).expect("the second order is placed");
    for status in ["paid", "shipped"] {
        db.execute(
            "INSERT INTO order_events (order_id, status, created_at)
             VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            (shipped, status),
        )
        .expect("the first order's events are recorded");
    }
    db.execute(
        "UPDATE orders SET status = 'shipped' WHERE id = ?1",
        [shipped],
    )
    .expect("the first order is shipped");
    production_sse::app(shop)
}

/// Removes a database file left from an earlier run, with its WAL files.
fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = PathBuf::from(path).into_os_string();
        file.push(suffix);
        // A file that is not there is what we want.
        let _ = std::fs::remove_file(file);
    }
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "production/sse, a new shop with order 1 (shipped) and order 2 (pending): listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
