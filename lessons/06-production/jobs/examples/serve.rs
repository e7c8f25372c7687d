//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file with one customer (1, Ada) and two products (7, the red
//! mug, 12 in stock; 8, the green tea, 1 in stock), so you can call it by
//! hand with `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p production-jobs --example serve
//! ```
//!
//! No worker runs in the background: `POST /work` runs one step of a
//! worker (your `run_once`, with the shop's handler and the computer's
//! clock) and answers with the job it ran, or `204 No Content` if none was
//! due, so that you can watch a job move from state to state.
//!
//! The file is `production-jobs.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use production_jobs::{Clock, Shop, job_json, run_once, shop_handler};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

/// How long `POST /work` holds the job it claims, in seconds.
const LEASE: i64 = 60;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`, with `POST
/// /work` added.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("production-jobs.db");
    remove_database(&path);
    let shop = Shop::open(&path, Clock::system()).expect("a new database file can be made there");
    let db = production_jobs::open(&path).expect("the new database opens");
    db.execute_batch(
        "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada');
         INSERT INTO products (id, sku, name, price_cents, stock, created_at) VALUES
             (7, 'MUG-RED', 'Red mug', 1250, 12, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
             (8, 'TEA-GREEN', 'Green tea', 450, 1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));",
    )
    .expect("a new database takes the example's customer and products");
    let work = Router::new()
        .route("/work", post(work))
        .with_state(shop.clone());
    production_jobs::app(shop).merge(work)
}

/// `POST /work`: one step of a worker.
async fn work(State(shop): State<Shop>) -> Response {
    let now = shop.clock.now();
    let step = shop.run(move |db| {
        let Some(id) = run_once(db, now, LEASE, &shop_handler())? else {
            return Ok(None);
        };
        job_json(db, id)
    });
    match step.await {
        Ok(Some(job)) => Json(job).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
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
        "production/jobs, a new shop with customer 1 and products 7 and 8, no worker (POST \
         /work runs one step): listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
