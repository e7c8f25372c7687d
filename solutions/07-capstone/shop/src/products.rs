//! The catalogue (lessons api/validation, api/pagination, api/filtering,
//! api/conditional): products listed a page at a time, read with an
//! `ETag`, created and replaced by admins.

use std::collections::HashMap;
use std::fmt::Write;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH, LINK, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::accounts::Admin;
use crate::app::AppState;
use crate::input::{Fields, Id, is_code, read_json};
use crate::problem::Problem;

const SKU_RULE: &str =
    "must be 1 to 32 characters from A-Z, 0-9 and -, not starting or ending with -";
const NAME_RULE: &str = "must be 1 to 100 characters, spaces at the ends aside";
const PRICE_RULE: &str = "must be a whole number from 0 to 10000000";
const STOCK_RULE: &str = "must be a whole number from 0 to 1000000";

/// The page size without `limit`, and the largest one.
const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 100;

/// A product, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
    /// Not shown: it makes the `ETag`.
    #[serde(skip)]
    pub version: i64,
}

impl Product {
    const COLUMNS: &str = "id, sku, name, price_cents, stock, version";

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Product> {
        Ok(Product {
            id: row.get(0)?,
            sku: row.get(1)?,
            name: row.get(2)?,
            price_cents: row.get(3)?,
            stock: row.get(4)?,
            version: row.get(5)?,
        })
    }

    fn find(conn: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
        let sql = format!("SELECT {} FROM products WHERE id = ?1", Product::COLUMNS);
        conn.query_row(&sql, [id], Product::from_row).optional()
    }

    /// A strong tag that changes with every change of the product.
    fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id, self.version)
    }

    /// `200` with the product and its `ETag`.
    fn with_etag(self, status: StatusCode) -> Response {
        let etag = self.etag();
        (status, [(ETAG, etag)], Json(self)).into_response()
    }
}

/// The body of `POST /products` and `PUT /products/{id}`, valid.
struct ProductInput {
    sku: String,
    name: String,
    price_cents: i64,
    stock: i64,
}

fn parse_product(headers: &HeaderMap, body: &[u8]) -> Result<ProductInput, Problem> {
    let body = read_json(headers, body)?;
    let mut fields = Fields::of(&body, &["sku", "name", "price_cents", "stock"])?;
    let sku = fields
        .string("sku")
        .and_then(|sku| fields.check("sku", is_code(sku).then_some(sku).ok_or(SKU_RULE)));
    let name = fields.string("name").and_then(|name| {
        let name = name.trim();
        let valid = (1..=100).contains(&name.chars().count());
        fields.check("name", valid.then_some(name).ok_or(NAME_RULE))
    });
    let price_cents = fields.whole("price_cents", 0..=10_000_000, PRICE_RULE);
    let stock = fields.whole("stock", 0..=1_000_000, STOCK_RULE);
    fields.finish()?;
    match (sku, name, price_cents, stock) {
        (Some(sku), Some(name), Some(price_cents), Some(stock)) => Ok(ProductInput {
            sku: sku.to_string(),
            name: name.to_string(),
            price_cents,
            stock,
        }),
        _ => Err(Problem::internal()),
    }
}

/// Whether another product than `except` has `sku`.
fn sku_taken(conn: &Connection, sku: &str, except: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM products WHERE sku = ?1 AND id != ?2)",
        params![sku, except],
        |row| row.get(0),
    )
}

/// `POST /products`.
pub async fn create(
    State(app): State<AppState>,
    _admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let input = parse_product(&headers, &body)?;
    let product = app
        .db
        .write(move |tx| {
            if sku_taken(tx, &input.sku, 0)? {
                return Err(Problem::duplicate_sku(&input.sku));
            }
            tx.execute(
                "INSERT INTO products (sku, name, price_cents, stock) VALUES (?1, ?2, ?3, ?4)",
                params![input.sku, input.name, input.price_cents, input.stock],
            )?;
            Ok(Product::find(tx, tx.last_insert_rowid())?)
        })
        .await?
        .ok_or_else(Problem::internal)?;
    let location = format!("/products/{}", product.id);
    let mut response = product.with_etag(StatusCode::CREATED);
    if let Ok(location) = location.parse() {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// Whether an `If-Match` or `If-None-Match` value names `etag`: `*`, or a
/// comma-separated list holding it. `weak` compares ignoring `W/`, as
/// `If-None-Match` does; `If-Match` compares strongly.
fn matches(header: &str, etag: &str, weak: bool) -> bool {
    header.split(',').map(str::trim).any(|tag| {
        let tag = if weak {
            tag.strip_prefix("W/").unwrap_or(tag)
        } else {
            tag
        };
        tag == "*" || tag == etag
    })
}

/// `GET /products/{id}`.
pub async fn show(
    State(app): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let product = app
        .db
        .read(move |conn| Product::find(conn, id))
        .await?
        .ok_or_else(|| Problem::product_not_found(id))?;
    let if_none_match = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|header| matches(header, &product.etag(), true)) {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, product.etag())]).into_response());
    }
    Ok(product.with_etag(StatusCode::OK))
}

