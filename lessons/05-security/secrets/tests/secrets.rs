//! Tests for security/secrets: the shop's settings, its logs and its
//! answers, read by the tests for any trace of a secret, while the shop
//! pays an order on a real SQLite file through a fake payment gateway the
//! tests run on 127.0.0.1.
//!
//! Every span and event the shop makes is recorded at every level, down to
//! `TRACE` (`testkit::trace::Recording`: a `#[tokio::test]` runs the test,
//! the shop and the fake gateway on one thread, and the recording sees what
//! that thread traces). A secret leaks if a span, an event, an error
//! message or a response shows it as it is, any 12 characters of it in a
//! row, or the whole of it percent-encoded or in base64: a log line that
//! shows `sk_live_…7dc` (a few characters, to tell keys apart) is fine.
//!
//! Each test pairs legitimate use (the shop still logs, still pays, still
//! says which variable is wrong) with a leak that must not happen, so that
//! the starter, which leaks everywhere, passes none of them.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rusqlite::Connection;
use security_secrets::{
    REDACTED, Secret, Settings, add_customer, add_order, add_session, app, create_schema,
    order_status,
};
use testkit::tempfile::TempDir;
use testkit::trace::Recording;
use testkit::{Reply, TestServer, Value, quote};
use tracing::Level;

/// The shop's key at the payment gateway.
const API_KEY: &str = "sk_live_51Hx9TqLmN3pQ7rS2vW8yZ0aB4cD6eF";

/// The key that signs the shop's cookies: with characters that URL and
/// base64 encodings change.
const SESSION_SECRET: &str = "k9/Vq+3xZ=wL&7mR;pT~2sN8bF5hJ1cD4gK6 é";

/// Ada's session token, sent as `Authorization: Bearer`.
const ADA_TOKEN: &str = "q7Yc2mZ0dW1xR5tL9pK3vB8nH4sF6gJ0aE2uI7oQ1wM";

/// Bob's session token, sent in the `session` cookie.
const BOB_TOKEN: &str = "Zt4Lk8Wq1Xn5Rb0Vm3Yc7Hd2Jf6Gs9Pa1Ue4Io8Ky2E";

/// A token that is no session's: an attacker's guess, or a customer's
/// expired one. It must not be logged either.
const GUESSED_TOKEN: &str = "Gq5Hw9Ls2Dn7Kv0Xc4Mb8Rt1Fz6Jy3Pe5Ua9Io2Wk7Q";

/// How many characters of a secret in a row count as a leak.
const WINDOW: usize = 12;

/// The variables of a complete environment.
fn environment(gateway: &str, database: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_PATH", database.to_string()),
        ("PAYMENT_GATEWAY_URL", gateway.to_string()),
        ("PAYMENT_API_KEY", API_KEY.to_string()),
        ("SESSION_SECRET", SESSION_SECRET.to_string()),
    ]
}

