//! # auth/oauth-login — Signing in with another provider
//!
//! Let customers sign in to the shop with an account they already have at
//! an identity provider, with OpenID Connect on top of the OAuth 2.0
//! authorization-code flow: `GET /auth/login` sends the browser to the
//! provider with a random `state` and a PKCE challenge bound to this
//! browser, and `GET /auth/callback` checks that `state`, exchanges the
//! code (with the PKCE verifier) for an ID token, verifies that token, finds
//! or creates the customer it names, and starts a session.
//! The book's section "Signing in with another provider" explains every
//! piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The current time, in Unix seconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system's clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            })
    })
}

/// The identity provider, as the shop was registered with it.
#[derive(Clone, Debug)]
pub struct Provider {
    /// Where the provider is: `http://127.0.0.1:4000`, no `/` at the end.
    /// Its endpoints are `{base_url}/authorize` and `{base_url}/token`.
    pub base_url: String,
    /// The shop's client id at the provider.
    pub client_id: String,
    /// The shop's client secret: sent to the token endpoint, and the key
    /// the provider signs ID tokens with (HS256). Never shown to a browser.
    pub client_secret: String,
    /// Where the provider sends the browser back: the shop's
    /// `/auth/callback`, exactly as registered at the provider.
    pub redirect_uri: String,
    /// The provider's issuer identifier: every ID token's `iss`.
    pub issuer: String,
}

/// The app's settings.
#[derive(Clone)]
pub struct Settings {
    pub provider: Provider,
    /// What time it is ([`system_clock`] unless a test says otherwise).
    pub now: Clock,
}

impl Settings {
    pub fn new(provider: Provider) -> Settings {
        Settings {
            provider,
            now: system_clock(),
        }
    }

    /// Whether cookies get `Secure`: when the shop is served over HTTPS,
    /// which its `redirect_uri` tells.
    pub fn secure_cookies(&self) -> bool {
        self.provider.redirect_uri.starts_with("https://")
    }
}

/// The cookie that binds a sign-in in progress to the browser that started
/// it: its value is the id of a row of `oauth_logins`.
pub const LOGIN_COOKIE: &str = "oauth_login";

/// How long a sign-in may take, from `/auth/login` to `/auth/callback`.
pub const LOGIN_TTL: i64 = 10 * 60;

/// The session cookie, as in `auth/sessions`.
pub const SESSION_COOKIE: &str = "session";

/// How long a session lasts.
pub const SESSION_TTL: i64 = 7 * 24 * 60 * 60;

/// The `password_hash` of a customer the provider created: not a PHC
/// string, so no password ever verifies against it.
pub const NO_PASSWORD: &str = "!";

/// Creates the shop's account tables, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "PRAGMA foreign_keys = ON;
        CREATE TABLE IF NOT EXISTS customers (
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
        CREATE TABLE IF NOT EXISTS oauth_logins (
            id            TEXT PRIMARY KEY,
            state         TEXT NOT NULL,
            code_verifier TEXT NOT NULL,
            expires_at    INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS identities (
            provider    TEXT NOT NULL,
            subject     TEXT NOT NULL,
            customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
            PRIMARY KEY (provider, subject)
        ) STRICT;",
    )
}

/// 256 random bits from the operating system, as 43 characters of
/// URL-safe base64 without padding (`A-Z a-z 0-9 - _`).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the provider's token endpoint answers.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub id_token: String,
}

