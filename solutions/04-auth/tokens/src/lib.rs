//! # auth/tokens — Signed tokens
//!
//! A customer who proves their password at `POST /token` gets a signed
//! token back: a JSON Web Token (RFC 7519) that says "this is customer 7,
//! until 09:30", signed with HMAC-SHA-256 (HS256) under the shop's secret
//! key. On every later request the client sends the token in an
//! `Authorization: Bearer ...` header, and `GET /me` believes it only if
//! the signature is the shop's, the algorithm is the one the shop uses, the
//! token has not expired by the shop's clock, and its customer still
//! exists. Anything else is `401 Unauthorized` with a `WWW-Authenticate`
//! challenge (RFC 6750).
//! The book's section "Signed tokens" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::panic::resume_unwind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Creates the `customers` table of the shop, with this lesson's password
/// hash and role, if it does not exist yet.
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

/// The argon2id PHC string of `password`, with a new random salt and the
/// library's default (OWASP's) parameters.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashes any password with its default parameters")
        .to_string()
}

/// Stores a new customer whose password hash is `password_hash` (made by
/// [`hash_password`]) and returns their id.
pub fn insert_customer(
    db: &Connection,
    email: &str,
    name: &str,
    password_hash: &str,
    role: &str,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO customers (email, name, password_hash, role) VALUES (?1, ?2, ?3, ?4)",
        (email, name, password_hash, role),
    )?;
    Ok(db.last_insert_rowid())
}

/// A customer, as sent: `{"id": 1, "email": "ada@example.com", "name":
/// "Ada", "role": "customer"}`. Never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
}

/// The customer with this id, if there is one.
pub fn find_customer(db: &Connection, id: i64) -> rusqlite::Result<Option<Customer>> {
    db.query_row(
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

/// The customer whose email and password these are, if they are right.
/// An unknown email costs one password verification too (against a hash
/// of nothing), so the time of the answer does not tell which was wrong
/// (see `auth/register-login`).
pub fn check_credentials(
    db: &Connection,
    email: &str,
    password: &str,
) -> rusqlite::Result<Option<Customer>> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let found: Option<(i64, String)> = db
        .query_row(
            "SELECT id, password_hash FROM customers WHERE email = ?1",
            [email.trim()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let hash = match &found {
        Some((_, hash)) => hash.as_str(),
        None => DUMMY.get_or_init(|| hash_password("")),
    };
    let verified = Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok();
    match found {
        Some((id, _)) if verified => find_customer(db, id),
        _ => Ok(None),
    }
}

/// What the app is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The secret key that signs and verifies tokens (HS256). At least 32
    /// random bytes in production, from the environment or a secret store,
    /// never from the source code.
    pub signing_key: Vec<u8>,
    /// How long a token is good for, in seconds: `exp` is `iat` plus this.
    pub token_ttl: u64,
}

/// Where the app reads the time: Unix seconds. [`Clock::system`] in
/// production; the tests use a clock of their own, which they move.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// A clock that reads `now`.
    pub fn new(now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The system's clock.
    pub fn system() -> Clock {
        Clock::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs())
        })
    }

    /// The time now, in Unix seconds.
    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

/// The claims of the shop's tokens (RFC 7519, section 4.1):
/// `{"sub": "7", "iat": 1764494100, "exp": 1764495000}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The subject: the customer's id, as a string (RFC 7519 makes `sub` a
    /// string).
    pub sub: String,
    /// Issued at: when the token was made, in Unix seconds.
    pub iat: u64,
    /// Expiration time: the token is good while the time is before it.
    pub exp: u64,
}

