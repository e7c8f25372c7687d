//! # security/mass-assignment — reference solution

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
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

/// The shop: its database file. Cloning it is cheap; every request gets a
/// clone.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode.
    pub fn open(path: &Path) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
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
}

/// Creates the tables this exercise uses, if they do not exist yet. The
/// customers here have a phone number, store credit (money the shop owes
/// them, spent at checkout) and a flag saying their email was verified.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id             INTEGER PRIMARY KEY,
            email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name           TEXT NOT NULL,
            password_hash  TEXT NOT NULL,
            role           TEXT NOT NULL DEFAULT 'customer'
                           CHECK (role IN ('customer', 'admin')),
            phone          TEXT,
            credit_cents   INTEGER NOT NULL DEFAULT 0 CHECK (credit_cents >= 0),
            email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1))
        ) STRICT;
        CREATE TABLE IF NOT EXISTS sessions (
            id          TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            expires_at  INTEGER NOT NULL
        ) STRICT;",
    )
}

/// What this exercise stores as a new customer's password hash: none yet.
/// A new customer sets a password through the link the shop emails them
/// (lesson 04's password reset); nobody logs in with a password here.
const NO_PASSWORD_YET: &str = "!";

// ANCHOR: customer
/// A customer, as stored, and as `GET /me` shows them:
/// `{"id": 1, "email": "ada@example.com", "name": "Ada", "phone": null,
/// "role": "customer", "credit_cents": 0, "email_verified": true}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: String,
    pub credit_cents: i64,
    pub email_verified: bool,
}
// ANCHOR_END: customer

/// Adds a customer with these values and returns their id: how the shop's
/// own code (and the tests) make customers, outside any request.
pub fn add_customer(db: &Connection, customer: &Customer) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers
             (email, name, password_hash, role, phone, credit_cents, email_verified)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            customer.email,
            customer.name,
            NO_PASSWORD_YET,
            customer.role,
            customer.phone,
            customer.credit_cents,
            customer.email_verified,
        ],
    )?;
    Ok(db.last_insert_rowid())
}

/// The customer `id`, if there is one.
pub fn find_customer(db: &Connection, id: i64) -> rusqlite::Result<Option<Customer>> {
    db.query_row(
        "SELECT id, email, name, phone, role, credit_cents, email_verified
         FROM customers WHERE id = ?1",
        [id],
        |row| {
            Ok(Customer {
                id: row.get(0)?,
                email: row.get(1)?,
                name: row.get(2)?,
                phone: row.get(3)?,
                role: row.get(4)?,
                credit_cents: row.get(5)?,
                email_verified: row.get(6)?,
            })
        },
    )
    .optional()
}

/// Stores a new session of `customer_id`, valid until `expires_at` (Unix
/// seconds), and returns its id: 32 random bytes in base64url. Logging in
/// (lesson 04) ends here.
pub fn start_session(
    db: &Connection,
    customer_id: i64,
    expires_at: i64,
) -> rusqlite::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    let id = URL_SAFE_NO_PAD.encode(bytes);
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?1, ?2, ?3)",
        params![id, customer_id, expires_at],
    )?;
    Ok(id)
}

/// The time now, in Unix seconds.
fn now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
}

/// The id of the customer whose valid session the request's cookie names:
/// `401` without one.
pub struct CurrentCustomer(pub i64);

impl FromRequestParts<Shop> for CurrentCustomer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shop: &Shop) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let id = jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
        let found = match id {
            Some(id) => {
                let now = now();
                shop.run(move |db| {
                    db.query_row(
                        "SELECT customer_id FROM sessions WHERE id = ?1 AND ?2 < expires_at",
                        params![id, now],
                        |row| row.get(0),
                    )
                    .optional()
                })
                .await
            }
            None => Ok(None),
        };
        match found {
            Ok(Some(customer_id)) => Ok(CurrentCustomer(customer_id)),
            Ok(None) => Err(problem(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Log in first: the request has no valid session cookie.",
            )),
            Err(error) => Err(internal_error(&error)),
        }
    }
}

// ANCHOR: app
/// The shop's sign-up and profile, on the database of `shop`:
///
/// | request          | answer                                                         |
/// | ---------------- | -------------------------------------------------------------- |
/// | `POST /register` | `201 Created`, `Location: /me`, the new customer               |
/// | `GET /me`        | `200 OK`, the customer whose session the cookie names          |
/// | `PATCH /me`      | `200 OK`, the customer with their profile changed              |
///
/// `GET /me` and `PATCH /me` need a valid session cookie (`401` without
/// one). A body the endpoint does not take is `422` (`400` if it is not
/// JSON, `415` without `content-type: application/json`), with a problem
/// details body (RFC 9457) that names an unknown field; nothing is stored.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/register", post(register))
        .route("/me", get(me).patch(update_me))
        .with_state(shop)
}
// ANCHOR_END: app

// ANCHOR: inputs
/// The body of `POST /register`: what a new customer may choose, and
/// nothing else. Every other field is refused (`422`), so a client that
/// sends `role` learns at once that it is not taken.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    email: String,
    name: String,
    #[serde(default)]
    phone: Option<String>,
}

/// The body of `PATCH /me`: the fields of their profile a customer may
/// change, each optional (absent: unchanged), and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileChange {
    name: Option<String>,
    phone: Option<String>,
}
// ANCHOR_END: inputs

