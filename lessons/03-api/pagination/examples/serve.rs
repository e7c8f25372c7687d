//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file holding the seven products of [`PRODUCTS`], so you can
//! page through them by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p api-pagination --example serve
//! ```
//!
//! The file is `api-pagination.db` in the system's temporary folder,
//! made anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::Path;

use api_pagination::create_schema;
use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The products the example's database starts with: sku, name, price in
/// cents, stock. They get the ids 1 to 7.
pub const PRODUCTS: [(&str, &str, i64, i64); 7] = [
    ("MUG-RED", "Red mug", 1250, 12),
    ("MUG-BLUE", "Blue mug", 1250, 3),
    ("TEA-EARL", "Earl Grey, 100 g", 690, 40),
    ("TEA-GREEN", "Sencha, 100 g", 890, 0),
    ("POT-WHITE", "White teapot", 3900, 5),
    ("SPOON-2", "Two tea spoons", 450, 25),
    ("TRAY-OAK", "Oak tray", 5400, 2),
];

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("api-pagination.db");
    // A file left from an earlier run is removed: a file that is not there
    // is what we want.
    let _ = std::fs::remove_file(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    for (sku, name, price_cents, stock) in PRODUCTS {
        db.execute(
            "INSERT INTO products (sku, name, price_cents, stock, created_at)
             VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            (sku, name, price_cents, stock),
        )
        .expect("a new database takes the example's products");
    }
    api_pagination::app(db)
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "api/pagination, 7 products in a new database: listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
