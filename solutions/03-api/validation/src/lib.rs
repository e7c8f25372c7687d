//! # api/validation — validating input
//!
//! `POST /products` accepts only products that make sense: a sku of the
//! shop's form, a name of a sensible length, a price and a stock that are
//! whole numbers in range, and no field it does not know. Anything else is
//! refused with `422 Unprocessable Content` and a problem document
//! (RFC 9457) that lists every invalid field at once, and nothing is stored.
//! The book's section "Validating input" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rusqlite::{Connection, ErrorCode, Row};
use serde::Serialize;
use serde_json::{Map, Value, json};

// ANCHOR: messages
/// The message for a field the body lacks.
pub const REQUIRED: &str = "is required";
/// The message for a field whose value is not a string (`null` included).
pub const NOT_A_STRING: &str = "must be a string";
/// The message for a field whose value is not a whole number: a string, a
/// boolean, `null`, or a number written with a fraction or an exponent
/// (`12.5`, `1250.0`, `1.25e3`).
pub const NOT_A_WHOLE_NUMBER: &str = "must be a whole number";
/// The message for a field of the body that a product does not have.
pub const UNKNOWN_FIELD: &str = "is not a known field";
/// The message for a body that is JSON but not an object (`[]`, `"MUG"`).
pub const NOT_AN_OBJECT: &str = "must be a JSON object";
/// The message for a string that is not a [`Sku`].
pub const SKU_RULE: &str =
    "must be 1 to 32 characters: A to Z, 0 to 9 and -, not starting or ending with -";
/// The message for a string that is not a [`ProductName`].
pub const NAME_RULE: &str = "must be 1 to 100 characters long, not counting spaces at either end";
/// The message for a whole number that is not a [`Price`].
pub const PRICE_RULE: &str = "must be between 0 and 10000000";
/// The message for a whole number that is not a [`Stock`].
pub const STOCK_RULE: &str = "must be between 0 and 1000000";
// ANCHOR_END: messages

// ANCHOR: domain
/// A stock keeping unit, such as `MUG-RED`: 1 to 32 characters, each an
/// ASCII capital letter `A`-`Z`, a digit `0`-`9` or a dash `-`, the first
/// and the last not a dash. Nothing is trimmed: a space is not allowed
/// anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Sku {
    /// [`SKU_RULE`].
    type Error = &'static str;

    fn try_from(text: &str) -> Result<Sku, &'static str> {
        let allowed = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-';
        let valid = (1..=32).contains(&text.len())
            && text.chars().all(allowed)
            && !text.starts_with('-')
            && !text.ends_with('-');
        if valid {
            Ok(Sku(text.to_string()))
        } else {
            Err(SKU_RULE)
        }
    }
}

/// A product's name: the text without the whitespace at either end (as
/// `str::trim` removes it), then 1 to 100 characters long. Characters are
/// Unicode scalar values (Rust's `char`), not bytes: `é` is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(String);

impl ProductName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for ProductName {
    /// [`NAME_RULE`].
    type Error = &'static str;

    fn try_from(text: &str) -> Result<ProductName, &'static str> {
        let name = text.trim();
        if (1..=100).contains(&name.chars().count()) {
            Ok(ProductName(name.to_string()))
        } else {
            Err(NAME_RULE)
        }
    }
}

/// A price in cents, from 0 to 10 000 000 (a hundred thousand in the shop's
/// currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(u32);

