//! # security/xss — Cross-site scripting
//!
//! The shop's product pages show what customers write: reviews with the
//! author's name and website, and the search box echoes what was searched
//! for. The pages work, and any customer can make them run JavaScript in
//! every other customer's browser: the text goes into the HTML as it was
//! typed. Make every piece of customer text reach the reader as text, in
//! whichever place of the page it lands (between tags, in an attribute, in
//! a link), and send the pages with the headers that make a browser refuse
//! whatever gets through anyway.
//! The book's section "Cross-site scripting" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rusqlite::{Connection, OptionalExtension};
use serde::Deserialize;

/// The Content-Security-Policy every page is to be sent with: scripts only
/// from the shop's own origin (so no inline script and no `javascript:` URL
/// runs), no plugins, no `<base>` that moves relative links, and no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

// ANCHOR: schema
/// Creates the shop's `products` table and the `reviews` customers write.
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
        CREATE TABLE IF NOT EXISTS reviews (
            id          INTEGER PRIMARY KEY,
            product_id  INTEGER NOT NULL REFERENCES products (id),
            author      TEXT NOT NULL,
            website     TEXT,                       -- as typed, NULL if left empty
            body        TEXT NOT NULL,
            created_at  TEXT NOT NULL
        ) STRICT;",
    )
}
// ANCHOR_END: schema

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

    /// Runs `job` with the connection. The queries are short, so they run
    /// on the request's thread.
    fn run<T>(
        &self,
        job: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DatabaseError> {
        let connection = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        job(&connection).map_err(|error| {
            tracing::error!(%error, "a query failed");
            DatabaseError
        })
    }
}

/// A query failed: the page says so, and nothing more.
struct DatabaseError;

impl IntoResponse for DatabaseError {
    fn into_response(self) -> Response {
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            layout("Error", "<p>Something went wrong on our side.</p>"),
        )
    }
}

/// A product as the page shows it.
struct Product {
    id: i64,
    name: String,
    price_cents: i64,
}

/// A review as stored.
struct Review {
    author: String,
    website: Option<String>,
    body: String,
}

/// What the review form sends: `author`, `website` (may be empty), `body`.
#[derive(Deserialize)]
pub struct NewReview {
    #[serde(default)]
    author: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    body: String,
}

/// What the search form sends: `?q=...`.
#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
}

// ANCHOR: app
/// The shop's pages:
///
/// - `GET /products/{id}`: the product with its reviews, and a form to
///   write one (404 for an unknown product);
/// - `POST /products/{id}/reviews`: stores a review sent by that form and
///   answers `303 See Other` back to the product; without an author or a
///   body, `422` with the form again, filled in with what was sent;
/// - `GET /search?q=...`: the products whose name contains `q`.
pub fn app(db: Db) -> Router {
    // TODO: every response also carries the `CONTENT_SECURITY_POLICY` above
    // as its `Content-Security-Policy`, and `X-Content-Type-Options: nosniff`
    // (one of each, whatever the route and the status).
    Router::new()
        .route("/products/{id}", get(product_page))
        .route("/products/{id}/reviews", post(add_review))
        .route("/search", get(search_page))
        .with_state(db)
}
// ANCHOR_END: app

// ANCHOR: escape
/// `text` made safe to put between tags, or inside an attribute value in
/// double or single quotes: `&`, `<`, `>`, `"` and `'` become character
/// references, everything else stays as it is.
pub fn escape_html(text: &str) -> String {
    // TODO: return `text` with those five characters replaced, and nothing
    // else changed (every other character, ASCII or not, as it is).
    let _ = text;
    todo!()
}

/// The link target to put in `href` for a URL a customer typed: the URL
/// itself if it is an absolute `http` or `https` URL, `#` for anything
/// else. Not yet escaped: it still goes through [`escape_html`].
pub fn safe_url(url: &str) -> &str {
    // TODO: keep only URLs whose scheme is `http` or `https` (in any case);
    // anything else (`javascript:`, `data:`, a URL with no scheme, ...)
    // becomes `#`.
    let _ = url;
    todo!()
}
// ANCHOR_END: escape

/// A complete HTML page.
fn page(status: StatusCode, html: String) -> Response {
    // TODO: the page says what it is exactly: HTML, encoded in UTF-8.
    (status, [(header::CONTENT_TYPE, "text/html")], html).into_response()
}

/// The page around `main` (already HTML), titled with `title` (text).
fn layout(title: &str, main: &str) -> String {
    // TODO: the title is text: it reads as it was given.
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title} · The shop</title>\n</head>\n<body>\n{main}\n</body>\n</html>\n"
    )
}

/// `1250` as `€12.50`.
fn price(cents: i64) -> String {
    format!("€{}.{:02}", cents / 100, cents % 100)
}

// ANCHOR: product_page
async fn product_page(State(db): State<Db>, Path(id): Path<i64>) -> Response {
    let found = db.run(|db| {
        let Some(product) = find_product(db, id)? else {
            return Ok(None);
        };
        Ok(Some((product, reviews_of(db, id)?)))
    });
    match found {
        Ok(Some((product, reviews))) => page(StatusCode::OK, render_product(&product, &reviews)),
        Ok(None) => not_found(id),
        Err(error) => error.into_response(),
    }
}