// ANCHOR: handlers
async fn register(
    State(shop): State<Shop>,
    body: Result<Json<Registration>, JsonRejection>,
) -> Response {
    let Json(registration) = match body {
        Ok(body) => body,
        Err(rejection) => return refused(&rejection),
    };
    let email = registration.email.trim().to_string();
    if !email.contains('@') || email.chars().count() > 254 {
        return unprocessable("`email` is an address with an @, of at most 254 characters.");
    }
    let name = match valid_name(&registration.name) {
        Ok(name) => name,
        Err(response) => return *response,
    };
    let phone = match registration.phone.as_deref().map(valid_phone).transpose() {
        Ok(phone) => phone.flatten(),
        Err(response) => return *response,
    };
    // Everything else is the shop's to decide: a new customer has the role
    // `customer`, no credit, and an email nobody verified yet.
    let customer = Customer {
        id: 0,
        email,
        name,
        phone,
        role: "customer".to_string(),
        credit_cents: 0,
        email_verified: false,
    };
    let created = shop
        .run(move |db| {
            let id = add_customer(db, &customer)?;
            find_customer(db, id)
        })
        .await;
    match created {
        Ok(Some(customer)) => (
            StatusCode::CREATED,
            [(LOCATION, HeaderValue::from_static("/me"))],
            Json(customer),
        )
            .into_response(),
        Ok(None) => internal_error(&rusqlite::Error::QueryReturnedNoRows),
        Err(rusqlite::Error::SqliteFailure(error, _))
            if error.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            problem(
                StatusCode::CONFLICT,
                "Conflict",
                "An account with this email address exists.",
            )
        }
        Err(error) => internal_error(&error),
    }
}

async fn me(State(shop): State<Shop>, CurrentCustomer(id): CurrentCustomer) -> Response {
    match shop.run(move |db| find_customer(db, id)).await {
        Ok(Some(customer)) => Json(customer).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, "Not Found", "The account is gone."),
        Err(error) => internal_error(&error),
    }
}

async fn update_me(
    State(shop): State<Shop>,
    CurrentCustomer(id): CurrentCustomer,
    body: Result<Json<ProfileChange>, JsonRejection>,
) -> Response {
    let Json(change) = match body {
        Ok(body) => body,
        Err(rejection) => return refused(&rejection),
    };
    let name = match change.name.as_deref().map(valid_name).transpose() {
        Ok(name) => name,
        Err(response) => return *response,
    };
    let phone = match change.phone.as_deref().map(valid_phone).transpose() {
        Ok(phone) => phone,
        Err(response) => return *response,
    };
    // The columns a customer may change, and only those; the row is the
    // session's, whatever the body says.
    let updated = shop
        .run(move |db| {
            let transaction = db.transaction()?;
            if let Some(name) = name {
                transaction.execute(
                    "UPDATE customers SET name = ?1 WHERE id = ?2",
                    params![name, id],
                )?;
            }
            if let Some(phone) = phone {
                transaction.execute(
                    "UPDATE customers SET phone = ?1 WHERE id = ?2",
                    params![phone, id],
                )?;
            }
            let customer = find_customer(&transaction, id)?;
            transaction.commit()?;
            Ok(customer)
        })
        .await;
    match updated {
        Ok(Some(customer)) => Json(customer).into_response(),
        Ok(None) => problem(StatusCode::NOT_FOUND, "Not Found", "The account is gone."),
        Err(error) => internal_error(&error),
    }
}
// ANCHOR_END: handlers

/// A name: trimmed, 1 to 100 characters.
fn valid_name(name: &str) -> Result<String, Box<Response>> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Box::new(unprocessable("`name` has 1 to 100 characters.")));
    }
    Ok(name.to_string())
}

/// A phone number: up to 32 characters of digits, spaces and `+-()`, with
/// at least one digit; `""` removes it (`None`).
fn valid_phone(phone: &str) -> Result<Option<String>, Box<Response>> {
    let phone = phone.trim();
    if phone.is_empty() {
        return Ok(None);
    }
    let allowed = |c: char| c.is_ascii_digit() || " +-()".contains(c);
    if phone.chars().count() > 32
        || !phone.chars().all(allowed)
        || !phone.chars().any(|c| c.is_ascii_digit())
    {
        return Err(Box::new(unprocessable(
            "`phone` has up to 32 digits, spaces and + - ( ), or is \"\" to remove it.",
        )));
    }
    Ok(Some(phone.to_string()))
}

/// A body the `Json` extractor refused, as a problem details body with the
/// extractor's status (`400`, `415` or `422`) and its explanation, which
/// names an unknown or duplicated field.
pub fn refused(rejection: &JsonRejection) -> Response {
    let status = rejection.status();
    let title = match status {
        // RFC 9110's name for it; `http` still says "Unprocessable Entity".
        StatusCode::UNPROCESSABLE_ENTITY => "Unprocessable Content",
        status => status.canonical_reason().unwrap_or("Bad Request"),
    };
    problem(status, title, &rejection.body_text())
}

/// A `422 Unprocessable Content` problem details body.
pub fn unprocessable(detail: &str) -> Response {
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Unprocessable Content",
        detail,
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
