//! # auth/register-login — Registration and login
//!
//! The shop's first two doors: `POST /register` makes an account, `POST
//! /login` checks a password. Store only the hash of a password, never
//! the password; answer a wrong password and an unknown email with the
//! very same `401`, after the very same work (one hash verification
//! either way, so that no one can time which emails have an account); and
//! never let a password or a hash reach a response or a log line.
//! The book's section "Registration and login" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{self, PasswordHasher, PasswordVerifier};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, Version};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::trace::TraceLayer;

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The most characters a password may have.
pub const MAX_PASSWORD_CHARS: usize = 1024;

// ANCHOR: hasher
/// Hashes and verifies passwords. The app takes one, so that the tests can
/// watch every hash and every verification it makes; the shop itself uses
/// [`Argon2Hasher`].
pub trait Hasher: Send + Sync + 'static {
    /// A PHC string of `password`, with a fresh random salt.
    fn hash(&self, password: &str) -> Result<String, HashError>;
    /// Whether `password` is the one `phc` was made from; an error if `phc`
    /// is not a hash this hasher checks.
    fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError>;
}
// ANCHOR_END: hasher

/// argon2id, version 19, at OWASP's parameters (m=19456 KiB, t=2, p=1): the
/// `auth/hashing` exercise's functions.
pub struct Argon2Hasher;

impl Hasher for Argon2Hasher {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        let params = Params::new(19_456, 2, 1, None).expect("OWASP's parameters are valid");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        Ok(argon2.hash_password(password.as_bytes())?.to_string())
    }

    fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        let hash = PasswordHash::new(phc).map_err(|_| HashError::Unsupported)?;
        if hash.algorithm != ARGON2ID_IDENT || hash.version != Some(19) {
            return Err(HashError::Unsupported);
        }
        match Argon2::default().verify_password(password.as_bytes(), &hash) {
            Ok(()) => Ok(true),
            Err(password_hash::Error::PasswordInvalid) => Ok(false),
            Err(_) => Err(HashError::Unsupported),
        }
    }
}

/// Why a password could not be hashed, or a stored hash could not be
/// checked.
#[derive(Debug)]
pub enum HashError {
    /// The stored text is not an argon2id version 19 PHC string.
    Unsupported,
    /// argon2 itself failed (the system's random generator, memory).
    Failed(password_hash::Error),
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashError::Unsupported => write!(f, "not an argon2id (version 19) PHC string"),
            HashError::Failed(error) => write!(f, "password hashing failed: {error}"),
        }
    }
}

impl std::error::Error for HashError {}

impl From<password_hash::Error> for HashError {
    fn from(error: password_hash::Error) -> Self {
        HashError::Failed(error)
    }
}

/// The shop's database: a SQLite file, with a connection of its own for
/// every request (SQLite opens one in microseconds).
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

    /// Runs `job` on a new connection (foreign keys on, waiting up to 5
    /// seconds for another connection's lock), on tokio's blocking threads.
    pub async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let path = self.path.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut db = Connection::open(path)?;
            db.pragma_update(None, "foreign_keys", "ON")?;
            db.busy_timeout(std::time::Duration::from_secs(5))?;
            job(&mut db)
        });
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// Creates the shop's `customers` table, if it does not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id            INTEGER PRIMARY KEY,
            email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name          TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            role          TEXT NOT NULL DEFAULT 'customer'
                          CHECK (role IN ('customer', 'admin'))
        ) STRICT",
    )
}

// ANCHOR: types
/// A customer, as sent: `{"id": 1, "email": "ada@example.com", "name":
/// "Ada Lovelace", "role": "customer"}`. Never the password hash.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
}

/// A customer with the hash of their password, as stored.
pub struct Account {
    pub customer: Customer,
    pub password_hash: String,
}

/// The body of `POST /register`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub email: String,
    pub name: String,
    pub password: String,
}
// ANCHOR_END: types

/// The body of `POST /login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}
// ANCHOR_END: types

/// One invalid field: `{"field": "password", "message": "must be at least
/// 12 characters"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: &str) -> FieldError {
        FieldError {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

/// Every broken rule of `new`, in the order `email`, `name`, `password`.
/// The email and the name are checked without their surrounding spaces.
pub fn check_new_customer(new: &NewCustomer) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let email = new.email.trim();
    let looks_like_email = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if !looks_like_email || email.chars().count() > 254 {
        errors.push(FieldError::new("email", "must be an email address"));
    }
    let name = new.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    } else if name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be at most 100 characters"));
    }
    errors.extend(check_password(&new.password));
    errors
}

// ANCHOR: check_password
/// The password's broken rule, if any: between [`MIN_PASSWORD_CHARS`] and
/// [`MAX_PASSWORD_CHARS`] characters (Unicode scalar values, not bytes),
/// counted as sent: spaces are characters like any other.
///
/// - too short: `{"field": "password", "message": "must be at least 12 characters"}`
/// - too long: `{"field": "password", "message": "must be at most 1024 characters"}`
pub fn check_password(password: &str) -> Option<FieldError> {
    // TODO: the field error above for a password of fewer than 12 or more
    // than 1024 characters (é is one character, 🔑 is one), `None` for any
    // other.
    let _ = (password, MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS);
    todo!()
}
// ANCHOR_END: check_password

