//! # api/openapi — Documenting the API
//!
//! The shop's products API describes itself: an OpenAPI 3.1 document,
//! generated from the handlers and the router by utoipa, served at
//! `GET /openapi.json`. Document every route with its parameters, its
//! request body and every status it really returns, give the types their
//! schemas, and add the route the shop still lacks, documented like the
//! others. The book's section "Documenting the API" explains every piece.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The shop's database, shared by every request.
pub type Db = Arc<Mutex<Connection>>;

/// A product, as the API sends it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12
}))]
pub struct Product {
    /// The product's id, given by the shop.
    pub id: i64,
    /// The stock-keeping unit people type: unique, `MUG-RED`.
    pub sku: String,
    pub name: String,
    /// The price in cents: 1250 is 12.50.
    pub price_cents: i64,
    /// How many are in stock.
    pub stock: i64,
}

/// The body of `POST /products`: a product without its id.
// TODO: the document describes this type as a schema.
#[derive(Debug, Deserialize)]
pub struct NewProduct {
    /// Unique, not blank.
    pub sku: String,
    /// Not blank.
    pub name: String,
    /// At least 0.
    pub price_cents: i64,
    /// At least 0.
    pub stock: i64,
}

/// An error, as an RFC 9457 problem (`application/problem+json`).
// TODO: the document describes this type as a schema.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// The status code.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
}

/// The media type of a [`Problem`].
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What the document says about the API as a whole.
#[derive(OpenApi)]
#[openapi(info(
    title = "Shop API",
    version = "1.0.0",
    description = "The products of the workbook's shop.",
    license(name = "MIT OR Apache-2.0")
))]
struct ApiDoc;

/// The products API on `db`, a database whose schema [`create_schema`]
/// made, with its OpenAPI document at `GET /openapi.json`:
///
/// | request                  | answers                                  |
/// | ------------------------ | ---------------------------------------- |
/// | `GET /products`          | 200                                      |
/// | `POST /products`         | 201, 400, 409, 415, 422                  |
/// | `GET /products/{id}`     | 200, 400, 404                            |
/// | `DELETE /products/{id}`  | 204, 400, 404                            |
/// | `GET /openapi.json`      | 200, the document                        |
pub fn app(db: Db) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_products))
        .routes(routes!(get_product))
        .route("/products", post(create_product))
        .split_for_parts();
    // TODO: every operation of the table above is in the document (creating
    // a product too, and deleting one, which the app does not serve yet),
    // and the app serves the document at GET /openapi.json, as JSON.
    let _ = (api, delete_product);
    router.with_state(db)
}

/// Every product, in the order of their ids.
#[utoipa::path(
    get,
    path = "/products",
    tag = "products",
    responses(
        (status = 200, description = "Every product, in the order of their ids", body = [Product]),
    ),
)]
async fn list_products(State(db): State<Db>) -> Result<Json<Vec<Product>>, ApiError> {
    let db = db.lock().expect("no query panics while holding the lock");
    Ok(Json(all_products(&db)?))
}

/// One product.
// TODO: the document describes the path's parameter, and every status
// this handler answers: 200, 400 and 404.
#[utoipa::path(
    get,
    path = "/products/{id}",
    tag = "products",
    responses(
        (status = 200, description = "The product", body = Product),
    ),
)]
async fn get_product(
    State(db): State<Db>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Product>, ApiError> {
    let Path(id) = id?;
    let db = db.lock().expect("no query panics while holding the lock");
    match find_product(&db, id)? {
        Some(product) => Ok(Json(product)),
        None => Err(ApiError::not_found(id)),
    }
}

/// Adds a product; answers it with its `Location`.
// TODO: the document describes this operation: its request body, and
// every status it answers (201, 400, 409, 415 and 422), each with its body.
async fn create_product(
    State(db): State<Db>,
    body: Result<Json<NewProduct>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(new) = body?;
    check(&new)?;
    let db = db.lock().expect("no query panics while holding the lock");
    let product = insert_product(&db, &new)?;
    let location = format!("/products/{}", product.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(product),
    )
        .into_response())
}

/// Removes a product: `DELETE /products/{id}` answers `204 No Content` with
/// no body, or a `404` problem if there is no such product (`400` if the id
/// is not an integer).
// TODO: the document describes this operation like the others.
async fn delete_product(
    State(db): State<Db>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    // TODO: remove the product and answer as above.
    let _ = (db, id, remove_product);
    todo!()
}

/// A new product's fields, checked: `422` if one is blank or negative.
fn check(new: &NewProduct) -> Result<(), ApiError> {
    let problem = if new.sku.trim().is_empty() {
        "sku must not be blank"
    } else if new.name.trim().is_empty() {
        "name must not be blank"
    } else if new.price_cents < 0 {
        "price_cents must be at least 0"
    } else if new.stock < 0 {
        "stock must be at least 0"
    } else {
        return Ok(());
    };
    Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, problem))
}

/// Why a request failed: a status and a detail, sent as a [`Problem`].
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
}

impl ApiError {
    fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
        }
    }

    fn not_found(id: i64) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("product {id} does not exist"),
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::new(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, _) = &error
            && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        {
            return ApiError::new(StatusCode::CONFLICT, "another product has this sku");
        }
        tracing::error!(%error, "database error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request could not be completed",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: "about:blank".to_string(),
            title: self.status.canonical_reason().unwrap_or("").to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let mut response = (self.status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(PROBLEM_JSON),
        );
        response
    }
}

/// Creates the `products` table (the book's "The shop"), if it does not
/// exist.
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
        ) STRICT",
    )
}

fn product_from_row(row: &rusqlite::Row) -> rusqlite::Result<Product> {
    Ok(Product {
        id: row.get(0)?,
        sku: row.get(1)?,
        name: row.get(2)?,
        price_cents: row.get(3)?,
        stock: row.get(4)?,
    })
}

/// Every product, in the order of their ids.
pub fn all_products(db: &Connection) -> rusqlite::Result<Vec<Product>> {
    let mut statement =
        db.prepare("SELECT id, sku, name, price_cents, stock FROM products ORDER BY id")?;
    let products = statement.query_map([], product_from_row)?;
    products.collect()
}

/// The product `id`, if there is one.
pub fn find_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
    db.query_row(
        "SELECT id, sku, name, price_cents, stock FROM products WHERE id = ?1",
        [id],
        product_from_row,
    )
    .optional()
}

/// Stores a new product; returns it with its id.
pub fn insert_product(db: &Connection, new: &NewProduct) -> rusqlite::Result<Product> {
    db.execute(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![new.sku, new.name, new.price_cents, new.stock],
    )?;
    Ok(Product {
        id: db.last_insert_rowid(),
        sku: new.sku.clone(),
        name: new.name.clone(),
        price_cents: new.price_cents,
        stock: new.stock,
    })
}

/// Removes the product `id`; false if there was none.
pub fn remove_product(db: &Connection, id: i64) -> rusqlite::Result<bool> {
    Ok(db.execute("DELETE FROM products WHERE id = ?1", [id])? == 1)
}
