//! Tests for auth/oauth-login: the shop's app on a real SQLite file, called
//! over HTTP on 127.0.0.1 by a test that plays the browser, and a fake
//! identity provider that the tests start on 127.0.0.1 too.
//!
//! The fake provider is strict, as a real one is: its `/authorize` takes
//! only the registered client id and redirect URI and an `S256` PKCE
//! challenge; its `/token` takes a form, authenticates the client (by
//! `client_secret_post` or `client_secret_basic`), takes each code once,
//! with the redirect URI it was issued for, and only with the verifier
//! whose SHA-256 is the challenge. It records every token request, so the
//! tests read what the app sent. Its ID tokens are signed HS256 with the
//! client secret; a test can have them forged (another issuer, another
//! audience, expired, another key, a changed payload, `alg: none`...).
//!
//! The app's clock is the test's: it says it is 2100-01-01T00:00:00Z, and
//! a test moves it forward instead of waiting.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use auth_oauth_login::{Provider, Settings, app, create_schema};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use testkit::reqwest::Url;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json};
use tokio::sync::oneshot;

/// The tests' "now": 2100-01-01T00:00:00Z, far from the real time, so an
/// app that reads the system's clock instead of its settings' shows.
const NOW: i64 = 4_102_444_800;

const CLIENT_ID: &str = "shop-web";
const CLIENT_SECRET: &str = "the-shop's-client-secret: 7f3a9c1e5b2d8f4a6c0e";
/// The shop's registered redirect URI. It has a query of its own, as RFC
/// 6749 allows, with a `&` in it: an authorize URL made by pasting values
/// into a string without percent-encoding them loses half of it.
const REDIRECT_URI: &str = "http://shop.test/auth/callback?from=provider&lang=fr";
/// The provider's issuer: not its URL, so an app that expects the base URL
/// in `iss` shows.
const ISSUER: &str = "https://accounts.fake-provider.test";

/// How the fake provider makes the next ID tokens (or answers instead).
#[derive(Clone, Copy, Debug)]
enum Forge {
    /// A valid token: the provider's issuer, the shop's client id, expiring
    /// in 5 minutes, HS256 with the client secret.
    Nothing,
    /// `iss` is another provider's.
    Issuer,
    /// `aud` is another client's.
    Audience,
    /// `exp` is this.
    ExpiresAt(i64),
    /// The claim is left out.
    Without(&'static str),
    /// Signed with a key that is not the client secret.
    OtherKey,
    /// Signed, then its payload changed (the email made another one).
    Tampered,
    /// `{"alg": "none"}` and no signature.
    AlgNone,
    /// The token endpoint answers `200` with an HTML page.
    Garbage,
}

/// A code the fake provider issued.
#[derive(Clone, Debug)]
struct Grant {
    challenge: String,
    redirect_uri: String,
    person: Value,
    used: bool,
}

/// A request the fake provider's token endpoint got.
#[derive(Clone, Debug)]
struct TokenRequest {
    content_type: Option<String>,
    authorization: Option<String>,
    form: Vec<(String, String)>,
    answer: String,
}

impl TokenRequest {
    fn get(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "  POST /token\n            content-type: {}",
            self.content_type.as_deref().unwrap_or("(none)")
        );
        if let Some(authorization) = &self.authorization {
            text.push_str(&format!("\n            authorization: {authorization}"));
        }
        for (name, value) in &self.form {
            text.push_str(&format!("\n            {name}={value}"));
        }
        text.push_str(&format!("\n  the provider answered: {}", self.answer));
        text
    }
}