impl Price {
    pub fn cents(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Price {
    /// [`PRICE_RULE`].
    type Error = &'static str;

    fn try_from(cents: i64) -> Result<Price, &'static str> {
        match u32::try_from(cents) {
            Ok(cents) if cents <= 10_000_000 => Ok(Price(cents)),
            _ => Err(PRICE_RULE),
        }
    }
}

/// How many items are in stock, from 0 to 1 000 000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stock(u32);

impl Stock {
    pub fn count(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Stock {
    /// [`STOCK_RULE`].
    type Error = &'static str;

    fn try_from(count: i64) -> Result<Stock, &'static str> {
        match u32::try_from(count) {
            Ok(count) if count <= 1_000_000 => Ok(Stock(count)),
            _ => Err(STOCK_RULE),
        }
    }
}

/// A product to create, valid by construction: each field's type accepts
/// only valid values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: ProductName,
    pub price_cents: Price,
    pub stock: Stock,
}
// ANCHOR_END: domain

// ANCHOR: field_error
/// One invalid field: `{"field": "price_cents", "message": "must be between 0 and 10000000"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name, as the body has it (`""` for the body itself).
    pub field: String,
    /// What is wrong with it: one of the messages above.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: &str) -> FieldError {
        FieldError {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}
// ANCHOR_END: field_error

// ANCHOR: parse
/// The fields of a product, in the order their errors are listed.
const FIELDS: [&str; 4] = ["sku", "name", "price_cents", "stock"];

/// Reads `POST /products`'s body as a new product, or lists every reason
/// it is not one.
///
/// The body must be a JSON object (else one error: field `""`,
/// [`NOT_AN_OBJECT`]) with these fields, each required ([`REQUIRED`]):
///
/// | field         | a JSON ...                     | whose value is a ... |
/// | ------------- | ------------------------------ | -------------------- |
/// | `sku`         | string ([`NOT_A_STRING`])      | [`Sku`]              |
/// | `name`        | string ([`NOT_A_STRING`])      | [`ProductName`]      |
/// | `price_cents` | whole number ([`NOT_A_WHOLE_NUMBER`]) | [`Price`]     |
/// | `stock`       | whole number ([`NOT_A_WHOLE_NUMBER`]) | [`Stock`]     |
///
/// and no other field ([`UNKNOWN_FIELD`], under the field's name as sent:
/// `role`, `Price_cents`, `id`). Each field has at most one error: the
/// first of "missing", "wrong JSON type", "value out of its rules". The
/// errors are listed `sku`, `name`, `price_cents`, `stock`, then the
/// unknown fields in the order the body has them.
pub fn parse_new_product(body: &Value) -> Result<NewProduct, Vec<FieldError>> {
    let Some(body) = body.as_object() else {
        return Err(vec![FieldError::new("", NOT_AN_OBJECT)]);
    };
    let mut errors = Vec::new();
    let sku = field(
        &mut errors,
        "sku",
        text(body, "sku").and_then(Sku::try_from),
    );
    let name = field(
        &mut errors,
        "name",
        text(body, "name").and_then(ProductName::try_from),
    );
    let price_cents = field(
        &mut errors,
        "price_cents",
        whole_number(body, "price_cents").and_then(Price::try_from),
    );
    let stock = field(
        &mut errors,
        "stock",
        whole_number(body, "stock").and_then(Stock::try_from),
    );
    for unknown in body.keys().filter(|name| !FIELDS.contains(&name.as_str())) {
        errors.push(FieldError::new(unknown, UNKNOWN_FIELD));
    }
    match (sku, name, price_cents, stock) {
        (Some(sku), Some(name), Some(price_cents), Some(stock)) if errors.is_empty() => {
            Ok(NewProduct {
                sku,
                name,
                price_cents,
                stock,
            })
        }
        _ => Err(errors),
    }
}

/// The field's value if it is valid; otherwise `None`, and its error added
/// to `errors`.
fn field<T>(errors: &mut Vec<FieldError>, name: &str, value: Result<T, &'static str>) -> Option<T> {
    value
        .map_err(|message| errors.push(FieldError::new(name, message)))
        .ok()
}

/// The string `body[field]`.
fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, &'static str> {
    match body.get(field) {
        None => Err(REQUIRED),
        Some(value) => value.as_str().ok_or(NOT_A_STRING),
    }
}

/// The whole number `body[field]`. A whole number too large for an `i64` is
/// still a whole number: it becomes `i64::MAX`, which no rule accepts.
fn whole_number(body: &Map<String, Value>, field: &str) -> Result<i64, &'static str> {
    match body.get(field) {
        None => Err(REQUIRED),
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Ok(number.as_i64().unwrap_or(i64::MAX))
        }
        Some(_) => Err(NOT_A_WHOLE_NUMBER),
    }
}
// ANCHOR_END: parse

// ANCHOR: problem
/// The answer to an invalid body: `422 Unprocessable Content`, with
/// `content-type: application/problem+json` and the problem document
/// (RFC 9457)
///
/// ```json
/// {
///   "type": "https://shop.example/problems/validation",
///   "title": "Your request is not valid",
///   "status": 422,
///   "errors": [{"field": "price_cents", "message": "must be between 0 and 10000000"}]
/// }
/// ```
#[derive(Debug)]
pub struct ValidationProblem(pub Vec<FieldError>);

