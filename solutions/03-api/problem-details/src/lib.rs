//! # api/problem-details — reference solution

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{Connection, ErrorCode, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The media type of every error response, exactly: RFC 9457 defines it
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

// ANCHOR: problem
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
// ANCHOR_END: problem

// ANCHOR: render
impl Problem {
    /// The problem as its JSON object: `type`, `title`, `status` (a number),
    /// `detail` and `instance`, then the extension members.
    fn to_json(&self, instance: &str) -> Value {
        let mut members = Map::new();
        members.insert("type".into(), self.type_uri.into());
        members.insert("title".into(), self.title.into());
        members.insert("status".into(), self.status.as_u16().into());
        members.insert("detail".into(), self.detail.clone().into());
        members.insert("instance".into(), instance.into());
        for (name, value) in &self.extensions {
            // An extension never overrides a standard member.
            if !members.contains_key(name) {
                members.insert(name.clone(), value.clone());
            }
        }
        Value::Object(members)
    }
}

/// Writes the body of every response that carries a [`Problem`]: the
/// problem as JSON, with the request's path as its `instance`, as
/// `application/problem+json`. Every other part of the response (its status,
/// and headers such as `Allow`) stays as it is.
async fn render_problems(request: Request, next: Next) -> Response {
    let instance = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let Some(problem) = response.extensions_mut().remove::<Problem>() else {
        return response;
    };
    let body = problem.to_json(&instance).to_string();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.remove(header::CONTENT_LENGTH);
    *response.body_mut() = Body::from(body);
    response
}
// ANCHOR_END: render

// ANCHOR: api_error
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
// ANCHOR_END: api_error

// ANCHOR: into_response
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            ApiError::ProductNotFound(id) => Problem::new(
                StatusCode::NOT_FOUND,
                PRODUCT_NOT_FOUND,
                "Product not found",
                format!("there is no product with id {id}"),
            )
            .with("product_id", id),
            ApiError::DuplicateSku(sku) => Problem::new(
                StatusCode::CONFLICT,
                DUPLICATE_SKU,
                "SKU already in use",
                format!("a product with sku {sku} already exists"),
            )
            .with("sku", sku),
            ApiError::InvalidProductId(message) => Problem::new(
                StatusCode::BAD_REQUEST,
                INVALID_PRODUCT_ID,
                "Invalid product id",
                message,
            ),
            ApiError::UnsupportedMediaType => Problem::about_blank(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON, sent with content-type: application/json",
            ),
            ApiError::MalformedJson(message) => Problem::new(
                StatusCode::BAD_REQUEST,
                MALFORMED_JSON,
                "Malformed JSON",
                message,
            ),
            ApiError::InvalidProduct(message) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                INVALID_PRODUCT,
                "Invalid product",
                message,
            ),
            ApiError::Unreadable(status, message) => Problem::about_blank(status, message),
            ApiError::NoSuchRoute => {
                Problem::about_blank(StatusCode::NOT_FOUND, "there is nothing at this path")
            }
            ApiError::MethodNotAllowed(method) => Problem::about_blank(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{method} is not allowed here; the Allow header lists what is"),
            ),
            ApiError::Database(cause) => {
                // The detail is for us, in the log; the client learns only
                // that something failed.
                tracing::error!(%cause, "database error");
                Problem::about_blank(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL_DETAIL)
            }
        };
        problem.into_response()
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(cause: rusqlite::Error) -> Self {
        ApiError::Database(cause)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(error) => ApiError::MalformedJson(error.body_text()),
            JsonRejection::JsonDataError(error) => ApiError::InvalidProduct(error.body_text()),
            other => ApiError::Unreadable(other.status(), other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::InvalidProductId(rejection.body_text())
    }
}
// ANCHOR_END: into_response

// ANCHOR: extractors
/// `Json`, whose refusals are problems.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
struct ApiJson<T>(T);

/// `Path`, whose refusals are problems.
#[derive(FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
struct ApiPath<T>(T);
// ANCHOR_END: extractors

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

// ANCHOR: app
/// The products API on `db`, a database whose schema [`create_schema`] made.
///
/// | request               | success                                             |
/// | --------------------- | --------------------------------------------------- |
/// | `POST /products`      | `201 Created`, `Location: /products/{id}`, the product |
/// | `GET /products/{id}`  | `200 OK`, the product                               |
///
/// Every error is a problem (see the book's table).
pub fn app(db: Connection) -> Router {
    Router::new()
        .route("/products", post(create_product))
        .route("/products/{id}", get(read_product))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(render_problems))
        .with_state(Arc::new(Mutex::new(db)))
}
// ANCHOR_END: app

// ANCHOR: handlers
async fn create_product(
    State(db): State<Db>,
    ApiJson(new): ApiJson<NewProduct>,
) -> Result<impl IntoResponse, ApiError> {
    let product = insert_product(&lock(&db), &new).map_err(|error| {
        if is_unique_violation(&error) {
            ApiError::DuplicateSku(new.sku.clone())
        } else {
            ApiError::Database(error)
        }
    })?;
    let location = format!("/products/{}", product.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(product),
    ))
}

async fn read_product(
    State(db): State<Db>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Product>, ApiError> {
    match find_product(&lock(&db), id)? {
        Some(product) => Ok(Json(product)),
        None => Err(ApiError::ProductNotFound(id)),
    }
}

async fn no_such_route() -> ApiError {
    ApiError::NoSuchRoute
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method)
}
// ANCHOR_END: handlers

/// Locks the connection. A poisoned lock only means a handler panicked
/// while holding it; the connection itself is still usable.
fn lock(db: &Db) -> MutexGuard<'_, Connection> {
    db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
