//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with one customer, Ada (`ada@example.com`, email
//! verified), and one session of hers that never ends, so you can call it
//! by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-mass-assignment --example serve
//! ```
//!
//! Ada's session is made with a known id, so that you can type it: her
//! cookie is `session=ada-demo-session`. A real session's id comes from
//! `start_session`, random.
//!
//! The file is `security-mass-assignment.db` in the system's temporary
//! folder, made anew at every start. It serves your code as it was when it
//! started: after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use axum::Router;
use rusqlite::Connection;
use security_mass_assignment::{Customer, Shop, add_customer};
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
    let path = folder.join("security-mass-assignment.db");
    remove_database(&path);
    let shop = Shop::open(&path).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    let ada = Customer {
        id: 0,
        email: "ada@example.com".to_string(),
        name: "Ada".to_string(),
        phone: None,
        role: "customer".to_string(),
        credit_cents: 0,
        email_verified: true,
    };
    let ada = add_customer(&db, &ada).expect("a new database takes Ada");
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at)
         VALUES ('ada-demo-session', ?1, 9999999999)",
        [ada],
    )
    .expect("a new database takes Ada's session");
    security_mass_assignment::app(shop)
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
        "security/mass-assignment, a new shop with Ada and her session \
         (cookie session=ada-demo-session): listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
