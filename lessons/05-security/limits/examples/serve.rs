//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! in-memory database holding three products, within the shop's default
//! limits (64 KiB bodies, 1000 rows an import, 10 seconds a request), so
//! you can call it by hand with `curl` (the book's "Try it" shows how), and
//! attack it:
//!
//! ```console
//! cargo run -q -p security-limits --example serve
//! ```
//!
//! `-- --max-body-bytes 200 --max-import-rows 2 --timeout-ms 500` after it
//! serves with smaller limits, to try each by hand.
//!
//! `PORT=3001` in the environment serves it on another port (on 127.0.0.1
//! still; `PORT=0` takes any free port and prints which). It serves your
//! code as it was when it started: after a change, stop it with Ctrl+C and
//! run it again. Whatever an import stores is gone at the next start.

use std::time::Duration;

use axum::Router;
use rusqlite::Connection;
use security_limits::{Db, Limits, create_schema};
use tokio::net::TcpListener;

/// The port the app listens on unless `PORT` says otherwise.
const DEFAULT_PORT: u16 = 3000;

/// The products served: sku, name, price_cents, stock.
const PRODUCTS: [(&str, &str, i64, i64); 3] = [
    ("MUG-RED", "Red mug", 1250, 12),
    ("TEE-COTTON", "100% cotton tee", 1999, 5),
    ("TORCH-CREME", "Crème brûlée torch", 3400, 1),
];

#[tokio::main]
pub async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    // With `PORT=0` the system picks a free port: the line says which.
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("{}", listening_on(&args, listener.local_addr()?.port()));
    axum::serve(listener, app(&args)).await
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

/// The limits `args` ask for (`--max-body-bytes N`, `--max-import-rows N`,
/// `--timeout-ms N`), the defaults for the others.
fn limits(args: &[String]) -> Limits {
    let mut limits = Limits::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value: u64 = match args.next().map(|value| value.parse()) {
            Some(Ok(value)) => value,
            _ => panic!("`{flag}` needs a whole number after it"),
        };
        let size = usize::try_from(value).expect("a size fits this computer");
        match flag.as_str() {
            "--max-body-bytes" => limits.max_body_bytes = size,
            "--max-import-rows" => limits.max_import_rows = size,
            "--timeout-ms" => limits.request_timeout = Duration::from_millis(value),
            _ => panic!(
                "unknown option `{flag}`: --max-body-bytes, --max-import-rows and \
                 --timeout-ms set the limits"
            ),
        }
    }
    limits
}

/// The app the tests check, on a new in-memory database with the products,
/// within the limits `args` ask for.
pub fn app(args: &[String]) -> Router {
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
    security_limits::app(limits(args), Db::new(db))
}

/// What the example prints once it listens, given `args`.
pub fn banner(args: &[String]) -> String {
    listening_on(args, port())
}

/// What the example prints once it listens on `port`.
fn listening_on(args: &[String], port: u16) -> String {
    let limits = limits(args);
    format!(
        "security/limits, {} products, bodies up to {} bytes, {} rows an import, {} ms a \
         request: listening on http://127.0.0.1:{port} (Ctrl+C stops it)",
        PRODUCTS.len(),
        limits.max_body_bytes,
        limits.max_import_rows,
        limits.request_timeout.as_millis(),
    )
}
