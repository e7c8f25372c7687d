//! # auth/password-change — reference solution

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
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
pub fn verify_password(password: &str, hash: &str) -> bool {
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
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a new session of `customer_id` that ends at `expires_at` (Unix
/// seconds), and returns its id.
pub fn create_session(
    db: &Connection,
    customer_id: i64,
    expires_at: i64,
) -> rusqlite::Result<String> {
    let id = new_session_id();
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?1, ?2, ?3)",
        params![id, customer_id, expires_at],
    )?;
    Ok(id)
}

/// The customer of session `id` if it is still valid at `now`: a session is
/// valid while `now < expires_at`. An expired session is deleted.
pub fn find_session(db: &Connection, id: &str, now: i64) -> rusqlite::Result<Option<Customer>> {
    let found = db
        .query_row(
            "SELECT sessions.expires_at, customers.id, customers.email, customers.name
             FROM sessions JOIN customers ON customers.id = sessions.customer_id
             WHERE sessions.id = ?1",
            [id],
            |row| {
                let customer = Customer {
                    id: row.get(1)?,
                    email: row.get(2)?,
                    name: row.get(3)?,
                };
                Ok((row.get::<_, i64>(0)?, customer))
            },
        )
        .optional()?;
    match found {
        Some((expires_at, customer)) if now < expires_at => Ok(Some(customer)),
        Some(_) => {
            delete_session(db, id)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Deletes session `id`, if there is one.
pub fn delete_session(db: &Connection, id: &str) -> rusqlite::Result<()> {
    db.execute("DELETE FROM sessions WHERE id = ?1", [id])?;
    Ok(())
}

/// The `Set-Cookie` value that gives the browser session `id`.
fn session_cookie(id: &str, settings: &Settings) -> HeaderValue {
    let max_age = settings.session_ttl.as_secs();
    let mut cookie =
        format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}");
    if settings.secure_cookie {
        cookie.push_str("; Secure");
    }
    HeaderValue::try_from(cookie).expect("a base64url id is a valid header value")
}

/// The `Set-Cookie` value that makes the browser forget its session cookie.
fn removal_cookie(settings: &Settings) -> HeaderValue {
    let mut cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0");
    if settings.secure_cookie {
        cookie.push_str("; Secure");
    }
    HeaderValue::try_from(cookie).expect("a fixed text is a valid header value")
}

/// The shop's accounts, on the database of `shop`:
///
/// | request        | answer                                                          |
/// | -------------- | --------------------------------------------------------------- |
/// | `POST /login`  | `200 OK`, the customer, and a new session in `Set-Cookie`       |
/// | `GET /me`      | `200 OK`, the customer of the session the cookie names          |
/// | `POST /logout` | `204 No Content`, the session deleted and the cookie cleared    |
/// | `POST /me/password` | `204 No Content`, the password changed, the customer's other sessions ended, and this one renewed in `Set-Cookie` |
///
/// `POST /login` takes `{"email": "...", "password": "..."}`. Wrong
/// credentials, and `GET /me` without a valid session, answer `401` with a
/// problem details body. `POST /me/password` takes
/// `{"current_password": "...", "new_password": "..."}` and answers `401`
/// without a valid session, `403` if the current password is wrong, `422`
/// if the new one breaks [`password_problem`]'s rules, each with a problem
/// details body and nothing changed.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/me/password", post(change_password))
        .with_state(shop)
}

async fn login(
    State(shop): State<Shop>,
    jar: CookieJar,
    Json(credentials): Json<Credentials>,
) -> Response {
    // The session the browser had before, if any, ends here: the login gets
    // an id of its own, never one the browser (or an attacker) chose.
    let previous = session_id(&jar);
    let ttl = i64::try_from(shop.settings.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let expires_at = shop.clock.now().saturating_add(ttl);
    let logged_in = shop
        .run(move |db| {
            let Some(customer) = authenticate(db, &credentials.email, &credentials.password)?
            else {
                return Ok(None);
            };
            let transaction = db.transaction()?;
            if let Some(previous) = previous {
                delete_session(&transaction, &previous)?;
            }
            let id = create_session(&transaction, customer.id, expires_at)?;
            transaction.commit()?;
            Ok(Some((customer, id)))
        })
        .await;
    match logged_in {
        Ok(Some((customer, id))) => {
            let cookie = session_cookie(&id, &shop.settings);
            ([(SET_COOKIE, cookie)], Json(customer)).into_response()
        }
        Ok(None) => unauthorized("The email or the password is wrong."),
        Err(error) => internal_error(&error),
    }
}

async fn me(State(shop): State<Shop>, jar: CookieJar) -> Response {
    let Some(id) = session_id(&jar) else {
        return unauthorized("Log in first: the request has no session cookie.");
    };
    let now = shop.clock.now();
    match shop.run(move |db| find_session(db, &id, now)).await {
        Ok(Some(customer)) => Json(customer).into_response(),
        Ok(None) => unauthorized("The session has ended or never existed: log in again."),
        Err(error) => internal_error(&error),
    }
}

async fn logout(State(shop): State<Shop>, jar: CookieJar) -> Response {
    if let Some(id) = session_id(&jar)
        && let Err(error) = shop.run(move |db| delete_session(db, &id)).await
    {
        return internal_error(&error);
    }
    let cookie = removal_cookie(&shop.settings);
    (StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response()
}

/// The session id the request's `Cookie` header carries, if any.
fn session_id(jar: &CookieJar) -> Option<String> {
    jar.get(SESSION_COOKIE)
        .map(|cookie| cookie.value().to_string())
}

// ANCHOR: change_body
/// The body of `POST /me/password`.
#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}
// ANCHOR_END: change_body

/// The shortest new password the shop takes, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

// ANCHOR: policy
/// Why `new` cannot replace `current` as a password, or `None` if it can:
/// it must have at least [`MIN_PASSWORD_CHARS`] characters (Unicode
/// characters, not bytes: `"ééééééééééé"` is 11) and differ from `current`.
pub fn password_problem(current: &str, new: &str) -> Option<String> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        Some(format!(
            "The new password must have at least {MIN_PASSWORD_CHARS} characters."
        ))
    } else if new == current {
        Some("The new password must differ from the current one.".to_string())
    } else {
        None
    }
}
// ANCHOR_END: policy

/// The password hash stored for customer `id`.
pub fn password_hash_of(db: &Connection, id: i64) -> rusqlite::Result<String> {
    db.query_row(
        "SELECT password_hash FROM customers WHERE id = ?1",
        [id],
        |row| row.get(0),
    )
}

// ANCHOR: replace_password
/// In one transaction: stores `new_hash` as customer `customer_id`'s
/// password hash, deletes every session of that customer (the one that
/// asked for the change too), and stores a new session that ends at
/// `expires_at`, whose id it returns. Other customers' sessions stay.
pub fn replace_password(
    db: &mut Connection,
    customer_id: i64,
    new_hash: &str,
    expires_at: i64,
) -> rusqlite::Result<String> {
    let transaction = db.transaction()?;
    transaction.execute(
        "UPDATE customers SET password_hash = ?1 WHERE id = ?2",
        params![new_hash, customer_id],
    )?;
    transaction.execute("DELETE FROM sessions WHERE customer_id = ?1", [customer_id])?;
    let id = create_session(&transaction, customer_id, expires_at)?;
    transaction.commit()?;
    Ok(id)
}
// ANCHOR_END: replace_password

/// What a password change came to.
enum Changed {
    /// Done: the id of the renewed session.
    Renewed(String),
    /// The request's session is missing, unknown or expired.
    NoSession,
    /// The current password given is wrong.
    WrongPassword,
    /// The new password breaks a rule; the text says which.
    Refused(String),
}

// ANCHOR: change_password
async fn change_password(
    State(shop): State<Shop>,
    jar: CookieJar,
    Json(change): Json<PasswordChange>,
) -> Response {
    let Some(session) = session_id(&jar) else {
        return unauthorized("Log in first: the request has no session cookie.");
    };
    let now = shop.clock.now();
    let ttl = i64::try_from(shop.settings.session_ttl.as_secs()).unwrap_or(i64::MAX);
    let expires_at = now.saturating_add(ttl);
    let changed = shop
        .run(move |db| {
            let Some(customer) = find_session(db, &session, now)? else {
                return Ok(Changed::NoSession);
            };
            // Re-authentication: a session alone is not enough to change
            // the password, whoever holds the cookie must know it.
            let stored = password_hash_of(db, customer.id)?;
            if !verify_password(&change.current_password, &stored) {
                return Ok(Changed::WrongPassword);
            }
            if let Some(problem) = password_problem(&change.current_password, &change.new_password)
            {
                return Ok(Changed::Refused(problem));
            }
            let new_hash = hash_password(&change.new_password);
            let renewed = replace_password(db, customer.id, &new_hash, expires_at)?;
            Ok(Changed::Renewed(renewed))
        })
        .await;
    match changed {
        Ok(Changed::Renewed(id)) => {
            let cookie = session_cookie(&id, &shop.settings);
            (StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response()
        }
        Ok(Changed::NoSession) => {
            unauthorized("The session has ended or never existed: log in again.")
        }
        Ok(Changed::WrongPassword) => problem(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The current password is wrong.",
        ),
        Ok(Changed::Refused(detail)) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Content",
            &detail,
        ),
        Err(error) => internal_error(&error),
    }
}
// ANCHOR_END: change_password

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
