//! # auth/password-reset — Resetting a forgotten password
//!
//! A customer who forgot their password asks for a reset link by email, and
//! sets a new password with the token that link carries. Make the flow safe:
//!
//! - `POST /password-reset` answers the same for every email, known or not,
//!   and mails a known customer a token of 32 random bytes; the database
//!   keeps only the token's SHA-256, and an expiry;
//! - `POST /password-reset/confirm` takes a token once, before it expires:
//!   it sets the new password's argon2id hash, ends the customer's sessions,
//!   and voids their other reset tokens, all in one atomic step, so that two
//!   confirms with one token can never both succeed.
//!
//! The book's section "Resetting a forgotten password" explains every piece
//! you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::{Argon2, PasswordHasher as _};
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

// The tests check what is stored with the same crates.
pub use {argon2, sha2};

/// The shortest password the shop takes, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// How the shop's reset flow is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a reset token stays valid after it is issued, in seconds.
    pub reset_ttl: i64,
    /// The page of the shop's web site that reads the token from its link.
    pub reset_page: String,
}

impl Default for Settings {
    /// Tokens valid for 30 minutes, links to `https://shop.example/password-reset`.
    fn default() -> Settings {
        Settings {
            reset_ttl: 30 * 60,
            reset_page: "https://shop.example/password-reset".to_string(),
        }
    }
}

/// A mail the shop sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Whatever delivers the shop's mail: an SMTP client or a mail API in
/// production, a list in memory in the tests, the terminal in the example.
pub trait Mailer: Send + Sync {
    fn send(&self, mail: Mail);
}

/// The mail that brings `token` to `to`: a link to the reset page with the
/// token in its query, `?token=...`.
pub fn reset_mail(settings: &Settings, to: &str, token: &str) -> Mail {
    let minutes = settings.reset_ttl / 60;
    Mail {
        to: to.to_string(),
        subject: "Reset your password".to_string(),
        body: format!(
            "Someone asked to reset the password of your account at the shop. If it was \
             you, open this link within {minutes} minutes:\n\n\
             {}?token={token}\n\n\
             If it was not you, ignore this mail: your password stays as it is.\n",
            settings.reset_page
        ),
    }
}

