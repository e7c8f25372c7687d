//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with three customers (1, Ada, and 2, Grace, customers; 3,
//! Linus, an admin), two products (7, the red mug; 8, the green tea) and
//! three orders (1, Ada's, pending; 2, Grace's, pending; 3, Ada's, paid),
//! so you can call it by hand with `curl` (the book's "Try it" shows how).
//! It prints a bearer token for each customer, signed with the example's
//! key and valid until 2100, each claiming the role the customer has now:
//!
//! ```console
//! cargo run -q -p auth-authorization --example serve
//! ```
//!
//! The file is `auth-authorization.db` in the system's temporary folder,
//! made anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use auth_authorization::{Claims, Shop};
use axum::Router;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The key the example's tokens are signed with. A real shop reads its key
/// from a secret store, never from its source code.
const SECRET: &[u8] = b"the example's key, not a secret!";

/// When the example's tokens were issued and expire: 2025-11-30 and 2100-01-01.
const ISSUED_AT: u64 = 1_764_460_800;
const EXPIRES_AT: u64 = 4_102_444_800;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("auth-authorization.db");
    remove_database(&path);
    let shop = Shop::open(&path, SECRET).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    db.execute_batch(
        "INSERT INTO customers (id, email, name, password_hash, role) VALUES
             (1, 'ada@example.com', 'Ada', '(no password in this example)', 'customer'),
             (2, 'grace@example.com', 'Grace', '(no password in this example)', 'customer'),
             (3, 'linus@example.com', 'Linus', '(no password in this example)', 'admin');
         INSERT INTO products (id, sku, name, price_cents, stock, created_at) VALUES
             (7, 'MUG-RED', 'Red mug', 1250, 12, '2026-11-30T09:15:00Z'),
             (8, 'TEA-GREEN', 'Green tea', 450, 5, '2026-11-30T09:15:00Z');
         INSERT INTO orders (id, customer_id, status, total_cents, created_at) VALUES
             (1, 1, 'pending', 2500, '2026-11-30T09:15:00Z'),
             (2, 2, 'pending', 450, '2026-11-30T09:16:00Z'),
             (3, 1, 'paid', 450, '2026-11-30T09:17:00Z');
         INSERT INTO order_items (order_id, product_id, quantity, price_cents) VALUES
             (1, 7, 2, 1250), (2, 8, 1, 450), (3, 8, 1, 450);",
    )
    .expect("a new database takes the example's customers, products and orders");
    auth_authorization::app(shop)
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

/// The example's token for `customer`, claiming `role`: the same every run.
pub fn token(customer: i64, role: &str) -> String {
    let claims = Claims {
        sub: customer.to_string(),
        role: role.to_string(),
        iat: ISSUED_AT,
        exp: EXPIRES_AT,
    };
    let key = EncodingKey::from_secret(SECRET).expect("the key is not empty");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("HS256 signs")
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "auth/authorization, a new shop with customers 1 and 2 and admin 3: listening on \
         http://{ADDRESS} (Ctrl+C stops it)\n\
         Ada's token:   {}\n\
         Grace's token: {}\n\
         Linus's token: {}",
        token(1, "customer"),
        token(2, "customer"),
        token(3, "admin"),
    )
}
