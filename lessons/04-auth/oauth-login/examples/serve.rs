//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! database file, signing in through a fake identity provider of its own on
//! a free port of 127.0.0.1, so you can try it with `curl` and with a
//! browser (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p auth-oauth-login --example serve
//! ```
//!
//! Open <http://localhost:3000/auth/login> in a browser: the fake provider
//! signs you in at once as Ada (`ada@example.com`, verified), sends the
//! browser back to the shop's callback, and the shop shows you `/me`. Each
//! request the provider gets is printed (on stderr).
//!
//! The file is `auth-oauth-login.db` in the system's temporary folder, made
//! anew at every start. It serves your code as it was when it started:
//! after a change, stop it with Ctrl+C and run it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use auth_oauth_login::{Provider, Settings, create_schema};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

const CLIENT_ID: &str = "shop-web";
const CLIENT_SECRET: &str = "a-secret-the-shop-and-the-provider-share";
const REDIRECT_URI: &str = "http://localhost:3000/auth/callback";
const ISSUER: &str = "http://fake-provider.localhost";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new database in `folder`, signing in
/// through a fake provider that this starts on a free port (call it from
/// within a tokio runtime).
pub fn app(folder: &Path) -> Router {
    let path = folder.join("auth-oauth-login.db");
    remove_database(&path);
    let db = Connection::open(&path).expect("a new database file can be made there");
    create_schema(&db).expect("a new database takes the schema");
    let settings = Settings::new(Provider {
        base_url: start_fake_provider(),
        client_id: CLIENT_ID.to_string(),
        client_secret: CLIENT_SECRET.to_string(),
        redirect_uri: REDIRECT_URI.to_string(),
        issuer: ISSUER.to_string(),
    });
    auth_oauth_login::app(db, settings)
}

/// The codes the fake provider issued, with their PKCE challenges.
type Codes = Arc<Mutex<HashMap<String, String>>>;

/// Starts the fake identity provider on a free port; returns its URL.
fn start_fake_provider() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().expect("a bound address"));
    listener
        .set_nonblocking(true)
        .expect("the listener can be made non-blocking");
    let listener = TcpListener::from_std(listener).expect("called from within a tokio runtime");
    let provider = Router::new()
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(Codes::default());
    tokio::spawn(async move { axum::serve(listener, provider).await });
    url
}

/// `GET /authorize`: Ada signs in and agrees at once.
async fn authorize(
    State(codes): State<Codes>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    eprintln!(
        "provider: GET /authorize for {}, state {}, challenge {} ({})",
        param("client_id"),
        param("state"),
        param("code_challenge"),
        param("code_challenge_method")
    );
    if param("client_id") != CLIENT_ID || param("redirect_uri") != REDIRECT_URI {
        let text = "fake provider: unknown client_id or redirect_uri";
        return (StatusCode::BAD_REQUEST, text).into_response();
    }
    let code = format!("code-{}", auth_oauth_login::random_token());
    let challenge = param("code_challenge").to_string();
    codes.lock().unwrap().insert(code.clone(), challenge);
    let mut back = reqwest::Url::parse(REDIRECT_URI).expect("the redirect URI parses");
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", param("state"));
    (StatusCode::FOUND, [("location", back.to_string())]).into_response()
}

/// `POST /token`: a code, once, with its verifier, for Ada's ID token.
async fn token(State(codes): State<Codes>, body: String) -> Response {
    let form: HashMap<String, String> = reqwest::Url::parse(&format!("http://form/?{body}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let challenge = codes.lock().unwrap().remove(field("code"));
    let verifier = field("code_verifier");
    let proven = challenge
        .is_some_and(|challenge| URL_SAFE_NO_PAD.encode(Sha256::digest(verifier)) == challenge);
    let client = field("client_id") == CLIENT_ID && field("client_secret") == CLIENT_SECRET;
    eprintln!(
        "provider: POST /token for {}, code_verifier {verifier}: {}",
        field("client_id"),
        if proven && client {
            "tokens"
        } else {
            "invalid_grant"
        }
    );
    let json = [("content-type", "application/json")];
    if !proven || !client {
        let error = r#"{"error":"invalid_grant"}"#;
        return (StatusCode::BAD_REQUEST, json, error).into_response();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": CLIENT_ID, "sub": "fake|ada", "iat": now, "exp": now + 300,
        "email": "ada@example.com", "email_verified": true, "name": "Ada Lovelace",
    });
    let key = jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes())
        .expect("a key from a secret");
    let id_token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)
        .expect("the fake provider signs its tokens");
    let tokens = serde_json::json!({
        "access_token": "fake-access-token", "token_type": "Bearer",
        "expires_in": 3600, "id_token": id_token,
    });
    (StatusCode::OK, json, tokens.to_string()).into_response()
}

/// Removes a database file left from an earlier run.
fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = PathBuf::from(path).into_os_string();
        file.push(suffix);
        // A file that is not there is what we want.
        let _ = std::fs::remove_file(file);
    }
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "auth/oauth-login, a new shop signing in through a fake provider: listening on \
         http://{ADDRESS} (Ctrl+C stops it; open http://localhost:3000/auth/login in a browser)"
    )
}