/// `Settings::from_vars` on `vars`.
fn settings_from(vars: &[(&'static str, String)]) -> Result<Settings, String> {
    let vars = vars.to_vec();
    Settings::from_vars(move |name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
    })
    .map_err(|error| error.to_string())
}

/// The ways `secret` may show in `text`, if one does: a description of it.
fn leak_of(text: &str, secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    for start in 0..=chars.len().saturating_sub(WINDOW) {
        let piece: String = chars[start..(start + WINDOW).min(chars.len())]
            .iter()
            .collect();
        if text.contains(&piece) {
            return Some(format!(
                "{} characters of it in a row, {piece:?}",
                piece.chars().count()
            ));
        }
    }
    let encodings = [
        ("percent-encoded", percent_encoded(secret)),
        ("in base64", STANDARD.encode(secret)),
        ("in URL-safe base64", URL_SAFE_NO_PAD.encode(secret)),
    ];
    for (how, encoded) in encodings {
        if text.contains(&encoded) {
            return Some(format!("the whole of it {how}, {encoded:?}"));
        }
    }
    None
}

/// `text` with every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// Every secret of the tests, by what it is.
const SECRETS: [(&str, &str); 5] = [
    ("the payment API key", API_KEY),
    ("the session secret", SESSION_SECRET),
    ("Ada's session token", ADA_TOKEN),
    ("Bob's session token", BOB_TOKEN),
    ("a guessed session token", GUESSED_TOKEN),
];

/// The first secret that `text` shows, if any: what it is, and how it shows.
fn first_leak(text: &str) -> Option<(&'static str, String)> {
    SECRETS
        .iter()
        .find_map(|(what, secret)| leak_of(text, secret).map(|how| (*what, how)))
}

/// Everything recorded so far: each span and each event, with its kind.
fn traced(recording: &Recording) -> Vec<String> {
    let mut lines: Vec<String> = recording
        .spans()
        .into_iter()
        .map(|span| format!("span  {span}"))
        .collect();
    for level in [
        Level::ERROR,
        Level::WARN,
        Level::INFO,
        Level::DEBUG,
        Level::TRACE,
    ] {
        for event in recording.events_at(level) {
            lines.push(format!("{level:<5} {}", event.trim_start()));
        }
    }
    lines
}

/// Fails if any span or event recorded so far shows a secret; `after`
/// says what the shop was doing, `diagnosis` where such a leak comes from.
fn assert_no_secret_traced(recording: &Recording, after: &str, diagnosis: &str) {
    let lines = traced(recording);
    for line in &lines {
        if let Some((what, how)) = first_leak(line) {
            panic!(
                "\nthe log shows {what} ({how}) {after}\n  the line:  {line}\n  \
                 everything traced:\n{}{diagnosis}\n",
                list(&lines)
            );
        }
    }
}

/// Lines of a failure message, indented.
fn list(lines: &[String]) -> String {
    if lines.is_empty() {
        return "    (nothing at all)\n".to_string();
    }
    lines.iter().map(|line| format!("    {line}\n")).collect()
}

/// What the fake gateway received: one line per request.
#[derive(Clone, Debug)]
struct Received {
    /// The path and query, as sent.
    uri: String,
    /// The `Authorization` header, if any.
    authorization: Option<String>,
    /// The body, as text.
    body: String,
}

/// The fake payment gateway: `POST /v1/charges` charges with the key it
/// accepts (sent as `Authorization: Bearer <key>` or, as older clients do,
/// as `?api_key=<key>`: both work), and answers `401` quoting any other key,
/// as real gateways do.
#[derive(Clone)]
struct Gateway {
    accepts: &'static str,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Gateway {
    fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn gateway_charge(
    State(gateway): State<Gateway>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let query_key = uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("api_key="))
            .map(str::to_string)
    });
    gateway
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Received {
            uri: uri.to_string(),
            authorization: authorization.clone(),
            body,
        });
    let key = authorization
        .as_deref()
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_string)
        .or(query_key)
        .unwrap_or_default();
    let json = [("content-type", "application/json")];
    if key == gateway.accepts {
        (
            StatusCode::CREATED,
            json,
            r#"{"id":"ch_3PqR7sT","status":"succeeded"}"#,
        )
            .into_response()
    } else {
        let answer = serde_json::json!({
            "error": "invalid_api_key",
            "message": format!("Invalid API key provided: {key}"),
        });
        (StatusCode::UNAUTHORIZED, json, answer.to_string()).into_response()
    }
}

/// The fake gateway, accepting the key `accepts`, served on 127.0.0.1.
async fn start_gateway(accepts: &'static str) -> (Gateway, TestServer) {
    let gateway = Gateway {
        accepts,
        received: Arc::default(),
    };
    let router = Router::new()
        .route("/v1/charges", post(gateway_charge))
        .with_state(gateway.clone());
    (gateway, TestServer::spawn(router).await)
}

/// A "gateway" that takes every connection and closes it at once, without
/// a word: the shop's request fails with a transport error.
async fn start_broken_gateway() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the test could not bind a port on 127.0.0.1");
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            drop(connection);
        }
    });
    url
}

/// The time now, in Unix seconds.
fn now() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("seconds fit in an i64")
}

/// A shop with Ada (order 1, 42.00 €, session `ADA_TOKEN`) and Bob (order
/// 2, 13.50 €, session `BOB_TOKEN`), whose settings point at `gateway`.
struct World {
    folder: TempDir,
    server: TestServer,
}

