//! # security/secrets — Keeping secrets out of logs
//!
//! The shop works: it reads its settings from the environment, logs them
//! when it starts, logs every request with its headers, and charges orders
//! through the payment gateway with its API key. It also writes its
//! secrets wherever it writes anything else: the API key and the session
//! secret into the startup log, the customers' session tokens into the
//! request log, the API key into the URL it calls (which the gateway's
//! access log, every proxy and every error message then keep), and into the
//! error pages it answers. Anyone who can read a log, a crash report or an
//! error page can then charge cards in the shop's name or be any customer.
//!
//! Keep every secret out of every log line, span, error message and
//! response, while the shop still logs what operators need and still uses
//! the secrets where they belong.
//! The book's section "Keeping secrets out of logs" explains the leaks and
//! their fixes.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::json;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tracing::Level;

/// What a secret shows wherever it is formatted, with `{}` or `{:?}`.
pub const REDACTED: &str = "[redacted]";

/// The name of the cookie that carries the session token.
pub const SESSION_COOKIE: &str = "session";

/// The shortest session secret the shop accepts, in bytes.
pub const MIN_SESSION_SECRET_BYTES: usize = 32;

/// A value that must not be shown: formatted with `{}` or `{:?}` (and so
/// in any log line, span field, error message or `Debug` of a struct that
/// holds it) it shows [`REDACTED`]; [`Secret::expose`] gives the value to the
/// one place that needs it.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The value itself, for the one place that must use it (a header sent
    /// to the gateway, a key that signs): never for a log line.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The shop's settings, read from the environment by [`Settings::from_env`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_PATH`: the SQLite file.
    pub database_path: PathBuf,
    /// `PAYMENT_GATEWAY_URL`: where the payment gateway's API is, as
    /// `http://host:port` (no path, no credentials).
    pub payment_gateway_url: String,
    /// `PAYMENT_API_KEY`: the shop's key at the payment gateway. Whoever has
    /// it charges cards and pays refunds in the shop's name.
    pub payment_api_key: Secret<String>,
    /// `SESSION_SECRET`: the key that signs the shop's cookies (the capstone
    /// uses it; here it only has to stay secret). At least
    /// [`MIN_SESSION_SECRET_BYTES`] bytes.
    pub session_secret: Secret<String>,
}

/// Why the settings could not be read: a message that names the variable.
#[derive(Debug)]
pub struct SettingsError(String);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// The settings from the process's environment variables.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// The settings from `var`, which gives a variable's value by its name
    /// (the environment's, or a test's). Every variable is required; an
    /// empty value is a missing one. An error names the variable and what
    /// is wrong with it, and shows no secret's value: not the bad one's,
    /// not another's.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let required = |name: &str| {
            var(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| SettingsError(format!("{name} is not set: the shop needs it")))
        };
        let database_path = PathBuf::from(required("DATABASE_PATH")?);
        let payment_gateway_url = required("PAYMENT_GATEWAY_URL")?;
        let payment_api_key = Secret::new(required("PAYMENT_API_KEY")?);
        let session_secret = Secret::new(required("SESSION_SECRET")?);
        let length = session_secret.expose().len();
        if length < MIN_SESSION_SECRET_BYTES {
            return Err(SettingsError(format!(
                "SESSION_SECRET is too short: {length} bytes, it needs at least \
                 {MIN_SESSION_SECRET_BYTES}"
            )));
        }
        Ok(Settings {
            database_path,
            payment_gateway_url,
            payment_api_key,
            session_secret,
        })
    }
}

/// Creates the tables this exercise uses, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id          INTEGER PRIMARY KEY,
            email       TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name        TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS sessions (
            id          TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            expires_at  INTEGER NOT NULL
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

/// Adds a customer and returns their id.
pub fn add_customer(db: &Connection, email: &str, name: &str) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name) VALUES (?1, ?2)",
        params![email, name],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a pending order of `total_cents` for the customer and returns its id.
pub fn add_order(db: &Connection, customer_id: i64, total_cents: i64) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
        params![customer_id, total_cents],
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a session `token` for the customer, valid until `expires_at` (Unix
/// seconds).
pub fn add_session(
    db: &Connection,
    token: &str,
    customer_id: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?1, ?2, ?3)",
        params![token, customer_id, expires_at],
    )?;
    Ok(())
}

/// The status of order `id` (`pending`, `paid`, ...), if it exists.
pub fn order_status(db: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    db.query_row("SELECT status FROM orders WHERE id = ?1", [id], |row| {
        row.get(0)
    })
    .optional()
}

/// The shop's state: its settings and the HTTP client that calls the
/// gateway. Cloning it is cheap.
#[derive(Clone)]
struct Shop {
    settings: Arc<Settings>,
    client: reqwest::Client,
}

