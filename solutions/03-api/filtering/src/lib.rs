//! # api/filtering — reference solution

use std::panic::resume_unwind;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Creates the `products` table of the shop, with an index for each column
/// that lists are often sorted by, if they do not exist yet.
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
        ) STRICT;
        CREATE INDEX IF NOT EXISTS products_price_cents ON products (price_cents);
        CREATE INDEX IF NOT EXISTS products_created_at ON products (created_at);",
    )
}

/// A product, as listed: `{"id": 7, "sku": "MUG-RED", "name": "Red mug",
/// "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The query string of `GET /products`, as sent: every parameter is
/// optional, and its text is checked by [`parse_filter`]. Other parameters
/// are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub q: Option<String>,
    pub min_price: Option<String>,
    pub max_price: Option<String>,
    pub in_stock: Option<String>,
    pub sort: Option<String>,
}

/// What a client asked `GET /products` for, checked: see [`app`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Only products whose name contains this text.
    pub q: Option<String>,
    /// Only products that cost at least this many cents.
    pub min_price: Option<i64>,
    /// Only products that cost at most this many cents.
    pub max_price: Option<i64>,
    /// Only products in stock (`true`) or out of stock (`false`).
    pub in_stock: Option<bool>,
    /// The order asked for, most significant key first (none: by id).
    pub sort: Vec<SortKey>,
}

/// One key of `sort`: a column, and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub column: Column,
    pub descending: bool,
}

/// The columns a list may be sorted by: the whitelist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Name,
    PriceCents,
    Stock,
    CreatedAt,
}

impl Column {
    /// Every column a list may be sorted by.
    pub const ALL: [Column; 5] = [
        Column::Id,
        Column::Name,
        Column::PriceCents,
        Column::Stock,
        Column::CreatedAt,
    ];

    /// The column's name, as clients write it in `sort` and as SQL names it.
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Name => "name",
            Column::PriceCents => "price_cents",
            Column::Stock => "stock",
            Column::CreatedAt => "created_at",
        }
    }
}

/// An error answered as RFC 9457 problem details, with the content type
/// `application/problem+json`:
/// `{"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "..."}`.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
}

impl Problem {
    /// A `400 Bad Request` that says what is wrong in `detail`.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem {
            status: StatusCode::BAD_REQUEST,
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
        let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
        (self.status, content_type, body.to_string()).into_response()
    }
}

/// A failed database call: logged, and answered `500` without SQLite's
/// words.
impl From<rusqlite::Error> for Problem {
    fn from(error: rusqlite::Error) -> Problem {
        tracing::error!(%error, "database error");
        Problem {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            detail: "the server could not read its database".to_string(),
        }
    }
}

/// The shop's database: one connection, used by one request at a time, on
/// tokio's blocking threads.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    pub fn new(connection: Connection) -> Db {
        Db(Arc::new(Mutex::new(connection)))
    }

    /// Runs `job` with the connection, off the async runtime's threads. A
    /// panic in `job` continues in the caller.
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
        match task.await {
            Ok(result) => result,
            Err(error) => resume_unwind(error.into_panic()),
        }
    }
}

/// The shop's product list, on `db` (whose schema [`create_schema`] made):
///
/// `GET /products` answers `200 OK` with a JSON array of products, those
/// that pass every filter given (all of them: the filters combine with AND),
/// in the order `sort` asks for:
///
/// | parameter   | keeps the products                                        |
/// | ----------- | --------------------------------------------------------- |
/// | `q`         | whose name contains `q` (see below)                       |
/// | `min_price` | with `price_cents >= min_price` (an integer of cents)     |
/// | `max_price` | with `price_cents <= max_price` (an integer of cents)     |
/// | `in_stock`  | `true`: with `stock > 0`; `false`: with `stock = 0`       |
///
/// `sort` is a comma-separated list of keys, most significant first, from
/// `id`, `name`, `price_cents`, `stock` and `created_at`; a key prefixed with
/// `-` sorts descending (`sort=-stock,name`). Whatever `sort` says, products
/// that tie on every key come in ascending id order, and without `sort` the
/// list is in ascending id order.
///
/// Any parameter that is not as described answers `400 Bad Request` with a
/// problem details body whose `detail` names the parameter, or for `sort`
/// the key at fault. See [`parse_filter`].
pub fn app(db: Db) -> Router {
    Router::new().route("/products", get(list)).with_state(db)
}

