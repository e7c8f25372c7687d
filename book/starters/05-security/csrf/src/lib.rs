//! # security/csrf — Cross-site request forgery
//!
//! The shop's account page works: a customer changes their email and
//! cancels orders with its forms, and scripts do the same with JSON. It
//! also obeys any other site: a page of `https://evil.example` that posts a
//! form to the shop makes the customer's browser send the shop's session
//! cookie along, and the shop does what the form says. Make every request
//! that can change something prove it comes from the shop's own pages (the
//! browser's `Origin` and `Sec-Fetch-Site` headers, and the session's CSRF
//! token), and make a GET change nothing.
//! The book's section "Cross-site request forgery" explains the attack and
//! every defence.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path as UrlPath, Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The name of the cookie that carries the session id.
pub const SESSION_COOKIE: &str = "session";

/// The request header in which scripts and API clients send the token.
pub const TOKEN_HEADER: &str = "x-csrf-token";

/// The form field in which the shop's own forms send the token.
pub const TOKEN_FIELD: &str = "csrf_token";

/// The shop: its database file and its public origin. Cloning it is cheap;
/// every request gets a clone.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    /// Where customers' browsers load the shop from, as a browser writes an
    /// origin: scheme, host and port if not the scheme's default, no path
    /// and no trailing slash: `https://shop.example`.
    origin: String,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode, served to browsers at `origin`
    /// (`https://shop.example`).
    pub fn open(path: &Path, origin: &str) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
            origin: origin.to_string(),
        })
    }

    /// A new connection to the shop's file, foreign keys on, waiting up to
    /// 5 seconds for another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let db = Connection::open(&self.path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(Duration::from_secs(5))?;
        Ok(db)
    }

    /// Runs `job` on a new connection, on tokio's blocking threads.
    pub async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let shop = self.clone();
        let task = tokio::task::spawn_blocking(move || job(&mut shop.connect()?));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// The valid session the request's cookie names, if any.
    pub async fn session(&self, headers: &HeaderMap) -> rusqlite::Result<Option<Session>> {
        let jar = CookieJar::from_headers(headers);
        let Some(id) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
            return Ok(None);
        };
        self.run(move |db| find_session(db, &id, now())).await
    }
}

/// Creates the tables this exercise uses, if they do not exist yet.
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
        CREATE TABLE IF NOT EXISTS sessions (
            id          TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            expires_at  INTEGER NOT NULL,
            csrf_token  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            status      TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            created_at  TEXT NOT NULL
        ) STRICT;",
    )
}

/// What this exercise stores as every customer's password hash: nobody logs
/// in with a password here (lesson 04 did that), sessions are made directly.
const NO_PASSWORD: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$bm90LXVzZWQ$bm90LXVzZWQtaW4tdGhpcy1leGVyY2lzZQ";

/// Adds a customer and returns their id.
pub fn add_customer(db: &Connection, email: &str, name: &str) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name, password_hash) VALUES (?1, ?2, ?3)",
        params![email, name, NO_PASSWORD],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a pending order of `customer_id` and returns its id.
pub fn add_order(db: &Connection, customer_id: i64, total_cents: i64) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![customer_id, total_cents],
    )?;
    Ok(db.last_insert_rowid())
}

/// A logged-in browser's session, as stored: its id (the cookie's value),
/// its customer, and the CSRF token made with it.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub customer_id: i64,
    pub csrf_token: String,
}

/// 32 bytes from the operating system's CSPRNG, in base64url without
/// padding: 43 characters of `A-Z a-z 0-9 - _`.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a new session of `customer_id`, valid until `expires_at` (Unix
/// seconds), with a random id and a random CSRF token of its own. Logging
/// in (lesson 04) ends here.
pub fn start_session(
    db: &Connection,
    customer_id: i64,
    expires_at: i64,
) -> rusqlite::Result<Session> {
    let session = Session {
        id: random_token(),
        customer_id,
        csrf_token: random_token(),
    };
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at, csrf_token) VALUES (?1, ?2, ?3, ?4)",
        params![session.id, customer_id, expires_at, session.csrf_token],
    )?;
    Ok(session)
}

/// The session `id`, if it is still valid at `now` (`now < expires_at`).
pub fn find_session(db: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<Session>> {
    db.query_row(
        "SELECT id, customer_id, csrf_token FROM sessions WHERE id = ?1 AND ?2 < expires_at",
        params![id, now],
        |row| {
            Ok(Session {
                id: row.get(0)?,
                customer_id: row.get(1)?,
                csrf_token: row.get(2)?,
            })
        },
    )
    .optional()
}

/// The time now, in Unix seconds.
fn now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// A customer, as `POST /account/email` answers a JSON client.
#[derive(Debug, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// An order, as `POST /orders/{id}/cancel` answers a client that did not
/// post a form.
#[derive(Debug, Serialize)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub total_cents: i64,
    pub created_at: String,
}

