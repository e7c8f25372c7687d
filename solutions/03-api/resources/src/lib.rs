//! # api/resources — resources and verbs
//!
//! The shop's products as a REST resource: a collection at `/products` and
//! one URL per product at `/products/{id}`, read with `GET`, created with
//! `POST`, replaced with `PUT` and removed with `DELETE`, each answering with
//! the status code that tells a client what happened.
//! The book's section "Resources and verbs" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A product, as stored and as sent:
/// `{"id": 7, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: u32,
    pub stock: u32,
}

/// The body of `POST /products` and of `PUT /products/{id}`: every field of
/// a product but its id, all of them required:
/// `{"sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12}`.
///
/// A body that is not JSON, lacks a field, or has a value of the wrong type
/// (a negative or fractional price, say) is refused by axum's `Json`
/// extractor before any handler runs (`400` or `422`). This exercise checks
/// nothing else about the values: the next one, `api/validation`, does.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: u32,
    pub stock: u32,
}

// ANCHOR: schema
/// Creates the `products` table, if it does not exist yet.
///
/// An id, once given to a product, is never given to another one: not even
/// after the product with the highest id was deleted. A client that kept
/// the URL of a deleted product must get `404 Not Found` from it, never
/// somebody else's product.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS products (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            sku         TEXT NOT NULL UNIQUE,
            name        TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            stock       INTEGER NOT NULL CHECK (stock >= 0),
            version     INTEGER NOT NULL DEFAULT 1,
            created_at  TEXT NOT NULL
        ) STRICT",
    )
}
// ANCHOR_END: schema

// ANCHOR: data
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

/// Stores a new product and returns it with its id. A `sku` that another
/// product has fails with SQLite's UNIQUE constraint error (see
/// [`is_unique_violation`]).
pub fn insert_product(db: &Connection, new: &NewProduct) -> rusqlite::Result<Product> {
    let sql = format!(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING {PRODUCT_COLUMNS}"
    );
    db.query_row(
        &sql,
        (&new.sku, &new.name, new.price_cents, new.stock),
        product_from_row,
    )
}

/// Every product, in the order of their ids.
pub fn all_products(db: &Connection) -> rusqlite::Result<Vec<Product>> {
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id");
    let mut statement = db.prepare(&sql)?;
    let products = statement.query_map([], product_from_row)?;
    products.collect()
}

/// The product with this id, if there is one.
pub fn find_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?1");
    db.query_row(&sql, [id], product_from_row).optional()
}

/// Replaces every field of the product with this id (its `version` grows by
/// one) and returns it as it is now; `None` if there is no such product, in
/// which case nothing changes. A `sku` that *another* product has fails with
/// SQLite's UNIQUE constraint error.
pub fn replace_product(
    db: &Connection,
    id: i64,
    new: &NewProduct,
) -> rusqlite::Result<Option<Product>> {
    let sql = format!(
        "UPDATE products
         SET sku = ?2, name = ?3, price_cents = ?4, stock = ?5, version = version + 1
         WHERE id = ?1
         RETURNING {PRODUCT_COLUMNS}"
    );
    db.query_row(
        &sql,
        (id, &new.sku, &new.name, new.price_cents, new.stock),
        product_from_row,
    )
    .optional()
}

/// Deletes the product with this id; `false` if there was none.
pub fn delete_product(db: &Connection, id: i64) -> rusqlite::Result<bool> {
    let deleted = db.execute("DELETE FROM products WHERE id = ?1", [id])?;
    Ok(deleted == 1)
}

/// Whether `error` is SQLite refusing a row because a `UNIQUE` column already
/// holds its value.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}
// ANCHOR_END: data

// ANCHOR: db
/// The app's database: one connection, shared by every request. Cloning a
/// `Db` is cheap: the clones share the connection.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn new(connection: Connection) -> Db {
        Db(Arc::new(Mutex::new(connection)))
    }

    /// Runs `job` with the connection, on tokio's blocking threads (SQLite
    /// calls block, see `database/async-access`), and returns what it
    /// returns. A panic in `job` continues in the caller.
    pub async fn call<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let connection = Arc::clone(&self.0);
        let task = tokio::task::spawn_blocking(move || {
            let connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            job(&connection)
        });
        task.await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
    }
}
// ANCHOR_END: db

