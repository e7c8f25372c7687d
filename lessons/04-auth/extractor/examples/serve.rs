//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file holding two customers, Ada (id 1) and Bob (id 2, an
//! admin), three products, Ada's order of two red mugs, Bob's orders of a
//! blue tee and of a green cap, and a session of each customer, good for
//! an hour, so you can call it by hand with `curl` (the book's "Try it"
//! shows how):
//!
//! ```console
//! cargo run -q -p auth-extractor --example serve
//! ```
//!
//! The sessions' ids are fixed, [`ADA_SESSION`] and [`BOB_SESSION`], so the
//! book can show them; a real session id is 32 random bytes (see
//! `auth/sessions`). Tokens are verified with [`EXAMPLE_KEY`], which is no
//! secret either.
//!
//! The file is `auth-extractor.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use auth_extractor::{
    Clock, Db, Settings, create_schema, hash_password, insert_customer, insert_order,
    insert_product, insert_session,
};
use axum::Router;
use rusqlite::Connection;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The example's signing key: printed in a book, so no secret at all.
pub const EXAMPLE_KEY: &[u8] = b"auth/extractor example key: never use it for anything real";

/// Ada's session id.
pub const ADA_SESSION: &str = "ada-example-session-not-random-at-all-00001";

/// Bob's session id.
pub const BOB_SESSION: &str = "bob-example-session-not-random-at-all-00002";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder` with the shop's
/// customers, sessions, products and orders.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("auth-extractor.db");
    remove_database(&path);
    let mut db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    let hash = hash_password("correct horse battery staple");
    insert_customer(&db, "ada@example.com", "Ada", &hash, "customer")
        .expect("a new database takes a customer");
    insert_customer(&db, "bob@example.com", "Bob", &hash, "admin")
        .expect("a new database takes a customer");
    let clock = Clock::system();
    let in_an_hour = clock.now() + 3600;
    insert_session(&db, ADA_SESSION, 1, in_an_hour).expect("a new database takes a session");
    insert_session(&db, BOB_SESSION, 2, in_an_hour).expect("a new database takes a session");
    insert_product(&db, "MUG-RED", "Red mug", 1250, 12).expect("a new database takes a product");
    insert_product(&db, "TEE-BLUE", "Blue tee", 1900, 5).expect("a new database takes a product");
    insert_product(&db, "CAP-GREEN", "Green cap", 1500, 0).expect("a new database takes a product");
    insert_order(&mut db, 1, &[(1, 2)]).expect("a new database takes an order");
    insert_order(&mut db, 2, &[(2, 1)]).expect("a new database takes an order");
    insert_order(&mut db, 2, &[(3, 1)]).expect("a new database takes an order");
    let settings = Settings {
        signing_key: EXAMPLE_KEY.to_vec(),
    };
    auth_extractor::app(Db::open(&path), settings, clock)
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
        "auth/extractor, sessions {ADA_SESSION} (Ada) and {BOB_SESSION} (Bob): listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