async fn list(
    State(db): State<Db>,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Product>>, Problem> {
    let filter = parse_filter(&params)?;
    let products = db.call(move |db| list_products(db, &filter)).await?;
    Ok(Json(products))
}

/// Checks the query string and turns it into a [`Filter`], or says what is
/// wrong with it (as a `400 Bad Request`):
///
/// - `q` is any text (the empty text keeps every product);
/// - `min_price` and `max_price` are integers written in decimal digits,
///   with an optional sign (`1250`, `-5`), that fit an `i64`: not `12.50`,
///   `1e3`, `abc` or the empty text. The `detail` names the parameter.
///   `min_price` above `max_price` is a 400 too, whose detail names both;
/// - `in_stock` is exactly `true` or `false`;
/// - `sort` is parsed by [`parse_sort`].
pub fn parse_filter(params: &ListParams) -> Result<Filter, Problem> {
    let min_price = parse_cents("min_price", params.min_price.as_deref())?;
    let max_price = parse_cents("max_price", params.max_price.as_deref())?;
    if let (Some(min), Some(max)) = (min_price, max_price)
        && min > max
    {
        return Err(Problem::bad_request(format!(
            "min_price ({min}) is above max_price ({max}): no price can be both"
        )));
    }
    let in_stock = match params.in_stock.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "in_stock must be `true` or `false`, not `{other}`"
            )));
        }
    };
    let sort = match params.sort.as_deref() {
        None => Vec::new(),
        Some(text) => parse_sort(text)?,
    };
    Ok(Filter {
        q: params.q.clone(),
        min_price,
        max_price,
        in_stock,
        sort,
    })
}

/// A price bound in cents, if given.
fn parse_cents(parameter: &str, text: Option<&str>) -> Result<Option<i64>, Problem> {
    let Some(text) = text else {
        return Ok(None);
    };
    match text.parse() {
        Ok(cents) => Ok(Some(cents)),
        Err(_) => Err(Problem::bad_request(format!(
            "{parameter} must be a whole number of cents, not `{text}`"
        ))),
    }
}

/// Parses `sort`: a comma-separated list of keys, each a column name of
/// [`Column::ALL`] written exactly (`price_cents`, not `Price_Cents` or
/// `price_cents `), optionally prefixed with one `-` for descending order.
///
/// Anything else is a `400 Bad Request` whose detail quotes the key at
/// fault: an unknown name, an empty key (`sort=`, `sort=name,`), and a
/// column named twice (`sort=name,-name`).
pub fn parse_sort(text: &str) -> Result<Vec<SortKey>, Problem> {
    let mut keys: Vec<SortKey> = Vec::new();
    for item in text.split(',') {
        let (descending, name) = match item.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, item),
        };
        let Some(column) = Column::ALL.into_iter().find(|column| column.name() == name) else {
            let known: Vec<&str> = Column::ALL.iter().map(|column| column.name()).collect();
            return Err(Problem::bad_request(format!(
                "unknown sort key `{item}`: sort by {}, each optionally prefixed with `-`",
                known.join(", ")
            )));
        };
        if keys.iter().any(|key| key.column == column) {
            return Err(Problem::bad_request(format!(
                "the sort key `{name}` is given twice"
            )));
        }
        keys.push(SortKey { column, descending });
    }
    Ok(keys)
}

/// The `LIKE` pattern that finds `q` anywhere in a text, with every
/// character of `q` taken literally: `%`, `_` and the escape character `\`
/// itself are escaped with `\` (the query says `ESCAPE '\'`).
pub fn like_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for character in q.chars() {
        if matches!(character, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(character);
    }
    pattern.push('%');
    pattern
}

/// The products `filter` keeps, in the order it asks for.
///
/// The name matches `q` without regard to case for the ASCII letters (`MUG`
/// finds `Red mug`); every other character matches only itself (`crème`
/// finds `Crème brûlée torch`, `creme` does not), and `%`, `_` and `\` in
/// `q` are plain characters.
pub fn list_products(db: &Connection, filter: &Filter) -> rusqlite::Result<Vec<Product>> {
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(q) = &filter.q {
        conditions.push("name LIKE ? ESCAPE '\\'");
        values.push(Value::Text(like_pattern(q)));
    }
    if let Some(min) = filter.min_price {
        conditions.push("price_cents >= ?");
        values.push(Value::Integer(min));
    }
    if let Some(max) = filter.max_price {
        conditions.push("price_cents <= ?");
        values.push(Value::Integer(max));
    }
    match filter.in_stock {
        Some(true) => conditions.push("stock > 0"),
        Some(false) => conditions.push("stock = 0"),
        None => {}
    }

    let mut sql = String::from("SELECT id, sku, name, price_cents, stock FROM products");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    // Only names from the whitelist reach the SQL; the id last makes the
    // order total, whatever plan SQLite picks.
    let order: Vec<String> = filter
        .sort
        .iter()
        .map(|key| {
            let direction = if key.descending { "DESC" } else { "ASC" };
            format!("{} {direction}", key.column.name())
        })
        .chain(["id ASC".to_string()])
        .collect();
    sql.push_str(" ORDER BY ");
    sql.push_str(&order.join(", "));

    let mut statement = db.prepare(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(Product {
            id: row.get(0)?,
            sku: row.get(1)?,
            name: row.get(2)?,
            price_cents: row.get(3)?,
            stock: row.get(4)?,
        })
    })?;
    rows.collect()
}