impl World {
    /// The shop, built (and its settings logged) on the test's thread.
    async fn new(gateway: &str) -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create the database");
        create_schema(&db).expect("the schema is created");
        let ada = add_customer(&db, "ada@example.com", "Ada").expect("Ada is added");
        let bob = add_customer(&db, "bob@example.com", "Bob").expect("Bob is added");
        add_order(&db, ada, 4200).expect("Ada's order is added");
        add_order(&db, bob, 1350).expect("Bob's order is added");
        add_session(&db, ADA_TOKEN, ada, now() + 3600).expect("Ada's session is added");
        add_session(&db, BOB_TOKEN, bob, now() + 3600).expect("Bob's session is added");
        add_session(&db, GUESSED_TOKEN, ada, now() - 60).expect("an expired session is added");
        let vars = environment(gateway, &path.display().to_string());
        let settings = match settings_from(&vars) {
            Ok(settings) => settings,
            Err(error) => panic!(
                "\nSettings::from_vars refused a complete environment: {error}\n  \
                 the variables: DATABASE_PATH, PAYMENT_GATEWAY_URL, PAYMENT_API_KEY and a \
                 SESSION_SECRET of {} bytes\n",
                SESSION_SECRET.len()
            ),
        };
        let server = TestServer::spawn(app(settings)).await;
        World { folder, server }
    }

    /// Makes every later query fail: the database file is removed, and
    /// the shop's next connection opens a new, empty one, with no tables.
    fn break_database(&self) {
        std::fs::remove_file(self.folder.path().join("shop.db"))
            .expect("the test could not remove the database file");
    }

    /// The status of order `id` in the database.
    fn status_of(&self, id: i64) -> String {
        let db = Connection::open(self.folder.path().join("shop.db"))
            .expect("the test could not open the database");
        order_status(&db, id)
            .expect("the test could not read the order")
            .unwrap_or_else(|| "(no such order)".to_string())
    }
}

/// Fails unless `reply` shows no secret, in its headers or its body.
fn assert_no_secret_answered(reply: &Reply, diagnosis: &str) {
    // What came back: the description's part after the request.
    let described = reply.describe();
    let answer = described
        .split_once("\n  response: ")
        .map_or(described.as_str(), |(_, answer)| answer);
    if let Some((what, how)) = first_leak(answer) {
        reply.fail_with_diagnosis(
            &format!("the answer shows {what} ({how}), to whoever sent the request"),
            diagnosis,
        );
    }
}

/// Fails unless `reply` is the `200 OK` of a paid order.
fn assert_paid(reply: &Reply, id: i64, total_cents: i64) {
    reply.assert_status(200);
    let body = reply.json();
    let expected = serde_json::json!({
        "id": id,
        "status": "paid",
        "total_cents": total_cents,
        "charge_id": "ch_3PqR7sT",
    });
    if body != expected {
        reply.fail(&format!(
            "expected the paid order {expected}, got {body}\n  \
             the order is paid with the charge id the gateway answered"
        ));
    }
}

const DEBUG_DIAGNOSIS: &str = "  Formatted with `{:?}` or `{}`, a `Secret` must write `[redacted]` \
    and nothing of its value: write `Debug` and `Display` for it by hand (a derived `Debug` \
    prints the field).";

