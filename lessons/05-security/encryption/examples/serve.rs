//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with three customers, each logged in, so you can call it
//! by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-encryption --example serve
//! ```
//!
//! - Ada (session token `ada-session-token`) has no phone yet: save one
//!   with `PUT /me/phone`.
//! - Bob (`bob-session-token`) has a phone whose ciphertext had one bit
//!   flipped in the database, as an attacker with write access would.
//! - Carol (`carol-session-token`) has, on her row, a copy of the value
//!   the shop wrote for Dan's phone: the columns were copied across.
//!
//! The keys are the example's own, `1` (an older key, still decrypts) and `2`
//! (current): never use them for anything real. The file is
//! `security-encryption.db` in the system's temporary folder, made anew at
//! every start: look inside with `sqlite3`. It serves your code as it was
//! when it started: after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use axum::Router;
use rusqlite::{Connection, params};
use security_encryption::{Keyring, Settings, add_customer, add_session, create_schema, seal};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The example's keys: 32 bytes each, in base64. Never for anything real.
const KEYS: [(&str, &str); 2] = [
    ("1", "ZXhhbXBsZSBrZXkgb25lLCBuZXZlciBmb3IgcmVhbCE="),
    ("2", "ZXhhbXBsZSBrZXkgdHdvLCBuZXZlciBmb3IgcmVhbCE="),
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
    let path = folder.join("security-encryption.db");
    remove_database(&path);
    let keys = Keyring::new("2", &KEYS).expect("the example's keys make a key ring");
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    let mut ids = Vec::new();
    for (email, name, token) in [
        ("ada@example.com", "Ada", "ada-session-token"),
        ("bob@example.com", "Bob", "bob-session-token"),
        ("carol@example.com", "Carol", "carol-session-token"),
        ("dan@example.com", "Dan", "dan-session-token"),
    ] {
        let id = add_customer(&db, email, name).expect("a new database takes a customer");
        add_session(&db, token, id, i64::from(i32::MAX)).expect("a new database takes a session");
        ids.push(id);
    }
    let (bob, carol, dan) = (ids[1], ids[2], ids[3]);
    // Bob's phone, with one bit of its ciphertext flipped.
    let mut bobs = seal(&keys, bob, "+33 1 70 36 41 29").expect("the example's phone encrypts");
    bobs.ciphertext[0] ^= 0x01;
    // Dan's phone, on Carol's row.
    let dans = seal(&keys, dan, "+1 415 555 0132").expect("the example's phone encrypts");
    for (id, sealed) in [(bob, &bobs), (carol, &dans), (dan, &dans)] {
        db.execute(
            "UPDATE customers SET phone_key_id = ?2, phone_nonce = ?3, phone_ciphertext = ?4
             WHERE id = ?1",
            params![id, sealed.key_id, sealed.nonce, sealed.ciphertext],
        )
        .expect("a new database takes a phone");
    }
    security_encryption::app(Settings {
        database_path: path,
        keys,
    })
}

/// Removes a database file left from an earlier run.
fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = PathBuf::from(path).into_os_string();
        file.push(suffix);
        // A file that is not there is what we want.
        let _ = std::fs::remove_file(file);
    }
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "security/encryption, a new shop with Ada, Bob (a changed phone) and Carol (Dan's \
         phone copied onto her row), keys 1 and 2 (current): listening on http://{ADDRESS} \
         (Ctrl+C stops it)"
    )
}
