//! # auth/sessions — Sessions behind a cookie
//!
//! Keep customers logged in with server-side sessions: `POST /login` stores
//! a session in the shop's SQLite database under a random id and gives the
//! browser that id in a cookie only the browser can hold (`HttpOnly`,
//! `SameSite`, `Secure` when the settings say so); `GET /me` finds the
//! customer again from the cookie, until the session expires; `POST /logout`
//! ends the session on the server, not only in the browser.
//! The book's section "Sessions behind a cookie" explains every piece you
//! need. Checking a password is given (`authenticate`), as are the schema,
//! the clock and the problem details answers.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::CookieJar;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The name of the cookie that carries the session id.
pub const SESSION_COOKIE: &str = "session";

/// How the app runs its sessions.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a session lasts after its login: the row's `expires_at` is
    /// the login's time plus this, and the cookie's `Max-Age` is this, in
    /// whole seconds.
    pub session_ttl: Duration,
    /// Whether the cookie carries `Secure`, so that a browser sends it only
    /// over HTTPS: `true` in production, `false` for a server you call on
    /// plain `http://localhost`.
    pub secure_cookie: bool,
}

/// Where the app reads the time: Unix seconds. The real clock in production,
/// a clock the tests set by hand, so that they never sleep to see a session
/// expire.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock::from_fn(|| {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX)
        })
    }

    /// A clock that reads the time from `now`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now, in Unix seconds.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

/// The shop: its database file, its settings and its clock. Cloning it is
/// cheap; every request gets a clone.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    settings: Settings,
    clock: Clock,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode.
    pub fn open(path: &Path, settings: Settings, clock: Clock) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
            settings,
            clock,
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

    /// Runs `job` on a new connection, on tokio's blocking threads (SQLite
    /// calls and password hashing block).
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
            expires_at  INTEGER NOT NULL
        ) STRICT;",
    )
}

/// A customer, as `POST /login` and `GET /me` answer it:
/// `{"id": 1, "email": "ada@example.com", "name": "Ada"}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// The body of `POST /login`.
#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

/// An argon2id PHC string of `password`, with a random salt and the
/// library's default cost (OWASP's minimum: 19 MiB, 2 passes, 1 lane).
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashes any password with its default parameters")
        .to_string()
}

/// Whether `password` is the one `hash` (a PHC string) was made from, in
/// constant time.
fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches, verified for an unknown email so that it
/// costs the same time as a wrong password.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("no customer has this password"));

/// Adds a customer with `password` (hashed) and returns their id.
pub fn add_customer(
    db: &Connection,
    email: &str,
    name: &str,
    password: &str,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name, password_hash) VALUES (?1, ?2, ?3)",
        params![email, name, hash_password(password)],
    )?;
    Ok(db.last_insert_rowid())
}

/// The customer whose email and password these are, or `None`: the
/// exercise `auth/register-login`, given. An unknown email and a wrong
/// password cost the same time and give the same `None`.
pub fn authenticate(
    db: &Connection,
    email: &str,
    password: &str,
) -> rusqlite::Result<Option<Customer>> {
    let found = db
        .query_row(
            "SELECT id, email, name, password_hash FROM customers WHERE email = ?1",
            [email],
            |row| {
                let customer = Customer {
                    id: row.get(0)?,
                    email: row.get(1)?,
                    name: row.get(2)?,
                };
                Ok((customer, row.get::<_, String>(3)?))
            },
        )
        .optional()?;
    Ok(match found {
        Some((customer, hash)) => verify_password(password, &hash).then_some(customer),
        None => {
            verify_password(password, &DUMMY_HASH);
            None
        }
    })
}

/// A new session id: 32 bytes (256 bits) from the operating system's
/// cryptographically secure random number generator, in base64url without
/// padding (43 characters of `A-Z a-z 0-9 - _`).
pub fn new_session_id() -> String {
    // TODO: return 32 bytes (256 bits) that no one can predict, from the
    // operating system's secure random number generator, as 43 characters
    // of base64url without padding. Never a counter, a time, or anything
    // made from the customer.
    todo!()
}

