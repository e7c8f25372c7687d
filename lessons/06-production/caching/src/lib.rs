//! # production/caching — Caching the catalogue
//!
//! `GET /products` is the shop's most read page, and the query behind it
//! is slow. Put a cache in this process's memory in front of it: the
//! catalogue, once loaded, is served for 60 seconds (by the shop's
//! [`Clock`], which the tests move forward themselves); a write throws it
//! away; a hundred requests that find it missing at the same moment make
//! one load, not a hundred; and a load that fails, panics or started
//! before a write never leaves a wrong catalogue behind, nor a request
//! waiting for ever. Every answer tells browsers and shared caches how
//! long they may keep it, with `Cache-Control`.
//! The book's section "Caching the catalogue" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long a loaded catalogue stays fresh: 60 seconds.
pub const TTL_SECONDS: u64 = 60;

/// Where the shop reads the time: whole seconds since the Unix epoch. The
/// example serves with [`Clock::system`]; the tests give a clock they move
/// forward themselves.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The computer's clock.
    pub fn system() -> Clock {
        Clock::from_fn(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
        })
    }

    /// A clock that reads the time from `now`.
    pub fn from_fn(now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now, in seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

/// A product, as stored and as sent:
/// `{"id": 7, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The body of `POST /products`: every field of a product but its id.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: u32,
    pub stock: u32,
}

/// The body of `PATCH /products/{id}`: the fields to change, any of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub price_cents: Option<u32>,
    pub stock: Option<u32>,
}

/// The catalogue could not be read. The text is for the log, never for a
/// client. A `LoadError` answers `503 Service Unavailable`.
#[derive(Debug, Clone)]
pub struct LoadError(pub String);

/// A write to the catalogue that did not happen.
#[derive(Debug, Clone)]
pub enum WriteError {
    /// Another product already has this sku: `409 Conflict`.
    DuplicateSku(String),
    /// The database failed: `500 Internal Server Error`; the text is logged.
    Database(String),
}

/// A future that a trait object can return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the catalogue lives: the shop's database, whose full read is the
/// slow query the cache is for. [`SqliteCatalogue`] is the real one; the
/// tests wrap it in one that counts loads, holds them back, or fails them.
pub trait Catalogue: Send + Sync + 'static {
    /// Every product, in id order.
    fn load(&self) -> BoxFuture<'_, Result<Vec<Product>, LoadError>>;

    /// Stores a new product and returns it with its id.
    fn create(&self, new: NewProduct) -> BoxFuture<'_, Result<Product, WriteError>>;

    /// Changes the given fields of product `id` and returns it as it is now;
    /// `None` if there is no such product.
    fn update(
        &self,
        id: i64,
        patch: ProductPatch,
    ) -> BoxFuture<'_, Result<Option<Product>, WriteError>>;
}

/// Creates the `products` table of the shop, if it does not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS products (
            id          INTEGER PRIMARY KEY,
            sku         TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            stock       INTEGER NOT NULL CHECK (stock >= 0),
            version     INTEGER NOT NULL DEFAULT 1,
            created_at  TEXT NOT NULL
        ) STRICT;",
    )
}

/// The columns a [`Product`] is read from, in [`product_from_row`]'s order.
const PRODUCT_COLUMNS: &str = "id, sku, name, price_cents, stock";

fn product_from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        sku: row.get(1)?,
        name: row.get(2)?,
        price_cents: row.get(3)?,
        stock: row.get(4)?,
    })
}

/// The catalogue in a SQLite file: a new connection for every call, on
/// tokio's blocking threads.
pub struct SqliteCatalogue {
    path: PathBuf,
}

impl SqliteCatalogue {
    /// The catalogue in the SQLite file at `path`, created with the schema
    /// if needed, in WAL mode (readers never wait for a writer).
    pub fn open(path: &Path) -> rusqlite::Result<SqliteCatalogue> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(SqliteCatalogue {
            path: path.to_path_buf(),
        })
    }

    /// Runs `job` on a new connection to the file, on a blocking thread.
    async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let path = self.path.clone();
        let task = tokio::task::spawn_blocking(move || {
            let db = Connection::open(path)?;
            db.busy_timeout(Duration::from_secs(5))?;
            job(&db)
        });
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

