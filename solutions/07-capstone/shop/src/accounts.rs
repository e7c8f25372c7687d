//! Accounts (lessons auth/register-login, auth/hashing, auth/extractor,
//! security/rate-limiting): registration, login with its limit, `GET /me`,
//! and the extractors that say who is calling.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use crate::app::AppState;
use crate::clock::now_ms;
use crate::db::Db;
use crate::input::{Fields, read_json};
use crate::problem::Problem;
use crate::tokens::TOKEN_TTL_SECS;

pub const EMAIL_RULE: &str = "must hold an @ with a character on each side, at most 254 characters, spaces at the ends aside";
pub const NAME_RULE: &str = "must be 1 to 100 characters, spaces at the ends aside";
pub const PASSWORD_RULE: &str = "must be 12 to 1024 characters";

/// An account, as every route shows one: never its password hash.
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
}

impl Customer {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }

    fn find(conn: &Connection, id: i64) -> rusqlite::Result<Option<Customer>> {
        conn.query_row(
            "SELECT id, email, name, role FROM customers WHERE id = ?1",
            [id],
            |row| {
                Ok(Customer {
                    id: row.get(0)?,
                    email: row.get(1)?,
                    name: row.get(2)?,
                    role: row.get(3)?,
                })
            },
        )
        .optional()
    }
}

/// The email as it is stored (trimmed), if it follows the rule.
pub fn check_email(email: &str) -> Result<&str, &'static str> {
    let email = email.trim();
    let has_at = email
        .char_indices()
        .any(|(at, c)| c == '@' && at > 0 && at + 1 < email.len());
    if has_at && email.chars().count() <= 254 {
        Ok(email)
    } else {
        Err(EMAIL_RULE)
    }
}

fn check_name(name: &str) -> Result<&str, &'static str> {
    let name = name.trim();
    if (1..=100).contains(&name.chars().count()) {
        Ok(name)
    } else {
        Err(NAME_RULE)
    }
}

/// A password is taken as sent, never trimmed; its length counts `char`s.
pub fn check_password(password: &str) -> Result<&str, &'static str> {
    if (12..=1024).contains(&password.chars().count()) {
        Ok(password)
    } else {
        Err(PASSWORD_RULE)
    }
}

/// What makes two emails one account: trimmed, ASCII letters in lower case.
fn email_key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// An argon2id PHC string of `password` (run it on a blocking thread: it
/// is slow on purpose).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Why an account could not be added.
pub enum AddError {
    EmailTaken,
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for AddError {
    fn from(error: rusqlite::Error) -> AddError {
        AddError::Db(error)
    }
}

/// Adds an account whose email is free.
fn add_account(
    conn: &Connection,
    email: &str,
    name: &str,
    role: &str,
    password_hash: &str,
) -> Result<Customer, AddError> {
    let key = email_key(email);
    let taken: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM customers WHERE email_key = ?1)",
        [&key],
        |row| row.get(0),
    )?;
    if taken {
        return Err(AddError::EmailTaken);
    }
    conn.execute(
        "INSERT INTO customers (email, email_key, name, role, password_hash)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![email, key, name, role, password_hash],
    )?;
    Ok(Customer {
        id: conn.last_insert_rowid(),
        email: email.to_string(),
        name: name.to_string(),
        role: role.to_string(),
    })
}

/// Creates the admin account on the first start; on a restart, when its
/// email has an account, leaves that account as it is.
pub async fn ensure_admin(db: &Db, email: &str, password: &str) -> Result<(), String> {
    let email = email.trim().to_string();
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| "hashing the admin's password failed".to_string())?
        .map_err(|_| "hashing the admin's password failed".to_string())?;
    db.write(
        move |tx| match add_account(tx, &email, "Admin", "admin", &hash) {
            Ok(_) | Err(AddError::EmailTaken) => Ok(()),
            Err(AddError::Db(error)) => Err(error),
        },
    )
    .await
    .map_err(|error| format!("cannot create the admin account: {error}"))
}

/// `POST /register`.
pub async fn register(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = read_json(&headers, &body)?;
    let mut fields = Fields::of(&body, &["email", "name", "password"])?;
    let email = fields
        .string("email")
        .and_then(|e| fields.check("email", check_email(e)));
    let name = fields
        .string("name")
        .and_then(|n| fields.check("name", check_name(n)));
    let password = fields
        .string("password")
        .and_then(|p| fields.check("password", check_password(p)));
    fields.finish()?;
    let (Some(email), Some(name), Some(password)) = (email, name, password) else {
        return Err(Problem::internal());
    };

    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|_| Problem::internal())?
        .map_err(|_| Problem::internal())?;
    let (email, name) = (email.to_string(), name.to_string());
    let added = app
        .db
        .write(move |tx| {
            Ok::<_, rusqlite::Error>(add_account(tx, &email, &name, "customer", &hash))
        })
        .await?;
    match added {
        Ok(customer) => Ok((StatusCode::CREATED, Json(customer)).into_response()),
        Err(AddError::EmailTaken) => Err(Problem::email_taken()),
        Err(AddError::Db(error)) => Err(error.into()),
    }
}

