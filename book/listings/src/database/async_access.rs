//! Listings for the book section database/async-access.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

// ANCHOR: blocking_handler
/// Blocks the runtime: the query runs on the thread that should be serving
/// other requests, and nothing else runs on that thread until it returns.
async fn product_name_blocking(
    State(db): State<Arc<Mutex<Connection>>>,
    UrlPath(id): UrlPath<i64>,
) -> Result<Json<Value>, StatusCode> {
    let db = db.lock().unwrap();
    let name = find_name(&db, id).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(json!({ "name": name })))
}
// ANCHOR_END: blocking_handler

// ANCHOR: one_connection
/// The same handler with the query moved to tokio's blocking threads. The
/// closure must be `Send + 'static`: it owns a clone of the `Arc` and the
/// id, never a borrow of the handler's variables. Locking the mutex happens
/// inside the closure too, so a request waiting for the connection waits on
/// a blocking thread, not on a runtime thread.
async fn product_name(
    State(db): State<Arc<Mutex<Connection>>>,
    UrlPath(id): UrlPath<i64>,
) -> Result<Json<Value>, StatusCode> {
    let found = tokio::task::spawn_blocking(move || {
        let db = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        find_name(&db, id)
    })
    .await;
    match found {
        Ok(Ok(name)) => Ok(Json(json!({ "name": name }))),
        // The query failed, or the closure panicked.
        Ok(Err(_)) | Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

fn find_name(db: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    db.query_row("SELECT name FROM products WHERE id = ?1", [id], |row| {
        row.get(0)
    })
    .optional()
}

pub fn products_app(db: Connection) -> Router {
    let db = Arc::new(Mutex::new(db));
    Router::new()
        .route("/products/{id}", get(product_name))
        .route("/blocking/products/{id}", get(product_name_blocking))
        .with_state(db)
}
// ANCHOR_END: one_connection

// ANCHOR: semaphore
/// At most `limit` exports run at once; more requests wait their turn, in
/// order, without holding a thread while they wait. Each export opens its
/// own read-only connection: exports are rare, so a pool would not pay off.
#[derive(Clone)]
pub struct Exports {
    slots: Arc<Semaphore>,
    database: Arc<Path>,
}

impl Exports {
    pub fn new(database: &Path, limit: usize) -> Exports {
        let slots = Arc::new(Semaphore::new(limit));
        let database = database.into();
        Exports { slots, database }
    }

    /// Counts the rows of `orders`, one of at most `limit` at a time.
    pub async fn count_orders(&self) -> rusqlite::Result<i64> {
        // An *owned* permit can move into the blocking closure, so the slot
        // stays taken until the work is really done, even if the caller
        // stops waiting for it.
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let database = Arc::clone(&self.database);
        let work = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
            let db = Connection::open_with_flags(&*database, flags)?;
            db.query_row("SELECT count(*) FROM orders", [], |row| row.get(0))
        });
        match work.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}
// ANCHOR_END: semaphore

// ANCHOR: guard
/// Counts the jobs in progress. The count goes down in `Drop`, which runs
/// when the guard goes out of scope for any reason: a return, a `?`, or a
/// panic unwinding through the function.
pub struct InProgress {
    jobs: Arc<AtomicUsize>,
}

impl InProgress {
    pub fn start(jobs: &Arc<AtomicUsize>) -> InProgress {
        jobs.fetch_add(1, Ordering::SeqCst);
        InProgress {
            jobs: Arc::clone(jobs),
        }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.jobs.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whatever `work` does, panics included, the count is right afterwards.
pub fn counted<T>(jobs: &Arc<AtomicUsize>, work: impl FnOnce() -> T) -> T {
    let _in_progress = InProgress::start(jobs);
    work()
}
// ANCHOR_END: guard