/// `PUT /products/{id}`: replaces the product whole, if the client has
/// seen its current version.
pub async fn replace(
    State(app): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let Some(if_match) = headers.get(IF_MATCH) else {
        return Err(Problem::about_blank(StatusCode::PRECONDITION_REQUIRED)
            .detail("send If-Match with the product's ETag"));
    };
    let if_match = if_match.to_str().unwrap_or_default().to_string();
    let input = parse_product(&headers, &body)?;
    let product = app
        .db
        .write(move |tx| {
            // Compared and written in one transaction: of two updates with
            // the same If-Match, the second finds the version moved on.
            let current = Product::find(tx, id)?.ok_or_else(|| Problem::product_not_found(id))?;
            if !matches(&if_match, &current.etag(), false) {
                return Err(Problem::about_blank(StatusCode::PRECONDITION_FAILED)
                    .detail("the product has changed since that ETag"));
            }
            if sku_taken(tx, &input.sku, id)? {
                return Err(Problem::duplicate_sku(&input.sku));
            }
            tx.execute(
                "UPDATE products SET sku = ?1, name = ?2, price_cents = ?3, stock = ?4,
                        version = version + 1
                 WHERE id = ?5",
                params![input.sku, input.name, input.price_cents, input.stock, id],
            )?;
            Ok(Product::find(tx, id)?)
        })
        .await?
        .ok_or_else(Problem::internal)?;
    Ok(product.with_etag(StatusCode::OK))
}

/// The filters of a listing, parsed.
#[derive(Default)]
struct Filters {
    q: Option<String>,
    min_price: Option<i64>,
    max_price: Option<i64>,
    in_stock: Option<bool>,
}

/// `limit`: ASCII digits, not 0; anything above 100 (however many digits)
/// is 100.
fn parse_limit(text: Option<&String>) -> Result<i64, Problem> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    let refuse = || Problem::invalid_parameter("limit", "limit must be a whole number from 1");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse());
    }
    let significant = text.trim_start_matches('0');
    if significant.is_empty() {
        return Err(refuse());
    }
    if significant.len() > 3 {
        return Ok(MAX_LIMIT);
    }
    Ok(significant
        .parse::<i64>()
        .map_err(|_| refuse())?
        .min(MAX_LIMIT))
}

/// A price bound: an optional `-` and ASCII digits that fit an `i64`.
fn parse_price(name: &str, text: Option<&String>) -> Result<Option<i64>, Problem> {
    let Some(text) = text else {
        return Ok(None);
    };
    let digits = text.strip_prefix('-').unwrap_or(text);
    let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    valid
        .then(|| text.parse().ok())
        .flatten()
        .map(Some)
        .ok_or_else(|| Problem::invalid_parameter(name, "must be a whole number of cents"))
}

fn parse_filters(query: &HashMap<String, String>) -> Result<Filters, Problem> {
    let in_stock = match query.get("in_stock").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            return Err(Problem::invalid_parameter(
                "in_stock",
                "in_stock must be true or false",
            ));
        }
    };
    let filters = Filters {
        q: query.get("q").filter(|q| !q.is_empty()).cloned(),
        min_price: parse_price("min_price", query.get("min_price"))?,
        max_price: parse_price("max_price", query.get("max_price"))?,
        in_stock,
    };
    if let (Some(min), Some(max)) = (filters.min_price, filters.max_price)
        && min > max
    {
        return Err(Problem::invalid_parameter(
            "min_price",
            "min_price is above max_price: nothing could match",
        ));
    }
    Ok(filters)
}

/// Cursors are opaque to clients and signed by the shop: the position, and
/// a keyed hash of it that only the shop can make, so that a cursor the
/// shop did not give out (garbage, or one changed by hand) is refused.
#[derive(Clone)]
pub struct Cursors {
    key: [u8; 32],
}

impl Cursors {
    /// A key of its own, derived from the token secret.
    pub fn new(secret: &str) -> Cursors {
        let key = Sha256::new()
            .chain_update("shop cursor key\0")
            .chain_update(secret)
            .finalize();
        Cursors { key: key.into() }
    }

    fn tag(&self, position: &str) -> [u8; 8] {
        let digest = Sha256::new()
            .chain_update(self.key)
            .chain_update(position)
            .finalize();
        let mut tag = [0; 8];
        tag.copy_from_slice(&digest[..8]);
        tag
    }