impl IntoResponse for ValidationProblem {
    fn into_response(self) -> Response {
        let problem = json!({
            "type": "https://shop.example/problems/validation",
            "title": "Your request is not valid",
            "status": 422,
            "errors": self.0,
        });
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            [(header::CONTENT_TYPE, "application/problem+json")],
            problem.to_string(),
        )
            .into_response()
    }
}
// ANCHOR_END: problem

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

/// Creates the `products` table, if it does not exist yet.
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
    db.query_row(
        "INSERT INTO products (sku, name, price_cents, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING id, sku, name, price_cents, stock",
        (
            new.sku.as_str(),
            new.name.as_str(),
            new.price_cents.cents(),
            new.stock.count(),
        ),
        product_from_row,
    )
}

/// Every product, in the order of their ids.
pub fn all_products(db: &Connection) -> rusqlite::Result<Vec<Product>> {
    let mut statement =
        db.prepare("SELECT id, sku, name, price_cents, stock FROM products ORDER BY id")?;
    let products = statement.query_map([], product_from_row)?;
    products.collect()
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

/// The app's database: one connection, shared by every request. Cloning a
/// `Db` is cheap: the clones share the connection.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn new(connection: Connection) -> Db {
        Db(Arc::new(Mutex::new(connection)))
    }

    /// Runs `job` with the connection, on tokio's blocking threads, and
    /// returns what it returns. A panic in `job` continues in the caller.
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

/// What the store can fail with once the body is valid, and its answer:
/// `409 Conflict` with `{"error": "a product with sku MUG-RED already
/// exists"}`, or `500 Internal Server Error` with `{"error": "internal"}`
/// (the cause goes to the log).
#[derive(Debug)]
pub enum StoreError {
    DuplicateSku(String),
    Database(rusqlite::Error),
}

impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            StoreError::DuplicateSku(sku) => (
                StatusCode::CONFLICT,
                format!("a product with sku {sku} already exists"),
            ),
            StoreError::Database(error) => {
                tracing::error!(%error, "database error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal".to_string())
            }
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

// ANCHOR: app
/// The products service, on a database whose schema [`create_schema`] made:
///
/// | request          | answer                                                                        |
/// | ---------------- | ----------------------------------------------------------------------------- |
/// | `POST /products` | `201 Created`, `Location: /products/{id}`, the stored product (name trimmed)  |
/// | `GET /products`  | `200 OK`, every product in an array, in id order                              |
///
/// `POST /products` checks its body in this order:
///
/// 1. a `content-type` other than `application/json`: `415 Unsupported Media Type`;
/// 2. a body that is not JSON at all (`{"sku": `): `400 Bad Request`;
/// 3. JSON that is not a valid product ([`parse_new_product`]):
///    `422 Unprocessable Content`, a [`ValidationProblem`];
/// 4. a sku that another product has: `409 Conflict` ([`StoreError`]).
///
/// The first two are axum's own answers (its `Json` extractor). Nothing is
/// stored unless the answer is `201`.
pub fn app(db: Db) -> Router {
    Router::new()
        .route("/products", post(create).get(list))
        .with_state(db)
}
// ANCHOR_END: app

// ANCHOR: create
async fn create(State(db): State<Db>, Json(body): Json<Value>) -> Response {
    let new = match parse_new_product(&body) {
        Ok(new) => new,
        Err(errors) => return ValidationProblem(errors).into_response(),
    };
    let sku = new.sku.as_str().to_string();
    match db.call(move |db| insert_product(db, &new)).await {
        Ok(product) => {
            let location = format!("/products/{}", product.id);
            let headers = [(header::LOCATION, location)];
            (StatusCode::CREATED, headers, Json(product)).into_response()
        }
        Err(error) if is_unique_violation(&error) => StoreError::DuplicateSku(sku).into_response(),
        Err(error) => StoreError::Database(error).into_response(),
    }
}
// ANCHOR_END: create

async fn list(State(db): State<Db>) -> Result<Json<Vec<Product>>, StoreError> {
    db.call(all_products)
        .await
        .map(Json)
        .map_err(StoreError::Database)
}
