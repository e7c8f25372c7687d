//! Tests for api/upstream: the shop's app on a real SQLite file, called over
//! HTTP on 127.0.0.1, calling a fake payment gateway that the tests start on
//! 127.0.0.1 too. The fake gateway answers each attempt as its script says
//! (charge, decline, 503, never answer, garbage...) and records every
//! request it gets, so the tests count attempts and read their keys.
//!
//! No test waits through a backoff: the shop's `sleep` is replaced by one
//! that records the wait it was asked for and returns at once. The
//! per-attempt timeout is real, and short.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api_upstream::{GatewayConfig, app};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};
use tokio::net::TcpListener;

/// How the fake gateway answers one attempt.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// `201 {"id": "ch_1", "status": "succeeded"}`
    Charge,
    /// `402 {"error": "card_declined"}`
    Decline,
    /// `503 {"error": "try later"}`
    Unavailable,
    /// Nothing, ever.
    Hang,
    /// `201` with an HTML page.
    Garbage,
    /// `201 {"charge": {"id": 7}}`: JSON, but not a charge.
    WrongShape,
    /// `500` with a body and a header full of secrets.
    Crash,
}

/// What the fake gateway was sent.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    key: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// A fake payment gateway on 127.0.0.1: attempt `n` gets `script[n]`, and
/// every attempt after the script's end its last answer.
struct Gateway {
    server: TestServer,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[derive(Clone)]
struct Script {
    answers: Arc<Vec<Answer>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

const SECRET: &str = "sk_live_51Hx secret-merchant-key; stack trace: gateway.rb:42";

async fn answer(
    State(script): State<Script>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let attempt = {
        let mut seen = script.seen.lock().unwrap();
        seen.push(Seen {
            path: uri.path().to_string(),
            key: text("idempotency-key"),
            content_type: text("content-type"),
            body,
        });
        seen.len() - 1
    };
    let answer = script.answers[attempt.min(script.answers.len() - 1)];
    let json = [("content-type", "application/json")];
    match answer {
        Answer::Charge => {
            let charge = json!({ "id": "ch_1", "status": "succeeded" }).to_string();
            (StatusCode::CREATED, json, charge).into_response()
        }
        Answer::Decline => (
            StatusCode::PAYMENT_REQUIRED,
            json,
            r#"{"error":"card_declined"}"#,
        )
            .into_response(),
        Answer::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            json,
            r#"{"error":"try later"}"#,
        )
            .into_response(),
        Answer::Hang => std::future::pending().await,
        Answer::Garbage => {
            let html = [("content-type", "text/html")];
            (
                StatusCode::CREATED,
                html,
                "<html><body>Charged? Maybe.</body></html>",
            )
                .into_response()
        }
        Answer::WrongShape => (StatusCode::CREATED, json, r#"{"charge":{"id":7}}"#).into_response(),
        Answer::Crash => {
            let body = json!({ "error": "internal", "debug": SECRET }).to_string();
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("x-debug", SECRET)],
                body,
            )
                .into_response()
        }
    }
}

