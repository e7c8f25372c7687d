//! # security/rate-limiting — Rate limiting
//!
//! The shop's login works: the right email and password log in, anything
//! else is `401`. It also answers the ten-thousandth wrong password for the
//! same account as politely as the first, so a script can try a whole list
//! of passwords (brute force) or of leaked email-and-password pairs
//! (credential stuffing) until one works.
//!
//! Limit the attempts on each account: after 5 in a window of 15 minutes,
//! the login answers `429 Too Many Requests` with a `Retry-After`, without
//! checking the password, until the window ends. Other accounts go on as
//! before, and a successful login starts the count again. The limiter reads
//! the time from the shop's [`Clock`], which the tests move forward: they
//! never sleep.
//! The book's section "Rate limiting" explains the attack and the fix.
//!
//! Run `cargo checker check` when you think you are done.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// How many attempts an account gets in one window.
pub const MAX_ATTEMPTS: u32 = 5;

/// How long a window lasts, in milliseconds: 15 minutes.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// Where the shop reads the time: milliseconds since the Unix epoch. The
/// example serves with [`Clock::system`]; the tests give a clock they move
/// forward themselves.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The computer's clock.
    pub fn system() -> Clock {
        Clock::from_fn(|| {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
        })
    }

    /// A clock that reads the time from `now`.
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The time now, in milliseconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

/// The shop: its database file, its clock, and its login limiter. Cloning
/// it is cheap, and every clone shares the one limiter.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    clock: Clock,
    limiter: Arc<Limiter>,
    /// Called on tokio's blocking threads whenever a password is about to
    /// be checked (the tests watch it).
    on_check: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode, reading the time from `clock`.
    pub fn open(path: &Path, clock: Clock) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
            clock,
            limiter: Arc::new(Limiter::default()),
            on_check: None,
        })
    }

    /// The same shop, calling `watcher` whenever a password is about to be
    /// checked, on the blocking thread that checks it.
    pub fn on_password_check(self, watcher: impl Fn() + Send + Sync + 'static) -> Shop {
        Shop {
            on_check: Some(Arc::new(watcher)),
            ..self
        }
    }

    /// A new connection to the shop's file, foreign keys on, waiting up to
    /// 5 seconds for another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let db = Connection::open(&self.path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(Duration::from_secs(5))?;
        Ok(db)
    }

    /// The customer whose email (trimmed, in any case) and password these
    /// are, or `None` for a wrong password or an unknown email (which costs
    /// the same: a dummy hash is checked). Runs on tokio's blocking threads.
    pub async fn check_password(
        &self,
        email: &str,
        password: &str,
    ) -> rusqlite::Result<Option<Customer>> {
        let shop = self.clone();
        let (email, password) = (email.trim().to_string(), password.to_string());
        let task = tokio::task::spawn_blocking(move || {
            if let Some(watcher) = &shop.on_check {
                watcher();
            }
            let db = shop.connect()?;
            let found = db
                .query_row(
                    "SELECT id, email, name, password_hash FROM customers WHERE email = ?1",
                    [&email],
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
                Some((customer, hash)) => verify_password(&password, &hash).then_some(customer),
                None => {
                    verify_password(&password, DUMMY_HASH);
                    None
                }
            })
        });
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// Creates the table this exercise uses, if it does not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id            INTEGER PRIMARY KEY,
            email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name          TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role          TEXT NOT NULL DEFAULT 'customer'
                          CHECK (role IN ('customer', 'admin'))
        ) STRICT;",
    )
}

/// Adds a customer with `password` and returns their id.
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

/// A stand-in for lesson 04's argon2id, so that the tests can send dozens
/// of logins in a moment: `sha256$SALT$DIGEST`, the SHA-256 of a random
/// 16-byte salt followed by the password, both in base64. Never store
/// passwords like this: a fast hash is guessed billions of times a second.
fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system gives random bytes");
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    format!(
        "sha256${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(digest)
    )
}