impl Shop {
    /// Runs `job` on a new connection to the shop's database, on tokio's
    /// blocking threads.
    async fn db<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> rusqlite::Result<T> {
        let path = self.settings.database_path.clone();
        let task = tokio::task::spawn_blocking(move || job(&open(&path)?));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// A connection to the SQLite file at `path`, foreign keys on.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(db)
}

/// The shop, with `settings`:
///
/// | request                | answer                                                      |
/// | ---------------------- | ----------------------------------------------------------- |
/// | `POST /orders/{id}/pay`| `200 OK` and the paid order, once the gateway charged it; `401` without a valid session (`Authorization: Bearer <token>` or the `session` cookie); `404` if the customer has no such pending order; `502` if the gateway refuses or cannot be reached |
///
/// When it is built, the shop logs its settings at `INFO` (operators need
/// to see what it runs with); it logs every request in a span with its
/// method, URI and headers.
pub fn app(settings: Settings) -> Router {
    tracing::info!(?settings, "the shop starts");
    let shop = Shop {
        settings: Arc::new(settings),
        client: reqwest::Client::new(),
    };
    Router::new()
        .route("/orders/{id}/pay", post(pay))
        .with_state(shop)
        .layer(
            TraceLayer::new_for_http().make_span_with(
                DefaultMakeSpan::new()
                    .level(Level::INFO)
                    .include_headers(true),
            ),
        )
        // Outside the trace layer, so it marks the headers before the span
        // records them: `Debug` of a sensitive header value is `Sensitive`.
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            COOKIE,
        ]))
}

/// The session token of the request: `Authorization: Bearer <token>`, or
/// else the `session` cookie.
fn session_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match bearer {
        Some(token) => Some(token.trim().to_string()),
        None => CookieJar::from_headers(headers)
            .get(SESSION_COOKIE)
            .map(|cookie| cookie.value().to_string()),
    }
}

/// The customer whose unexpired session `token` is.
fn find_session(db: &Connection, token: &str) -> rusqlite::Result<Option<i64>> {
    db.query_row(
        "SELECT customer_id FROM sessions WHERE id = ?1 AND expires_at > unixepoch()",
        [token],
        |row| row.get(0),
    )
    .optional()
}

async fn pay(State(shop): State<Shop>, UrlPath(id): UrlPath<i64>, headers: HeaderMap) -> Response {
    let Some(token) = session_token(&headers) else {
        return unauthorized();
    };
    let customer = match shop.db(move |db| find_session(db, &token)).await {
        Ok(Some(customer)) => customer,
        Ok(None) => {
            tracing::warn!("a request with an unknown or expired session token");
            return unauthorized();
        }
        Err(error) => return internal_error(&error),
    };
    let pending = shop
        .db(move |db| {
            db.query_row(
                "SELECT total_cents FROM orders
                 WHERE id = ?1 AND customer_id = ?2 AND status = 'pending'",
                [id, customer],
                |row| row.get::<_, i64>(0),
            )
            .optional()
        })
        .await;
    let total_cents = match pending {
        Ok(Some(total_cents)) => total_cents,
        Ok(None) => {
            return problem(
                StatusCode::NOT_FOUND,
                "Not Found",
                "You have no pending order with this id.",
            );
        }
        Err(error) => return internal_error(&error),
    };
    let charge_id = match charge(&shop, id, total_cents).await {
        Ok(charge_id) => charge_id,
        Err(response) => return response,
    };
    let paid = shop
        .db(move |db| {
            db.execute(
                "UPDATE orders SET status = 'paid' WHERE id = ?1 AND status = 'pending'",
                [id],
            )
        })
        .await;
    if let Err(error) = paid {
        return internal_error(&error);
    }
    tracing::info!(order = id, charge = %charge_id, "order paid");
    Json(json!({
        "id": id,
        "status": "paid",
        "total_cents": total_cents,
        "charge_id": charge_id,
    }))
    .into_response()
}

/// What the gateway answers to a charge it made.
#[derive(Deserialize)]
struct Charge {
    id: String,
}

/// Charges `amount` cents for order `order_id` at the gateway: the
/// charge's id, or the response the shop gives when the gateway fails.
async fn charge(shop: &Shop, order_id: i64, amount: i64) -> Result<String, Response> {
    let settings = &shop.settings;
    let url = format!(
        "{}/v1/charges",
        settings.payment_gateway_url.trim_end_matches('/')
    );
    tracing::debug!(%url, amount, "charging the order");
    let sent = shop
        .client
        .post(&url)
        // `bearer_auth` also marks the header value sensitive.
        .bearer_auth(settings.payment_api_key.expose())
        .json(&json!({
            "amount": amount,
            "currency": "eur",
            "reference": format!("order-{order_id}"),
        }))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            // The URL holds no secret, but an error needs none to be useful.
            tracing::error!(error = %error.without_url(), %url, "the payment gateway cannot be reached");
            return Err(bad_gateway());
        }
    };
    let status = response.status();
    if !status.is_success() {
        // The status tells an operator what went wrong (401: the key was
        // refused). The gateway's answer is neither logged nor passed on:
        // it may quote the key it got.
        tracing::error!(%status, "the payment gateway refused the charge");
        return Err(bad_gateway());
    }
    match response.json::<Charge>().await {
        Ok(charge) => Ok(charge.id),
        Err(error) => {
            tracing::error!(error = %error.without_url(), "the payment gateway's answer is not a charge");
            Err(bad_gateway())
        }
    }
}

/// `401 Unauthorized`, with the challenge of RFC 6750.
fn unauthorized() -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Log in first: send your session token.",
    );
    response
        .headers_mut()
        .insert("www-authenticate", HeaderValue::from_static("Bearer"));
    response
}

/// `502 Bad Gateway`: the payment failed upstream; the details are in the
/// log, not in the answer.
fn bad_gateway() -> Response {
    problem(
        StatusCode::BAD_GATEWAY,
        "Bad Gateway",
        "The payment could not be made. Please try again later.",
    )
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