impl Gateway {
    async fn start(answers: &[Answer]) -> Gateway {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Script {
            answers: Arc::new(answers.to_vec()),
            seen: Arc::clone(&seen),
        };
        let router = Router::new()
            .route("/charges", post(answer))
            .with_state(script);
        Gateway {
            server: TestServer::spawn(router).await,
            seen,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A shop in a temporary SQLite file with order 1 (Ada's, two red mugs,
/// 2500 cents, pending).
struct Shop {
    _folder: TempDir,
    path: PathBuf,
}

impl Shop {
    fn new() -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        api_upstream::create_schema(&db).expect("create_schema failed on an empty database");
        db.execute_batch(
            "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada');
             INSERT INTO products (id, sku, name, price_cents, stock, created_at)
                 VALUES (7, 'MUG-RED', 'Red mug', 1250, 10, '2026-11-30T09:15:00Z');
             INSERT INTO orders (id, customer_id, total_cents, created_at)
                 VALUES (1, 1, 2500, '2026-11-30T09:15:00Z');
             INSERT INTO order_items (order_id, product_id, quantity, price_cents)
                 VALUES (1, 7, 2, 1250);",
        )
        .expect("the test could not add its order");
        Shop {
            _folder: folder,
            path,
        }
    }

    /// The shop's app on this file, served on a free port.
    async fn serve(&self, config: GatewayConfig) -> TestServer {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        TestServer::spawn(app(db, config)).await
    }

    fn order_status(&self) -> String {
        Connection::open(&self.path)
            .and_then(|db| {
                db.query_row("SELECT status FROM orders WHERE id = 1", [], |row| {
                    row.get(0)
                })
            })
            .expect("the test could not read the order's status")
    }
}

/// The waits the shop asked for, in order.
#[derive(Clone, Default)]
struct Waits(Arc<Mutex<Vec<Duration>>>);

impl Waits {
    fn get(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

/// The gateway's settings for a test: generous time per attempt, waits of
/// 10 ms doubling up to 50 ms, a `sleep` that records and returns at once,
/// and `random` always `fraction`.
fn settings(gateway: &str, attempts: u32, fraction: f64) -> (GatewayConfig, Waits) {
    let waits = Waits::default();
    let recorder = waits.clone();
    let mut config = GatewayConfig::new(gateway);
    config.timeout = Duration::from_secs(3);
    config.attempts = attempts;
    config.backoff_base = Duration::from_millis(10);
    config.backoff_cap = Duration::from_millis(50);
    config.sleep = Arc::new(move |wait| {
        recorder.0.lock().unwrap().push(wait);
        Box::pin(async {})
    });
    config.random = Arc::new(move || fraction);
    (config, waits)
}

/// The per-attempt timeout of the tests whose gateway never answers: short.
/// They count the attempts by the waits between them, which the shop
/// records whether or not an attempt reached the gateway in time.
const SHORT_TIMEOUT: Duration = Duration::from_millis(200);

/// The per-attempt timeout of the tests whose gateway hangs on some
/// attempts and answers others: longer, so that even on a loaded machine
/// every attempt reaches the gateway before it times out, and the attempts
/// meet the script's answers in order.
const TIMEOUT_IN_A_SCRIPT: Duration = Duration::from_millis(600);

/// How long a payment may take in these tests before the test gives up on
/// it: far more than the slowest correct one.
const PAYMENT_AT_MOST: Duration = Duration::from_secs(6);

/// Sends `POST /orders/1/payment`, failing the test if no answer comes
/// within [`PAYMENT_AT_MOST`].
async fn pay(shop: &TestServer) -> Reply {
    let call = shop.post("/orders/1/payment").send();
    match tokio::time::timeout(PAYMENT_AT_MOST, call).await {
        Ok(reply) => reply,
        Err(_) => panic!(
            "\nthe shop did not answer a payment within {} seconds\n  request:  POST \
             /orders/1/payment\nThe payment gateway never answered (or stopped in the middle \
             of its answer). Each attempt needs a time limit that covers the whole exchange, \
             connecting, sending and reading the answer to its last byte: without one, the \
             shop waits as long as the gateway does, forever.\n",
            PAYMENT_AT_MOST.as_secs()
        ),
    }
}

/// Fails unless `reply` is the problem details response `status`, `title`,
/// `detail`.
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, title: &str, detail: &str) {
    reply
        .assert_status(status)
        .assert_content_type("application/problem+json")
        .assert_json(&json!({
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
        }));
}

#[track_caller]
fn assert_bad_gateway(reply: &Reply) {
    if reply.status() == 500 {
        reply.fail_with_diagnosis(
            "expected status 502 Bad Gateway, got 500 Internal Server Error",
            "The shop did nothing wrong: the service it depends on did. 502 Bad Gateway tells \
             the client so (and that trying again later may help).",
        );
    }
    assert_problem(
        reply,
        502,
        "Bad Gateway",
        "The payment service failed. Please try again later.",
    );
}

#[track_caller]
fn assert_gateway_timeout(reply: &Reply) {
    if reply.status() == 502 || reply.status() == 500 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 504 Gateway Timeout, got {}",
                status_text(reply.status())
            ),
            "The last attempt ran out of time: 504 Gateway Timeout says the gateway did not \
             answer in time, which the client may want to tell apart from a gateway that \
             answered with an error (502).",
        );
    }
    assert_problem(
        reply,
        504,
        "Gateway Timeout",
        "The payment service did not answer in time. Please try again later.",
    );
}

/// Fails unless the gateway got exactly `expected` attempts.
#[track_caller]
fn assert_attempts(reply: &Reply, gateway: &Gateway, expected: usize, story: &str) {
    let attempts = gateway.seen().len();
    if attempts != expected {
        reply.fail_with_diagnosis(
            &format!(
                "the gateway got {attempts} attempts, expected exactly {expected}\n  the gateway: \
                 {story}"
            ),
            "Retry a transient failure (503, no connection, a timeout) until the configured \
             number of attempts, the first one included, is used up; never retry a 402 (the \
             card was declined: trying again could charge it) or an answer the shop cannot \
             read.",
        );
    }
}

/// Fails unless the shop waited `expected.len()` times, for these times
/// (within 1 ms).
#[track_caller]
fn assert_waits(reply: &Reply, waits: &Waits, expected: &[u64], story: &str) {
    let asked = waits.get();
    let close = asked.len() == expected.len()
        && asked.iter().zip(expected).all(|(asked, ms)| {
            asked.as_secs_f64() * 1000.0 - *ms as f64 <= 1.0
                && *ms as f64 - asked.as_secs_f64() * 1000.0 <= 1.0
        });
    if !close {
        let asked: Vec<f64> = asked
            .iter()
            .map(|wait| wait.as_secs_f64() * 1000.0)
            .collect();
        let expected: Vec<f64> = expected.iter().map(|ms| *ms as f64).collect();
        reply.fail_with_diagnosis(
            &format!(
                "the shop waited {} between attempts, expected {}\n  {story}",
                in_ms(&asked),
                in_ms(&expected)
            ),
            "Wait (with the configured `sleep`) between two attempts, never after the last \
             one. Full jitter: the wait after attempt n is `random()` times a ceiling that is \
             backoff_base for n = 1 and doubles with each attempt, but never passes \
             backoff_cap.",
        );
    }
}

/// Waits in milliseconds, a run of equal ones shown once with its count:
/// `[10ms, 20ms, 50ms ×3]`.
fn in_ms(waits: &[f64]) -> String {
    let mut runs: Vec<(f64, usize)> = Vec::new();
    for wait in waits {
        match runs.last_mut() {
            Some((last, count)) if (*last - wait).abs() < 1e-6 => *count += 1,
            _ => runs.push((*wait, 1)),
        }
    }
    let shown: Vec<String> = runs
        .iter()
        .map(|(wait, count)| match count {
            1 => format!("{wait}ms"),
            _ => format!("{wait}ms ×{count}"),
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

#[tokio::test]
async fn a_charge_that_succeeds_pays_the_order() {
    let gateway = Gateway::start(&[Answer::Charge]).await;
    let (config, waits) = settings(&gateway.url(), 3, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    reply
        .assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&json!({
            "id": 1,
            "customer_id": 1,
            "status": "paid",
            "items": [{ "product_id": 7, "quantity": 2, "price_cents": 1250 }],
            "total_cents": 2500,
            "created_at": "2026-11-30T09:15:00Z",
        }));
    assert_attempts(&reply, &gateway, 1, "charged at once");
    assert_waits(&reply, &waits, &[], "The first attempt succeeded.");
    let seen = &gateway.seen()[0];
    let body: Option<Value> = serde_json::from_str(&seen.body).ok();
    let expected = json!({ "amount_cents": 2500, "reference": "order-1" });
    if seen.path != "/charges" || body.as_ref() != Some(&expected) {
        reply.fail(&format!(
            "the gateway got `POST {}` with the body {}, expected `POST /charges` with {expected}",
            seen.path, seen.body
        ));
    }
    if !seen
        .content_type
        .as_deref()
        .is_some_and(|value| value.starts_with("application/json"))
    {
        reply.fail(&format!(
            "the gateway got `content-type: {}`, expected `application/json`",
            seen.content_type.as_deref().unwrap_or("(none)")
        ));
    }
    if seen.key.as_deref() != Some("payment-1") {
        reply.fail(&format!(
            "the gateway got `Idempotency-Key: {}`, expected `payment-1`, the key the shop \
             gave `charge`",
            seen.key.as_deref().unwrap_or("(none)")
        ));
    }
}

#[tokio::test]
async fn a_declined_charge_answers_402_and_is_not_retried() {
    let gateway = Gateway::start(&[Answer::Decline, Answer::Charge]).await;
    let (config, waits) = settings(&gateway.url(), 3, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    assert_attempts(&reply, &gateway, 1, "declines the card (402)");
    assert_waits(
        &reply,
        &waits,
        &[],
        "The gateway declined the card at once.",
    );
    assert_problem(&reply, 402, "Payment declined", "The payment was declined.");
    let status = shop.order_status();
    if status != "pending" {
        reply.fail(&format!(
            "order 1 is {status} after a declined payment, expected pending"
        ));
    }
}

#[tokio::test]
async fn a_503_is_retried_with_the_same_key_until_the_charge_succeeds() {
    let answers = [Answer::Unavailable, Answer::Unavailable, Answer::Charge];
    let gateway = Gateway::start(&answers).await;
    let (config, waits) = settings(&gateway.url(), 3, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    assert_attempts(&reply, &gateway, 3, "answers 503, 503, then charges");
    reply.assert_status(200);
    let seen = gateway.seen();
    for attempt in &seen[1..] {
        if attempt.key != seen[0].key || attempt.body != seen[0].body {
            reply.fail_with_diagnosis(
                &format!(
                    "a retry was sent with `Idempotency-Key: {}` and the body {}, the first \
                     attempt with `Idempotency-Key: {}` and {}",
                    attempt.key.as_deref().unwrap_or("(none)"),
                    attempt.body,
                    seen[0].key.as_deref().unwrap_or("(none)"),
                    seen[0].body
                ),
                "Every attempt of one charge is the same request, key included: that is how \
                 the gateway knows a retry from a second charge, if an earlier attempt did \
                 reach it.",
            );
        }
    }
    assert_waits(
        &reply,
        &waits,
        &[10, 20],
        "Two 503s, then a charge; random() is 1.0.",
    );
    let status = shop.order_status();
    if status != "paid" {
        reply.fail(&format!(
            "order 1 is {status} after its charge succeeded, expected paid"
        ));
    }
}

#[tokio::test]
async fn a_gateway_that_keeps_answering_503_gets_exactly_the_configured_attempts() {
    for attempts in [1, 3, 5] {
        let gateway = Gateway::start(&[Answer::Unavailable]).await;
        let (config, waits) = settings(&gateway.url(), attempts, 1.0);
        let shop = Shop::new();
        let server = shop.serve(config).await;

        let reply = pay(&server).await;

        let story = format!("answers 503 every time; the shop's settings say {attempts} attempts");
        assert_attempts(&reply, &gateway, attempts as usize, &story);
        let expected = &[10, 20, 40, 50][..attempts as usize - 1];
        assert_waits(&reply, &waits, expected, &story);
        assert_bad_gateway(&reply);
        let status = shop.order_status();
        if status != "pending" {
            reply.fail(&format!(
                "order 1 is {status} after a failed payment, expected pending"
            ));
        }
    }
}

#[tokio::test]
async fn the_waits_double_up_to_the_cap_and_take_their_jitter_from_random() {
    for (fraction, expected) in [
        (1.0, [10, 20, 40, 50, 50]),
        (0.5, [5, 10, 20, 25, 25]),
        (0.0, [0, 0, 0, 0, 0]),
    ] {
        let gateway = Gateway::start(&[Answer::Unavailable]).await;
        let (config, waits) = settings(&gateway.url(), 6, fraction);
        let shop = Shop::new();
        let server = shop.serve(config).await;

        let reply = pay(&server).await;

        let story = format!(
            "Six attempts, all 503; backoff_base 10ms, backoff_cap 50ms, random() always \
             returns {fraction:?}."
        );
        assert_waits(&reply, &waits, &expected, &story);
        assert_bad_gateway(&reply);
    }
}

#[tokio::test]
async fn many_attempts_wait_the_cap_without_overflowing() {
    let gateway = Gateway::start(&[Answer::Unavailable]).await;
    let (config, waits) = settings(&gateway.url(), 80, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    let mut expected = vec![10, 20, 40];
    expected.resize(79, 50);
    let story = "80 attempts, all 503; backoff_base 10ms, backoff_cap 50ms, random() always 1.0. \
                 The 80th ceiling, 10ms times 2 to the 78th, does not fit any integer type: \
                 the cap must apply before the doubling overflows.";
    assert_waits(&reply, &waits, &expected, story);
    assert_attempts(
        &reply,
        &gateway,
        80,
        "answers 503 every time; 80 attempts allowed",
    );
    assert_bad_gateway(&reply);
}

#[tokio::test]
async fn the_default_jitter_is_random_and_below_each_ceiling() {
    let gateway = Gateway::start(&[Answer::Unavailable]).await;
    let (mut config, waits) = settings(&gateway.url(), 21, 1.0);
    config.random = GatewayConfig::new("http://unused").random;
    // A cap above every ceiling: 10 ms times 2^19 is about 87 minutes.
    config.backoff_cap = Duration::from_secs(10_000);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    assert_bad_gateway(&reply);
    let asked = waits.get();
    if asked.len() != 20 {
        reply.fail(&format!(
            "the shop waited {} times between 21 attempts, expected 20",
            asked.len()
        ));
    }
    // The ceilings: 10 ms, 20 ms, ... 10 ms times 2^19 (under the cap).
    let fractions: Vec<f64> = asked
        .iter()
        .enumerate()
        .map(|(n, wait)| wait.as_secs_f64() / (0.01 * 2f64.powi(n as i32)))
        .collect();
    if let Some(n) = fractions.iter().position(|fraction| *fraction > 1.0 + 1e-6) {
        reply.fail(&format!(
            "wait {} was {:?}, longer than its ceiling {:?}\n  all waits: {asked:?}\nFull \
             jitter waits a random part of the ceiling, never more.",
            n + 1,
            asked[n],
            Duration::from_millis(10) * 2u32.pow(n as u32)
        ));
    }
    let first = fractions[0];
    // The same part, up to the rounding to whole nanoseconds: 20 parts drawn
    // at random are never all within 0.001 of each other (the odds are about
    // 1 in 10^51).
    if fractions
        .iter()
        .all(|fraction| (fraction - first).abs() < 1e-3)
    {
        reply.fail_with_diagnosis(
            &format!(
                "all 20 waits were the same part ({first:.3}) of their ceilings, expected \
                 random parts\n  all waits: {asked:?}"
            ),
            "The settings' `random` was the real one. Draw a new random number for every \
             wait: one number per charge, or none, makes every client that failed at the \
             same moment retry at the same moments too.",
        );
    }
}

#[tokio::test]
async fn a_gateway_that_never_answers_times_out_each_attempt_and_answers_504() {
    let gateway = Gateway::start(&[Answer::Hang]).await;
    let (mut config, waits) = settings(&gateway.url(), 3, 1.0);
    config.timeout = SHORT_TIMEOUT;
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    let story = "The gateway never answers; 3 attempts of 200 ms each.";
    assert_waits(&reply, &waits, &[10, 20], story);
    assert_gateway_timeout(&reply);
    let seen = gateway.seen();
    if seen.len() > 3
        || seen
            .iter()
            .any(|attempt| attempt.key.as_deref() != Some("payment-1"))
    {
        reply.fail(&format!(
            "the gateway got {} attempts with the keys {:?}, expected at most 3, each with \
             `Idempotency-Key: payment-1`",
            seen.len(),
            seen.iter()
                .map(|attempt| attempt.key.clone())
                .collect::<Vec<_>>()
        ));
    }
}

/// A gateway that sends the start of an answer and then nothing more: the
/// head of a `201`, and the first bytes of a body it says is 64 bytes long.
/// Returns its URL and how many requests it got.
async fn start_stalling_gateway() -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the test could not bind a port on 127.0.0.1");
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    let requests = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0; 1024];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    if socket.readable().await.is_err() {
                        return;
                    }
                    match socket.try_read(&mut buffer) {
                        Ok(0) => return,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
                *counter.lock().unwrap() += 1;
                let start = "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
                             content-length: 64\r\n\r\n{\"id\": \"ch_";
                // A few bytes fit in any socket's buffer: one write sends them.
                let written = socket
                    .writable()
                    .await
                    .and_then(|()| socket.try_write(start.as_bytes()));
                if written.is_ok() {
                    // Keep the connection open, and say nothing more.
                    std::future::pending::<()>().await;
                }
            });
        }
    });
    (url, requests)
}

#[tokio::test]
async fn an_answer_that_stops_halfway_times_out_too() {
    let (url, requests) = start_stalling_gateway().await;
    let (mut config, waits) = settings(&url, 3, 1.0);
    config.timeout = SHORT_TIMEOUT;
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    let story = "The gateway sends the head of a 201 and a few bytes of its body, then nothing \
                 more; 3 attempts of 200 ms each.";
    assert_waits(&reply, &waits, &[10, 20], story);
    assert_gateway_timeout(&reply);
    let requests = *requests.lock().unwrap();
    if requests > 3 {
        reply.fail(&format!(
            "the gateway got {requests} attempts, expected at most 3"
        ));
    }
}

#[tokio::test]
async fn a_timeout_is_retried_and_the_next_attempt_can_succeed() {
    let gateway = Gateway::start(&[Answer::Hang, Answer::Charge]).await;
    let (mut config, waits) = settings(&gateway.url(), 3, 1.0);
    config.timeout = TIMEOUT_IN_A_SCRIPT;
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    reply.assert_status(200);
    assert_waits(
        &reply,
        &waits,
        &[10],
        "The first attempt gets no answer, the second a charge.",
    );
    assert_attempts(
        &reply,
        &gateway,
        2,
        "never answers the first attempt, charges the second",
    );
    let keys: Vec<_> = gateway
        .seen()
        .into_iter()
        .map(|attempt| attempt.key)
        .collect();
    if keys[0] != keys[1] {
        reply.fail(&format!(
            "the retry after a timeout had another Idempotency-Key than the first attempt: \
             {keys:?}\nThe first attempt may well have charged the card; only the same key \
             lets the gateway know."
        ));
    }
}

#[tokio::test]
async fn the_last_attempts_failure_decides_between_502_and_504() {
    for (answers, timed_out) in [
        ([Answer::Hang, Answer::Hang, Answer::Unavailable], false),
        (
            [Answer::Unavailable, Answer::Unavailable, Answer::Hang],
            true,
        ),
    ] {
        let gateway = Gateway::start(&answers).await;
        let (mut config, _) = settings(&gateway.url(), 3, 1.0);
        config.timeout = TIMEOUT_IN_A_SCRIPT;
        let shop = Shop::new();
        let server = shop.serve(config).await;

        let reply = pay(&server).await;

        if timed_out {
            assert_gateway_timeout(&reply);
        } else {
            assert_bad_gateway(&reply);
        }
    }
}

#[tokio::test]
async fn a_gateway_nobody_listens_on_is_retried_then_502() {
    // A port that was free a moment ago: nothing listens on it now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the test could not bind");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    drop(listener);
    let (config, waits) = settings(&format!("http://{address}"), 3, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    assert_waits(
        &reply,
        &waits,
        &[10, 20],
        "Nothing listens where the gateway should be.",
    );
    assert_bad_gateway(&reply);
}

#[tokio::test]
async fn an_answer_the_shop_cannot_read_is_502_and_not_retried() {
    for answer in [Answer::Garbage, Answer::WrongShape] {
        let gateway = Gateway::start(&[answer, Answer::Charge]).await;
        let (config, waits) = settings(&gateway.url(), 3, 1.0);
        let shop = Shop::new();
        let server = shop.serve(config).await;

        let reply = pay(&server).await;

        let story = match answer {
            Answer::Garbage => "answers 201 with an HTML page",
            _ => "answers 201 with {\"charge\":{\"id\":7}}, JSON but not a charge",
        };
        assert_attempts(&reply, &gateway, 1, story);
        assert_waits(&reply, &waits, &[], story);
        assert_bad_gateway(&reply);
        let status = shop.order_status();
        if status != "pending" {
            reply.fail(&format!(
                "order 1 is {status} after the gateway {story}, expected pending"
            ));
        }
    }
}

#[tokio::test]
async fn a_gateway_error_is_a_502_that_tells_nothing_of_it() {
    let gateway = Gateway::start(&[Answer::Crash, Answer::Charge]).await;
    let (config, _) = settings(&gateway.url(), 3, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    let reply = pay(&server).await;

    let leaked = reply.text().contains("sk_live") || reply.header("x-debug").is_some();
    if leaked {
        reply.fail_with_diagnosis(
            "the shop's answer quotes the gateway's error",
            "The gateway answered 500 with its secrets in the body and a header. The shop's \
             client gets the shop's own problem details, never the gateway's words: log them \
             instead.",
        );
    }
    assert_bad_gateway(&reply);
    assert_attempts(&reply, &gateway, 1, "answers 500 with secrets in its body");
}

#[tokio::test]
async fn a_payment_whose_outcome_is_unknown_keeps_its_key_and_a_declined_one_does_not() {
    let answers = [Answer::Unavailable, Answer::Charge];
    let gateway = Gateway::start(&answers).await;
    let (config, _) = settings(&gateway.url(), 1, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;

    // The first payment fails (503, one attempt allowed): did the gateway
    // charge? The shop cannot know, so the next try is the same payment.
    assert_bad_gateway(&pay(&server).await);
    let reply = pay(&server).await;

    reply.assert_status(200);
    let keys: Vec<_> = gateway
        .seen()
        .into_iter()
        .map(|attempt| attempt.key)
        .collect();
    if keys.len() != 2 || keys[0] != keys[1] {
        reply.fail(&format!(
            "two payments of order 1, the first of which failed with 503, reached the gateway \
             with the keys {keys:?}, expected two attempts with one key"
        ));
    }

    let gateway = Gateway::start(&[Answer::Decline, Answer::Charge]).await;
    let (config, _) = settings(&gateway.url(), 1, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;
    pay(&server).await.assert_status(402);
    let reply = pay(&server).await;
    reply.assert_status(200);
    let keys: Vec<_> = gateway
        .seen()
        .into_iter()
        .map(|attempt| attempt.key)
        .collect();
    if keys.len() != 2 || keys[0] == keys[1] {
        reply.fail(&format!(
            "two payments of order 1, the first of which was declined, reached the gateway \
             with the keys {keys:?}, expected two attempts with two different keys"
        ));
    }
}

#[tokio::test]
async fn a_charge_the_shop_cannot_record_is_a_500_and_the_next_try_reuses_its_key() {
    let gateway = Gateway::start(&[Answer::Charge]).await;
    let (config, _) = settings(&gateway.url(), 3, 1.0);
    let shop = Shop::new();
    let server = shop.serve(config).await;
    // Recording the payment's outcome fails, as with a full disk.
    let db = Connection::open(&shop.path).expect("the test could not open the database");
    db.execute_batch(
        "CREATE TRIGGER full_disk BEFORE UPDATE ON payments
         BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
    )
    .expect("the test could not add its trigger to the payments table");

    let failed = pay(&server).await;

    assert_problem(
        &failed,
        500,
        "Internal Server Error",
        "Something went wrong on our side. Please try again.",
    );
    db.execute_batch("DROP TRIGGER full_disk")
        .expect("the test could not drop its trigger");
    let reply = pay(&server).await;
    reply.assert_status(200);
    let keys: Vec<_> = gateway
        .seen()
        .into_iter()
        .map(|attempt| attempt.key)
        .collect();
    if keys.len() != 2 || keys[0] != keys[1] {
        reply.fail(&format!(
            "two payments of order 1, the first charged but not recorded, reached the gateway \
             with the keys {keys:?}, expected two attempts with one key"
        ));
    }
}