#[test]
fn a_secret_shows_redacted_wherever_it_is_formatted() {
    let key = Secret::new(API_KEY.to_string());
    let exposed = key.expose();
    assert!(
        exposed == API_KEY,
        "\nthe secret exposes {exposed:?}, not the value it holds\n  \
         Secret::new({API_KEY:?}).expose() must give {API_KEY:?}: the one place that needs \
         the key (the request to the gateway) gets it there\n"
    );
    let pin = Secret::new(4242_u32);
    let shown = [
        ("format!(\"{:?}\", secret)", format!("{key:?}")),
        ("format!(\"{}\", secret)", format!("{key}")),
        ("format!(\"{:#?}\", secret)", format!("{key:#?}")),
        (
            "format!(\"{:>60}\", secret)",
            format!("{key:>60}").trim().to_string(),
        ),
        (
            "format!(\"{:?}\", Secret::new(4242_u32))",
            format!("{pin:?}"),
        ),
        ("format!(\"{}\", Secret::new(4242_u32))", format!("{pin}")),
    ];
    for (call, text) in shown {
        assert!(
            text == REDACTED,
            "\na secret shows {text:?}, not {REDACTED:?}\n  the call: {call}\n  \
             the secret: {API_KEY:?} (or 4242)\n\
             {DEBUG_DIAGNOSIS}\n"
        );
    }
    let vars = environment("http://127.0.0.1:9", "/var/lib/shop/shop.db");
    let settings = match settings_from(&vars) {
        Ok(settings) => settings,
        Err(error) => panic!("\nSettings::from_vars refused a complete environment: {error}\n"),
    };
    for (call, text) in [
        ("format!(\"{:?}\", settings)", format!("{settings:?}")),
        ("format!(\"{:#?}\", settings)", format!("{settings:#?}")),
    ] {
        if let Some((what, how)) = first_leak(&text) {
            panic!(
                "\nthe settings show {what} ({how})\n  the call: {call}\n  it wrote: \
                 {text}\n{DEBUG_DIAGNOSIS}\n"
            );
        }
        assert!(
            text.contains("http://127.0.0.1:9") && text.contains("/var/lib/shop/shop.db"),
            "\nthe settings no longer show what is not secret\n  the call: {call}\n  \
             it wrote: {text}\n  \
             The gateway's URL and the database's path are what an operator looks for: \
             redact the secrets, not the whole struct.\n"
        );
    }
    let (key, secret) = (
        settings.payment_api_key.expose(),
        settings.session_secret.expose(),
    );
    assert!(
        key == API_KEY && secret == SESSION_SECRET,
        "\nthe settings' secrets expose {key:?} and {secret:?}, not the values of \
         PAYMENT_API_KEY and SESSION_SECRET\n  expected {API_KEY:?} and {SESSION_SECRET:?}\n"
    );
}

#[tokio::test]
async fn the_settings_logged_at_startup_show_no_secret() {
    let recording = Recording::start();
    let (_gateway, gateway_server) = start_gateway(API_KEY).await;
    let gateway_url = gateway_server.url("");
    let _world = World::new(&gateway_url).await;
    let lines = traced(&recording);
    if !lines.iter().any(|line| line.contains(&gateway_url)) {
        panic!(
            "\nthe shop no longer logs its settings when it starts\n  no span or event \
             mentions the gateway's URL {gateway_url:?}\n  everything traced:\n{}  \
             `app()` logs the settings at INFO (operators need to see what the shop runs \
             with): keep that line, and make the secrets in it show `[redacted]`.\n",
            list(&lines)
        );
    }
    assert_no_secret_traced(
        &recording,
        "when the shop starts",
        "  `app()` logs the settings with `{:?}`: each secret in them must write \
         `[redacted]`, and no other line may log a secret's value (`expose()` is for the \
         request to the gateway, never for a log line).",
    );
}

