//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with four pending orders of Ada's, and with a fake payment
//! gateway of its own on a free port of 127.0.0.1, so you can call it by
//! hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p api-upstream --example serve
//! ```
//!
//! The fake gateway answers by the order a charge is for: order 1's charge
//! succeeds, order 2's card is declined, order 3's charge always gets `503`,
//! and order 4's never gets an answer. Each attempt the shop makes is
//! printed (on stderr). The shop tries 3 times, 500 ms per attempt.
//!
//! The file is `api-upstream.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use api_upstream::{GatewayConfig, create_schema};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::Connection;
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

/// The app the tests check, on a new database in `folder`, paying through
/// a fake gateway that this starts on a free port (call it from within a
/// tokio runtime).
pub fn app(folder: &Path) -> Router {
    let path = folder.join("api-upstream.db");
    remove_database(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    db.execute_batch(
        "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada');
         INSERT INTO products (id, sku, name, price_cents, stock, created_at)
             VALUES (7, 'MUG-RED', 'Red mug', 1250, 12, '2026-11-30T09:15:00Z');
         INSERT INTO orders (id, customer_id, total_cents, created_at) VALUES
             (1, 1, 2500, '2026-11-30T09:15:00Z'), (2, 1, 1250, '2026-11-30T09:16:00Z'),
             (3, 1, 1250, '2026-11-30T09:17:00Z'), (4, 1, 1250, '2026-11-30T09:18:00Z');
         INSERT INTO order_items (order_id, product_id, quantity, price_cents) VALUES
             (1, 7, 2, 1250), (2, 7, 1, 1250), (3, 7, 1, 1250), (4, 7, 1, 1250);",
    )
    .expect("a new database takes the example's orders");
    let mut config = GatewayConfig::new(&start_fake_gateway());
    config.timeout = Duration::from_millis(500);
    api_upstream::app(db, config)
}

/// Starts the fake payment gateway on a free port; returns its URL.
fn start_fake_gateway() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().expect("a bound address"));
    listener
        .set_nonblocking(true)
        .expect("the listener can be made non-blocking");
    let listener = TcpListener::from_std(listener).expect("called from within a tokio runtime");
    let gateway = Router::new().route("/charges", post(charge));
    tokio::spawn(async move { axum::serve(listener, gateway).await });
    url
}

/// The fake gateway's `POST /charges`: answers by the order it is for.
async fn charge(headers: HeaderMap, body: String) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("(none)");
    let order = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|charge| charge["reference"].as_str().map(str::to_string))
        .unwrap_or_default();
    eprintln!("gateway: POST /charges for {order}, Idempotency-Key: {key}");
    let json = [("content-type", "application/json")];
    match order.as_str() {
        "order-1" => {
            let charge = r#"{"id":"ch_1","status":"succeeded"}"#;
            (StatusCode::CREATED, json, charge).into_response()
        }
        "order-2" => (
            StatusCode::PAYMENT_REQUIRED,
            json,
            r#"{"error":"card_declined"}"#,
        )
            .into_response(),
        "order-3" => (
            StatusCode::SERVICE_UNAVAILABLE,
            json,
            r#"{"error":"try later"}"#,
        )
            .into_response(),
        _ => std::future::pending().await,
    }
}

/// Removes a database file left from an earlier run.
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
        "api/upstream, a new shop with orders 1 to 4 and a fake payment gateway: listening on \
         http://{ADDRESS} (Ctrl+C stops it)"
    )
}
