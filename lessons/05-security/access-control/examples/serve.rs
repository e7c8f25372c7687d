//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with the tests' shop: Ada (customer 1) with orders 1 and
//! 3, Bob (customer 2) with orders 2 and 4, Cy (customer 3) with order 5,
//! and a shipping address for each, so you can call it by hand with `curl`
//! (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-access-control --example serve
//! ```
//!
//! Ada is logged in with a session made with a known id, so that you can
//! type it: her cookie is `session=ada-demo-session`. A real session's id
//! comes from `start_session`, random.
//!
//! The file is `security-access-control.db` in the system's temporary
//! folder, made anew at every start. It serves your code as it was when it
//! started: after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use axum::Router;
use rusqlite::Connection;
use security_access_control::{Address, Shop, add_customer, add_order, save_address};
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
    let path = folder.join("security-access-control.db");
    remove_database(&path);
    let shop = Shop::open(&path).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    let ada = add_customer(&db, "ada@example.com", "Ada").expect("a new database takes Ada");
    let bob = add_customer(&db, "bob@example.com", "Bob").expect("a new database takes Bob");
    let cy = add_customer(&db, "cy@example.com", "Cy").expect("a new database takes Cy");
    for (customer, status, total) in [
        (ada, "pending", 2500),
        (bob, "pending", 900),
        (ada, "paid", 1200),
        (bob, "shipped", 4000),
        (cy, "pending", 700),
    ] {
        add_order(&db, customer, status, total).expect("a new database takes an order");
    }
    for (customer, street, city, postcode, country) in [
        (ada, "12 Analytical Row", "London", "N1 9GU", "GB"),
        (bob, "7 Rue des Lilas", "Lyon", "69003", "FR"),
        (cy, "Hauptstraße 5", "Wien", "1010", "AT"),
    ] {
        let address = Address {
            street: street.to_string(),
            city: city.to_string(),
            postcode: postcode.to_string(),
            country: country.to_string(),
        };
        save_address(&db, customer, &address).expect("a new database takes an address");
    }
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at)
         VALUES ('ada-demo-session', ?1, 9999999999)",
        [ada],
    )
    .expect("a new database takes Ada's session");
    security_access_control::app(shop)
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
        "security/access-control, a new shop with Ada (customer 1, orders 1 and 3), Bob \
         (customer 2) and Cy (customer 3); Ada's cookie is session=ada-demo-session: \
         listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