impl Catalogue for SqliteCatalogue {
    fn load(&self) -> BoxFuture<'_, Result<Vec<Product>, LoadError>> {
        Box::pin(async move {
            let products = self.run(|db| {
                let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id");
                let mut statement = db.prepare(&sql)?;
                let products = statement.query_map([], product_from_row)?;
                products.collect()
            });
            products.await.map_err(|error| LoadError(error.to_string()))
        })
    }

    fn create(&self, new: NewProduct) -> BoxFuture<'_, Result<Product, WriteError>> {
        Box::pin(async move {
            let sku = new.sku.clone();
            let created = self.run(move |db| {
                let sql = format!(
                    "INSERT INTO products (sku, name, price_cents, stock, created_at)
                     VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                     RETURNING {PRODUCT_COLUMNS}"
                );
                let values = (&new.sku, &new.name, new.price_cents, new.stock);
                db.query_row(&sql, values, product_from_row)
            });
            created.await.map_err(|error| write_error(error, sku))
        })
    }

    fn update(
        &self,
        id: i64,
        patch: ProductPatch,
    ) -> BoxFuture<'_, Result<Option<Product>, WriteError>> {
        Box::pin(async move {
            let updated = self.run(move |db| {
                let sql = format!(
                    "UPDATE products
                     SET name = coalesce(?2, name),
                         price_cents = coalesce(?3, price_cents),
                         stock = coalesce(?4, stock),
                         version = version + 1
                     WHERE id = ?1
                     RETURNING {PRODUCT_COLUMNS}"
                );
                let values = (id, &patch.name, patch.price_cents, patch.stock);
                db.query_row(&sql, values, product_from_row).optional()
            });
            updated
                .await
                .map_err(|error| write_error(error, String::new()))
        })
    }
}

/// A failed write as a [`WriteError`]: a UNIQUE violation is the sku's.
fn write_error(error: rusqlite::Error, sku: String) -> WriteError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            WriteError::DuplicateSku(sku)
        }
        _ => WriteError::Database(error.to_string()),
    }
}

/// What [`Cache::get`] gives a request: the catalogue, and until when it is
/// fresh (in the clock's seconds: fresh while `now < expires_at`).
#[derive(Debug, Clone)]
pub struct Served {
    pub products: Arc<Vec<Product>>,
    pub expires_at: u64,
}

/// The catalogue's cache, in this process's memory, in front of the slow
/// [`Catalogue::load`].
pub struct Cache {
    catalogue: Arc<dyn Catalogue>,
    clock: Clock,
    state: Mutex<Memory>,
}

/// What the cache remembers between requests. A `std` mutex guards it: hold
/// it for a few instructions at a time, never across an `.await`.
#[derive(Default)]
struct Memory {
    // TODO: what the cache must remember to keep every promise of
    // `Cache::get` and `Cache::invalidate`.
}

impl Cache {
    pub fn new(catalogue: Arc<dyn Catalogue>, clock: Clock) -> Cache {
        Cache {
            catalogue,
            clock,
            state: Mutex::new(Memory::default()),
        }
    }

    /// The catalogue, for one `GET /products`:
    ///
    /// - **Fresh entries are served as they are.** A catalogue is fresh
    ///   while `now < started + TTL_SECONDS`, where `started` is the
    ///   clock's time when its load *started* (the data is as old as the
    ///   moment it was read, not the moment it arrived). A fresh catalogue
    ///   is returned without calling the catalogue.
    /// - **One load at a time (single flight).** A request that finds no
    ///   fresh catalogue waits for a load: the one already running, if
    ///   there is one it may use, or else one it starts. However many
    ///   requests arrive while a load runs, the catalogue is loaded once,
    ///   and every one of them gets its result.
    /// - **Failures are shared, and forgotten.** A load that fails gives
    ///   its `LoadError` to every request that waited for it, and nothing
    ///   is kept: the next request loads again. A load that panics also
    ///   ends with an error for its waiters; none of them waits for ever.
    /// - **Nobody is stranded.** A request is dropped halfway when its
    ///   client hangs up; the requests waiting for the same load still get
    ///   the catalogue.
    /// - **Nothing from before a write.** A load that started before
    ///   [`Cache::invalidate`] is not kept when it lands, and a request
    ///   that arrives after `invalidate` never waits for it: it gets a
    ///   catalogue read after the write.
    pub async fn get(self: &Arc<Self>) -> Result<Served, LoadError> {
        // TODO: keep every promise above.
        let _ = (&self.catalogue, &self.clock, self.lock(), TTL_SECONDS);
        todo!()
    }