/// The shop's clock: the time now, in Unix seconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The shop: its SQLite file (with a connection of its own for every
/// request), its mailer, its clock and its settings.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    /// Where the shop's mail goes.
    pub mailer: Arc<dyn Mailer>,
    clock: Clock,
    /// How the reset flow is set up.
    pub settings: Arc<Settings>,
    /// Called whenever a connection of the shop starts waiting for a lock
    /// another connection holds (the tests watch it).
    on_lock_wait: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode; it sends its mail through `mailer`, reads the
    /// system's clock, and has the default [`Settings`].
    pub fn open(path: &Path, mailer: Arc<dyn Mailer>) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        Ok(Shop {
            path: path.to_path_buf(),
            mailer,
            clock: Arc::new(|| {
                let now = SystemTime::now().duration_since(UNIX_EPOCH);
                now.map_or(0, |now| now.as_secs() as i64)
            }),
            settings: Arc::new(Settings::default()),
            on_lock_wait: None,
        })
    }

    /// The same shop, reading the time from `clock`.
    pub fn with_clock(self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Shop {
        Shop {
            clock: Arc::new(clock),
            ..self
        }
    }

    /// The same shop, with `settings`.
    pub fn with_settings(self, settings: Settings) -> Shop {
        Shop {
            settings: Arc::new(settings),
            ..self
        }
    }

    /// The same shop, calling `watcher` whenever one of its connections
    /// starts waiting for another connection's lock.
    pub fn on_lock_wait(self, watcher: impl Fn() + Send + Sync + 'static) -> Shop {
        Shop {
            on_lock_wait: Some(Arc::new(watcher)),
            ..self
        }
    }

    /// The time now, in Unix seconds.
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// A new connection to the shop's file: foreign keys on, and waiting up
    /// to 10 seconds for another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let mut db = Connection::open(&self.path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        let on_lock_wait = self.on_lock_wait.clone();
        let mut waiting_since = Instant::now();
        db.busy_handler(Some(move |attempts: i32| {
            if attempts == 0 {
                waiting_since = Instant::now();
                if let Some(watcher) = &on_lock_wait {
                    watcher();
                }
            }
            std::thread::sleep(Duration::from_millis(1));
            waiting_since.elapsed() < Duration::from_secs(10)
        }))?;
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

/// A new reset token: 32 bytes from the operating system's secure random
/// generator, in base64url without padding (43 characters).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random generator works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of `token`: the SHA-256 of its text, as 64
/// lowercase hex digits.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `POST /password-reset` with `{"email": ...}`: always [`reset_requested`]'s
/// `202`, whether a customer has this email or not. When one has (emails
/// compare without regard to ASCII case, as the column's `COLLATE NOCASE`
/// does), a new token is stored, as its [`token_hash`], with the customer's
/// id and an expiry [`Settings::reset_ttl`] seconds from now, and mailed
/// with [`reset_mail`] to the address the database holds. A database error
/// is [`internal_error`]'s `500`.
pub async fn request_reset(shop: &Shop, email: String) -> Response {
    let token = new_token();
    let hash = token_hash(&token);
    let expires_at = shop.now() + shop.settings.reset_ttl;
    let stored = shop
        .run(move |db| {
            let customer: Option<(i64, String)> = db
                .query_row(
                    "SELECT id, email FROM customers WHERE email = ?1",
                    [&email],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let Some((customer_id, address)) = customer else {
                return Ok(None);
            };
            db.execute(
                "INSERT INTO password_resets (token_hash, customer_id, expires_at)
                 VALUES (?1, ?2, ?3)",
                params![hash, customer_id, expires_at],
            )?;
            Ok(Some(address))
        })
        .await;
    match stored {
        Ok(Some(address)) => {
            shop.mailer
                .send(reset_mail(&shop.settings, &address, &token));
            reset_requested()
        }
        Ok(None) => reset_requested(),
        Err(error) => internal_error(&error),
    }
}

/// `POST /password-reset/confirm` with `{"token": ..., "new_password": ...}`:
///
/// - a new password shorter than [`MIN_PASSWORD_CHARS`] characters is
///   [`password_too_short`]'s `422`, and the token stays as it was;
/// - a token that is unknown, used, or expired (a token is valid while the
///   time is before its `expires_at`) is [`invalid_token`]'s `400`;
/// - otherwise, in one transaction: the token is used (its `used_at` is
///   now), the customer's `password_hash` is the new password's argon2id
///   PHC string ([`hash_password`]), the customer's sessions are deleted,
///   and their other unused tokens are used too; then `204 No Content`.
///
/// Two confirms with the same token at the same moment: exactly one of
/// them succeeds, the other is `400`.
pub async fn confirm_reset(shop: &Shop, token: String, new_password: String) -> Response {
    if new_password.chars().count() < MIN_PASSWORD_CHARS {
        return password_too_short();
    }
    let password_hash =
        match tokio::task::spawn_blocking(move || hash_password(&new_password)).await {
            Ok(hash) => hash,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
    let hash = token_hash(&token);
    let now = shop.now();
    let done = shop
        .run(move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let customer: Option<i64> = tx
                .query_row(
                    "UPDATE password_resets SET used_at = ?2
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2
                     RETURNING customer_id",
                    params![hash, now],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(customer_id) = customer else {
                return Ok(false);
            };
            tx.execute(
                "UPDATE customers SET password_hash = ?2 WHERE id = ?1",
                params![customer_id, password_hash],
            )?;
            tx.execute("DELETE FROM sessions WHERE customer_id = ?1", [customer_id])?;
            tx.execute(
                "UPDATE password_resets SET used_at = ?2
                 WHERE customer_id = ?1 AND used_at IS NULL",
                params![customer_id, now],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await;
    match done {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => invalid_token(),
        Err(error) => internal_error(&error),
    }
}

/// `password`'s argon2id PHC string, with a new random salt and argon2's
/// default parameters (m=19456 KiB, t=2, p=1: OWASP's recommendation).
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashes any password with its default parameters")
        .to_string()
}

/// Creates the shop's tables, if they do not exist yet.
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
        ) STRICT;
        CREATE TABLE IF NOT EXISTS password_resets (
            token_hash  TEXT PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            expires_at  INTEGER NOT NULL,
            used_at     INTEGER
        ) STRICT;
        ",
    )
}

/// The body of `POST /password-reset`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// The body of `POST /password-reset/confirm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: String,
    pub new_password: String,
}

/// The shop's password reset:
///
/// | request                        | answer                                        |
/// | ------------------------------ | --------------------------------------------- |
/// | `POST /password-reset`         | `202 Accepted`, the same for every email      |
/// | `POST /password-reset/confirm` | `204 No Content`; `400` for a bad token, `422` for a short password |
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/password-reset", post(post_reset))
        .route("/password-reset/confirm", post(post_confirm))
        .with_state(shop)
}

async fn post_reset(
    State(shop): State<Shop>,
    body: Result<Json<ResetRequest>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(request)) => request_reset(&shop, request.email).await,
        Err(rejection) => invalid_body(&rejection),
    }
}

async fn post_confirm(
    State(shop): State<Shop>,
    body: Result<Json<ResetConfirm>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(confirm)) => confirm_reset(&shop, confirm.token, confirm.new_password).await,
        Err(rejection) => invalid_body(&rejection),
    }
}

/// `202`: `{"detail": "If an account has this email, a link to reset its
/// password is on its way."}`
pub fn reset_requested() -> Response {
    let detail = "If an account has this email, a link to reset its password is on its way.";
    (StatusCode::ACCEPTED, Json(json!({ "detail": detail }))).into_response()
}

/// `400`: `{"type": "about:blank", "title": "Invalid token", "status": 400,
/// "detail": "This reset link is invalid or has expired. Ask for a new
/// one."}`: the same for an unknown, a used and an expired token.
pub fn invalid_token() -> Response {
    let detail = "This reset link is invalid or has expired. Ask for a new one.";
    problem(StatusCode::BAD_REQUEST, "Invalid token", detail)
}

/// `422`: `{"type": "about:blank", "title": "Password too short", "status":
/// 422, "detail": "A password has at least 12 characters."}`
pub fn password_too_short() -> Response {
    let detail = format!("A password has at least {MIN_PASSWORD_CHARS} characters.");
    problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Password too short",
        &detail,
    )
}

fn invalid_body(rejection: &JsonRejection) -> Response {
    problem(rejection.status(), "Invalid body", &rejection.body_text())
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A database error: logged, and answered with a `500` that tells nothing.
pub fn internal_error(error: &rusqlite::Error) -> Response {
    tracing::error!(%error, "database error");
    let detail = "Something went wrong on our side. Please try again.";
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        detail,
    )
}
