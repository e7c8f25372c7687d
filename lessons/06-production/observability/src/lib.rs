//! # production/observability — logs, spans and metrics
//!
//! Make the shop tell you what it does. Every log line becomes one JSON
//! object; every request gets an id and a span, so that every line it causes
//! (the handler's, the database job's on another thread) carries the id,
//! the method and the route, and a last line records the status and the
//! latency; and `/metrics` shows request counts and a latency histogram, by
//! method, route and status, in the OpenMetrics text format that Prometheus
//! scrapes.
//! The book's section "Logs, spans and metrics" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;

/// The header that carries a request's id, on the request and the response.
pub const REQUEST_ID: &str = "x-request-id";

/// The content type of the OpenMetrics text format, which `/metrics` answers.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The upper bounds, in seconds, of the latency histogram's buckets (a last
/// bucket, `+Inf`, takes everything).
pub const LATENCY_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `route` of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// The `method` label of a request whose method is none of HTTP's own.
pub const OTHER_METHOD: &str = "_OTHER";

/// Where the shop reads the time to measure how long a request took: the
/// time since some fixed moment (only differences mean anything). The
/// example serves with [`Clock::system`]; the tests give a clock they move
/// forward themselves.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Duration + Send + Sync>);

impl Clock {
    /// The computer's monotonic clock.
    pub fn system() -> Clock {
        let start = Instant::now();
        Clock::from_fn(move || start.elapsed())
    }

    /// A clock that reads the time from `now`.
    pub fn from_fn(now: impl Fn() -> Duration + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now.
    pub fn now(&self) -> Duration {
        (self.0)()
    }
}

/// The subscriber that writes the shop's logs to `writer`: one JSON object
/// per line, for every event at `INFO` or above (`DEBUG` and `TRACE` are
/// left out). Each line holds
///
/// - `timestamp`: when, in RFC 3339 (`2026-11-30T09:15:00.123456Z`);
/// - `level`: `INFO`, `WARN` or `ERROR`;
/// - `message`: what happened, and the event's other fields;
/// - the fields of the span the event happened in (`request_id`, `route`,
///   ...), nested or flat.
pub fn subscriber<W>(writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    // TODO: every event at INFO or above, and none below, is written to
    // `writer` as one JSON object on one line, with the fields listed above.
    tracing_subscriber::fmt().with_writer(writer).finish()
}

/// The labels of both metrics: `{method="GET",route="/products/{id}",status="200"}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// The shop's metrics, and the registry `/metrics` shows.
pub struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    durations: Family<HttpLabels, Histogram>,
}

impl Metrics {
    /// A registry with two metric families, empty:
    ///
    /// - `http_requests_total`, a counter of the requests answered;
    /// - `http_request_duration_seconds`, a histogram of how long they took,
    ///   in seconds, in the buckets [`LATENCY_BUCKETS`].
    pub fn new() -> Metrics {
        // TODO: a registry that shows both families (with a line of help
        // each) as soon as it is created, their histograms in the buckets
        // LATENCY_BUCKETS.
        todo!()
    }

    /// Counts one request answered, and observes how long it took.
    pub fn record(&self, method: &str, route: &str, status: u16, latency: Duration) {
        // TODO: the series of these labels counts one more request, and its
        // histogram holds one more latency.
        let _ = (
            &self.requests,
            &self.durations,
            method,
            route,
            status,
            latency,
        );
        todo!()
    }

