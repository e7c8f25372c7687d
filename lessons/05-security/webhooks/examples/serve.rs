//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with Ada's three pending orders (1: 2500 cents, 2: 500,
//! 3: 1250), verifying webhooks with the secret `whsec_try_it_only`, so
//! you can call it by hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-webhooks --example serve
//! cargo run -q -p security-webhooks --example serve -- --clock 1800000000
//! ```
//!
//! The shop reads the time from the computer's clock, or, with `--clock
//! SECONDS`, from a clock that stands still at SECONDS (Unix seconds): then
//! a signature made for that time, such as the book's, stays valid. The
//! file is `security-webhooks.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use axum::Router;
use rusqlite::Connection;
use security_webhooks::{Clock, Shop, add_customer, add_order};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The secret the shop shares with the (imaginary) payment gateway.
const SECRET: &str = "whsec_try_it_only";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner(&args));
    axum::serve(listener, app(&args, &folder)).await
}

/// The app the tests check, on a new database in `folder`, with the clock
/// `args` ask for.
pub fn app(args: &[String], folder: &Path) -> Router {
    let path = folder.join("security-webhooks.db");
    remove_database(&path);
    let clock = match frozen_at(args) {
        Some(seconds) => Clock::from_fn(move || seconds),
        None => Clock::system(),
    };
    let shop = Shop::open(&path, SECRET, clock).expect("a new database file can be made there");
    let db = Connection::open(&path).expect("the new database opens");
    let ada = add_customer(&db, "ada@example.com", "Ada").expect("a new database takes Ada");
    for total_cents in [2500, 500, 1250] {
        add_order(&db, ada, total_cents).expect("a new database takes an order");
    }
    security_webhooks::app(shop)
}

/// The seconds after `--clock`, if given.
fn frozen_at(args: &[String]) -> Option<i64> {
    let at = args.iter().position(|arg| arg == "--clock")?;
    let seconds = args.get(at + 1).map(|value| value.parse::<i64>());
    match seconds {
        Some(Ok(seconds)) => Some(seconds),
        _ => panic!("--clock takes a number of Unix seconds: `--clock 1800000000`"),
    }
}

/// Removes a database file left from an earlier run.
fn remove_database(path: &Path) {
    for suffix in ["", "-journal"] {
        let mut file = PathBuf::from(path).into_os_string();
        file.push(suffix);
        // A file that is not there is what we want.
        let _ = std::fs::remove_file(file);
    }
}

/// What the example prints once it listens.
pub fn banner(args: &[String]) -> String {
    let clock = match frozen_at(args) {
        Some(seconds) => format!("a clock stopped at {seconds}"),
        None => "the computer's clock".to_string(),
    };
    format!(
        "security/webhooks, a new shop with Ada's orders 1, 2 and 3 (2500, 500 and 1250 \
         cents, pending), webhook secret {SECRET}, {clock}: listening on http://{ADDRESS} \
         (Ctrl+C stops it)"
    )
}