    /// The cursor of the page after the product `last_id`.
    fn encode(&self, last_id: i64) -> String {
        let position = format!("after:{last_id}");
        let mut cursor = String::new();
        for byte in position.bytes().chain(self.tag(&position)) {
            let _ = write!(cursor, "{byte:02x}");
        }
        cursor
    }

    /// The id a cursor made by [`Cursors::encode`] holds.
    fn decode(&self, cursor: &str) -> Option<i64> {
        if cursor.is_empty() || !cursor.len().is_multiple_of(2) || !cursor.is_ascii() {
            return None;
        }
        let bytes = (0..cursor.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&cursor[at..at + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let split = bytes.len().checked_sub(8)?;
        let (position, tag) = bytes.split_at(split);
        let position = std::str::from_utf8(position).ok()?;
        if self.tag(position) != tag {
            return None;
        }
        position.strip_prefix("after:")?.parse().ok()
    }
}

/// `text` with every byte but the unreserved ones percent-encoded, for a
/// query string.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// The URL of the next page: the same limit and filters, and the cursor.
fn next_url(limit: i64, filters: &Filters, cursor: &str) -> String {
    let mut url = format!("/products?limit={limit}");
    if let Some(q) = &filters.q {
        let _ = write!(url, "&q={}", percent_encode(q));
    }
    if let Some(min) = filters.min_price {
        let _ = write!(url, "&min_price={min}");
    }
    if let Some(max) = filters.max_price {
        let _ = write!(url, "&max_price={max}");
    }
    if let Some(in_stock) = filters.in_stock {
        let _ = write!(url, "&in_stock={in_stock}");
    }
    let _ = write!(url, "&cursor={cursor}");
    url
}

/// `GET /products`: a page of the products that match, after the cursor.
pub async fn list(
    State(app): State<AppState>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) =
        query.map_err(|_| Problem::invalid_parameter("", "the query string cannot be read"))?;
    let limit = parse_limit(query.get("limit"))?;
    let after = match query.get("cursor") {
        None => 0,
        Some(cursor) => app.cursors.decode(cursor).ok_or_else(|| {
            Problem::invalid_parameter("cursor", "the cursor is not one this shop gave out")
        })?,
    };
    let filters = parse_filters(&query)?;

    let (q, min, max, in_stock) = (
        filters.q.clone(),
        filters.min_price,
        filters.max_price,
        filters.in_stock,
    );
    let mut items: Vec<Product> = app
        .db
        .read(move |conn| {
            // Every value is a bound parameter. `q` is found with `instr`,
            // not LIKE: `%`, `_` and `\` are then characters like any other;
            // SQLite's `lower` folds ASCII letters only, as the contract asks.
            let sql = format!(
                "SELECT {} FROM products
                 WHERE id > ?1
                   AND (?2 IS NULL OR instr(lower(name), lower(?2)) > 0)
                   AND (?3 IS NULL OR price_cents >= ?3)
                   AND (?4 IS NULL OR price_cents <= ?4)
                   AND (?5 IS NULL OR (stock > 0) = ?5)
                 ORDER BY id
                 LIMIT ?6",
                Product::COLUMNS
            );
            let mut statement = conn.prepare_cached(&sql)?;
            // One more than the page: whether it exists says if `next` does.
            let rows = statement.query_map(
                params![after, q, min, max, in_stock, limit + 1],
                Product::from_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;

    let has_more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = match items.last() {
        Some(last) if has_more => Some(next_url(limit, &filters, &app.cursors.encode(last.id))),
        _ => None,
    };
    let body: Value = json!({"items": items, "next": next});
    let mut response = Json(body).into_response();
    if let Some(next) = next
        && let Ok(link) = format!("<{next}>; rel=\"next\"").parse()
    {
        response.headers_mut().insert(LINK, link);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_changed_one_does_not() {
        let cursors = Cursors::new("a secret of at least thirty-two bytes!!");
        let cursor = cursors.encode(41);
        assert_eq!(cursors.decode(&cursor), Some(41));
        let mut changed = cursor.clone().into_bytes();
        changed[13] = if changed[13] == b'8' { b'9' } else { b'8' };
        assert_eq!(
            cursors.decode(&String::from_utf8(changed).unwrap_or_default()),
            None
        );
        assert_eq!(cursors.decode(""), None);
        assert_eq!(cursors.decode("zz"), None);
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None).ok(), Some(20));
        assert_eq!(parse_limit(Some(&"1000".into())).ok(), Some(100));
        assert_eq!(parse_limit(Some(&"0".repeat(5).to_string())).ok(), None);
        assert_eq!(parse_limit(Some(&"2.5".into())).ok(), None);
        assert_eq!(parse_limit(Some(&"+5".into())).ok(), None);
    }
}
