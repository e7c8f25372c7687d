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
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

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
/// section 4.2): the SHA-256 of the verifier's ASCII bytes, in URL-safe
/// base64 without padding.
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where `/auth/login` sends the browser: the provider's authorization
/// endpoint, asking for a code for `openid email`, with `state` and the
/// PKCE `challenge`, every value percent-encoded.
pub fn authorize_url(provider: &Provider, state: &str, challenge: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("{}/authorize", provider.base_url))
        .expect("the provider's base URL is a URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", &provider.redirect_uri)
        .append_pair("scope", "openid email")
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

/// `GET /auth/login`: starts a sign-in.
///
/// A new random `state`, a new random PKCE verifier and a new random login
/// id are stored in `oauth_logins`, expiring [`LOGIN_TTL`] from now; the
/// login id goes to the browser in the [`LOGIN_COOKIE`] cookie (`HttpOnly`,
/// `SameSite=Lax`, `Secure` when the settings say so), and the browser is
/// redirected to [`authorize_url`].
async fn login(State(shop): State<Shop>, jar: CookieJar) -> Result<Response, LoginError> {
    let id = random_token();
    let state = random_token();
    let verifier = random_token();
    let url = authorize_url(&shop.settings.provider, &state, &code_challenge(&verifier));
    let now = (shop.settings.now)();
    let row = id.clone();
    shop.run(move |db| {
        db.execute("DELETE FROM oauth_logins WHERE expires_at <= ?1", [now])?;
        db.execute(
            "INSERT INTO oauth_logins (id, state, code_verifier, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![row, state, verifier, now + LOGIN_TTL],
        )
    })
    .await?;
    let cookie = Cookie::build((LOGIN_COOKIE, id))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(shop.settings.secure_cookies())
        .path("/auth");
    Ok((jar.add(cookie), Redirect::to(&url)).into_response())
}

/// What the provider sends the browser back with.
#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set instead of `code` when the sign-in failed (`access_denied`).
    pub error: Option<String>,
}

/// `GET /auth/callback`: finishes a sign-in.
async fn callback(
    State(shop): State<Shop>,
    jar: CookieJar,
    Query(params): Query<CallbackParams>,
) -> Result<Response, LoginError> {
    let login_id = jar
        .get(LOGIN_COOKIE)
        .map(|cookie| cookie.value().to_string());
    let (Some(login_id), Some(state)) = (login_id, params.state) else {
        return Err(LoginError::InvalidState);
    };
    let now = (shop.settings.now)();
    let verifier = shop
        .run(move |db| take_login(db, &login_id, &state, now))
        .await?;
    let code = match (params.code, params.error) {
        (Some(code), None) => code,
        _ => return Err(LoginError::Cancelled),
    };
    let provider = &shop.settings.provider;
    let tokens = exchange_code(&shop.client, provider, &code, &verifier).await?;
    let claims = verify_id_token(provider, &tokens.id_token, now)?;
    let issuer = provider.issuer.clone();
    let session = shop
        .run(move |db| {
            let customer = link_identity(db, &issuer, &claims)?;
            Ok::<_, LoginError>(start_session(db, customer, now)?)
        })
        .await?;
    let secure = shop.settings.secure_cookies();
    let jar = jar
        .remove(Cookie::build(LOGIN_COOKIE).path("/auth"))
        .add(session_cookie(session, secure));
    Ok((jar, Redirect::to("/me")).into_response())
}

/// Spends the sign-in `login_id`: it is deleted whatever happens, and its
/// PKCE verifier returned if `state` is its state and it has not expired.
pub fn take_login(
    db: &mut Connection,
    login_id: &str,
    state: &str,
    now: i64,
) -> Result<String, LoginError> {
    let login: Option<(String, String, i64)> = db
        .query_row(
            "DELETE FROM oauth_logins WHERE id = ?1
             RETURNING state, code_verifier, expires_at",
            [login_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    match login {
        Some((expected, verifier, expires_at)) if expected == state && now < expires_at => {
            Ok(verifier)
        }
        _ => Err(LoginError::InvalidState),
    }
}

/// Exchanges `code` at the provider's token endpoint (RFC 6749, section
/// 4.1.3, with RFC 7636's `code_verifier`).
pub async fn exchange_code(
    client: &reqwest::Client,
    provider: &Provider,
    code: &str,
    verifier: &str,
) -> Result<TokenResponse, LoginError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &provider.redirect_uri),
        ("client_id", &provider.client_id),
        ("client_secret", &provider.client_secret),
        ("code_verifier", verifier),
    ];
    let response = client
        .post(format!("{}/token", provider.base_url))
        .form(&form)
        .send()
        .await
        .map_err(|error| {
            tracing::warn!(%error, "the token endpoint could not be reached");
            LoginError::Exchange
        })?;
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, "the token endpoint refused the code");
        return Err(LoginError::Exchange);
    }
    response.json().await.map_err(|error| {
        tracing::warn!(%error, "the token endpoint's answer is not tokens");
        LoginError::Exchange
    })
}

/// Verifies `id_token` (OpenID Connect Core, section 3.1.3.7): signed with
/// HS256 and the client secret, issued by `provider.issuer` for
/// `provider.client_id`, with a subject, and not expired at `now`.
pub fn verify_id_token(
    provider: &Provider,
    id_token: &str,
    now: i64,
) -> Result<IdClaims, LoginError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&provider.issuer]);
    validation.set_audience(&[&provider.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // `exp` is checked below against the shop's clock, with no leeway.
    validation.validate_exp = false;
    let invalid = |error: jsonwebtoken::errors::Error| {
        tracing::warn!(%error, "an ID token was refused");
        LoginError::InvalidIdToken
    };
    let key = DecodingKey::from_secret(provider.client_secret.as_bytes()).map_err(invalid)?;
    let claims = jsonwebtoken::decode::<IdClaims>(id_token, &key, &validation)
        .map_err(invalid)?
        .claims;
    if claims.exp <= now {
        tracing::warn!(exp = claims.exp, now, "an expired ID token was refused");
        return Err(LoginError::InvalidIdToken);
    }
    Ok(claims)
}

/// The customer the identity `(issuer, claims.sub)` signs in as.
///
/// A known identity is its customer, whatever its email is now. A new one
/// needs an email the provider verified: it is linked to the customer with
/// that email, or to a new customer.
pub fn link_identity(
    db: &mut Connection,
    issuer: &str,
    claims: &IdClaims,
) -> Result<i64, LoginError> {
    let tx = db.transaction()?;
    let known: Option<i64> = tx
        .query_row(
            "SELECT customer_id FROM identities WHERE provider = ?1 AND subject = ?2",
            params![issuer, claims.sub],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(customer) = known {
        return Ok(customer);
    }
    let Some(email) = claims.email.as_deref().filter(|_| claims.email_verified) else {
        return Err(LoginError::UnverifiedEmail);
    };
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM customers WHERE email = ?1",
            [email],
            |row| row.get(0),
        )
        .optional()?;
    let customer = match existing {
        Some(customer) => customer,
        None => {
            let name = claims
                .name
                .as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .unwrap_or(email);
            new_customer(&tx, email, name)?
        }
    };
    tx.execute(
        "INSERT INTO identities (provider, subject, customer_id) VALUES (?1, ?2, ?3)",
        params![issuer, claims.sub, customer],
    )?;
    tx.commit()?;
    Ok(customer)
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