#[test]
fn a_missing_or_bad_setting_is_an_error_that_names_it_and_shows_no_secret() {
    let complete = environment("http://127.0.0.1:9", "/var/lib/shop/shop.db");
    let without = |name: &str| -> Vec<(&'static str, String)> {
        complete
            .iter()
            .filter(|(var, _)| *var != name)
            .cloned()
            .collect()
    };
    let with = |name: &'static str, value: &str| -> Vec<(&'static str, String)> {
        let mut vars = without(name);
        vars.push((name, value.to_string()));
        vars
    };
    let short_secret = "Pz3k-short-Yw8q+Nv2";
    // 29 ASCII characters and an `é`: 30 characters, 31 bytes.
    let almost_long_enough = "Jd8/Qm2+Lx7=Rv4&Tb9;Nw3~Hk6-Pé";
    let cases = [
        (
            "PAYMENT_API_KEY",
            "PAYMENT_API_KEY is not set",
            without("PAYMENT_API_KEY"),
        ),
        (
            "PAYMENT_API_KEY",
            "PAYMENT_API_KEY is empty",
            with("PAYMENT_API_KEY", "  "),
        ),
        (
            "SESSION_SECRET",
            "SESSION_SECRET is not set",
            without("SESSION_SECRET"),
        ),
        (
            "SESSION_SECRET",
            "SESSION_SECRET has 19 bytes (at least 32 are needed)",
            with("SESSION_SECRET", short_secret),
        ),
        (
            "SESSION_SECRET",
            "SESSION_SECRET has 31 bytes (at least 32 are needed)",
            with("SESSION_SECRET", almost_long_enough),
        ),
        (
            "PAYMENT_GATEWAY_URL",
            "PAYMENT_GATEWAY_URL is not set",
            without("PAYMENT_GATEWAY_URL"),
        ),
        (
            "DATABASE_PATH",
            "DATABASE_PATH is not set",
            without("DATABASE_PATH"),
        ),
    ];
    for (variable, situation, vars) in cases {
        let error = match settings_from(&vars) {
            Err(error) => error,
            Ok(settings) => panic!(
                "\nSettings::from_vars accepted the settings, but {situation}\n  it gave: \
                 {settings:?}\n  Every variable is required, an empty one is a missing one, \
                 and SESSION_SECRET has at least 32 bytes.\n"
            ),
        };
        let leak = first_leak(&error).or_else(|| {
            [short_secret, almost_long_enough]
                .iter()
                .find_map(|bad| leak_of(&error, bad))
                .map(|how| ("the too-short session secret", how))
        });
        if let Some((what, how)) = leak {
            panic!(
                "\nthe error when {situation} shows {what} ({how})\n  the error: {error}\n  \
                 A startup error lands in logs, terminals and CI output: name the variable \
                 and what is wrong with it, and show no value of a secret, neither the bad \
                 one nor any other.\n"
            );
        }
        assert!(
            error.contains(variable),
            "\nthe error when {situation} does not name {variable}\n  the error: {error}\n  \
             Whoever starts the shop must learn which variable to fix.\n"
        );
    }
    // 30 ASCII characters and an `é`: 32 bytes, 31 characters.
    let just_long_enough = "Jd8/Qm2+Lx7=Rv4&Tb9;Nw3~Hk6-Pzé";
    let accepted = settings_from(&with("SESSION_SECRET", just_long_enough));
    assert!(
        accepted.is_ok(),
        "\nSettings::from_vars refused a SESSION_SECRET of exactly 32 bytes\n  the secret: \
         {just_long_enough:?} (31 characters, 32 bytes in UTF-8)\n  the error: {}\n  The \
         minimum is 32 bytes, and 32 is enough: compare the length in bytes (`len()`), with \
         `<` and not `<=`.\n",
        accepted.err().unwrap_or_default()
    );
}

const HEADERS_DIAGNOSIS: &str = "  The request span records every header with `{:?}`: mark the \
    headers that carry credentials (`Authorization`, `Cookie`) sensitive before the trace \
    layer sees them (a layer outside it), so that their value shows as `Sensitive`; and log a \
    refused session without its token.";

/// Fails unless a request span mentions the request id `id`: the request
/// is still logged with its headers.
fn assert_request_logged(recording: &Recording, id: &str) {
    let spans = recording.spans_mentioning(id);
    if spans.is_empty() {
        panic!(
            "\nthe request is no longer logged with its headers\n  no span mentions its \
             `x-request-id: {id}`\n  every span:\n{}  Keep the trace layer's request span with \
             the request's headers (operators need them): redact the credentials in it, not \
             the whole request.\n",
            list(&recording.spans())
        );
    }
}