/// Holds the first token request until the test lets it go.
struct Hold {
    arrived: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

struct ProviderState {
    /// Who signs in at `/authorize` next: `sub`, `email`, `email_verified`,
    /// `name`.
    person: Value,
    forge: Forge,
    refuse_next: bool,
    hold: Option<Hold>,
    grants: HashMap<String, Grant>,
    issued: u32,
    token_requests: Vec<TokenRequest>,
}

type Shared = Arc<Mutex<ProviderState>>;

/// The fake identity provider, on its own port.
struct FakeProvider {
    server: TestServer,
    state: Shared,
}

impl FakeProvider {
    async fn start() -> FakeProvider {
        let state = Arc::new(Mutex::new(ProviderState {
            person: person("fake|ada", "ada@example.com", true, "Ada Lovelace"),
            forge: Forge::Nothing,
            refuse_next: false,
            hold: None,
            grants: HashMap::new(),
            issued: 0,
            token_requests: Vec::new(),
        }));
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        FakeProvider {
            server: TestServer::spawn(router).await,
            state,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    fn set(&self, change: impl FnOnce(&mut ProviderState)) {
        change(&mut self.state.lock().unwrap());
    }

    fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.lock().unwrap().token_requests.clone()
    }
}

/// Who signs in at the provider.
fn person(sub: &str, email: &str, verified: bool, name: &str) -> Value {
    json!({ "sub": sub, "email": email, "email_verified": verified, "name": name })
}

/// The fake provider's `GET /authorize`: the person signs in and agrees at
/// once; the browser is sent back to the redirect URI with a code.
async fn authorize(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    let refuse = |why: &str| {
        let text = format!("fake provider: {why}");
        (StatusCode::BAD_REQUEST, text).into_response()
    };
    if param("client_id") != CLIENT_ID {
        return refuse("unknown client_id");
    }
    if param("redirect_uri") != REDIRECT_URI && param("redirect_uri") != HTTPS_REDIRECT_URI {
        return refuse("redirect_uri is not the registered one");
    }
    if param("response_type") != "code" {
        return refuse("response_type must be code");
    }
    if param("code_challenge_method") != "S256" || param("code_challenge").len() != 43 {
        return refuse("this provider takes only S256 PKCE challenges");
    }
    let Some(sent_state) = query.get("state") else {
        return refuse("no state");
    };
    let code = {
        let mut provider = state.lock().unwrap();
        provider.issued += 1;
        let code = format!("code-{}", provider.issued);
        let grant = Grant {
            challenge: param("code_challenge").to_string(),
            redirect_uri: param("redirect_uri").to_string(),
            person: provider.person.clone(),
            used: false,
        };
        provider.grants.insert(code.clone(), grant);
        code
    };
    let mut back = Url::parse(param("redirect_uri")).expect("the registered redirect URI parses");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", sent_state);
    (StatusCode::FOUND, [("location", back.to_string())]).into_response()
}

/// The fake provider's `POST /token`.
async fn token(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let form: Vec<(String, String)> = Url::parse(&format!("http://form.test/?{body}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let (answer, hold) = {
        let mut provider = state.lock().unwrap();
        let (status, body) = token_answer(
            &mut provider,
            header("content-type"),
            header("authorization"),
            &form,
        );
        provider.token_requests.push(TokenRequest {
            content_type: header("content-type"),
            authorization: header("authorization"),
            form,
            answer: format!("{} {body}", status.as_u16()),
        });
        let content_type = if body.starts_with('<') {
            "text/html"
        } else {
            "application/json"
        };
        let answer = (status, [("content-type", content_type)], body).into_response();
        (answer, provider.hold.take())
    };
    if let Some(hold) = hold {
        let _ = hold.arrived.send(());
        let _ = hold.release.await;
    }
    answer
}

/// What the token endpoint answers, by RFC 6749's rules.
fn token_answer(
    provider: &mut ProviderState,
    content_type: Option<String>,
    authorization: Option<String>,
    form: &[(String, String)],
) -> (StatusCode, String) {
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let error = |status: StatusCode, code: &str| (status, json!({ "error": code }).to_string());
    let is_form = content_type
        .as_deref()
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if field("grant_type") != Some("authorization_code") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if !client_authenticated(
        authorization.as_deref(),
        field("client_id"),
        field("client_secret"),
    ) {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if provider.refuse_next {
        provider.refuse_next = false;
        return error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let Some(grant) = field("code").and_then(|code| provider.grants.get_mut(code)) else {
        return error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if grant.used {
        return error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    grant.used = true;
    if field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let verifier = field("code_verifier").unwrap_or("");
    if !is_verifier(verifier) || s256(verifier) != grant.challenge {
        return error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    if let Forge::Garbage = provider.forge {
        return (
            StatusCode::OK,
            "<html><body>Signed in!</body></html>".to_string(),
        );
    }
    let id_token = id_token(&grant.person, provider.forge);
    let tokens = json!({
        "access_token": "fake-access-token",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
    });
    (StatusCode::OK, tokens.to_string())
}

/// Whether the client authenticated with its secret: HTTP Basic (RFC 6749,
/// section 2.3.1: id and secret form-encoded, then base64) or in the form.
fn client_authenticated(
    authorization: Option<&str>,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> bool {
    if let Some(basic) = authorization.and_then(|value| value.strip_prefix("Basic ")) {
        let decoded = STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some((id, secret)) = decoded.as_deref().and_then(|text| text.split_once(':')) else {
            return false;
        };
        return form_decode(id) == CLIENT_ID && form_decode(secret) == CLIENT_SECRET;
    }
    client_id == Some(CLIENT_ID) && client_secret == Some(CLIENT_SECRET)
}

fn form_decode(text: &str) -> String {
    Url::parse(&format!("http://form.test/?v={text}"))
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .next()
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_default()
}

/// RFC 7636, section 4.1: 43 to 128 characters of `A-Z a-z 0-9 - . _ ~`.
fn is_verifier(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An ID token about `person`, forged as `forge` says.
fn id_token(person: &Value, forge: Forge) -> String {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": NOW,
        "exp": NOW + 300,
    });
    for (name, value) in person.as_object().expect("a person is an object") {
        claims[name] = value.clone();
    }
    match forge {
        Forge::Issuer => claims["iss"] = json!("https://accounts.other-provider.test"),
        Forge::Audience => claims["aud"] = json!("another-client"),
        Forge::ExpiresAt(exp) => claims["exp"] = json!(exp),
        Forge::Without(claim) => {
            claims
                .as_object_mut()
                .expect("claims are an object")
                .remove(claim);
        }
        _ => {}
    }
    let sign = |claims: &Value, key: &str| {
        let key = EncodingKey::from_secret(key.as_bytes()).expect("a key from a secret");
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
            .expect("the fake provider signs its tokens")
    };
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    match forge {
        Forge::OtherKey => sign(&claims, "not-the-client-secret-but-another-one"),
        Forge::Tampered => {
            let signed = sign(&claims, CLIENT_SECRET);
            let mut parts: Vec<String> = signed.split('.').map(str::to_string).collect();
            let mut changed = claims.clone();
            changed["email"] = json!("grace@example.com");
            parts[1] = encode(&changed);
            parts.join(".")
        }
        Forge::AlgNone => format!(
            "{}.{}.",
            encode(&json!({ "alg": "none", "typ": "JWT" })),
            encode(&claims)
        ),
        _ => sign(&claims, CLIENT_SECRET),
    }
}

/// The registered redirect URI of the tests that serve the shop over HTTPS.
const HTTPS_REDIRECT_URI: &str = "https://shop.test/auth/callback";

/// A shop in a temporary SQLite file, with Grace as a customer who signed
/// up with a password, a fake provider, and the test's clock.
struct World {
    _folder: TempDir,
    path: PathBuf,
    provider: FakeProvider,
    shop: TestServer,
    clock: Arc<AtomicI64>,
}

/// A sign-in the test's browser started with `GET /auth/login`.
struct Login {
    /// The authorize URL's query parameters, decoded.
    params: HashMap<String, String>,
    /// The login cookie, as the browser sends it back: `name=value`.
    cookie: String,
    /// The whole `set-cookie` header.
    set_cookie: String,
    location: String,
}

impl Login {
    fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }
}

/// What the provider sent the browser back with.
struct Return {
    /// `/auth/callback?...`, the path and query to call the shop with.
    target: String,
    code: String,
    state: String,
}

impl World {
    async fn new() -> World {
        World::with_redirect_uri(REDIRECT_URI).await
    }

    async fn with_redirect_uri(redirect_uri: &str) -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        db.execute(
            "INSERT INTO customers (id, email, name, password_hash)
             VALUES (1, 'grace@example.com', 'Grace Hopper', ?1)",
            [GRACE_HASH],
        )
        .expect("the test could not add Grace");
        let provider = FakeProvider::start().await;
        let clock = Arc::new(AtomicI64::new(NOW));
        let reading = Arc::clone(&clock);
        let mut settings = Settings::new(Provider {
            base_url: provider.url(),
            client_id: CLIENT_ID.to_string(),
            client_secret: CLIENT_SECRET.to_string(),
            redirect_uri: redirect_uri.to_string(),
            issuer: ISSUER.to_string(),
        });
        settings.now = Arc::new(move || reading.load(Ordering::SeqCst));
        let shop = TestServer::spawn(app(db, settings)).await;
        World {
            _folder: folder,
            path,
            provider,
            shop,
            clock,
        }
    }

    fn count(&self, table: &str) -> i64 {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .expect("the test could not count rows")
    }

    fn identities(&self) -> Vec<(String, String, i64)> {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        let mut statement = db
            .prepare("SELECT provider, subject, customer_id FROM identities ORDER BY rowid")
            .expect("the test could not read the identities");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .and_then(|rows| rows.collect())
            .expect("the test could not read the identities")
    }

    fn customers(&self) -> Vec<(i64, String, String, String)> {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        let mut statement = db
            .prepare("SELECT id, email, name, password_hash FROM customers ORDER BY id")
            .expect("the test could not read the customers");
        statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .and_then(|rows| rows.collect())
            .expect("the test could not read the customers")
    }

    /// `GET /auth/login`: fails unless it redirects and sets the login cookie.
    async fn login(&self) -> Login {
        let reply = self.shop.get("/auth/login").send().await;
        if ![302, 303, 307].contains(&reply.status()) {
            reply.fail_with_diagnosis(
                &format!(
                    "expected a redirect to the provider (302, 303 or 307), got {}",
                    testkit::status_text(reply.status())
                ),
                "`/auth/login` sends the browser to the provider's authorization endpoint: \
                 a redirect whose `Location` is the authorize URL.",
            );
        }
        let location = reply.expect_header("location").to_string();
        let prefix = format!("{}/authorize?", self.provider.url());
        if !location.starts_with(&prefix) {
            reply.fail_with_diagnosis(
                &format!("expected the redirect to go to {prefix}..., it goes to {location}"),
                "The authorize URL is the provider's base URL, `/authorize`, and the query.",
            );
        }
        let params: HashMap<String, String> = Url::parse(&location)
            .map(|url| url.query_pairs().into_owned().collect())
            .unwrap_or_default();
        let Some(set_cookie) = reply
            .header_all("set-cookie")
            .into_iter()
            .find(|value| value.trim_start().starts_with("oauth_login="))
            .map(str::to_string)
        else {
            reply.fail_with_diagnosis(
                "expected a `set-cookie: oauth_login=...` header, the response has none",
                "The sign-in's state and PKCE verifier must be bound to the browser that \
                 started it: store them under a new random id, and give the browser that id \
                 in the `oauth_login` cookie. Without it, the callback cannot tell this \
                 browser's sign-in from an attacker's.",
            );
        };
        let cookie = set_cookie
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        Login {
            params,
            cookie,
            set_cookie,
            location,
        }
    }

    /// The browser follows the redirect to the provider, where the person
    /// signs in; returns where the provider sends the browser back.
    async fn authorize(&self, login: &Login) -> Return {
        let reply = testkit::client()
            .get(&login.location)
            .send()
            .await
            .expect("the fake provider answers");
        let status = reply.status().as_u16();
        let location = reply
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let text = reply.text().await.unwrap_or_default();
        let Some(back) = location.filter(|_| status == 302) else {
            panic!(
                "\nthe provider refused the authorize URL: {status} {text}\n  the shop's \
                 redirect: {}\nThe provider checks client_id ({CLIENT_ID}), redirect_uri \
                 (exactly {REDIRECT_URI}), response_type=code, code_challenge_method=S256 and a \
                 43-character code_challenge, and needs a state.\n",
                login.location
            );
        };
        let back = Url::parse(&back).expect("the provider redirects to a URL");
        let pairs: HashMap<String, String> = back.query_pairs().into_owned().collect();
        Return {
            target: format!("/auth/callback?{}", back.query().unwrap_or_default()),
            code: pairs.get("code").cloned().unwrap_or_default(),
            state: pairs.get("state").cloned().unwrap_or_default(),
        }
    }

    /// The browser calls the shop's callback, with `cookie` if any.
    async fn callback(&self, target: &str, cookie: Option<&str>) -> Reply {
        let mut call = self.shop.get(target);
        if let Some(cookie) = cookie {
            call = call.header("cookie", cookie);
        }
        call.send().await
    }

    /// A whole sign-in; returns the callback's reply.
    async fn sign_in(&self) -> Reply {
        let login = self.login().await;
        let back = self.authorize(&login).await;
        self.callback(&back.target, Some(&login.cookie)).await
    }

    /// `GET /me` with the session cookie `reply` set.
    async fn me(&self, reply: &Reply) -> Reply {
        let session = session_cookie(reply);
        self.shop.get("/me").header("cookie", &session).send().await
    }
}

/// Grace's password hash (of a password no test needs).
const GRACE_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$Kq5Z3d2o9bQ1yBv0m2m3Qy6c1xXo8S0mZb3kQ2j1f5E";

/// The `session=...` cookie a successful callback set; fails unless the
/// callback signed the browser in.
#[track_caller]
fn session_cookie(reply: &Reply) -> String {
    assert_signed_in(reply);
    let set_cookie = reply
        .header_all("set-cookie")
        .into_iter()
        .find(|value| value.trim_start().starts_with("session="))
        .unwrap_or_else(|| {
            reply.fail_with_diagnosis(
                "expected a `set-cookie: session=...` header, the response has none",
                "A sign-in ends by starting a session: `start_session` makes one, and \
                 `session_cookie` the cookie that carries it.",
            )
        });
    set_cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Fails unless `reply` is the callback's success: a redirect to `/me`.
#[track_caller]
fn assert_signed_in(reply: &Reply) {
    if reply.status() == 502 && reply.text().contains("Invalid ID token") {
        reply.fail_with_diagnosis(
            "expected the sign-in to succeed (303 See Other to /me), got 502 Bad Gateway: a \
             valid ID token was refused",
            "The provider's ID token was valid: HS256 with the client secret, `iss` the \
             provider's issuer (`Provider::issuer`, which is not its URL), `aud` the client id, \
             `exp` after the settings' `now` (not the system's clock: the tests' clock says \
             2100).",
        );
    }
    if ![302, 303].contains(&reply.status()) || reply.header("location") != Some("/me") {
        reply.fail_with_diagnosis(
            &format!(
                "expected the sign-in to succeed (303 See Other to /me), got {}",
                testkit::status_text(reply.status())
            ),
            "A valid callback (this browser's state, a code the provider exchanges, a valid \
             ID token) ends with a session cookie and `303 See Other`, `Location: /me`.",
        );
    }
}

/// Whether a `set-cookie` header has the attribute `name` (`HttpOnly`) or
/// `name=value` (`SameSite=Lax`), in any case.
fn has_attribute(set_cookie: &str, wanted: &str) -> bool {
    set_cookie
        .split(';')
        .skip(1)
        .any(|attribute| attribute.trim().eq_ignore_ascii_case(wanted))
}

/// Fails unless `reply` is the problem `status`, `title`, `detail`.
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, title: &str, detail: &str, diagnosis: &str) {
    if reply.status() != status {
        reply.fail_with_diagnosis(
            &format!(
                "expected status {}, got {}",
                testkit::status_text(status),
                testkit::status_text(reply.status())
            ),
            diagnosis,
        );
    }
    reply
        .assert_content_type("application/problem+json")
        .assert_json(&json!({
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
        }));
}

const STATE_DETAIL: &str = "This sign-in was not started in this browser, has expired, or was \
                            used already. Start again at /auth/login.";

#[track_caller]
fn assert_invalid_state(reply: &Reply, diagnosis: &str) {
    assert_problem(reply, 400, "Invalid sign-in state", STATE_DETAIL, diagnosis);
}

#[track_caller]
fn assert_invalid_id_token(reply: &Reply, diagnosis: &str) {
    assert_problem(
        reply,
        502,
        "Invalid ID token",
        "The sign-in provider's answer could not be verified.",
        diagnosis,
    );
}

/// Fails unless nobody was signed in and nothing was created.
#[track_caller]
fn assert_nothing_created(world: &World, reply: &Reply, customers: i64) {
    let sessions = world.count("sessions");
    let identities = world.count("identities");
    let now = world.count("customers");
    if sessions != 0 || identities != 0 || now != customers {
        reply.fail_with_diagnosis(
            &format!(
                "the refused sign-in left {sessions} session(s), {identities} identity link(s) \
                 and {} new customer(s) behind",
                now - customers
            ),
            "A sign-in that fails creates nothing: check everything (state, exchange, ID \
             token, email) before writing a customer, an identity or a session.",
        );
    }
    if reply
        .header_all("set-cookie")
        .iter()
        .any(|value| value.trim_start().starts_with("session="))
    {
        reply.fail("a refused sign-in set a session cookie");
    }
}

#[tokio::test]
async fn login_redirects_to_the_provider_with_a_state_and_an_s256_challenge() {
    let world = World::new().await;
    let login = world.login().await;
    let fail = |verdict: &str, diagnosis: &str| -> ! {
        panic!(
            "\n{verdict}\n  request:  GET /auth/login\n  location: {}\n{diagnosis}\n",
            login.location
        )
    };
    for (name, expected) in [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge_method", "S256"),
    ] {
        let actual = login.param(name);
        if actual != expected {
            fail(
                &format!("expected the authorize URL's {name} to be {expected:?}, got {actual:?}"),
                "Every value goes into the query percent-encoded (the registered redirect URI \
                 has a query of its own, with `&` in it): build the query with a URL type's \
                 query serializer, not by pasting strings. `S256` is the only method to send: \
                 `plain` puts the verifier itself in the URL.",
            );
        }
    }
    let scopes: Vec<&str> = login.param("scope").split(' ').collect();
    if !scopes.contains(&"openid") || !scopes.contains(&"email") {
        fail(
            &format!(
                "expected the scope to hold `openid` and `email`, got {:?}",
                login.param("scope")
            ),
            "`openid` makes it an OpenID Connect sign-in (an ID token comes back); `email` \
             asks for the email address.",
        );
    }
    let state = login.param("state");
    if state.len() < 22 {
        fail(
            &format!("expected a random state of at least 22 characters, got {state:?}"),
            "The state is a one-time secret of this browser's sign-in: 128 random bits or \
             more, from the operating system's generator.",
        );
    }
    let challenge = login.param("code_challenge");
    let is_base64url = challenge
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if challenge.len() != 43 || !is_base64url {
        fail(
            &format!(
                "expected a code_challenge of 43 URL-safe base64 characters (a SHA-256), got \
                 {challenge:?}"
            ),
            "S256's challenge is the SHA-256 of the verifier, in URL-safe base64 without `=` \
             padding: always 43 characters.",
        );
    }
    if login.location.contains(CLIENT_SECRET) || login.location.contains("client_secret") {
        fail(
            "the authorize URL carries the client secret",
            "The browser sees the authorize URL, and so does every extension and proxy: the \
             secret goes only to the token endpoint, from the server.",
        );
    }
}

#[tokio::test]
async fn the_login_cookie_is_http_only_same_site_lax_and_secure_over_https() {
    let world = World::new().await;
    let login = world.login().await;
    let fail = |verdict: &str, set_cookie: &str, diagnosis: &str| -> ! {
        panic!(
            "\n{verdict}\n  request:  GET /auth/login\n  set-cookie: {set_cookie}\n{diagnosis}\n"
        )
    };
    if !has_attribute(&login.set_cookie, "HttpOnly") {
        fail(
            "expected the login cookie to be HttpOnly, it is not",
            &login.set_cookie,
            "Scripts on the page have no business reading it: `HttpOnly`.",
        );
    }
    if !has_attribute(&login.set_cookie, "SameSite=Lax") {
        fail(
            "expected the login cookie to be SameSite=Lax",
            &login.set_cookie,
            "The callback is a top-level navigation that comes from the provider's site: \
             `SameSite=Strict` would keep the cookie from it, and every sign-in would fail; \
             `Lax` sends it with such a GET, and with no cross-site POST or subrequest.",
        );
    }
    let value = login.cookie.trim_start_matches("oauth_login=");
    if value.len() < 22 {
        fail(
            &format!("expected a random login id of at least 22 characters, got {value:?}"),
            &login.set_cookie,
            "The cookie's value names this browser's sign-in: it must be unguessable.",
        );
    }
    if has_attribute(&login.set_cookie, "Secure") {
        fail(
            "the login cookie is Secure while the shop is served over plain HTTP",
            &login.set_cookie,
            "A browser never sends a `Secure` cookie over http://, so the sign-in would fail: \
             set it when the redirect URI is https:// (`Settings::secure_cookies`).",
        );
    }
    let https = World::with_redirect_uri(HTTPS_REDIRECT_URI).await;
    let login = https.login().await;
    if !has_attribute(&login.set_cookie, "Secure") {
        fail(
            "expected the login cookie to be Secure when the redirect URI is https://",
            &login.set_cookie,
            "Over HTTPS, `Secure` keeps the cookie off any plain-HTTP request, where anyone \
             on the network could read it: see `Settings::secure_cookies`.",
        );
    }
}

#[tokio::test]
async fn every_login_gets_its_own_random_state_cookie_and_verifier() {
    let world = World::new().await;
    let mut logins = Vec::new();
    for _ in 0..12 {
        logins.push(world.login().await);
    }
    for (name, pick) in [
        (
            "state",
            (|login: &Login| login.param("state").to_string()) as fn(&Login) -> String,
        ),
        ("code_challenge", |login| {
            login.param("code_challenge").to_string()
        }),
        ("login cookie", |login| login.cookie.clone()),
    ] {
        let mut values: Vec<String> = logins.iter().map(pick).collect();
        values.sort();
        values.dedup();
        if values.len() != logins.len() {
            panic!(
                "\n{} logins got only {} different {name}s\n  request:  GET /auth/login, {} \
                 times\nEvery sign-in gets new random values: a state, a verifier and a login \
                 id reused or derived from a counter or the time can be guessed or replayed.\n",
                logins.len(),
                values.len(),
                logins.len()
            );
        }
    }
    // Three of them finish, each showing the provider its verifier.
    for login in logins.iter().take(3) {
        let back = world.authorize(login).await;
        let reply = world.callback(&back.target, Some(&login.cookie)).await;
        let requests = world.provider.token_requests();
        let Some(request) = requests.last() else {
            reply.fail_with_diagnosis(
                "the shop never called the provider's token endpoint",
                "The callback exchanges the code: `POST {base_url}/token`.",
            );
        };
        let verifier = request.get("code_verifier").unwrap_or("");
        if !is_verifier(verifier) {
            reply.fail_with_diagnosis(
                &format!(
                    "expected a code_verifier of 43 to 128 characters from A-Z a-z 0-9 - . _ ~, \
                     got {verifier:?}\n  the token request:\n{}",
                    request.describe()
                ),
                "RFC 7636, section 4.1: the verifier is high-entropy random text from the \
                 unreserved characters, 43 to 128 of them; send it as `code_verifier`.",
            );
        }
        if verifier == login.param("state") {
            reply.fail_with_diagnosis(
                "the code_verifier is the state",
                "The state travels in the URL, where anyone may see it; the verifier must stay \
                 secret until the server sends it to the token endpoint. Make two random values.",
            );
        }
        if s256(verifier) != login.param("code_challenge") {
            reply.fail_with_diagnosis(
                &format!(
                    "the code_challenge is not the S256 of the code_verifier\n  challenge: {}\n  \
                     verifier:  {verifier}\n  S256 of the verifier: {}",
                    login.param("code_challenge"),
                    s256(verifier)
                ),
                "The challenge is base64url(SHA-256(verifier)), without padding, of the \
                 verifier stored for this login.",
            );
        }
        assert_signed_in(&reply);
    }
    let verifiers: Vec<String> = world
        .provider
        .token_requests()
        .iter()
        .map(|request| request.get("code_verifier").unwrap_or("").to_string())
        .collect();
    let mut distinct = verifiers.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != verifiers.len() {
        panic!(
            "\n3 sign-ins sent only {} different code_verifiers: {verifiers:?}\nEvery sign-in \
             gets a new random verifier.\n",
            distinct.len()
        );
    }
}

#[tokio::test]
async fn signing_in_creates_the_customer_links_the_identity_and_starts_a_session() {
    let world = World::new().await;
    world.provider.set(|provider| {
        provider.person = person("fake|10001", "zoe@example.com", true, "Zoë Ålund");
    });
    let login = world.login().await;
    let back = world.authorize(&login).await;
    let reply = world.callback(&back.target, Some(&login.cookie)).await;
    let requests = world.provider.token_requests();
    let Some(request) = requests.first() else {
        reply.fail_with_diagnosis(
            "the shop never called the provider's token endpoint",
            "The callback exchanges the code: `POST {base_url}/token` with a form.",
        );
    };
    let fail = |verdict: &str, diagnosis: &str| -> ! {
        reply.fail_with_diagnosis(
            &format!("{verdict}\n  the token request:\n{}", request.describe()),
            diagnosis,
        )
    };
    if requests.len() != 1 {
        fail(
            &format!(
                "the shop sent {} token requests for one sign-in",
                requests.len()
            ),
            "One code, one exchange.",
        );
    }
    if !request
        .content_type
        .as_deref()
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"))
    {
        fail(
            "expected the token request to be a form (application/x-www-form-urlencoded)",
            "RFC 6749, section 4.1.3: the token request's parameters go in a form body, not \
             in JSON.",
        );
    }
    for (name, expected) in [
        ("grant_type", "authorization_code"),
        ("code", back.code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ] {
        let actual = request.get(name);
        if actual != Some(expected) {
            fail(
                &format!("expected {name}={expected:?} in the token request, got {actual:?}"),
                "The token request names the grant type, the code the callback got, and the \
                 same redirect_uri the authorize URL had.",
            );
        }
    }
    if !client_authenticated(
        request.authorization.as_deref(),
        request.get("client_id"),
        request.get("client_secret"),
    ) {
        fail(
            "the token request does not authenticate the shop with its client secret",
            "Send client_id and client_secret in the form (or as HTTP Basic): the provider \
             gives tokens only to the client the code was issued to.",
        );
    }
    let verifier = request.get("code_verifier").unwrap_or("");
    if s256(verifier) != login.param("code_challenge") {
        fail(
            "the token request's code_verifier does not match the login's code_challenge",
            "Send the verifier stored with this login, the one whose S256 went out as the \
             challenge: that proves the shop that started the sign-in is the one finishing it.",
        );
    }
    if !request.answer.starts_with("200") {
        fail(
            "the provider refused the token request",
            "Read the provider's answer above: every parameter must be right.",
        );
    }
    assert_signed_in(&reply);
    let set_session = reply
        .header_all("set-cookie")
        .into_iter()
        .find(|value| value.trim_start().starts_with("session="))
        .unwrap_or_default()
        .to_string();
    if !has_attribute(&set_session, "HttpOnly") || !has_attribute(&set_session, "SameSite=Lax") {
        reply.fail(
            "expected the session cookie that `session_cookie` makes (HttpOnly, SameSite=Lax)",
        );
    }
    let customers = world.customers();
    let Some(zoe) = customers
        .iter()
        .find(|customer| customer.1 == "zoe@example.com")
    else {
        reply.fail_with_diagnosis(
            &format!("expected a new customer zoe@example.com, the customers are {customers:?}"),
            "A new identity with a verified email and no customer of that email makes a \
             customer (`new_customer`).",
        );
    };
    if zoe.2 != "Zoë Ålund" || zoe.3 != auth_oauth_login::NO_PASSWORD {
        reply.fail(&format!(
            "expected the new customer to be named \"Zoë Ålund\" with the password hash {:?}, \
             got {zoe:?}",
            auth_oauth_login::NO_PASSWORD
        ));
    }
    let identities = world.identities();
    let expected = vec![(ISSUER.to_string(), "fake|10001".to_string(), zoe.0)];
    if identities != expected {
        reply.fail_with_diagnosis(
            &format!(
                "expected the identity link {expected:?} (provider, subject, customer_id), got \
                 {identities:?}"
            ),
            "An identity is the issuer and the ID token's `sub`: the one pair a provider \
             promises never to give anyone else.",
        );
    }
    let me = world.me(&reply).await;
    me.assert_status(200).assert_json(&json!({
        "id": zoe.0,
        "email": "zoe@example.com",
        "name": "Zoë Ålund",
    }));
    // The given session lasts 7 days.
    world.clock.store(NOW + 7 * 24 * 3600 - 1, Ordering::SeqCst);
    world.me(&reply).await.assert_status(200);
    world.clock.store(NOW + 7 * 24 * 3600, Ordering::SeqCst);
    world.me(&reply).await.assert_status(401);
}

#[tokio::test]
async fn a_new_customer_without_a_name_is_named_by_their_email() {
    let world = World::new().await;
    world.provider.set(|provider| {
        provider.person = person("fake|10002", "noname@example.com", true, "  ");
    });
    let reply = world.sign_in().await;
    let me = world.me(&reply).await;
    let id = me.assert_status(200).json()["id"].clone();
    me.assert_json(&json!({
        "id": id,
        "email": "noname@example.com",
        "name": "noname@example.com",
    }));
}

#[tokio::test]
async fn a_second_sign_in_with_the_same_subject_is_the_same_customer() {
    let world = World::new().await;
    let first = world.sign_in().await;
    let first_me = world.me(&first).await;
    first_me.assert_status(200);
    let ada = first_me.json()["id"].clone();
    // Ada changes her email at the provider to Grace's, and has not
    // verified it yet: she is still Ada, by her subject.
    world.provider.set(|provider| {
        provider.person = person("fake|ada", "grace@example.com", false, "Ada L.");
    });
    let second = world.sign_in().await;
    let second_me = world.me(&second).await;
    second_me.assert_status(200);
    if second_me.json()["id"] != ada {
        second_me.fail_with_diagnosis(
            &format!(
                "the second sign-in of subject fake|ada is customer {}, the first was {ada}",
                second_me.json()["id"]
            ),
            "A known identity (issuer, sub) signs in as the customer it is linked to, \
             whatever email the provider says now: look the identity up first. Matching by \
             email lets anyone who sets another person's email at a provider into their \
             account.",
        );
    }
    let customers = world.count("customers");
    let identities = world.count("identities");
    if customers != 2 || identities != 1 {
        second_me.fail(&format!(
            "expected 2 customers (Grace, Ada) and 1 identity after two sign-ins of Ada, got \
             {customers} and {identities}"
        ));
    }
}

#[tokio::test]
async fn a_verified_email_links_the_existing_customer() {
    let world = World::new().await;
    world.provider.set(|provider| {
        provider.person = person("fake|grace", "Grace@Example.COM", true, "G. Hopper");
    });
    let reply = world.sign_in().await;
    let me = world.me(&reply).await;
    me.assert_status(200).assert_json(&json!({
        "id": 1,
        "email": "grace@example.com",
        "name": "Grace Hopper",
    }));
    let identities = world.identities();
    let customers = world.customers();
    if identities != vec![(ISSUER.to_string(), "fake|grace".to_string(), 1)]
        || customers.len() != 1
        || customers[0].3 != GRACE_HASH
    {
        me.fail(&format!(
            "expected Grace (customer 1, her password untouched) linked to fake|grace and no \
             new customer\n  identities: {identities:?}\n  customers:  {customers:?}"
        ));
    }
}

#[tokio::test]
async fn an_unverified_email_is_never_linked_nor_made_a_customer() {
    for (person, story) in [
        (
            person("fake|mallory", "grace@example.com", false, "Mallory"),
            "an unverified email of an existing customer (Grace's)",
        ),
        (
            person("fake|mallory", "new@example.com", false, "Mallory"),
            "an unverified email nobody has",
        ),
        (
            json!({ "sub": "fake|mallory", "name": "Mallory" }),
            "no email at all",
        ),
    ] {
        let world = World::new().await;
        world.provider.set(|provider| provider.person = person);
        let reply = world.sign_in().await;
        let diagnosis = format!(
            "The provider said {story}. Only an email the provider verified \
             (`email_verified: true`) may link a new identity to a customer or make one: \
             anyone can type Grace's address into a provider's sign-up form."
        );
        assert_problem(
            &reply,
            403,
            "Unverified email",
            "The sign-in provider has not verified your email address. Verify it there, then \
             sign in again.",
            &diagnosis,
        );
        assert_nothing_created(&world, &reply, 1);
    }
}

#[tokio::test]
async fn a_callback_without_a_state_is_refused() {
    let world = World::new().await;
    let login = world.login().await;
    let back = world.authorize(&login).await;
    let target = format!("/auth/callback?code={}", back.code);
    let reply = world.callback(&target, Some(&login.cookie)).await;
    assert_invalid_state(
        &reply,
        "The state is what ties the callback to a sign-in this browser started: without it, \
         an attacker can make the victim's browser finish the attacker's sign-in (login CSRF).",
    );
    assert_nothing_created(&world, &reply, 1);
    if !world.provider.token_requests().is_empty() {
        reply.fail("a callback without a state still exchanged its code");
    }
}

#[tokio::test]
async fn a_callback_without_the_login_cookie_is_refused() {
    let world = World::new().await;
    let login = world.login().await;
    let back = world.authorize(&login).await;
    let reply = world.callback(&back.target, None).await;
    assert_invalid_state(
        &reply,
        "The callback came from a browser with no sign-in in progress: the state must match \
         the one stored for the login id in this browser's `oauth_login` cookie, not just any \
         stored state.",
    );
    assert_nothing_created(&world, &reply, 1);
}

#[tokio::test]
async fn a_callback_with_another_browsers_state_is_refused() {
    let world = World::new().await;
    let attacker = world.login().await;
    let attacker_back = world.authorize(&attacker).await;
    let victim = world.login().await;
    // The victim's browser is made to open the attacker's callback URL.
    let reply = world
        .callback(&attacker_back.target, Some(&victim.cookie))
        .await;
    assert_invalid_state(
        &reply,
        "The state in the URL is the attacker's, the cookie is the victim's: compare the \
         state with the one stored for THIS cookie's login. Looking the state up alone \
         accepts any state the shop ever handed out.",
    );
    assert_nothing_created(&world, &reply, 1);
    let forged = format!(
        "/auth/callback?code={}&state=forged-state-0123456789abcdef",
        attacker_back.code
    );
    let reply = world.callback(&forged, Some(&attacker.cookie)).await;
    assert_invalid_state(&reply, "A state that the shop never made is refused.");
    assert_nothing_created(&world, &reply, 1);
    let _ = attacker_back.state;
}

#[tokio::test]
async fn a_state_is_used_once() {
    let world = World::new().await;
    let login = world.login().await;
    let back = world.authorize(&login).await;
    let first = world.callback(&back.target, Some(&login.cookie)).await;
    assert_signed_in(&first);
    let again = world.callback(&back.target, Some(&login.cookie)).await;
    assert_invalid_state(
        &again,
        "The same callback, sent again after the sign-in succeeded, must not sign in again: \
         delete the login when its callback comes, so a state works once.",
    );
    let requests = world.provider.token_requests().len();
    if requests != 1 {
        again.fail(&format!(
            "the replayed callback reached the provider: {requests} token requests for one login"
        ));
    }
}

#[tokio::test]
async fn a_state_is_used_once_even_when_the_sign_in_fails() {
    let world = World::new().await;
    world.provider.set(|provider| provider.refuse_next = true);
    let login = world.login().await;
    let back = world.authorize(&login).await;
    let first = world.callback(&back.target, Some(&login.cookie)).await;
    assert_problem(
        &first,
        502,
        "Bad Gateway",
        "The sign-in provider did not complete the sign-in. Start again at /auth/login.",
        "The provider refused the code (400 invalid_grant): the shop cannot finish the \
         sign-in, and says so with 502 Bad Gateway.",
    );
    let again = world.callback(&back.target, Some(&login.cookie)).await;
    assert_invalid_state(
        &again,
        "The first callback with this state failed at the provider; the state was still \
         spent. Delete the login as soon as its callback comes, before anything can fail.",
    );
}

#[tokio::test]
async fn a_state_is_spent_before_the_code_is_exchanged() {
    let world = World::new().await;
    let (arrived_tx, arrived) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    world.provider.set(|provider| {
        provider.hold = Some(Hold {
            arrived: arrived_tx,
            release: release_rx,
        });
    });
    let login = world.login().await;
    let back = world.authorize(&login).await;
    let first = tokio::spawn(
        world
            .shop
            .get(&back.target)
            .header("cookie", &login.cookie)
            .send(),
    );
    // The first callback is now at the provider, which holds its answer
    // (unless it ended before it got there).
    let mut first = first;
    tokio::select! {
        _ = arrived => {}
        ended = &mut first => {
            let reply = ended.expect("the first callback's task ends");
            reply.fail_with_diagnosis(
                "the callback ended before it reached the provider's token endpoint",
                "A fresh login, its own state and cookie: the callback should exchange the code.",
            );
        }
    }
    let second = world.callback(&back.target, Some(&login.cookie)).await;
    assert_invalid_state(
        &second,
        "The same callback came twice at once: while the first was exchanging its code, the \
         second was still let through. Spend the login (delete it) before calling the \
         provider, not after.",
    );
    let _ = release.send(());
    let first = first.await.expect("the first callback's task ends");
    assert_signed_in(&first);
}

#[tokio::test]
async fn a_login_expires_ten_minutes_after_it_started() {
    let world = World::new().await;
    // ID tokens still valid when the late callbacks come.
    world
        .provider
        .set(|provider| provider.forge = Forge::ExpiresAt(NOW + 900));
    let login = world.login().await;
    let back = world.authorize(&login).await;
    world.clock.store(NOW + 600, Ordering::SeqCst);
    let late = world.callback(&back.target, Some(&login.cookie)).await;
    assert_invalid_state(
        &late,
        "The callback came 600 seconds (10 minutes) after /auth/login: the login has expired \
         (it is valid while now < started + 600), by the settings' clock `now`.",
    );
    assert_nothing_created(&world, &late, 1);
    // A sign-in that was started and never finished, 10 minutes ago.
    let _abandoned = world.login().await;
    world.clock.store(NOW + 1200, Ordering::SeqCst);
    let later = world.login().await;
    let stored = world.count("oauth_logins");
    if stored != 1 {
        panic!(
            "\n{stored} logins are stored, expected 1: expired logins pile up\n  request:  GET \
             /auth/login at now + 600 s after one that was never finished\n  location: {}\nEach \
             /auth/login deletes the logins that have expired by its `now`: most sign-ins that \
             are started are never finished.\n",
            later.location
        );
    }
    world.clock.store(NOW, Ordering::SeqCst);
    let login = world.login().await;
    let back = world.authorize(&login).await;
    world.clock.store(NOW + 599, Ordering::SeqCst);
    let in_time = world.callback(&back.target, Some(&login.cookie)).await;
    assert_signed_in(&in_time);
}

#[tokio::test]
async fn a_cancelled_sign_in_is_forbidden() {
    let world = World::new().await;
    let login = world.login().await;
    let target = format!(
        "/auth/callback?error=access_denied&state={}",
        login.param("state")
    );
    let reply = world.callback(&target, Some(&login.cookie)).await;
    assert_problem(
        &reply,
        403,
        "Sign-in cancelled",
        "The sign-in provider did not sign you in.",
        "The provider sent the browser back with `error=access_denied` and no code: the \
         person said no.",
    );
    if !world.provider.token_requests().is_empty() {
        reply.fail("a callback without a code still called the token endpoint");
    }
}

#[tokio::test]
async fn an_answer_from_the_token_endpoint_that_is_not_tokens_is_a_bad_gateway() {
    let world = World::new().await;
    world
        .provider
        .set(|provider| provider.forge = Forge::Garbage);
    let reply = world.sign_in().await;
    assert_problem(
        &reply,
        502,
        "Bad Gateway",
        "The sign-in provider did not complete the sign-in. Start again at /auth/login.",
        "The token endpoint answered 200 with an HTML page: no tokens, no sign-in.",
    );
    assert_nothing_created(&world, &reply, 1);
}

/// Signs in with an ID token forged as `forge`, expecting it refused.
async fn refused_id_token(forge: Forge, diagnosis: &str) {
    let world = World::new().await;
    world.provider.set(|provider| provider.forge = forge);
    let reply = world.sign_in().await;
    let requests = world.provider.token_requests();
    if requests.len() != 1 || !requests[0].answer.starts_with("200") {
        reply.fail("the code exchange did not succeed, so the ID token was never checked");
    }
    let diagnosis = format!("The ID token was forged: {forge:?}.\n{diagnosis}");
    assert_invalid_id_token(&reply, &diagnosis);
    assert_nothing_created(&world, &reply, 1);
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    refused_id_token(
        Forge::Issuer,
        "`iss` must be the provider's issuer (`Provider::issuer`).",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_for_another_client_is_refused() {
    refused_id_token(
        Forge::Audience,
        "`aud` must be the shop's client id: a token the provider made for another app is \
         not a sign-in to the shop.",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_expiring_now_is_refused() {
    refused_id_token(
        Forge::ExpiresAt(NOW),
        "`exp` is the settings' now: a token is valid while now < exp (RFC 7519, section \
         4.1.4). Check it with the settings' clock, not the system's.",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_expired_a_little_is_refused_without_leeway() {
    refused_id_token(
        Forge::ExpiresAt(NOW - 30),
        "`exp` was 30 seconds ago by the settings' clock: a default leeway of 60 seconds \
         lets it through. The shop's clock is the only clock here: no leeway.",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_valid_for_one_more_second_is_accepted() {
    let world = World::new().await;
    world
        .provider
        .set(|provider| provider.forge = Forge::ExpiresAt(NOW + 1));
    let reply = world.sign_in().await;
    assert_signed_in(&reply);
}

#[tokio::test]
async fn an_id_token_signed_with_another_key_is_refused() {
    refused_id_token(
        Forge::OtherKey,
        "The signature must verify with the client secret (HS256): anyone can make a token \
         that says anything.",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_with_a_changed_payload_is_refused() {
    refused_id_token(
        Forge::Tampered,
        "Its payload was changed after it was signed: verify the signature, never just \
         decode the payload.",
    )
    .await;
}

#[tokio::test]
async fn an_unsigned_id_token_is_refused() {
    refused_id_token(
        Forge::AlgNone,
        "Its header says `alg: none` and it has no signature: accept HS256 only, whatever \
         the token's header says.",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_without_an_issuer_is_refused() {
    refused_id_token(
        Forge::Without("iss"),
        "A checked claim must also be required: a token without `iss` is not from the \
         provider's issuer. (jsonwebtoken checks `iss` only when present, unless it is in \
         the required claims.)",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_without_an_audience_is_refused() {
    refused_id_token(
        Forge::Without("aud"),
        "A token without `aud` was made for nobody in particular, so not for the shop. \
         (jsonwebtoken checks `aud` only when present, unless it is in the required claims.)",
    )
    .await;
}

#[tokio::test]
async fn an_id_token_without_an_expiry_is_refused() {
    refused_id_token(
        Forge::Without("exp"),
        "A token without `exp` would be valid forever.",
    )
    .await;
}
