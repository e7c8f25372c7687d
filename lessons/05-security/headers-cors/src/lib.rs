//! # security/headers-cors — Security headers and CORS
//!
//! The shop's JSON API answers its own web pages, which live on other
//! origins (`https://shop.example` calls the API with the customer's
//! cookies). It works, and it trusts every site on the web: its CORS layer
//! reflects whatever `Origin` arrives, with credentials, so any page a
//! customer visits can read their orders. And it sends none of the headers
//! that tell a browser to refuse MIME sniffing, framing, referrer leaks and
//! plain HTTP. Configure CORS as an allowlist from the settings, and put the
//! security headers on every response.
//! The book's section "Security headers and CORS" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

/// What the shop's operators configure.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The web origins whose pages may call this API from a browser, with
    /// the customer's cookies: scheme, host and port, exactly as a browser
    /// sends them in `Origin` (`https://shop.example`, no path, no `/`).
    pub allowed_origins: Vec<String>,
}

/// How long a browser may cache a preflight's answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The headers every response is to carry, with their values.
pub const SECURITY_HEADERS: [(&str, &str); 5] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
];

/// The shop's API, for its own web pages on other origins:
///
/// - `GET /products`: every product; `GET /products/{id}`: one, or `404`;
/// - `POST /orders` with `{"product_id": 1, "quantity": 2}`: `201` and the
///   order; `DELETE /orders/{id}`: `204`, or `404`;
/// - `GET /export`: the products as a CSV download;
/// - anything else: `404`, as problem details.
pub fn app(db: Db, settings: &Settings) -> Router {
    // TODO: a page of another origin may read a response only if its origin
    // is, exactly, one of `settings.allowed_origins` (then with the
    // customer's cookies); only GET, POST and DELETE, and only the
    // `content-type` and `authorization` request headers, are granted to
    // them; a preflight's answer may be kept for `PREFLIGHT_MAX_AGE`.
    let _ = settings;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods(AllowMethods::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(true);
    // TODO: every response, whatever answers it (a handler, an error, the
    // router's own 404 and 405, a preflight), carries each of
    // `SECURITY_HEADERS` once, with its value.
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{id}", get(find_product))
        .route("/orders", post(create_order))
        .route("/orders/{id}", delete(delete_order))
        .route("/export", get(export))
        .fallback(not_found)
        .with_state(db)
        .layer(cors)
}

/// Creates the shop's tables, if they do not exist yet, and customer 1.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id    INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS products (
            id          INTEGER PRIMARY KEY,
            sku         TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            stock       INTEGER NOT NULL CHECK (stock >= 0),
            version     INTEGER NOT NULL DEFAULT 1,
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            status      TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            created_at  TEXT NOT NULL
        ) STRICT;
        INSERT OR IGNORE INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada');",
    )
}

/// Stores a new product, created now, and returns its id.
pub fn insert_product(
    db: &Connection,
    sku: &str,
    name: &str,
    price_cents: i64,
    stock: i64,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        (sku, name, price_cents, stock),
    )?;
    Ok(db.last_insert_rowid())
}

/// The shop's database: one connection, shared by every request.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    /// Shares `connection` (which has the schema) with the app.
    pub fn new(connection: Connection) -> Db {
        Db(Arc::new(Mutex::new(connection)))
    }

    /// Runs `job` with the connection; the queries are short.
    fn run<T>(&self, job: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, Problem> {
        let connection = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        job(&connection).map_err(|error| {
            tracing::error!(%error, "a query failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
        })
    }
}

/// An error, as RFC 9457 problem details.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: String,
}

impl Problem {
    fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// A product, as sent.
#[derive(Debug, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// An order, as sent.
#[derive(Debug, Serialize)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub total_cents: i64,
}

/// What `POST /orders` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub product_id: i64,
    pub quantity: i64,
}

fn product_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        sku: row.get(1)?,
        name: row.get(2)?,
        price_cents: row.get(3)?,
        stock: row.get(4)?,
    })
}

const PRODUCT_COLUMNS: &str = "SELECT id, sku, name, price_cents, stock FROM products";

fn all_products(db: &Connection) -> rusqlite::Result<Vec<Product>> {
    let mut statement = db.prepare(&format!("{PRODUCT_COLUMNS} ORDER BY id"))?;
    let rows = statement.query_map([], product_from_row)?;
    rows.collect()
}

async fn list_products(State(db): State<Db>) -> Result<Json<Vec<Product>>, Problem> {
    Ok(Json(db.run(all_products)?))
}

async fn find_product(State(db): State<Db>, Path(id): Path<i64>) -> Result<Json<Product>, Problem> {
    let product = db.run(|db| {
        db.query_row(
            &format!("{PRODUCT_COLUMNS} WHERE id = ?1"),
            [id],
            product_from_row,
        )
        .optional()
    })?;
    product
        .map(Json)
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, format!("There is no product {id}.")))
}

async fn create_order(
    State(db): State<Db>,
    body: Result<Json<NewOrder>, JsonRejection>,
) -> Result<(StatusCode, Json<Order>), Problem> {
    let Json(new_order) =
        body.map_err(|rejection| Problem::new(rejection.status(), rejection.body_text()))?;
    if new_order.quantity <= 0 {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The quantity must be at least 1.",
        ));
    }
    let order = db.run(|db| {
        let price: Option<i64> = db
            .query_row(
                "SELECT price_cents FROM products WHERE id = ?1",
                [new_order.product_id],
                |row| row.get(0),
            )
            .optional()?;
        let Some(price) = price else {
            return Ok(None);
        };
        let total_cents = price * new_order.quantity;
        db.execute(
            "INSERT INTO orders (customer_id, total_cents, created_at)
             VALUES (1, ?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            [total_cents],
        )?;
        Ok(Some(Order {
            id: db.last_insert_rowid(),
            customer_id: 1,
            status: "pending".to_string(),
            total_cents,
        }))
    })?;
    match order {
        Some(order) => Ok((StatusCode::CREATED, Json(order))),
        None => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("There is no product {}.", new_order.product_id),
        )),
    }
}

async fn delete_order(State(db): State<Db>, Path(id): Path<i64>) -> Result<StatusCode, Problem> {
    let deleted = db.run(|db| db.execute("DELETE FROM orders WHERE id = ?1", [id]))?;
    if deleted == 0 {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("There is no order {id}."),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The products as CSV. This handler sets headers of its own, as download
/// handlers do: among them `X-Content-Type-Options`.
async fn export(State(db): State<Db>) -> Result<Response, Problem> {
    let products = db.run(all_products)?;
    let mut csv = String::from("id,sku,name,price_cents,stock\n");
    for product in products {
        let name = product.name.replace('"', "\"\"");
        csv.push_str(&format!(
            "{},{},\"{name}\",{},{}\n",
            product.id, product.sku, product.price_cents, product.stock
        ));
    }
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"products.csv\"",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    Ok((headers, csv).into_response())
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "There is nothing here.")
}