#[tokio::test]
async fn a_bearer_token_never_reaches_the_log() {
    let recording = Recording::start();
    let (_gateway, gateway_server) = start_gateway(API_KEY).await;
    let world = World::new(&gateway_server.url("")).await;
    let reply = world
        .server
        .post("/orders/1/pay")
        .header("authorization", &format!("Bearer {ADA_TOKEN}"))
        .header("x-request-id", "req-bearer-1")
        .send()
        .await;
    assert_paid(&reply, 1, 4200);
    assert_request_logged(&recording, "req-bearer-1");
    assert_no_secret_traced(
        &recording,
        "after a request with `Authorization: Bearer <Ada's token>`",
        HEADERS_DIAGNOSIS,
    );
    let reply = world
        .server
        .post("/orders/1/pay")
        .header("authorization", &format!("Bearer {GUESSED_TOKEN}"))
        .header("x-request-id", "req-bearer-2")
        .send()
        .await;
    reply.assert_status(401);
    assert_no_secret_answered(
        &reply,
        "  A refusal says the session is not valid, without quoting the token.",
    );
    assert_request_logged(&recording, "req-bearer-2");
    assert_no_secret_traced(
        &recording,
        "after a request with an expired or guessed bearer token",
        "  A token that was refused is still a secret: an expired one was a customer's, and \
         a wrong one may be a customer's real token with a typo. Log that a session was \
         refused, not the token.",
    );
    world.break_database();
    let reply = world
        .server
        .post("/orders/1/pay")
        .header("authorization", &format!("Bearer {ADA_TOKEN}"))
        .header("x-request-id", "req-bearer-3")
        .send()
        .await;
    reply.assert_status(500);
    reply.assert_content_type("application/problem+json");
    assert_no_secret_answered(
        &reply,
        "  A database error is answered with a 500 that tells nothing.",
    );
    let errors = recording.events_at(Level::ERROR);
    if errors.is_empty() {
        reply.fail(&format!(
            "no error was logged when the database failed (its tables were gone)\n  \
             everything traced:\n{}",
            list(&traced(&recording))
        ));
    }
    assert_no_secret_traced(
        &recording,
        "after the database failed while looking up Ada's session",
        "  Log the database's error, not the token that was being looked up.",
    );
}

#[tokio::test]
async fn a_session_cookie_never_reaches_the_log() {
    let recording = Recording::start();
    let (_gateway, gateway_server) = start_gateway(API_KEY).await;
    let world = World::new(&gateway_server.url("")).await;
    let reply = world
        .server
        .post("/orders/2/pay")
        .header(
            "cookie",
            &format!("theme=dark; session={BOB_TOKEN}; lang=fr"),
        )
        .header("x-request-id", "req-cookie-1")
        .send()
        .await;
    assert_paid(&reply, 2, 1350);
    assert_request_logged(&recording, "req-cookie-1");
    assert_no_secret_traced(
        &recording,
        "after a request with Bob's session in the `Cookie` header",
        HEADERS_DIAGNOSIS,
    );
    let reply = world
        .server
        .post("/orders/2/pay")
        .header("cookie", &format!("session={GUESSED_TOKEN}"))
        .header("x-request-id", "req-cookie-2")
        .send()
        .await;
    reply.assert_status(401);
    assert_no_secret_answered(
        &reply,
        "  A refusal says the session is not valid, without quoting the token.",
    );
    assert_no_secret_traced(
        &recording,
        "after a request with an expired or guessed session cookie",
        HEADERS_DIAGNOSIS,
    );
}