/// Stores a new session of `customer_id` that ends at `expires_at` (Unix
/// seconds), and returns its id.
pub fn create_session(
    db: &Connection,
    customer_id: i64,
    expires_at: i64,
) -> rusqlite::Result<String> {
    // TODO: store a row in `sessions` with a new id, and return the id.
    let _ = (db, customer_id, expires_at);
    todo!()
}

/// The customer of session `id` if it is still valid at `now`: a session is
/// valid while `now < expires_at`. An expired session is deleted.
pub fn find_session(db: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<Customer>> {
    // TODO: the customer of session `id`, if there is such a session and
    // `now` is before its `expires_at`. A session found expired is deleted
    // (and gives `None`).
    let _ = (db, id, now);
    todo!()
}

/// Deletes session `id`, if there is one.
pub fn delete_session(db: &Connection, id: &str) -> rusqlite::Result<()> {
    // TODO: after this, there is no session `id`.
    let _ = (db, id);
    todo!()
}

/// The `Set-Cookie` value that gives the browser session `id`.
fn session_cookie(id: &str, settings: &Settings) -> HeaderValue {
    // TODO: a cookie named `session` whose value is `id`, which the page's
    // scripts cannot read, which other sites' requests do not carry (Lax),
    // which goes with every path of the shop, which the browser keeps as
    // long as the session lasts, and which travels over HTTPS only when
    // `settings.secure_cookie` says so.
    let _ = (id, settings);
    todo!()
}

/// The `Set-Cookie` value that makes the browser forget its session cookie.
fn removal_cookie(settings: &Settings) -> HeaderValue {
    // TODO: a `session` cookie, with the same attributes as the one
    // `session_cookie` sets, that the browser forgets at once.
    let _ = settings;
    todo!()
}

/// The shop's accounts, on the database of `shop`:
///
/// | request        | answer                                                          |
/// | -------------- | --------------------------------------------------------------- |
/// | `POST /login`  | `200 OK`, the customer, and a new session in `Set-Cookie`       |
/// | `GET /me`      | `200 OK`, the customer of the session the cookie names          |
/// | `POST /logout` | `204 No Content`, the session deleted and the cookie cleared    |
///
/// `POST /login` takes `{"email": "...", "password": "..."}`. Wrong
/// credentials, and `GET /me` without a valid session, answer `401` with a
/// problem details body.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .with_state(shop)
}

async fn login(
    State(shop): State<Shop>,
    jar: CookieJar,
    Json(credentials): Json<Credentials>,
) -> Response {
    // TODO: if `authenticate` accepts the credentials (off the async threads,
    // through `shop.run`), answer 200 with the customer and a new session in
    // the cookie, valid for `shop.settings.session_ttl` from the clock's
    // `now`; otherwise 401 (`unauthorized`), with no cookie and no session.
    // A session the request's cookie already names ends: the login never
    // keeps an id the browser sent.
    let _ = (shop.clock.now(), shop.settings.session_ttl, jar);
    let _ = (
        credentials.email,
        credentials.password,
        session_cookie,
        internal_error,
    );
    todo!()
}

async fn me(State(shop): State<Shop>, jar: CookieJar) -> Response {
    // TODO: 200 with the customer of the session the cookie names, if it is
    // valid now; 401 (`unauthorized`) without a cookie or a valid session.
    let _ = (shop, jar);
    todo!()
}

async fn logout(State(shop): State<Shop>, jar: CookieJar) -> Response {
    // TODO: the session the cookie names no longer exists on the server, and
    // the answer, 204 No Content, makes the browser forget the cookie.
    let _ = (shop, jar, removal_cookie);
    todo!()
}

/// A `401 Unauthorized` problem details body (RFC 9457).
pub fn unauthorized(detail: &str) -> Response {
    problem(StatusCode::UNAUTHORIZED, "Unauthorized", detail)
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
