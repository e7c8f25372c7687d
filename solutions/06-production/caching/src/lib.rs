//! # production/caching — reference solution

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
use tokio::sync::watch;

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

/// What the cache remembers between requests. A `std` mutex guards it: it
/// is held for a few instructions at a time, never across an `.await`.
#[derive(Default)]
struct Memory {
    /// Grows by one at every invalidation. A load belongs to the
    /// generation it started in, and is kept only if that is still the
    /// current one: a load that started before a write read the catalogue
    /// as it was before it.
    generation: u64,
    /// The last catalogue loaded in the current generation, if any.
    entry: Option<Served>,
    /// The load in progress for requests to wait on, if any.
    flight: Option<Flight>,
    /// The id the next flight gets.
    next_flight: u64,
}

/// What a load's waiters wait on: `None` until it lands.
type Landing = watch::Receiver<Option<Result<Served, LoadError>>>;

/// A load in progress.
struct Flight {
    id: u64,
    generation: u64,
    landing: Landing,
}

impl Cache {
    pub fn new(catalogue: Arc<dyn Catalogue>, clock: Clock) -> Cache {
        Cache {
            catalogue,
            clock,
            state: Mutex::new(Memory::default()),
        }
    }

    /// The catalogue: the cached one while it is fresh, or else the result
    /// of one load shared by every request that arrives while it runs.
    pub async fn get(self: &Arc<Self>) -> Result<Served, LoadError> {
        let mut landing = {
            let mut state = self.lock();
            let now = self.clock.now();
            if let Some(entry) = &state.entry
                && now < entry.expires_at
            {
                return Ok(entry.clone());
            }
            match &state.flight {
                Some(flight) if flight.generation == state.generation => flight.landing.clone(),
                _ => self.take_off(&mut state, now),
            }
        };
        match landing.wait_for(Option::is_some).await {
            Ok(landed) => landed
                .clone()
                .expect("wait_for returns once the value is Some"),
            // The load ended without a result: it panicked.
            Err(_) => Err(LoadError("the catalogue load stopped halfway".to_string())),
        }
    }

    /// Forgets the cached catalogue, and every load in progress: the next
    /// request loads anew. Called after every successful write.
    pub fn invalidate(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.entry = None;
    }

    /// Starts a load, in a task of its own: it runs to its end even if
    /// every request waiting for it goes away.
    fn take_off(self: &Arc<Self>, state: &mut Memory, started: u64) -> Landing {
        let (done, landing) = watch::channel(None);
        let id = state.next_flight;
        state.next_flight += 1;
        let generation = state.generation;
        state.flight = Some(Flight {
            id,
            generation,
            landing: landing.clone(),
        });
        let in_flight = InFlight {
            cache: Arc::clone(self),
            id,
            generation,
            done,
        };
        tokio::spawn(async move {
            let loaded = in_flight.cache.catalogue.load().await;
            // The data is as old as the moment the load started.
            let result = loaded.map(|products| Served {
                products: Arc::new(products),
                expires_at: started + TTL_SECONDS,
            });
            in_flight.land(result);
        });
        landing
    }

    fn lock(&self) -> MutexGuard<'_, Memory> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A load in progress, owned by its task. Dropped without landing (the
/// load panicked), it still ends the flight: its waiters get an error, and
/// the next request loads again.
struct InFlight {
    cache: Arc<Cache>,
    id: u64,
    generation: u64,
    done: watch::Sender<Option<Result<Served, LoadError>>>,
}

impl InFlight {
    fn land(self, result: Result<Served, LoadError>) {
        {
            let mut state = self.cache.lock();
            if let Ok(served) = &result
                && state.generation == self.generation
            {
                state.entry = Some(served.clone());
            }
            self.end_flight(&mut state);
        }
        if let Err(LoadError(error)) = &result {
            tracing::error!(%error, "the catalogue could not be loaded");
        }
        // Nobody waiting is fine.
        let _ = self.done.send(Some(result));
    }

    /// Requests that arrive from now on do not wait for this load.
    fn end_flight(&self, state: &mut Memory) {
        if state
            .flight
            .as_ref()
            .is_some_and(|flight| flight.id == self.id)
        {
            state.flight = None;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.cache.lock();
        self.end_flight(&mut state);
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

async fn list_products(State(shop): State<Shop>) -> Response {
    match shop.cache.get().await {
        Ok(served) => {
            // What is left of the entry's freshness, as the response leaves.
            let max_age = served.expires_at.saturating_sub(shop.clock.now());
            let cache_control = format!("public, max-age={max_age}");
            let products: &[Product] = &served.products;
            ([(header::CACHE_CONTROL, cache_control)], Json(products)).into_response()
        }
        Err(error) => error.into_response(),
    }
}

async fn create_product(State(shop): State<Shop>, Json(new): Json<NewProduct>) -> Response {
    match shop.catalogue.create(new).await {
        Ok(product) => {
            // Only now is the new product in the database: a load that
            // started before this line may not have seen it.
            shop.cache.invalidate();
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
            shop.cache.invalidate();
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