// ANCHOR: error
/// Everything a handler can fail with. Each becomes a response with
/// `content-type: application/json` and a body `{"error": "<text>"}`:
///
/// | variant           | status                      | `error`                                   |
/// | ----------------- | --------------------------- | ----------------------------------------- |
/// | `NotFound(7)`     | `404 Not Found`             | `no product with id 7`                    |
/// | `DuplicateSku(s)` | `409 Conflict`              | `a product with sku MUG-RED already exists` |
/// | `Database(_)`     | `500 Internal Server Error` | `internal`                                |
///
/// A database error's own message goes to the log, never to the client.
#[derive(Debug)]
pub enum ApiError {
    /// No product has this id.
    NotFound(i64),
    /// Another product already has this sku.
    DuplicateSku(String),
    /// The database failed.
    Database(rusqlite::Error),
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        ApiError::Database(error)
    }
}
// ANCHOR_END: error

// ANCHOR: into_response
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::NotFound(id) => (StatusCode::NOT_FOUND, format!("no product with id {id}")),
            ApiError::DuplicateSku(sku) => (
                StatusCode::CONFLICT,
                format!("a product with sku {sku} already exists"),
            ),
            ApiError::Database(error) => {
                tracing::error!(%error, "database error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal".to_string())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}
// ANCHOR_END: into_response

// ANCHOR: app
/// The products service, on a database whose schema [`create_schema`] made:
///
/// | request                 | success                                                          | failure                       |
/// | ----------------------- | ---------------------------------------------------------------- | ----------------------------- |
/// | `POST /products`        | `201 Created`, `Location: /products/{id}`, the new product       | `409` duplicate sku           |
/// | `GET /products`         | `200 OK`, every product in an array, in id order (`[]` if none)  |                               |
/// | `GET /products/{id}`    | `200 OK`, the product                                            | `404`                         |
/// | `PUT /products/{id}`    | `200 OK`, the product as it is now                               | `404`, `409` duplicate sku    |
/// | `DELETE /products/{id}` | `204 No Content`, an empty body                                  | `404`                         |
///
/// `PUT` replaces every field of an existing product; it never creates one:
/// a `PUT` to an id that names no product is `404`, and stores nothing.
/// Errors answer as [`ApiError`] says. An `{id}` that is not a whole number
/// (`/products/abc`) is refused with axum's own `400 Bad Request`.
pub fn app(db: Db) -> Router {
    Router::new()
        .route("/products", get(list).post(create))
        .route("/products/{id}", get(read).put(replace).delete(remove))
        .with_state(db)
}
// ANCHOR_END: app

// ANCHOR: handlers
async fn create(
    State(db): State<Db>,
    Json(new): Json<NewProduct>,
) -> Result<impl IntoResponse, ApiError> {
    let sku = new.sku.clone();
    let product =
        db.call(move |db| insert_product(db, &new))
            .await
            .map_err(|error| match error {
                error if is_unique_violation(&error) => ApiError::DuplicateSku(sku),
                error => ApiError::Database(error),
            })?;
    let location = format!("/products/{}", product.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(product),
    ))
}

async fn list(State(db): State<Db>) -> Result<Json<Vec<Product>>, ApiError> {
    Ok(Json(db.call(all_products).await?))
}

async fn read(State(db): State<Db>, Path(id): Path<i64>) -> Result<Json<Product>, ApiError> {
    db.call(move |db| find_product(db, id))
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound(id))
}

async fn replace(
    State(db): State<Db>,
    Path(id): Path<i64>,
    Json(new): Json<NewProduct>,
) -> Result<Json<Product>, ApiError> {
    let sku = new.sku.clone();
    db.call(move |db| replace_product(db, id, &new))
        .await
        .map_err(|error| match error {
            error if is_unique_violation(&error) => ApiError::DuplicateSku(sku),
            error => ApiError::Database(error),
        })?
        .map(Json)
        .ok_or(ApiError::NotFound(id))
}

async fn remove(State(db): State<Db>, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    if db.call(move |db| delete_product(db, id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(id))
    }
}
// ANCHOR_END: handlers