/// `POST /login`.
pub async fn login(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = read_json(&headers, &body)?;
    let mut fields = Fields::of(&body, &["email", "password"])?;
    let email = fields.string("email");
    let password = fields.string("password");
    fields.finish()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(Problem::internal());
    };

    let account = email_key(email);
    if let Err(retry_after) = app.limiter.attempt(&account, now_ms()) {
        return Err(Problem::too_many_requests(retry_after)
            .detail("too many login attempts for this account; try again later"));
    }

    let key = account.clone();
    let found: Option<(i64, String)> = app
        .db
        .read(move |conn| {
            conn.query_row(
                "SELECT id, password_hash FROM customers WHERE email_key = ?1",
                [key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
        })
        .await?;
    // An unknown email costs a hash check too, so that the time of the
    // answer does not tell which emails have accounts.
    let (id, hash) = match found {
        Some((id, hash)) => (Some(id), hash),
        None => (None, app.dummy_hash.to_string()),
    };
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|_| Problem::internal())?;
    let Some(id) = id.filter(|_| matches) else {
        return Err(Problem::about_blank(StatusCode::UNAUTHORIZED)
            .detail("the email or the password is wrong"));
    };

    app.limiter.succeeded(&account);
    let token = app
        .tokens
        .issue(id, now_ms() / 1000)
        .map_err(|_| Problem::internal())?;
    let answer =
        json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECS});
    Ok(([(CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}

/// `GET /me`.
pub async fn me(customer: Customer) -> Json<Customer> {
    Json(customer)
}

const NO_TOKEN: &str = "Bearer realm=\"shop\"";
const INVALID_TOKEN: &str = "Bearer realm=\"shop\", error=\"invalid_token\"";

/// The caller of a route that needs a customer: from a valid bearer token
/// whose `sub` names an account, as stored now.
impl FromRequestParts<AppState> for Customer {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Customer, Problem> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let token = header
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(token) = token else {
            return Err(Problem::unauthorized(NO_TOKEN).detail("send a bearer token"));
        };
        let invalid = || Problem::unauthorized(INVALID_TOKEN).detail("the token is not valid");
        let id = app.tokens.verify(token).ok_or_else(invalid)?;
        app.db
            .read(move |conn| Customer::find(conn, id))
            .await?
            .ok_or_else(invalid)
    }
}

/// The caller of an admin route: a customer whose role, in the database,
/// is `admin`.
pub struct Admin(pub Customer);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Admin, Problem> {
        let customer = Customer::from_request_parts(parts, app).await?;
        if customer.is_admin() {
            Ok(Admin(customer))
        } else {
            Err(Problem::forbidden().detail("only an admin may do this"))
        }
    }
}

/// How many logins an account may attempt in one window.
const MAX_ATTEMPTS: u32 = 5;
/// How long a window lasts, from the account's first attempt.
const WINDOW_MS: i64 = 900_000;
/// The number of windows kept before those that are over are forgotten.
const PRUNE_AT: usize = 1_000;

/// The login limit, in memory (the contract lets a restart forget it).
#[derive(Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    opened_at: i64,
    attempts: u32,
}

impl Window {
    fn is_over(&self, now: i64) -> bool {
        now >= self.opened_at + WINDOW_MS
    }
}

impl Limiter {
    /// Lets an attempt on `account` go ahead at `now` and counts it, or
    /// refuses it with the whole seconds left in its window, rounded up.
    /// Checking and counting happen under one lock, so that attempts sent
    /// at once are counted exactly.
    pub fn attempt(&self, account: &str, now: i64) -> Result<(), u64> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= PRUNE_AT {
            windows.retain(|_, window| !window.is_over(now));
        }
        let window = windows.entry(account.to_string()).or_insert(Window {
            opened_at: now,
            attempts: 0,
        });
        if window.is_over(now) {
            *window = Window {
                opened_at: now,
                attempts: 0,
            };
        }
        if window.attempts >= MAX_ATTEMPTS {
            let left = window.opened_at + WINDOW_MS - now;
            return Err(u64::try_from(left).unwrap_or(1).div_ceil(1000).max(1));
        }
        window.attempts += 1;
        Ok(())
    }

    /// A successful login starts the account's count again.
    pub fn succeeded(&self, account: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.remove(account);
    }
}