    /// Forgets the cached catalogue: the next request reads the catalogue
    /// as it is now. Never waits for a load in progress.
    pub fn invalidate(&self) {
        // TODO: make sure no request from now on gets a catalogue read
        // before this call.
        todo!()
    }

    fn lock(&self) -> MutexGuard<'_, Memory> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An `application/problem+json` response (RFC 9457) that no cache may
/// keep.
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl IntoResponse for LoadError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "the catalogue is unavailable");
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "The catalogue cannot be read right now. Please try again.",
        )
    }
}

impl IntoResponse for WriteError {
    fn into_response(self) -> Response {
        match self {
            WriteError::DuplicateSku(sku) => problem(
                StatusCode::CONFLICT,
                "Duplicate sku",
                &format!("A product with sku {sku} already exists."),
            ),
            WriteError::Database(error) => {
                tracing::error!(%error, "database error");
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "Something went wrong on our side. Please try again.",
                )
            }
        }
    }
}

/// The app's state: the catalogue, and its cache in front of it.
#[derive(Clone)]
struct Shop {
    catalogue: Arc<dyn Catalogue>,
    cache: Arc<Cache>,
    clock: Clock,
}

/// The shop's catalogue, read from `catalogue` through a cache that keeps
/// it [`TTL_SECONDS`] by `clock`:
///
/// | request                 | answer                                                      |
/// | ----------------------- | ----------------------------------------------------------- |
/// | `GET /products`         | `200 OK`, every product in id order, `Cache-Control: public, max-age=N` |
/// | `POST /products`        | `201 Created`, `Location: /products/{id}`, the new product  |
/// | `PATCH /products/{id}`  | `200 OK`, the product as it is now                          |
///
/// A catalogue that cannot be loaded is `503`; a duplicate sku `409`, an
/// unknown id `404`; every error is problem details with
/// `Cache-Control: no-store`.
pub fn app(catalogue: Arc<dyn Catalogue>, clock: Clock) -> Router {
    let cache = Arc::new(Cache::new(Arc::clone(&catalogue), clock.clone()));
    let shop = Shop {
        catalogue,
        cache,
        clock,
    };
    Router::new()
        .route("/products", get(list_products).post(create_product))
        .route("/products/{id}", patch(update_product))
        .with_state(shop)
}

/// `GET /products`: `200 OK`, every product in id order as a JSON array,
/// with `Cache-Control: public, max-age=N`, where `N` is what is left of
/// the catalogue's freshness as the response leaves (`expires_at - now`,
/// never below 0). A `LoadError` answers as it says.
async fn list_products(State(shop): State<Shop>) -> Response {
    // TODO: answer with the cached catalogue, and say for how long it may
    // be kept.
    let _ = (shop.cache, shop.clock, header::CACHE_CONTROL);
    todo!()
}

async fn create_product(State(shop): State<Shop>, Json(new): Json<NewProduct>) -> Response {
    match shop.catalogue.create(new).await {
        Ok(product) => {
            // TODO: the next GET /products must list the new product.
            let location = format!("/products/{}", product.id);
            let headers = [(header::LOCATION, location)];
            (StatusCode::CREATED, headers, Json(product)).into_response()
        }
        Err(error) => error.into_response(),
    }
}

async fn update_product(
    State(shop): State<Shop>,
    UrlPath(id): UrlPath<i64>,
    Json(patch): Json<ProductPatch>,
) -> Response {
    match shop.catalogue.update(id, patch).await {
        Ok(Some(product)) => {
            // TODO: the next GET /products must show the change.
            Json(product).into_response()
        }
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            &format!("There is no product {id}."),
        ),
        Err(error) => error.into_response(),
    }
}
