//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with two customers (1, Ada, `ada@example.com`; 2, Grace,
//! `grace@example.com`), so you can call it by hand with `curl` (the book's
//! "Try it" shows how). The shop's mail is printed in this terminal instead
//! of being sent:
//!
//! ```console
//! cargo run -q -p auth-password-reset --example serve
//! ```
//!
//! One reset token is already waiting for Ada, as if she had asked for it
//! and the mail had come: `try-it-token`, valid for 30 minutes from the
//! start. (A real token is 32 random bytes; this one is short, so that the
//! book can show it. It is stored with your `token_hash`: the example
//! starts once that function is written.)
//!
//! The file is `auth-password-reset.db` in the system's temporary folder,
//! made anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use auth_password_reset::{Mail, Mailer, Shop};
use axum::Router;
use rusqlite::{Connection, params};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The token waiting for Ada.
pub const TRY_IT_TOKEN: &str = "try-it-token";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder, Arc::new(Terminal))).await
}

/// A mailer that prints each mail.
struct Terminal;

impl Mailer for Terminal {
    fn send(&self, mail: Mail) {
        println!(
            "--- mail to {}: {}\n{}---",
            mail.to, mail.subject, mail.body
        );
    }
}

/// A mailer that drops every mail (what the book's transcripts use: the
/// mails' tokens differ at every run).
pub struct Nowhere;

impl Mailer for Nowhere {
    fn send(&self, _mail: Mail) {}
}

/// The app the tests check, on a new database in `folder`, mailing through
/// `mailer`.
pub fn app(folder: &Path, mailer: Arc<dyn Mailer>) -> Router {
    let path = folder.join("auth-password-reset.db");
    remove_database(&path);
    let shop = Shop::open(&path, mailer).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    let password_hash = auth_password_reset::hash_password("ada's old password");
    db.execute(
        "INSERT INTO customers (id, email, name, password_hash) VALUES
             (1, 'ada@example.com', 'Ada', ?1), (2, 'grace@example.com', 'Grace', ?1)",
        [&password_hash],
    )
    .expect("a new database takes the example's customers");
    db.execute(
        "INSERT INTO password_resets (token_hash, customer_id, expires_at) VALUES (?1, 1, ?2)",
        params![
            auth_password_reset::token_hash(TRY_IT_TOKEN),
            shop.now() + shop.settings.reset_ttl
        ],
    )
    .expect("a new database takes the example's reset token");
    auth_password_reset::app(shop)
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
        "auth/password-reset, a new shop with customers ada@example.com and \
         grace@example.com, and a reset token for Ada, {TRY_IT_TOKEN}: listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
