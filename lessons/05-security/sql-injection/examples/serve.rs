//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! in-memory database holding the tests' eleven products and two customers,
//! so you can call it by hand with `curl` (the book's "Try it" shows how),
//! and attack it:
//!
//! ```console
//! cargo run -q -p security-sql-injection --example serve
//! ```
//!
//! `PORT=3001` in the environment serves it on another port (on 127.0.0.1
//! still; `PORT=0` takes any free port and prints which): `scripts/attack.sh`
//! runs this example and the reference solution's side by side. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again. Whatever an attack
//! changes in the database is gone at the next start.

use axum::Router;
use rusqlite::Connection;
use security_sql_injection::{Db, create_schema};
use tokio::net::TcpListener;

/// The port the app listens on unless `PORT` says otherwise.
const DEFAULT_PORT: u16 = 3000;

/// The products served: sku, name, price_cents, stock.
const PRODUCTS: [(&str, &str, i64, i64); 11] = [
    ("MUG-RED", "Red mug", 1250, 12),
    ("MUG-UNION", "Union Jack mug", 1250, 0),
    ("TEE-COTTON", "100% cotton tee", 1999, 5),
    ("PUZZLE-1000", "1000 piece puzzle", 2000, 7),
    ("MUG-SNAKE", "snake_case mug", 1500, 3),
    ("MUG-KEBAB", "snake-case mug", 1500, 0),
    ("TORCH-CREME", "Crème brûlée torch", 3400, 1),
    ("MUG-OBRIEN", "O'Brien's mug", 900, 4),
    ("TOWEL-OBRIEN", "O'Brien's tea towel", 650, 0),
    ("TABLE-DROP", "Drop-leaf table; oak -- seats 4", 18900, 2),
    ("SIGN-STAFF", "\"Staff only\" door sign", 500, 9),
];

/// The customers served: email, name, password_hash, role. The hashes are
/// made up: they have the shape of argon2id's, and no password.
const CUSTOMERS: [(&str, &str, &str, &str); 2] = [
    (
        "admin@shop.test",
        "Shop Admin",
        "$argon2id$v=19$m=19456,t=2,p=1$c2hvcGFkbWluc2FsdA$K0hM8sNQ2dVv4e1T9lq3rXbYw6uJcPzAoFnRgEiSkHc",
        "admin",
    ),
    (
        "ada@example.com",
        "Ada Lovelace",
        "$argon2id$v=19$m=19456,t=2,p=1$YWRhbG92ZWxhY2VzYQ$7Qm2ZxLk9WcVb3NtRy5uHgFd1sPaE8oIjKeT4lYrXwA",
        "customer",
    ),
];

#[tokio::main]
pub async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    // With `PORT=0` the system picks a free port: the line says which.
    println!("{}", listening_on(listener.local_addr()?.port()));
    axum::serve(listener, app()).await
}

/// The port to listen on: `PORT` from the environment, or 3000.
fn port() -> u16 {
    match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .unwrap_or_else(|_| panic!("PORT must be a port number, not `{port}`")),
        Err(_) => DEFAULT_PORT,
    }
}

/// The app the tests check, on a new in-memory database with the products
/// and the customers.
pub fn app() -> Router {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("a new database takes the schema");
    for (sku, name, price_cents, stock) in PRODUCTS {
        db.execute(
            "INSERT INTO products (sku, name, price_cents, stock, created_at)
             VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            (sku, name, price_cents, stock),
        )
        .expect("a new database takes the products");
    }
    for (email, name, password_hash, role) in CUSTOMERS {
        db.execute(
            "INSERT INTO customers (email, name, password_hash, role) VALUES (?1, ?2, ?3, ?4)",
            (email, name, password_hash, role),
        )
        .expect("a new database takes the customers");
    }
    security_sql_injection::app(Db::new(db))
}

/// What the example prints once it listens.
pub fn banner() -> String {
    listening_on(port())
}

/// What the example prints once it listens on `port`.
fn listening_on(port: u16) -> String {
    format!(
        "security/sql-injection, {} products and {} customers: listening on \
         http://127.0.0.1:{port} (Ctrl+C stops it)",
        PRODUCTS.len(),
        CUSTOMERS.len(),
    )
}
