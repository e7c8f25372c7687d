//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with Ada (order 1 of 42.00 €, session token
//! `ada-session-token`), and with a fake payment gateway of its own on a
//! free port of 127.0.0.1, so you can call it by hand with `curl` (the
//! book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-secrets --example serve
//! ```
//!
//! The fake gateway charges with the key `sk_test_shop_example_key`, sent as
//! `Authorization: Bearer <key>` (or, as older clients do, as
//! `?api_key=<key>`), and answers `401` quoting any other key. The example
//! gives the shop that key, or the key given after `--`: run it with
//! `-- sk_test_wrong` to see what a refused key does.
//!
//! The file is `security-secrets.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::Connection;
use security_secrets::{Settings, add_customer, add_order, add_session, create_schema};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// The key the fake gateway accepts.
const GATEWAY_KEY: &str = "sk_test_shop_example_key";

/// Ada's session token.
const ADA_TOKEN: &str = "ada-session-token";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("{}", banner(&args));
    axum::serve(listener, app(&args, &folder)).await
}

/// The app the tests check, on a new database in `folder`, with the API key
/// `args[0]` (or the one the gateway accepts), paying through
/// a fake gateway that this starts on a free port (call it from within a
/// tokio runtime).
pub fn app(args: &[String], folder: &Path) -> Router {
    let path = folder.join("security-secrets.db");
    remove_database(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    let ada = add_customer(&db, "ada@example.com", "Ada").expect("a new database takes Ada");
    add_order(&db, ada, 4200).expect("a new database takes Ada's order");
    add_session(&db, ADA_TOKEN, ada, i64::from(i32::MAX)).expect("a new database takes a session");
    let gateway = start_fake_gateway();
    let key = args.first().map_or(GATEWAY_KEY, String::as_str).to_string();
    let settings = Settings::from_vars(|name| match name {
        "DATABASE_PATH" => Some(path.display().to_string()),
        "PAYMENT_GATEWAY_URL" => Some(gateway.clone()),
        "PAYMENT_API_KEY" => Some(key.clone()),
        "SESSION_SECRET" => Some("an example secret of at least 32 bytes, never for real".into()),
        _ => None,
    })
    .expect("the example's settings are complete");
    security_secrets::app(settings)
}

/// Starts the fake payment gateway on a free port; returns its URL.
fn start_fake_gateway() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().expect("a bound address"));
    listener
        .set_nonblocking(true)
        .expect("the listener can be made non-blocking");
    let listener = TcpListener::from_std(listener).expect("called from within a tokio runtime");
    let gateway = Router::new().route("/v1/charges", post(charge));
    tokio::spawn(async move { axum::serve(listener, gateway).await });
    url
}

/// The fake gateway's `POST /v1/charges`: charges with the right key.
async fn charge(RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let from_header = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let from_query = query.as_deref().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("api_key="))
    });
    let key = from_header.or(from_query).unwrap_or_default();
    let json = [("content-type", "application/json")];
    if key == GATEWAY_KEY {
        let charge = r#"{"id":"ch_1","status":"succeeded"}"#;
        (StatusCode::CREATED, json, charge).into_response()
    } else {
        let answer = serde_json::json!({
            "error": "invalid_api_key",
            "message": format!("Invalid API key provided: {key}"),
        });
        (StatusCode::UNAUTHORIZED, json, answer.to_string()).into_response()
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
pub fn banner(args: &[String]) -> String {
    let key = match args.first() {
        Some(_) => "a key the gateway refuses",
        None => "the gateway's key",
    };
    format!(
        "security/secrets, a new shop with Ada's order 1 and a fake payment gateway, paying \
         with {key}: listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