    /// Every metric, in the OpenMetrics text format (ending with `# EOF`).
    pub fn encode(&self) -> String {
        // TODO: the registry's metrics as OpenMetrics text.
        let _ = &self.registry;
        todo!()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The shop: its database file, its clock, its metrics. Cloning it is
/// cheap, and every clone shares the same metrics.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    clock: Clock,
    metrics: Arc<Metrics>,
    /// Called on the blocking thread before every database job (the tests
    /// hold a query there).
    before_query: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, measuring time with `clock`, with fresh metrics.
    pub fn open(path: &Path, clock: Clock) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
            clock,
            metrics: Arc::new(Metrics::default()),
            before_query: None,
        })
    }

    /// The same shop, calling `hook` on the blocking thread before every
    /// database job.
    pub fn before_query(self, hook: impl Fn() + Send + Sync + 'static) -> Shop {
        Shop {
            before_query: Some(Arc::new(hook)),
            ..self
        }
    }

    /// A new connection to the shop's file, waiting up to 10 seconds for
    /// another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let db = Connection::open(&self.path)?;
        db.busy_timeout(Duration::from_secs(10))?;
        Ok(db)
    }

    /// Runs `job` on a connection of its own, on tokio's blocking threads,
    /// and returns what it returns. What `job` logs belongs to the request
    /// that called `run`: its lines carry the request's span.
    pub async fn run<T, F>(&self, job: F) -> Result<T, AppError>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let shop = self.clone();
        // TODO: the lines `job` logs carry the span of the request that
        // called `run`, as the handler's own lines do, although `job` runs
        // on another thread.
        let task = tokio::task::spawn_blocking(move || {
            if let Some(hook) = &shop.before_query {
                hook();
            }
            let db = shop.connect()?;
            job(&db)
        });
        match task.await {
            Ok(result) => result.map_err(AppError::Database),
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// Creates the `products` table, if it does not exist yet.
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

/// A product, as sent: `{"id": 7, "sku": "MUG-RED", "name": "Red mug",
/// "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The body of `POST /products`.
#[derive(Debug, Deserialize)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The product with this id, if there is one.
pub fn find_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
    tracing::debug!(product_id = id, "SELECT ... FROM products WHERE id = ?1");
    let product = db
        .query_row(
            "SELECT id, sku, name, price_cents, stock FROM products WHERE id = ?1",
            [id],
            |row| {
                Ok(Product {
                    id: row.get(0)?,
                    sku: row.get(1)?,
                    name: row.get(2)?,
                    price_cents: row.get(3)?,
                    stock: row.get(4)?,
                })
            },
        )
        .optional()?;
    tracing::info!(product_id = id, found = product.is_some(), "product read");
    Ok(product)
}

/// Stores a new product and returns it with its id; `None` if its `sku` is
/// taken.
pub fn insert_product(db: &Connection, new: &NewProduct) -> rusqlite::Result<Option<Product>> {
    let inserted = db.execute(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![new.sku, new.name, new.price_cents, new.stock],
    );
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            tracing::info!(sku = %new.sku, "sku taken");
            return Ok(None);
        }
        Err(error) => return Err(error),
    }
    let id = db.last_insert_rowid();
    tracing::info!(product_id = id, "product inserted");
    Ok(Some(Product {
        id,
        sku: new.sku.clone(),
        name: new.name.clone(),
        price_cents: new.price_cents,
        stock: new.stock,
    }))
}

/// The shop's API, every request observed by [`observe`]:
///
/// | request              | answer                                                   |
/// | -------------------- | -------------------------------------------------------- |
/// | `GET /products/{id}` | `200 OK` and the product, or `404 Not Found`             |
/// | `POST /products`     | `201 Created` and the product; `409` if the sku is taken, `422` for a negative price or stock |
/// | `GET /metrics`       | `200 OK`, every metric in the OpenMetrics text format    |
///
/// Any other path answers `404 Not Found`, a known path with another method
/// `405 Method Not Allowed`. Errors are `application/problem+json`.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/products", post(create_product))
        .route("/products/{id}", get(product))
        .route("/metrics", get(metrics))
        // `layer`, not `route_layer`: unmatched paths are observed too.
        .layer(middleware::from_fn_with_state(shop.clone(), observe))
        .with_state(shop)
}