fn customer(db: &Connection, id: i64) -> rusqlite::Result<Customer> {
    db.query_row(
        "SELECT id, email, name FROM customers WHERE id = ?1",
        [id],
        |row| {
            Ok(Customer {
                id: row.get(0)?,
                email: row.get(1)?,
                name: row.get(2)?,
            })
        },
    )
}

fn orders_of(db: &Connection, customer_id: i64) -> rusqlite::Result<Vec<Order>> {
    let mut statement = db.prepare(
        "SELECT id, customer_id, status, total_cents, created_at
         FROM orders WHERE customer_id = ?1 ORDER BY id",
    )?;
    let orders = statement.query_map([customer_id], order_from_row)?;
    orders.collect()
}

fn order_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Order> {
    Ok(Order {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        status: row.get(2)?,
        total_cents: row.get(3)?,
        created_at: row.get(4)?,
    })
}

// ANCHOR: app
/// The customer's account pages, on the database of `shop`:
///
/// | request                     | answer                                                      |
/// | --------------------------- | ----------------------------------------------------------- |
/// | `GET /account`              | `200 OK`, an HTML page: the email, a form to change it, the orders with a form to cancel each |
/// | `POST /account/email`       | a form: `303 See Other` to `/account`; JSON: `200 OK`, the customer |
/// | `POST /orders/{id}/cancel`  | a form: `303 See Other` to `/account`; otherwise `200 OK`, the order |
///
/// Every route needs a valid session cookie (`401` without one). Every
/// request that can change something must come from the shop's own pages:
/// see [`csrf_protection`].
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/account", get(account))
        .route("/account/email", post(change_email))
        // So that the link in the order confirmation email cancels with one
        // click.
        // TODO: no GET may change anything: GET /orders/{id}/cancel is
        // `405 Method Not Allowed`.
        .route("/orders/{id}/cancel", get(cancel_order).post(cancel_order))
        .layer(middleware::from_fn_with_state(
            shop.clone(),
            csrf_protection,
        ))
        .with_state(shop)
}
// ANCHOR_END: app

// ANCHOR: protection
/// Runs before every route's handler.
async fn csrf_protection(State(shop): State<Shop>, request: Request, next: Next) -> Response {
    // TODO: refuse with `forbidden(...)` (403) every request whose method
    // can change something (any but GET, HEAD and OPTIONS) unless both hold:
    //
    // 1. The browser's headers say a page of the shop sent it:
    //    - `Sec-Fetch-Site`, if sent, is `same-origin` or `none`;
    //    - `Origin`, if sent, is exactly the shop's origin, `shop.origin`
    //      (`https://shop.example`); `Origin: null` never is;
    //    - with no `Origin`, a `Referer`, if sent, is a URL whose origin
    //      (scheme://host[:port]) is exactly the shop's.
    // 2. It carries the CSRF token of the session its cookie names
    //    (`Session::csrf_token`): in the `X-CSRF-Token` header, or else, in
    //    a form body, in the `csrf_token` field. The comparison takes the
    //    same time however many of the first characters match.
    //
    // A request with no valid session goes on to its handler, which
    // answers 401. A request let through reaches its handler with its body
    // intact.
    let _ = &shop.origin;
    next.run(request).await
}
// ANCHOR_END: protection

/// Whether the request's body is a form (`application/x-www-form-urlencoded`).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The value of field `name` in a form body (`email=a%40b.example&csrf_token=...`),
/// decoded, if the body has that field.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    body.split(|&byte| byte == b'&').find_map(|pair| {
        let mut halves = pair.splitn(2, |&byte| byte == b'=');
        let key = decode_form(halves.next()?);
        (key == name).then(|| decode_form(halves.next().unwrap_or_default()))
    })
}

/// `+` as a space and `%XX` as its byte, the way forms encode text.
fn decode_form(text: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'+' => bytes.push(b' '),
            b'%' if tail.len() >= 2 => {
                let hex = std::str::from_utf8(&tail[..2]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        bytes.push(byte);
                        rest = &tail[2..];
                        continue;
                    }
                    None => bytes.push(b'%'),
                }
            }
            other => bytes.push(other),
        }
        rest = tail;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The session of the request, for the handlers: `401` without one.
pub struct CurrentSession(pub Session);

impl FromRequestParts<Shop> for CurrentSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Self, Self::Rejection> {
        match shop.session(&parts.headers).await {
            Ok(Some(session)) => Ok(CurrentSession(session)),
            Ok(None) => Err(problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Log in first: the request has no valid session cookie.",
            )),
            Err(error) => Err(internal_error(&error)),
        }
    }
}

/// The body of `POST /account/email`: a form (`email=...`) or JSON
/// (`{"email": "..."}`), and which of the two it was.
struct EmailChange {
    email: String,
    from_form: bool,
}

#[derive(Deserialize)]
struct NewEmail {
    email: String,
}

impl FromRequest<Shop> for EmailChange {
    type Rejection = Response;

