//! # api/problem-details — Errors as problem details
//!
//! Make every error of the shop's products API an RFC 9457 problem: a
//! response with `content-type: application/problem+json` whose body says
//! what kind of problem it is (`type`, `title`), its `status`, what went
//! wrong this time (`detail`) and where (`instance`, the request's path).
//! Not only the errors your handlers return: also a route or a method that
//! does not exist, and a body or a path axum's extractors refuse. A failure
//! of the database answers a 500 that tells nothing of its cause, which goes
//! to the log instead.
//! The book's section "Errors as problem details" explains every piece you
//! need, and gives the table of every problem the API answers.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{Connection, ErrorCode, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// without parameters (JSON is always UTF-8, so there is no `charset`).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `type` of a problem that says no more than its status code: its
/// `title` is then the status's reason phrase ("Not Found").
pub const ABOUT_BLANK: &str = "about:blank";
/// `GET /products/{id}` for an id no product has.
pub const PRODUCT_NOT_FOUND: &str = "https://shop.example/problems/product-not-found";
/// `POST /products` with a `sku` another product already has.
pub const DUPLICATE_SKU: &str = "https://shop.example/problems/duplicate-sku";
/// A product id in the path that is not a whole number (in `i64`).
pub const INVALID_PRODUCT_ID: &str = "https://shop.example/problems/invalid-product-id";
/// A JSON body that does not parse as JSON.
pub const MALFORMED_JSON: &str = "https://shop.example/problems/malformed-json";
/// A JSON body that parses but is not a new product.
pub const INVALID_PRODUCT: &str = "https://shop.example/problems/invalid-product";

/// The `detail` of every `500`: that something failed, never what.
pub const INTERNAL_DETAIL: &str = "something went wrong on our side; it has been logged";

/// One problem, as RFC 9457 describes it: what a client learns of one error.
///
/// A handler (or an extractor, or a fallback) answers with a `Problem` by
/// returning it as its response: the response then has the problem's status,
/// no body yet, and the `Problem` itself in its extensions. The middleware
/// [`render_problems`] writes the body, once it knows the request's path for
/// the `instance` member.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The HTTP status, also sent as the `status` member.
    pub status: StatusCode,
    /// A URI that names the kind of problem, or [`ABOUT_BLANK`].
    pub type_uri: &'static str,
    /// A short summary of the kind of problem, the same for every problem of
    /// this type.
    pub title: &'static str,
    /// What went wrong this time, for a person to read.
    pub detail: String,
    /// Extension members, written after the standard ones.
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem without extension members.
    pub fn new(
        status: StatusCode,
        type_uri: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            type_uri,
            title,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// An `about:blank` problem: its title is the status's reason phrase.
    pub fn about_blank(status: StatusCode, detail: impl Into<String>) -> Problem {
        let title = status.canonical_reason().unwrap_or("Error");
        Problem::new(status, ABOUT_BLANK, title, detail)
    }

    /// This problem with one more extension member.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Problem {
        self.extensions.insert(name.to_string(), value.into());
        self
    }
}

impl IntoResponse for Problem {
    /// The status, and the problem kept in the response's extensions for
    /// [`render_problems`].
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Writes the body of every response that carries a [`Problem`]: the
/// problem as a JSON object with the members `type`, `title`, `status` (a
/// number), `detail` and `instance` (the request's path, without its query),
/// then its extension members, sent as `application/problem+json` exactly.
/// Every other part of the response (its status, and headers such as
/// `Allow`) stays as it is; a response without a problem passes unchanged.
async fn render_problems(request: Request, next: Next) -> Response {
    // TODO: answer what the rest of the app answers; when that answer
    // carries a problem, the client receives the problem's JSON as described
    // above, with the request's path as its `instance`.
    let _ = (request, next);
    todo!()
}

/// Everything the products API can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// No product has this id.
    ProductNotFound(i64),
    /// Another product already has this sku.
    DuplicateSku(String),
    /// The id in the path is not a product id; the parser's message.
    InvalidProductId(String),
    /// The body is not JSON, or not sent as JSON.
    UnsupportedMediaType,
    /// The body does not parse as JSON; the parser's message.
    MalformedJson(String),
    /// The body is JSON, but not a new product; the parser's message.
    InvalidProduct(String),
    /// Any other request the app cannot read (a body over the size limit...).
    Unreadable(StatusCode, String),
    /// No route has this path.
    NoSuchRoute,
    /// The route exists, but not with this method.
    MethodNotAllowed(Method),
    /// The database failed.
    Database(rusqlite::Error),
}