async fn product(
    State(shop): State<Shop>,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<Json<Product>, AppError> {
    tracing::info!(product_id = id, "looking up product");
    match shop.run(move |db| find_product(db, id)).await? {
        Some(product) => {
            tracing::info!(product_id = id, "product found");
            Ok(Json(product))
        }
        None => {
            tracing::info!(product_id = id, "no such product");
            Err(AppError::NotFound(format!("There is no product {id}.")))
        }
    }
}

async fn create_product(
    State(shop): State<Shop>,
    Json(new): Json<NewProduct>,
) -> Result<(StatusCode, Json<Product>), AppError> {
    tracing::info!(sku = %new.sku, "creating product");
    if new.price_cents < 0 || new.stock < 0 {
        return Err(AppError::Invalid(
            "price_cents and stock cannot be negative.".to_string(),
        ));
    }
    let sku = new.sku.clone();
    match shop.run(move |db| insert_product(db, &new)).await? {
        Some(product) => Ok((StatusCode::CREATED, Json(product))),
        None => Err(AppError::Conflict(format!("The sku {sku} is taken."))),
    }
}

/// `GET /metrics`: every metric, as OpenMetrics text, with its content type
/// [`OPENMETRICS`].
async fn metrics(State(shop): State<Shop>) -> Response {
    // TODO: answer the shop's metrics, in their format.
    let _ = (shop.metrics, OPENMETRICS);
    todo!()
}

/// Middleware around every request, also one that matches no route
/// (the app adds it with `layer`):
///
/// - **Request id.** A request that comes with an acceptable
///   `x-request-id` keeps it; any other gets a fresh one. The response
///   carries it back in `x-request-id`.
/// - **Span.** The rest of the stack runs inside a span (call it
///   `request`) with the fields `request_id`, `method`, `route` (the route
///   the request matched, `/products/{id}`, or `unmatched`), and `status`
///   and `latency_ms`, recorded when the response is ready. Every line
///   logged while the request is handled carries them: the handler's, and
///   those of its database job on a blocking thread (see [`Shop::run`]),
///   also while other requests are in flight on the same thread.
/// - **`finished`.** When the response is ready, one `INFO` line with the
///   message `finished`, inside the span, with `status` (`200`) and
///   `latency_ms` (whole milliseconds, a number): the time on the shop's
///   [`Clock`] from the moment the request got here to the moment its
///   response came back here.
/// - **Metrics.** The request is counted in `http_requests_total` and its
///   latency, in seconds, observed in `http_request_duration_seconds`, both
///   labelled with its method (see [`method_label`]), route and status.
pub async fn observe(State(shop): State<Shop>, request: Request, next: Next) -> Response {
    // TODO: settle the request's id, run the rest of the stack inside the
    // request's span, then record the status and the latency, log
    // `finished`, count the request, and echo the id on the response.
    let _ = (shop.clock, shop.metrics, request, next);
    let _ = (request_id, route, method_label, HeaderValue::from_static);
    todo!()
}

/// The request's own `x-request-id`, if it is one we accept (1 to 64
/// characters, each an ASCII letter or digit, `-`, `_` or `.`), or else a
/// new one from [`new_request_id`].
fn request_id(headers: &HeaderMap) -> String {
    // TODO: keep an acceptable id, replace any other (or none).
    let _ = (headers, REQUEST_ID, new_request_id);
    todo!()
}

/// The route the request matched, as written in the router
/// (`/products/{id}`), or [`UNMATCHED`].
fn route(request: &Request) -> String {
    // TODO: the route the router matched, never the path asked for.
    let _ = (request, UNMATCHED);
    todo!()
}

/// The method as a metric label: one of HTTP's own (`GET`, `HEAD`, `POST`,
/// `PUT`, `DELETE`, `CONNECT`, `OPTIONS`, `TRACE`, `PATCH`), or
/// [`OTHER_METHOD`] for any other.
fn method_label(method: &Method) -> &'static str {
    // TODO: a label no client can grow.
    let _ = (method, OTHER_METHOD);
    todo!()
}

/// A fresh request id: 128 random bits as 32 hex digits.
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system has random numbers");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What can go wrong in a handler, each answered as problem details.
#[derive(Debug)]
pub enum AppError {
    NotFound(String),
    Conflict(String),
    Invalid(String),
    Database(rusqlite::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::NotFound(detail) => problem(StatusCode::NOT_FOUND, "Not Found", &detail),
            AppError::Conflict(detail) => problem(StatusCode::CONFLICT, "Conflict", &detail),
            AppError::Invalid(detail) => problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Content",
                &detail,
            ),
            AppError::Database(error) => {
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

/// An RFC 9457 problem details response.
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let content_type = HeaderValue::from_static("application/problem+json");
    (status, [(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}