/// Stores a new customer (role `customer`) and returns it. An email that
/// another customer has, in any case, fails with SQLite's UNIQUE
/// constraint error (see [`is_unique_violation`]).
pub fn insert_customer(
    db: &Connection,
    email: &str,
    name: &str,
    password_hash: &str,
) -> rusqlite::Result<Customer> {
    db.query_row(
        "INSERT INTO customers (email, name, password_hash) VALUES (?1, ?2, ?3)
         RETURNING id, email, name, role",
        params![email, name, password_hash],
        |row| {
            Ok(Customer {
                id: row.get(0)?,
                email: row.get(1)?,
                name: row.get(2)?,
                role: row.get(3)?,
            })
        },
    )
}

/// Whether `error` is SQLite refusing a row that breaks a UNIQUE constraint.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

// ANCHOR: find_account
/// The account whose email is `email`, compared as the column does: ASCII
/// letters in any case (`COLLATE NOCASE`).
pub fn find_account(db: &Connection, email: &str) -> rusqlite::Result<Option<Account>> {
    // TODO: the customer whose stored email is `email` in any case
    // (`Ada@Example.com` finds `ada@example.com`), with their password
    // hash; `None` if there is none.
    let _ = (db, email);
    todo!()
}
// ANCHOR_END: find_account

// ANCHOR: state
/// What every handler shares.
#[derive(Clone)]
struct AppState {
    shop: Shop,
    hasher: Arc<dyn Hasher>,
    /// The hash a login verifies when no customer has the email it names:
    /// made once, when the app is built, at the same cost as a customer's.
    dummy_hash: Arc<str>,
}
// ANCHOR_END: state

/// The shop's accounts:
///
/// | request          | answer                                                         |
/// | ---------------- | -------------------------------------------------------------- |
/// | `POST /register` | `201 Created`, the customer; `409` if the email is taken; `422` |
/// | `POST /login`    | `200 OK`, the customer; `401` for a wrong email or password     |
///
/// Passwords are hashed and verified by `hasher` only, each on tokio's
/// blocking threads.
// ANCHOR: app
pub fn app(shop: Shop, hasher: Arc<dyn Hasher>) -> Router {
    // TODO: the dummy hash: made here, once, by `hasher`, so that it costs
    // what a customer's hash costs to verify.
    let dummy_hash = String::new();
    let state = AppState {
        shop,
        hasher,
        dummy_hash: Arc::from(dummy_hash),
    };
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
}
// ANCHOR_END: app

// ANCHOR: handlers
/// `POST /register`: `201 Created` with the new customer; `422` with every
/// field error ([`check_new_customer`]); `409` ([`email_taken`]) if the
/// email is taken, in any case.
async fn register(State(state): State<AppState>, Json(new): Json<NewCustomer>) -> Response {
    // TODO: refuse a body that breaks a rule, before any hashing. Hash the
    // password with the state's hasher, off the async threads, and store
    // the customer with the email and the name trimmed, and the hash. The
    // database alone decides whether the email is taken: its refusal is the
    // 409. Neither the password nor its hash is ever logged.
    let _ = (state.shop, state.hasher, new, invalid, email_taken);
    let _ = (insert_customer, is_unique_violation);
    todo!()
}

/// `POST /login`: `200 OK` with the customer for the right password; the
/// same `401` ([`wrong_credentials`]) for a wrong password and an unknown
/// email.
async fn login(State(state): State<AppState>, Json(credentials): Json<Credentials>) -> Response {
    // TODO: find the account by the email, trimmed. Verify the password,
    // off the async threads, with the state's hasher: against the
    // customer's hash, or against the dummy hash if there is no such
    // customer, so that every login verifies exactly one hash. Answer the
    // customer only if there was one and the password verified; every
    // other outcome is the same 401, and a hash that cannot be checked is
    // a 500 ([`internal_error`]). Neither password nor hash is ever logged.
    let _ = (state.shop, state.hasher, state.dummy_hash, credentials);
    let _ = (find_account, wrong_credentials, internal_error);
    todo!()
}
// ANCHOR_END: handlers

// ANCHOR: responses
/// `422`: every invalid field, as in `api/validation`.
fn invalid(errors: Vec<FieldError>) -> Response {
    let body = json!({
        "type": "https://shop.example/problems/validation",
        "title": "Your request is not valid",
        "status": 422,
        "errors": errors,
    });
    problem_response(StatusCode::UNPROCESSABLE_ENTITY, &body)
}

/// `409`: `{"type": "about:blank", "title": "Email already registered",
/// "status": 409, "detail": "A customer with this email already exists."}`
fn email_taken() -> Response {
    problem(
        StatusCode::CONFLICT,
        "Email already registered",
        "A customer with this email already exists.",
    )
}

/// `401`: `{"type": "about:blank", "title": "Unauthorized", "status": 401,
/// "detail": "The email or password is wrong."}`, the same for an unknown
/// email and a wrong password.
fn wrong_credentials() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "The email or password is wrong.",
    )
}

/// An error of ours: logged (never with a password or a hash in it), and
/// answered with a `500` that tells nothing.
fn internal_error(error: &dyn std::error::Error) -> Response {
    tracing::error!(%error, "internal error");
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        "Something went wrong on our side. Please try again.",
    )
}

// ANCHOR_END: responses
/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    problem_response(status, &body)
}

fn problem_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
