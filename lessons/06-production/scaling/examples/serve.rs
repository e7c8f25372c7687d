//! Serves two instances of this exercise's `app()` behind a round-robin
//! balancer on <http://localhost:3000>, so you can call them by hand with
//! `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p production-scaling --example serve
//! ```
//!
//! Both instances are built by their own `Shop::open` on one new database
//! file, `production-scaling.db` in the system's temporary folder, made anew
//! at every start, with Ada (`ada@example.com`, password `correct horse
//! battery staple`) and the red mug (product 1, 1250 cents, 12 in stock).
//! The balancer sends the first request to instance `a`, the second to `b`,
//! and so on, and says which one answered in an `x-served-by` header. It
//! serves your code as it was when it started: after a change, stop it with
//! Ctrl+C and run it again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use production_scaling::{Clock, Shop, add_customer, add_product};
use rusqlite::Connection;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// Where the balancer listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The two instances the tests check, on a new database in `folder`, behind
/// the balancer.
pub fn app(folder: &Path) -> Router {
    let path = folder.join("production-scaling.db");
    remove_database(&path);
    let instance = || {
        let shop = Shop::open(&path, Clock::system()).expect("the shop opens its database");
        production_scaling::app(shop)
    };
    let instances = vec![("a", instance()), ("b", instance())];
    let db = Connection::open(&path).expect("the database is there");
    add_customer(
        &db,
        "ada@example.com",
        "Ada",
        "correct horse battery staple",
    )
    .expect("a new database takes a customer");
    add_product(&db, "MUG-RED", "Red mug", 1250, 12).expect("a new database takes a product");
    balancer(instances)
}

/// A round-robin load balancer inside one process: each request goes to the
/// next instance in turn, and its response says which one in `x-served-by`.
fn balancer(instances: Vec<(&'static str, Router)>) -> Router {
    let instances = Arc::new(instances);
    let next = Arc::new(AtomicUsize::new(0));
    Router::new().fallback(move |request: Request| {
        let (instances, next) = (Arc::clone(&instances), Arc::clone(&next));
        async move {
            let turn = next.fetch_add(1, Ordering::SeqCst) % instances.len();
            let (name, instance) = &instances[turn];
            let mut response: Response = match instance.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let served_by = HeaderValue::from_static(name);
            response.headers_mut().insert("x-served-by", served_by);
            response
        }
    })
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
        "production/scaling, instances a and b on one new database, Ada and the red mug: \
         listening on http://{ADDRESS} behind a round-robin balancer (Ctrl+C stops it)"
    )
}
