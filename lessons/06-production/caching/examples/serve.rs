//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with three products, reading the time from the computer's
//! clock, so you can call it by hand with `curl` (the book's "Try it" shows
//! how):
//!
//! ```console
//! cargo run -q -p production-caching --example serve
//! ```
//!
//! The catalogue query is made slow on purpose: every load takes half a
//! second more, and prints a line, so you can see which requests the cache
//! answered. The file is `production-caching.db` in the system's temporary
//! folder, made anew at every start. It serves your code as it was when it
//! started: after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use production_caching::{
    BoxFuture, Catalogue, Clock, LoadError, NewProduct, Product, ProductPatch, SqliteCatalogue,
    WriteError,
};
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// How much longer than it needs every load of the catalogue takes.
const SLOW: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("production-caching.db");
    remove_database(&path);
    let real = SqliteCatalogue::open(&path).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    db.execute_batch(
        "INSERT INTO products (sku, name, price_cents, stock, created_at) VALUES
             ('MUG-RED', 'Red mug', 1250, 12, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
             ('TEE-BLK', 'Black T-shirt', 2000, 5, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));",
    )
    .expect("a new database takes the products");
    production_caching::app(Arc::new(Slow(real)), Clock::system())
}

/// The real catalogue, with every load made slower.
struct Slow(SqliteCatalogue);

impl Catalogue for Slow {
    fn load(&self) -> BoxFuture<'_, Result<Vec<Product>, LoadError>> {
        Box::pin(async move {
            println!("loading the catalogue...");
            tokio::time::sleep(SLOW).await;
            self.0.load().await
        })
    }

    fn create(&self, new: NewProduct) -> BoxFuture<'_, Result<Product, WriteError>> {
        self.0.create(new)
    }

    fn update(
        &self,
        id: i64,
        patch: ProductPatch,
    ) -> BoxFuture<'_, Result<Option<Product>, WriteError>> {
        self.0.update(id, patch)
    }
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
        "production/caching, a new shop with two products, every load of the catalogue \
         {} ms slow: listening on http://{ADDRESS} (Ctrl+C stops it)",
        SLOW.as_millis()
    )
}