/// Whether `password` is the one `hash` was made from, compared in
/// constant time.
fn verify_password(password: &str, hash: &str) -> bool {
    let mut parts = hash.split('$');
    let (Some("sha256"), Some(salt), Some(expected), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(salt), Ok(expected)) = (
        STANDARD_NO_PAD.decode(salt),
        STANDARD_NO_PAD.decode(expected),
    ) else {
        return false;
    };
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    bool::from(digest.as_slice().ct_eq(&expected))
}

/// What an unknown email's login checks, so that it costs what a known
/// one's does.
const DUMMY_HASH: &str =
    "sha256$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// A customer, as a successful login answers.
#[derive(Debug, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// The body of `POST /login`.
#[derive(Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// The shop's login, on the database of `shop`:
///
/// | request        | answer                                                         |
/// | -------------- | -------------------------------------------------------------- |
/// | `POST /login`  | `200 OK`, the customer; `401` for a wrong email or password; `429` with `Retry-After` when the account has no attempt left |
pub fn app(shop: Shop) -> Router {
    Router::new().route("/login", post(login)).with_state(shop)
}

/// The attempts on each account, in memory: one limiter for the whole
/// shop, shared by every request.
#[derive(Default)]
pub struct Limiter {
    // TODO: what the limiter remembers about each account.
}

impl Limiter {
    /// Whether an attempt on the account of `email` may go ahead at `now`
    /// (milliseconds): `Ok`, or `Err` with the whole seconds until it may.
    fn check(&self, email: &str, now: i64) -> Result<(), u64> {
        // TODO: make these true, for each account:
        //
        // - The account is its email trimmed and in lowercase: ` Ada@X.com`
        //   and `ada@x.com` are one account. Unknown emails are accounts
        //   too, limited the same way.
        // - An account's window opens with its first attempt (when it has no
        //   open window) and lasts `WINDOW_MS`: it is over at exactly
        //   `start + WINDOW_MS`, and the next attempt opens a new one.
        // - In a window, the first `MAX_ATTEMPTS` attempts go ahead; every
        //   later one is refused, is not counted, and gets the seconds left
        //   until the window is over, rounded up (1 ms left is 1 s).
        // - An attempt counts as soon as it goes ahead, before its password
        //   is checked: 50 attempts arriving at once let exactly 5 through.
        // - An open window is never forgotten, however many other accounts
        //   are tried meanwhile (windows that are over may be).
        let _ = (email, now);
        Ok(())
    }

    /// Called after the password of an attempt that went ahead was wrong.
    fn failed(&self, email: &str, now: i64) {
        // TODO: whatever the rules above need.
        let _ = (email, now);
    }

    /// Called after a successful login on the account of `email`.
    fn succeeded(&self, email: &str) {
        // TODO: a successful login starts the account's count again.
        let _ = email;
    }
}

async fn login(
    State(shop): State<Shop>,
    credentials: Result<Json<Credentials>, JsonRejection>,
) -> Response {
    let Ok(Json(credentials)) = credentials else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Content",
            "Send {\"email\": \"...\", \"password\": \"...\"} as JSON.",
        );
    };
    let email = credentials.email;
    // TODO: an attempt the limiter refuses gets `too_many_attempts(seconds)`
    // and its password is never checked, right or wrong.
    if let Err(seconds) = shop.limiter.check(&email, shop.clock.now()) {
        return too_many_attempts(seconds);
    }
    match shop.check_password(&email, &credentials.password).await {
        Ok(Some(customer)) => {
            shop.limiter.succeeded(&email);
            Json(customer).into_response()
        }
        Ok(None) => {
            shop.limiter.failed(&email, shop.clock.now());
            invalid_credentials()
        }
        Err(error) => internal_error(&error),
    }
}

/// `401 Unauthorized`: the same for an unknown email and a wrong password.
pub fn invalid_credentials() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "The email or the password is wrong.",
    )
}

/// `429 Too Many Requests` with `Retry-After: seconds` (RFC 6585, RFC 9110).
pub fn too_many_attempts(seconds: u64) -> Response {
    let mut response = problem(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "Too many login attempts on this account: try again later.",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
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