    async fn from_request(request: Request, _: &Shop) -> Result<Self, Self::Rejection> {
        let from_form = is_form(request.headers());
        let body = Bytes::from_request(request, &())
            .await
            .map_err(IntoResponse::into_response)?;
        // A form is read as a form; any other body as JSON, whatever its
        // content type says.
        let email = if from_form {
            form_field(&body, "email")
        } else {
            serde_json::from_slice::<NewEmail>(&body)
                .ok()
                .map(|new| new.email)
        };
        match email {
            Some(email) => Ok(EmailChange { email, from_form }),
            None => Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Unprocessable Content",
                "Send the new address as `email`.",
            )),
        }
    }
}

// ANCHOR: page
async fn account(State(shop): State<Shop>, CurrentSession(session): CurrentSession) -> Response {
    let customer_id = session.customer_id;
    let found = shop
        .run(move |db| Ok((customer(db, customer_id)?, orders_of(db, customer_id)?)))
        .await;
    match found {
        Ok((customer, orders)) => Html(account_page(&customer, &orders, &session)).into_response(),
        Err(error) => internal_error(&error),
    }
}

/// The account page of `customer`, seen in `session`.
fn account_page(customer: &Customer, orders: &[Order], session: &Session) -> String {
    // TODO: every form on the page carries the session's CSRF token, in a
    // hidden field: <input type="hidden" name="csrf_token" value="...">.
    let _ = session;
    let token = "";
    let mut page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Your account</title></head>\n<body>\n\
         <h1>{name}</h1>\n\
         <form method=\"post\" action=\"/account/email\">\n  {token}\n  \
         <label>Email <input type=\"email\" name=\"email\" value=\"{email}\"></label>\n  \
         <button>Change</button>\n</form>\n<h2>Orders</h2>\n<ul>\n",
        name = escape(&customer.name),
        email = escape(&customer.email),
    );
    for order in orders {
        page.push_str(&format!(
            "<li>Order {id}: {status}, {total} cents\n  \
             <form method=\"post\" action=\"/orders/{id}/cancel\">{token}<button>Cancel</button></form></li>\n",
            id = order.id,
            status = order.status,
            total = order.total_cents,
        ));
    }
    page.push_str("</ul>\n</body>\n</html>\n");
    page
}
// ANCHOR_END: page

/// `text` safe inside HTML text and quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

async fn change_email(
    State(shop): State<Shop>,
    CurrentSession(session): CurrentSession,
    change: EmailChange,
) -> Response {
    let email = change.email.trim().to_string();
    if email.chars().count() > 254 || !email.contains('@') {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Content",
            "An email address has an @ and at most 254 characters.",
        );
    }
    let customer_id = session.customer_id;
    let changed = shop
        .run(move |db| {
            db.execute(
                "UPDATE customers SET email = ?1 WHERE id = ?2",
                params![email, customer_id],
            )?;
            customer(db, customer_id)
        })
        .await;
    match changed {
        Ok(_) if change.from_form => back_to_account(),
        Ok(customer) => Json(customer).into_response(),
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            problem(
                StatusCode::CONFLICT,
                "Conflict",
                "Another account uses this email address.",
            )
        }
        Err(error) => internal_error(&error),
    }
}

async fn cancel_order(
    State(shop): State<Shop>,
    CurrentSession(session): CurrentSession,
    UrlPath(id): UrlPath<i64>,
    headers: HeaderMap,
) -> Response {
    let customer_id = session.customer_id;
    let cancelled = shop
        .run(move |db| {
            db.execute(
                "UPDATE orders SET status = 'cancelled'
                 WHERE id = ?1 AND customer_id = ?2 AND status IN ('pending', 'paid')",
                params![id, customer_id],
            )?;
            db.query_row(
                "SELECT id, customer_id, status, total_cents, created_at
                 FROM orders WHERE id = ?1 AND customer_id = ?2",
                params![id, customer_id],
                order_from_row,
            )
            .optional()
        })
        .await;
    match cancelled {
        Ok(Some(order)) if order.status != "cancelled" => problem(
            StatusCode::CONFLICT,
            "Conflict",
            "The order has shipped: it can no longer be cancelled.",
        ),
        Ok(Some(_)) if is_form(&headers) => back_to_account(),
        Ok(Some(order)) => Json(order).into_response(),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "Not Found",
            "There is no such order.",
        ),
        Err(error) => internal_error(&error),
    }
}

/// `303 See Other` to the account page: after a form post, the browser
/// loads the page again with a GET.
fn back_to_account() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, HeaderValue::from_static("/account"))],
    )
        .into_response()
}

/// A `403 Forbidden` problem details body (RFC 9457).
pub fn forbidden(detail: &str) -> Response {
    problem(StatusCode::FORBIDDEN, "Forbidden", detail)
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let content_type = HeaderValue::from_static("application/problem+json");
    (status, [(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

/// A database error: logged, and answered with a `500` that tells nothing.
fn internal_error(error: &rusqlite::Error) -> Response {
    tracing::error!(%error, "database error");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        "Something went wrong on our side. Please try again.",
    )
}