/// The claims of an ID token the shop reads. (`iss`, `aud` and `exp` are
/// checked too; `exp` is here because the shop checks it against its own
/// clock.)
#[derive(Debug, Deserialize)]
pub struct IdClaims {
    /// The customer's id at the provider: never reused, never changed.
    pub sub: String,
    /// When the token expires, in Unix seconds.
    pub exp: i64,
    pub email: Option<String>,
    /// Whether the provider checked that `email` belongs to this person.
    #[serde(default)]
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Why a sign-in failed.
#[derive(Debug)]
pub enum LoginError {
    /// The callback's `state` is missing, or does not match a sign-in
    /// this browser started, or that sign-in expired or was used already.
    InvalidState,
    /// The provider sent the browser back without a code (the person
    /// refused, or the provider failed).
    Cancelled,
    /// The token endpoint could not be reached or refused the code, or
    /// answered something that is not tokens.
    Exchange,
    /// The ID token failed a check: signature, `alg`, `iss`, `aud`, `exp`.
    InvalidIdToken,
    /// The identity is new, and the provider has not verified its email.
    UnverifiedEmail,
    Database(rusqlite::Error),
}

impl From<rusqlite::Error> for LoginError {
    fn from(error: rusqlite::Error) -> LoginError {
        LoginError::Database(error)
    }
}

/// Each error as problem details:
///
/// | error             | status            | `title`                  |
/// | ----------------- | ----------------- | ------------------------ |
/// | `InvalidState`    | `400 Bad Request` | `"Invalid sign-in state"` |
/// | `Cancelled`       | `403 Forbidden`   | `"Sign-in cancelled"`    |
/// | `Exchange`        | `502 Bad Gateway` | `"Bad Gateway"`          |
/// | `InvalidIdToken`  | `502 Bad Gateway` | `"Invalid ID token"`     |
/// | `UnverifiedEmail` | `403 Forbidden`   | `"Unverified email"`     |
/// | `Database`        | `500`             | `"Internal Server Error"` |
impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            LoginError::InvalidState => (
                StatusCode::BAD_REQUEST,
                "Invalid sign-in state",
                "This sign-in was not started in this browser, has expired, or was used \
                 already. Start again at /auth/login.",
            ),
            LoginError::Cancelled => (
                StatusCode::FORBIDDEN,
                "Sign-in cancelled",
                "The sign-in provider did not sign you in.",
            ),
            LoginError::Exchange => (
                StatusCode::BAD_GATEWAY,
                "Bad Gateway",
                "The sign-in provider did not complete the sign-in. Start again at /auth/login.",
            ),
            LoginError::InvalidIdToken => (
                StatusCode::BAD_GATEWAY,
                "Invalid ID token",
                "The sign-in provider's answer could not be verified.",
            ),
            LoginError::UnverifiedEmail => (
                StatusCode::FORBIDDEN,
                "Unverified email",
                "The sign-in provider has not verified your email address. Verify it there, \
                 then sign in again.",
            ),
            LoginError::Database(error) => {
                tracing::error!(%error, "database error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    "Something went wrong on our side. Please try again.",
                )
            }
        };
        problem(status, title, detail)
    }
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({ "type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// The shop: its database, its settings, and its HTTP client.
#[derive(Clone)]
struct Shop {
    db: Arc<Mutex<Connection>>,
    settings: Settings,
    client: reqwest::Client,
}

impl Shop {
    /// Runs `job` with the database, on tokio's blocking threads.
    async fn run<T, E, F>(&self, job: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let task = tokio::task::spawn_blocking(move || {
            let mut db = db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            job(&mut db)
        });
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }
}

/// The shop's sign-in, on the database `db` (whose schema [`create_schema`]
/// made), with the provider `settings` describes:
///
/// | request              | answer                                                    |
/// | -------------------- | --------------------------------------------------------- |
/// | `GET /auth/login`    | a redirect to the provider, and the login cookie          |
/// | `GET /auth/callback` | `303 See Other` to `/me` with a session cookie, or a [`LoginError`] |
/// | `GET /me`            | `200 OK`, the signed-in customer; `401` without a session |
pub fn app(db: Connection, settings: Settings) -> Router {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client always builds");
    let shop = Shop {
        db: Arc::new(Mutex::new(db)),
        settings,
        client,
    };
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/me", get(me))
        .with_state(shop)
}

/// The PKCE `code_challenge` of `verifier` by the `S256` method (RFC 7636,
/// section 4.2).
pub fn code_challenge(verifier: &str) -> String {
    // TODO: the SHA-256 of the verifier's ASCII bytes, in URL-safe base64
    // without `=` padding (43 characters).
    let _ = verifier;
    todo!()
}

/// Where `/auth/login` sends the browser: `{base_url}/authorize` with the
/// query `response_type=code`, `client_id`, `redirect_uri`, `scope=openid
/// email`, `state`, `code_challenge` and `code_challenge_method=S256`.
pub fn authorize_url(provider: &Provider, state: &str, challenge: &str) -> String {
    // TODO: every value percent-encoded, so that a value holding `&`, `=`,
    // `?` or a space (the redirect URI has a query of its own) arrives
    // whole; the client secret never goes into this URL.
    let _ = (provider, state, challenge);
    todo!()
}

/// `GET /auth/login`: starts a sign-in.
async fn login(State(shop): State<Shop>, jar: CookieJar) -> Result<Response, LoginError> {
    // TODO: a new random state, a new random PKCE verifier and a new random
    // login id, stored together in `oauth_logins`, expiring LOGIN_TTL
    // seconds from the settings' `now`; the login id goes to the browser in
    // the LOGIN_COOKIE cookie, which scripts cannot read, which the browser
    // sends back when the provider's redirect brings it to the callback
    // (a top-level GET from another site) and on no other cross-site
    // request, and which is Secure when `secure_cookies()` says so. The
    // answer redirects the browser to `authorize_url`. Logins that have
    // expired by `now` are deleted: most sign-ins are never finished.
    let _ = (shop, jar);
    todo!()
}

/// What the provider sends the browser back with.
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set instead of `code` when the sign-in failed (`access_denied`).
    pub error: Option<String>,
}

/// `GET /auth/callback`: finishes a sign-in, or answers a [`LoginError`].
async fn callback(
    State(shop): State<Shop>,
    jar: CookieJar,
    Query(params): Query<CallbackParams>,
) -> Result<Response, LoginError> {
    // TODO, in this order:
    // - no login cookie or no `state`: InvalidState;
    // - spend this browser's login (`take_login`): from here on, its state
    //   never works again, whatever happens next;
    // - an `error`, or no `code`: Cancelled;
    // - exchange the code (`exchange_code`), verify the ID token
    //   (`verify_id_token`, with the settings' `now`), find the customer
    //   (`link_identity`, with the provider's issuer) and start a session
    //   (`start_session`);
    // - answer `303 See Other` to `/me`, with the session's cookie
    //   (`session_cookie`).
    let _ = (&shop.client, &shop.settings, jar, params);
    todo!()
}

/// Spends the sign-in `login_id`: returns its PKCE verifier if `state` is
/// its state and it has not expired at `now` (it is valid while `now` is
/// before its `expires_at`); `InvalidState` otherwise.
pub fn take_login(
    db: &mut Connection,
    login_id: &str,
    state: &str,
    now: i64,
) -> Result<String, LoginError> {
    // TODO: the login is gone once this returns, whatever it returns, so a
    // state works once, even if the callback that spent it fails later.
    let _ = (db, login_id, state, now);
    todo!()
}

/// Exchanges `code` at the provider's token endpoint (RFC 6749, section
/// 4.1.3, with RFC 7636's `code_verifier`): `POST {base_url}/token`.
pub async fn exchange_code(
    client: &reqwest::Client,
    provider: &Provider,
    code: &str,
    verifier: &str,
) -> Result<TokenResponse, LoginError> {
    // TODO: a form with grant_type=authorization_code, the code, the same
    // redirect_uri as the authorize URL's, the client's id and secret, and
    // the code_verifier. No answer, an answer that is not a success, or a
    // body that is not tokens: Exchange.
    let _ = (client, provider, code, verifier);
    todo!()
}

/// Verifies `id_token` (OpenID Connect Core, section 3.1.3.7) and returns
/// its claims; `InvalidIdToken` if any check fails.
pub fn verify_id_token(
    provider: &Provider,
    id_token: &str,
    now: i64,
) -> Result<IdClaims, LoginError> {
    // TODO: accepted only if signed with HS256 and the client secret
    // (whatever the token's own header says), with `iss` the provider's
    // issuer, `aud` the client id, a `sub`, and an `exp` after `now` (the
    // settings' clock, no leeway). A token that lacks `iss`, `aud` or
    // `exp` is refused too.
    let _ = (provider, id_token, now);
    todo!()
}

/// The customer the identity `(issuer, claims.sub)` signs in as.
pub fn link_identity(
    db: &mut Connection,
    issuer: &str,
    claims: &IdClaims,
) -> Result<i64, LoginError> {
    // TODO: an identity already in `identities` signs in as its customer,
    // whatever email the token says now. A new identity needs an `email`
    // with `email_verified: true` (UnverifiedEmail otherwise): it is linked
    // to the customer with that email (in any case of letters), or to a new
    // customer (`new_customer`, named by the token's `name`, or by the
    // email if it has none or a blank one). All of it, or none of it.
    let _ = (db, issuer, claims);
    todo!()
}

/// Adds a customer who has no password (see [`NO_PASSWORD`]); returns its id.
pub fn new_customer(db: &Connection, email: &str, name: &str) -> rusqlite::Result<i64> {
    db.query_row(
        "INSERT INTO customers (email, name, password_hash) VALUES (?1, ?2, ?3) RETURNING id",
        params![email, name, NO_PASSWORD],
        |row| row.get(0),
    )
}

/// Starts a session of `customer_id`, as `auth/sessions` does; returns its id.
pub fn start_session(db: &Connection, customer_id: i64, now: i64) -> rusqlite::Result<String> {
    let id = random_token();
    db.execute(
        "INSERT INTO sessions (id, customer_id, expires_at) VALUES (?1, ?2, ?3)",
        params![id, customer_id, now + SESSION_TTL],
    )?;
    Ok(id)
}

/// The session cookie for session `id`.
pub fn session_cookie(id: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, id))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/")
        .build()
}

/// A customer, as `/me` shows it.
#[derive(Debug, Serialize)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// `GET /me`: the customer whose session the cookie names.
async fn me(State(shop): State<Shop>, jar: CookieJar) -> Response {
    let Some(session) = jar.get(SESSION_COOKIE).map(|c| c.value().to_string()) else {
        return not_signed_in();
    };
    let now = (shop.settings.now)();
    let customer = shop
        .run(move |db| {
            db.query_row(
                "SELECT c.id, c.email, c.name FROM sessions s
                 JOIN customers c ON c.id = s.customer_id
                 WHERE s.id = ?1 AND s.expires_at > ?2",
                params![session, now],
                |row| {
                    Ok(Customer {
                        id: row.get(0)?,
                        email: row.get(1)?,
                        name: row.get(2)?,
                    })
                },
            )
            .optional()
        })
        .await;
    match customer {
        Ok(Some(customer)) => Json(customer).into_response(),
        Ok(None) => not_signed_in(),
        Err(error) => LoginError::Database(error).into_response(),
    }
}

fn not_signed_in() -> Response {
    problem(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Sign in first, at /auth/login.",
    )
}