impl IntoResponse for ApiError {
    /// The [`Problem`] this error is, as the book's table gives it: its
    /// status, `type`, `title`, `detail` and extension members.
    fn into_response(self) -> Response {
        // TODO: each variant answers its problem from the table. A database
        // error is logged at ERROR level with its cause, and its problem says
        // only INTERNAL_DETAIL.
        todo!()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(cause: rusqlite::Error) -> Self {
        ApiError::Database(cause)
    }
}

impl From<JsonRejection> for ApiError {
    /// Why axum's JSON extractor refused a body, as an `ApiError`.
    fn from(rejection: JsonRejection) -> Self {
        // TODO: a body not sent as JSON, a body that does not parse, and a
        // body of the wrong shape are three different errors, the last two
        // with the extractor's own message; any other refusal keeps its
        // status and message.
        let _ = rejection;
        todo!()
    }
}

impl From<PathRejection> for ApiError {
    /// Why axum's path extractor refused the id, as an `ApiError`.
    fn from(rejection: PathRejection) -> Self {
        // TODO: an id that is not a product id, with the extractor's message.
        let _ = rejection;
        todo!()
    }
}

/// A product, as stored and as sent:
/// `{"id": 7, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: u32,
    pub stock: u32,
}

/// The body of `POST /products`: a product without its id.
#[derive(Debug, Deserialize)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: u32,
    pub stock: u32,
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
        ) STRICT",
    )
}

/// Stores a new product and returns it with its id.
pub fn insert_product(db: &Connection, new: &NewProduct) -> rusqlite::Result<Product> {
    db.execute(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        (&new.sku, &new.name, new.price_cents, new.stock),
    )?;
    Ok(Product {
        id: db.last_insert_rowid(),
        sku: new.sku.clone(),
        name: new.name.clone(),
        price_cents: new.price_cents,
        stock: new.stock,
    })
}

/// The product with this id, if there is one.
pub fn find_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
    db.query_row(
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
    .optional()
}

/// Whether `error` is SQLite refusing a row that breaks a UNIQUE constraint.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.code == ErrorCode::ConstraintViolation
                && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// One connection, shared by the handlers, one request at a time.
type Db = Arc<Mutex<Connection>>;

/// The products API on `db`, a database whose schema [`create_schema`] made.
///
/// | request               | success                                                |
/// | --------------------- | ------------------------------------------------------ |
/// | `POST /products`      | `201 Created`, `Location: /products/{id}`, the product |
/// | `GET /products/{id}`  | `200 OK`, the product                                  |
///
/// Every error is a problem (see the book's table).
pub fn app(db: Connection) -> Router {
    // TODO: a path that no route has answers a 404 problem, and a method
    // that its route does not have a 405 problem (with its `Allow` header);
    // every response goes through `render_problems`.
    let _ = render_problems;
    Router::new()
        .route("/products", post(create_product))
        .route("/products/{id}", get(read_product))
        .with_state(Arc::new(Mutex::new(db)))
}

async fn create_product(
    State(db): State<Db>,
    Json(new): Json<NewProduct>,
) -> Result<Response, ApiError> {
    // TODO: store the product and answer 201 Created with a `Location` and
    // the product; a sku already taken is the problem for it. A body that
    // cannot be read must answer its problem too, not axum's plain text.
    let _ = (lock(&db), new, insert_product, is_unique_violation);
    todo!()
}

async fn read_product(
    State(db): State<Db>,
    Path(id): Path<i64>,
) -> Result<Json<Product>, ApiError> {
    // TODO: answer the product, or the problem that says it does not exist.
    // An id that cannot be read must answer its problem too.
    let _ = (db, id, find_product);
    todo!()
}

/// Locks the connection. A poisoned lock only means a handler panicked
/// while holding it; the connection itself is still usable.
fn lock(db: &Db) -> MutexGuard<'_, Connection> {
    db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