fn render_product(product: &Product, reviews: &[Review]) -> String {
    // TODO: every piece of text here that a customer (or anyone but this
    // code) wrote reaches the reader as text, wherever it lands: the name,
    // the author, the review; and a website becomes a link only if it is
    // an http or https URL.
    let mut items = String::new();
    for review in reviews {
        let author = &review.author;
        let author = match &review.website {
            Some(website) => format!("<a href='{website}' rel='nofollow ugc'>{author}</a>"),
            None => format!("<strong>{author}</strong>"),
        };
        items.push_str(&format!(
            "<li>{author} wrote:\n<p>{}</p></li>\n",
            review.body
        ));
    }
    let reviews = if items.is_empty() {
        "<p>No reviews yet.</p>".to_string()
    } else {
        format!("<ul class=\"reviews\">\n{items}</ul>")
    };
    let main = format!(
        "<h1>{}</h1>\n<p class=\"price\">{}</p>\n<h2>Reviews</h2>\n{reviews}\n\
         <h2>Write a review</h2>\n{}",
        product.name,
        price(product.price_cents),
        review_form(product.id, "", "", "", None),
    );
    layout(&product.name, &main)
}
// ANCHOR_END: product_page

// ANCHOR: review_form
/// The review form for product `id`, filled in with what was typed, and
/// with `error` (text) above it if there is one.
fn review_form(id: i64, author: &str, website: &str, body: &str, error: Option<&str>) -> String {
    // TODO: each field shows exactly what was typed, as its value or text,
    // and nothing typed can end the field it is in.
    let error = match error {
        Some(error) => format!("<p class=\"error\">{error}</p>\n"),
        None => String::new(),
    };
    format!(
        "<form method=\"post\" action=\"/products/{id}/reviews\">\n{error}\
         <label>Your name <input name=\"author\" value='{author}'></label>\n\
         <label>Your website <input name=\"website\" value=\"{website}\"></label>\n\
         <label>Your review <textarea name=\"body\">{body}</textarea></label>\n\
         <button>Send</button>\n</form>"
    )
}
// ANCHOR_END: review_form

async fn add_review(
    State(db): State<Db>,
    Path(id): Path<i64>,
    Form(review): Form<NewReview>,
) -> Response {
    let product = match db.run(|db| find_product(db, id)) {
        Ok(Some(product)) => product,
        Ok(None) => return not_found(id),
        Err(error) => return error.into_response(),
    };
    if review.author.trim().is_empty() || review.body.trim().is_empty() {
        let form = review_form(
            id,
            &review.author,
            &review.website,
            &review.body,
            Some("Please give your name and your review."),
        );
        let main = format!("<h1>A review of {}</h1>\n{form}", product.name);
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            layout("Your review", &main),
        );
    }
    let website = Some(review.website.trim()).filter(|website| !website.is_empty());
    let stored = db.run(|db| {
        db.execute(
            "INSERT INTO reviews (product_id, author, website, body, created_at)
             VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            (id, review.author.trim(), website, &review.body),
        )
    });
    match stored {
        Ok(_) => Redirect::to(&format!("/products/{id}")).into_response(),
        Err(error) => error.into_response(),
    }
}

// ANCHOR: search_page
async fn search_page(State(db): State<Db>, Query(params): Query<SearchParams>) -> Response {
    // TODO: the query and the products' names read as text, in the results
    // line and inside the search box's value alike.
    let q = params.q;
    let products = match db.run(|db| search(db, &q)) {
        Ok(products) => products,
        Err(error) => return error.into_response(),
    };
    let mut items = String::new();
    for product in &products {
        items.push_str(&format!(
            "<li><a href=\"/products/{}\">{}</a> {}</li>\n",
            product.id,
            product.name,
            price(product.price_cents)
        ));
    }
    let results = if items.is_empty() {
        "<p>No products match.</p>".to_string()
    } else {
        format!("<ul class=\"results\">\n{items}</ul>")
    };
    let main = format!(
        "<h1>Search</h1>\n<form action=\"/search\" method=\"get\">\
         <input name=\"q\" value=\"{}\"><button>Search</button></form>\n\
         <p>Results for {}:</p>\n{results}",
        q, q,
    );
    page(StatusCode::OK, layout("Search", &main))
}
// ANCHOR_END: search_page

/// The 404 page for product `id`.
fn not_found(id: i64) -> Response {
    page(
        StatusCode::NOT_FOUND,
        layout(
            "Not found",
            &format!("<h1>Not found</h1>\n<p>There is no product {id}.</p>"),
        ),
    )
}

fn find_product(db: &Connection, id: i64) -> rusqlite::Result<Option<Product>> {
    db.query_row(
        "SELECT id, name, price_cents FROM products WHERE id = ?1",
        [id],
        |row| {
            Ok(Product {
                id: row.get(0)?,
                name: row.get(1)?,
                price_cents: row.get(2)?,
            })
        },
    )
    .optional()
}

fn reviews_of(db: &Connection, product_id: i64) -> rusqlite::Result<Vec<Review>> {
    let mut statement =
        db.prepare("SELECT author, website, body FROM reviews WHERE product_id = ?1 ORDER BY id")?;
    let rows = statement.query_map([product_id], |row| {
        Ok(Review {
            author: row.get(0)?,
            website: row.get(1)?,
            body: row.get(2)?,
        })
    })?;
    rows.collect()
}

/// The products whose name contains `q` (ASCII letters in any case), by id.
fn search(db: &Connection, q: &str) -> rusqlite::Result<Vec<Product>> {
    let mut statement = db.prepare(
        "SELECT id, name, price_cents FROM products
         WHERE instr(lower(name), lower(?1)) > 0 ORDER BY id",
    )?;
    let rows = statement.query_map([q], |row| {
        Ok(Product {
            id: row.get(0)?,
            name: row.get(1)?,
            price_cents: row.get(2)?,
        })
    })?;
    rows.collect()
}