#[tokio::test]
async fn the_api_key_goes_to_the_gateway_in_the_authorization_header_only() {
    let recording = Recording::start();
    let (gateway, gateway_server) = start_gateway(API_KEY).await;
    let world = World::new(&gateway_server.url("")).await;
    let reply = world
        .server
        .post("/orders/1/pay")
        .header("authorization", &format!("Bearer {ADA_TOKEN}"))
        .send()
        .await;
    assert_paid(&reply, 1, 4200);
    let status = world.status_of(1);
    if status != "paid" {
        reply.fail(&format!(
            "order 1 is {status:?} in the database after it was paid, not \"paid\""
        ));
    }
    let received = gateway.received();
    let [charge] = received.as_slice() else {
        reply.fail(&format!(
            "the gateway got {} requests for one payment, not 1\n  what it got: {received:#?}",
            received.len()
        ));
    };
    if let Some(how) = leak_of(&charge.uri, API_KEY) {
        reply.fail_with_diagnosis(
            &format!(
                "the API key went to the gateway in the URL ({how})\n  the gateway got: POST {}",
                charge.uri
            ),
            "  A URL is written down everywhere: the gateway's access log, every proxy's, \
             the shop's own debug lines, and the text of any error about the request. Send \
             the key in the header meant for credentials, `Authorization: Bearer <key>`.",
        );
    }
    let expected_authorization = format!("Bearer {API_KEY}");
    if charge.authorization.as_deref() != Some(expected_authorization.as_str()) {
        reply.fail(&format!(
            "the gateway got `authorization: {}`, not the shop's key as `Bearer {API_KEY}`\n  \
             the gateway got: {charge:#?}",
            charge.authorization.as_deref().unwrap_or("(none)")
        ));
    }
    let body: Value = serde_json::from_str(&charge.body).unwrap_or(Value::Null);
    let expected = serde_json::json!({"amount": 4200, "currency": "eur", "reference": "order-1"});
    if body != expected || charge.uri != "/v1/charges" {
        reply.fail(&format!(
            "the gateway got POST {} {}, not POST /v1/charges {expected}",
            charge.uri,
            quote(&charge.body)
        ));
    }
    assert_no_secret_traced(
        &recording,
        "while the shop charged an order at the gateway",
        "  Log the call (its URL, the amount), not the key: `expose()` belongs in the header \
         of the request to the gateway, never in a log line.",
    );
}

const ERROR_DIAGNOSIS: &str = "  Answer a gateway failure with a 502 that says the payment \
    failed, nothing more; log the failure (its status, or the error without the URL) and no \
    secret. The gateway's own error text may quote the key it got, and a `reqwest` error \
    quotes the URL it was sending to: pass neither on.";

/// Fails unless `reply` is a `502` problem, and an error was logged.
fn assert_failure_answered_and_logged(reply: &Reply, recording: &Recording, why: &str) {
    reply.assert_status(502);
    reply.assert_content_type("application/problem+json");
    if recording.events_at(Level::ERROR).is_empty() {
        reply.fail(&format!(
            "no error was logged when {why}\n  everything traced:\n{}  Operators need to \
             learn that payments fail: log an ERROR event, without the secret.",
            list(&traced(recording))
        ));
    }
}

#[tokio::test]
async fn a_refused_api_key_is_a_502_that_shows_no_key() {
    let recording = Recording::start();
    let (gateway, gateway_server) = start_gateway("sk_live_ROTATEDx7Kp2Lm9Nq4Rs1Tv8Wy3").await;
    let world = World::new(&gateway_server.url("")).await;
    let reply = world
        .server
        .post("/orders/1/pay")
        .header("authorization", &format!("Bearer {ADA_TOKEN}"))
        .send()
        .await;
    assert_no_secret_answered(&reply, ERROR_DIAGNOSIS);
    assert_failure_answered_and_logged(&reply, &recording, "the gateway refused the shop's key");
    assert_no_secret_traced(
        &recording,
        "after the gateway refused the shop's key",
        ERROR_DIAGNOSIS,
    );
    let status = world.status_of(1);
    if status != "pending" || gateway.received().is_empty() {
        reply.fail(&format!(
            "order 1 is {status:?} after the gateway refused its charge ({} charge requests \
             reached the gateway), not \"pending\" after one",
            gateway.received().len()
        ));
    }
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_502_that_shows_no_key() {
    let recording = Recording::start();
    let gateway_url = start_broken_gateway().await;
    let world = World::new(&gateway_url).await;
    let reply = world
        .server
        .post("/orders/1/pay")
        .header("authorization", &format!("Bearer {ADA_TOKEN}"))
        .send()
        .await;
    assert_no_secret_answered(&reply, ERROR_DIAGNOSIS);
    assert_failure_answered_and_logged(
        &reply,
        &recording,
        "the gateway closed the connection without an answer",
    );
    assert_no_secret_traced(
        &recording,
        "after the gateway closed the connection without an answer",
        ERROR_DIAGNOSIS,
    );
    let status = world.status_of(1);
    if status != "pending" {
        reply.fail(&format!(
            "order 1 is {status:?} after its charge failed, not \"pending\""
        ));
    }
}