/// An error answered as RFC 9457 problem details, with the content type
/// `application/problem+json`:
/// `{"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "..."}`,
/// and a `WWW-Authenticate` challenge when there is one.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
    pub www_authenticate: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            detail: detail.into(),
            www_authenticate: None,
        }
    }

    /// `401`: the request carries no credentials this API knows (no
    /// `Authorization` header, or one with another scheme than `Bearer`).
    /// Challenge: `WWW-Authenticate: Bearer realm="shop"`, with no error
    /// code (RFC 6750, section 3.1).
    pub fn no_credentials() -> Problem {
        Problem {
            www_authenticate: Some(r#"Bearer realm="shop""#),
            ..Problem::new(StatusCode::UNAUTHORIZED, "this needs a bearer token")
        }
    }

    /// `401`: the request carries a bearer token, and it is no good
    /// (malformed, badly signed, expired, for nobody): `WWW-Authenticate:
    /// Bearer realm="shop", error="invalid_token"`.
    pub fn invalid_token(detail: impl Into<String>) -> Problem {
        Problem {
            www_authenticate: Some(r#"Bearer realm="shop", error="invalid_token""#),
            ..Problem::new(StatusCode::UNAUTHORIZED, detail)
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
        let mut response = (self.status, content_type, body.to_string()).into_response();
        if let Some(challenge) = self.www_authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// A failed database call: logged, and answered `500` without SQLite's
/// words.
impl From<rusqlite::Error> for Problem {
    fn from(error: rusqlite::Error) -> Problem {
        tracing::error!(%error, "database error");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not use its database",
        )
    }
}

/// The shop's database, a SQLite file shared by every request: each call
/// runs on a connection of its own (idle connections are kept for the
/// next calls), on tokio's blocking threads.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Db {
    /// The database in the SQLite file at `path` (created if missing).
    pub fn open(path: &Path) -> Db {
        Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `job` with a connection, off the async runtime's threads. A
    /// panic in `job` continues in the caller.
    pub async fn call<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || {
            let mut connection = inner.connection()?;
            let result = job(&mut connection);
            inner.give_back(connection);
            result
        });
        match task.await {
            Ok(result) => result,
            Err(error) => resume_unwind(error.into_panic()),
        }
    }
}

impl Inner {
    fn connection(&self) -> rusqlite::Result<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(connection) = idle {
            return Ok(connection);
        }
        let connection = Connection::open(&self.path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.busy_timeout(Duration::from_secs(5))?;
        Ok(connection)
    }

    fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.push(connection);
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: Clock,
}

/// The shop's token endpoints, on `db` (whose schema [`create_schema`]
/// made), signing with `settings` and reading the time from `clock`:
///
/// `POST /token` with `{"email": "...", "password": "..."}` answers, when
/// they are right, `200 OK` with `Cache-Control: no-store` and
/// `{"access_token": "<JWT>", "token_type": "Bearer", "expires_in": 900}`
/// (the token made by [`issue_token`], `expires_in` the settings'
/// `token_ttl`), and `401` otherwise (given).
///
/// `GET /me` answers `200 OK` with the [`Customer`] the request's token
/// names, when the request has an `Authorization` header whose scheme is
/// `Bearer` (in any case: `bearer` is the same scheme) followed by one
/// space and a token that [`verify_token`] accepts, and whose customer
/// exists. Otherwise it answers `401 Unauthorized` as problem details:
///
/// | the request                                        | answer                         |
/// | -------------------------------------------------- | ------------------------------ |
/// | no `Authorization` header, or another scheme       | [`Problem::no_credentials`]    |
/// | `Bearer` and a token that is no good, or nothing   | [`Problem::invalid_token`]     |
/// | a good token of a customer who no longer exists    | [`Problem::invalid_token`]     |
pub fn app(db: Db, settings: Settings, clock: Clock) -> Router {
    let state = AppState {
        db,
        settings: Arc::new(settings),
        clock,
    };
    Router::new()
        .route("/token", post(post_token))
        .route("/me", get(get_me))
        .with_state(state)
}

/// The body of `POST /token`.
#[derive(Debug, Deserialize)]
pub struct Login {
    pub email: String,
    pub password: String,
}

async fn post_token(
    State(state): State<AppState>,
    Json(login): Json<Login>,
) -> Result<Response, Problem> {
    let customer = state
        .db
        .call(move |db| check_credentials(db, &login.email, &login.password))
        .await?;
    let Some(customer) = customer else {
        return Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "the email or the password is wrong",
        ));
    };
    let token = issue_token(&state.settings, customer.id, state.clock.now());
    let body = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": state.settings.token_ttl,
    });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// A token for customer `customer_id`, made at `now`: a JWT whose header
/// says HS256, whose claims are a [`Claims`] (`sub` the id as a string,
/// `iat` now, `exp` now plus the settings' `token_ttl`), signed with the
/// settings' `signing_key`.
pub fn issue_token(settings: &Settings, customer_id: i64, now: u64) -> String {
    let claims = Claims {
        sub: customer_id.to_string(),
        iat: now,
        exp: now + settings.token_ttl,
    };
    let key =
        EncodingKey::from_secret(&settings.signing_key).expect("the settings hold a signing key");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .expect("HS256 signs any claims with any key")
}

/// The id of the customer `token` names, if it is good at `now`: a JWT
/// signed with HS256 (and no other algorithm) under the settings'
/// `signing_key`, with a `sub` that is a customer id as a string and an
/// `exp` later than `now` (no leeway: at `exp` itself it has expired).
/// Otherwise why it is no good, for the problem's detail.
pub fn verify_token(settings: &Settings, token: &str, now: u64) -> Result<i64, &'static str> {
    let key = DecodingKey::from_secret(&settings.signing_key)
        .map_err(|_| "the server has no key to verify tokens with")?;
    let mut validation = Validation::new(Algorithm::HS256);
    // The library compares `exp` with the system's clock; the app has a
    // clock of its own, so the comparison is made below, without leeway.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|_| "the token is malformed, or not signed by this shop")?
        .claims;
    if now >= claims.exp {
        return Err("the token has expired");
    }
    claims
        .sub
        .parse()
        .map_err(|_| "the token's subject is not a customer id")
}

async fn get_me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        return Err(Problem::no_credentials());
    };
    let authorization = authorization
        .to_str()
        .map_err(|_| Problem::invalid_token("the Authorization header is not text"))?;
    let (scheme, token) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Problem::no_credentials());
    }
    let id =
        verify_token(&state.settings, token, state.clock.now()).map_err(Problem::invalid_token)?;
    match state.db.call(move |db| find_customer(db, id)).await? {
        Some(customer) => Ok(Json(customer).into_response()),
        None => Err(Problem::invalid_token(
            "the token's customer no longer exists",
        )),
    }
}
