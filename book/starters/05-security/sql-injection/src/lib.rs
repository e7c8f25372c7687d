//! # security/sql-injection — SQL injection
//!
//! The shop's search, `GET /products/search?q=mug&max_price=1500&sort=-price_cents`,
//! works: it finds products by name, under a price, in the order asked for,
//! and records every search for the shop's analytics. It is also wide open.
//! Its SQL is put together with `format!`, so whatever a client sends
//! becomes part of the query: a quote ends the text early, and what follows
//! is SQL that SQLite runs. With one request an attacker lists the
//! customers' emails and password hashes, reads them one character at a
//! time, or drops a table.
//!
//! Make every attack fail while every real search keeps working. The book's
//! section "SQL injection" shows each attack and the fix.
//!
//! Run `cargo checker check` when you think you are done.

use std::panic::resume_unwind;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Creates the shop's tables, if they do not exist yet: the `customers` of
/// lesson 04 (whose emails and password hashes must never leave the
/// database), the `products` with an index for the lists sorted by price,
/// and `searches`, where every search is recorded.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id            INTEGER PRIMARY KEY,
            email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name          TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role          TEXT NOT NULL DEFAULT 'customer'
                          CHECK (role IN ('customer', 'admin'))
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
        CREATE INDEX IF NOT EXISTS products_price_cents ON products (price_cents);
        CREATE TABLE IF NOT EXISTS searches (
            id          INTEGER PRIMARY KEY,
            searched_at TEXT NOT NULL,
            term        TEXT NOT NULL
        ) STRICT;",
    )
}

/// A product, as found: `{"id": 7, "sku": "MUG-RED", "name": "Red mug",
/// "price_cents": 1250, "stock": 12}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

/// The query string of `GET /products/search`, as sent. Every parameter is
/// optional and read as text, so that the handler checks it and answers a
/// bad one with problem details. Other parameters are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    pub q: Option<String>,
    pub max_price: Option<String>,
    pub sort: Option<String>,
}

// ANCHOR: search
/// What a client searches for: see [`app`].
#[derive(Debug, Clone)]
pub struct Search {
    /// The text the names must contain (the empty text: every product).
    pub q: String,
    /// The highest price, in cents, as the client wrote it.
    // TODO: a search holds a price only once it is known to be a whole
    // number of cents.
    pub max_price: Option<String>,
    /// The order, as the client wrote it: a column, `-` first for
    /// descending order.
    // TODO: a search holds an order only once it is known to be one of the
    // orders `app` lists.
    pub sort: Option<String>,
}
// ANCHOR_END: search

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
/// words, which would tell an attacker how the query looks.
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

// ANCHOR: app
/// The shop's search, on `db` (whose schema [`create_schema`] made).
///
/// `GET /products/search` answers `200 OK` with a JSON array of the
/// products that match every parameter given:
///
/// | parameter   | keeps the products                                       |
/// | ----------- | -------------------------------------------------------- |
/// | `q`         | whose name contains `q` (absent or empty: every product) |
/// | `max_price` | with `price_cents <= max_price`                          |
///
/// - `q` is any text, and every character of it stands for itself:
///   quotes, `%`, `_`, `\`, `;`, `--` and letters outside ASCII are
///   searched for as written (`100%` finds `100% cotton tee` and not
///   `1000 piece puzzle`). ASCII letters match in either case (`MUG` finds
///   `Red mug`). No `q` is an error: a `q` that no name contains finds
///   nothing.
/// - `max_price` is a whole number of cents, written in decimal digits with
///   an optional sign, that fits an `i64` (`1500`, `-1`); anything else
///   (`12.50`, `1e3`, the empty text, ...) answers `400 Bad Request`.
/// - `sort` is one of `id`, `name`, `price_cents` and `stock`, written
///   exactly so, and optionally prefixed with `-` for descending order
///   (`sort=-price_cents`). Anything else answers `400 Bad Request`.
///   Products that tie, and every product when there is no `sort`, come in
///   ascending id order.
///
/// A `400` is problem details whose `detail` names the parameter at fault.
///
/// Every search answered `200` is recorded as a new row of `searches`,
/// with `q` exactly as sent (the empty text when there is none) as its
/// `term`, and the time in RFC 3339 UTC as its `searched_at`. Recording is
/// best effort: a search is answered even if it could not be recorded.
pub fn app(db: Db) -> Router {
    Router::new()
        .route("/products/search", get(search))
        .with_state(db)
}

async fn search(
    State(db): State<Db>,
    Query(params): Query<SearchParams>,
) -> Result<Json<Vec<Product>>, Problem> {
    let search = parse_search(params)?;
    let products = db
        .call(move |db| {
            // The analytics never stand in the way of a search: a search
            // that cannot be recorded is logged, and answered all the same.
            if let Err(error) = record_search(db, &search.q) {
                tracing::warn!(%error, "the search could not be recorded");
            }
            search_products(db, &search)
        })
        .await?;
    Ok(Json(products))
}
// ANCHOR_END: app

// ANCHOR: parse_search
/// Checks the query string and turns it into a [`Search`], or says what is
/// wrong with it as a `400 Bad Request` whose detail names the parameter.
pub fn parse_search(params: SearchParams) -> Result<Search, Problem> {
    // TODO: `max_price` and `sort` must be exactly as `app` describes them
    // before they go any further; anything else is a 400 that names the
    // parameter.
    if params.max_price.as_deref() == Some("") {
        return Err(Problem::bad_request("max_price must not be empty"));
    }
    Ok(Search {
        q: params.q.unwrap_or_default(),
        max_price: params.max_price,
        sort: params.sort,
    })
}
// ANCHOR_END: parse_search

// ANCHOR: record_search
/// Records a search for the shop's analytics: a new row of `searches` with
/// `term` exactly as given, and the time now.
pub fn record_search(db: &Connection, term: &str) -> rusqlite::Result<()> {
    // TODO: whatever `term` holds, it must be stored as it is, and nothing
    // else may happen.
    db.execute_batch(&format!(
        "INSERT INTO searches (searched_at, term)
         VALUES (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), '{term}')"
    ))
}
// ANCHOR_END: record_search

// ANCHOR: search_products
/// The products `search` finds, in the order it asks for.
pub fn search_products(db: &Connection, search: &Search) -> rusqlite::Result<Vec<Product>> {
    // TODO: no text that came from the client may become part of the SQL:
    // every character of `q` must be searched for as itself, and the price
    // and the order must be ones the search checked.
    let mut sql = format!(
        "SELECT id, sku, name, price_cents, stock FROM products WHERE name LIKE '%{}%'",
        search.q
    );
    if let Some(max_price) = &search.max_price {
        sql.push_str(&format!(" AND price_cents <= {max_price}"));
    }
    let order = match search.sort.as_deref() {
        None => "id ASC".to_string(),
        Some(sort) => match sort.strip_prefix('-') {
            Some(column) => format!("{column} DESC"),
            None => format!("{sort} ASC"),
        },
    };
    sql.push_str(&format!(" ORDER BY {order}, id ASC"));

    let mut statement = db.prepare(&sql)?;
    let rows = statement.query_map([], |row| {
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
// ANCHOR_END: search_products
