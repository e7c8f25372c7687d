//! The fake payment gateway the grader runs on loopback (the contract's
//! "The payment gateway"): one route, `POST /charges`, whose behaviour each
//! scenario picks through the payment token it gives the checkout, and
//! which records every attempt for the scenario to check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::random::Rng;

/// What the gateway does with one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `201` with a charge.
    Charge,
    /// `402` `card_declined`.
    Decline,
    /// `503`: try again.
    Unavailable,
    /// Any other status, with this body (a marker the shop must not pass on).
    Status(u16, String),
    /// `201` whose body is HTML, not a charge.
    NotACharge,
    /// Never answers (the connection stays open, silent).
    Hang,
    /// Charges after a delay, in milliseconds.
    SlowCharge(u64),
}

/// One attempt the gateway received.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub token: String,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    /// The body as received (JSON if it parsed).
    pub body: Value,
    pub amount_cents: Option<i64>,
    /// The status answered; `None` for a hang.
    pub answered: Option<u16>,
    /// The charge's id when it charged (a replayed charge has the same id).
    pub charge_id: Option<String>,
}

#[derive(Default)]
struct Ledger {
    /// Per token: the answers to give, one per attempt; the last repeats.
    scripts: HashMap<String, Vec<Answer>>,
    /// Per token: how many attempts it got.
    counts: HashMap<String, usize>,
    attempts: Vec<Attempt>,
    /// Per idempotency key: the final answer given (`201` or `402`), replayed.
    keys: HashMap<String, (u16, Value)>,
    next_charge: u64,
}

#[derive(Clone)]
struct Shared {
    api_key: String,
    ledger: Arc<Mutex<Ledger>>,
}

#[derive(Clone)]
pub struct Gateway {
    pub url: String,
    pub api_key: String,
    ledger: Arc<Mutex<Ledger>>,
}

impl Gateway {
    /// Binds `127.0.0.1:0` first, then serves on the current runtime.
    pub async fn start(api_key: String) -> std::io::Result<Gateway> {
        Gateway::start_on("127.0.0.1:0", api_key).await
    }

    /// Binds `addr` first (`127.0.0.1:4010`), then serves.
    pub async fn start_on(addr: &str, api_key: String) -> std::io::Result<Gateway> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let shared = Shared {
            api_key: api_key.clone(),
            ledger: ledger.clone(),
        };
        let app = Router::new()
            .route("/charges", post(charge))
            .with_state(shared);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Gateway {
            url,
            api_key,
            ledger,
        })
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new payment token whose attempts get `answers` in turn (the last
    /// one repeats).
    pub fn token(&self, rng: &mut Rng, answers: Vec<Answer>) -> String {
        let token = format!("tok_{}", rng.alnum(16));
        self.ledger().scripts.insert(token.clone(), answers);
        token
    }

    /// A token that always charges.
    pub fn charging(&self, rng: &mut Rng) -> String {
        self.token(rng, vec![Answer::Charge])
    }

    /// Changes what a token's next attempts get.
    pub fn script(&self, token: &str, answers: Vec<Answer>) {
        let mut ledger = self.ledger();
        ledger.scripts.insert(token.to_string(), answers);
        ledger.counts.insert(token.to_string(), 0);
    }

    /// Every attempt made with `token`, in order.
    pub fn attempts(&self, token: &str) -> Vec<Attempt> {
        self.ledger()
            .attempts
            .iter()
            .filter(|a| a.token == token)
            .cloned()
            .collect()
    }

    /// Every attempt the gateway received.
    pub fn all_attempts(&self) -> Vec<Attempt> {
        self.ledger().attempts.clone()
    }
}

async fn charge(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = header(&headers, "authorization");
    let idempotency_key = header(&headers, "idempotency-key");
    let body: Value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let token = body
        .get("payment_token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let amount_cents = body.get("amount_cents").and_then(Value::as_i64);
    let mut attempt = Attempt {
        token: token.clone(),
        authorization: authorization.clone(),
        idempotency_key: idempotency_key.clone(),
        body: body.clone(),
        amount_cents,
        answered: None,
        charge_id: None,
    };

    let answer = {
        let mut ledger = shared.ledger.lock().unwrap_or_else(|e| e.into_inner());
        let authorized = authorization.as_deref() == Some(&format!("Bearer {}", shared.api_key));
        let valid_key = idempotency_key.as_deref().is_some_and(|k| {
            (1..=300).contains(&k.len()) && k.bytes().all(|b| (0x20..=0x7e).contains(&b))
        });
        let valid_body = amount_cents.is_some_and(|a| a >= 1)
            && !token.is_empty()
            && body
                .get("reference")
                .and_then(Value::as_str)
                .is_some_and(|r| (1..=255).contains(&r.chars().count()));
        if !authorized {
            attempt.answered = Some(401);
            ledger.attempts.push(attempt);
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error": "unauthorized"})),
            )
                .into_response();
        }
        if !valid_key || !valid_body {
            attempt.answered = Some(400);
            ledger.attempts.push(attempt);
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "invalid_request"})),
            )
                .into_response();
        }
        let key = idempotency_key.clone().unwrap_or_default();
        if let Some((status, replay)) = ledger.keys.get(&key).cloned() {
            attempt.answered = Some(status);
            attempt.charge_id = replay.get("id").and_then(Value::as_str).map(String::from);
            ledger.attempts.push(attempt);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return (status, axum::Json(replay)).into_response();
        }
        let count = ledger.counts.entry(token.clone()).or_insert(0);
        let index = *count;
        *count += 1;
        let answer = ledger
            .scripts
            .get(&token)
            .and_then(|script| script.get(index).or(script.last()).cloned())
            .unwrap_or_else(|| unscripted(&token));
        match &answer {
            Answer::Charge | Answer::SlowCharge(_) => {
                ledger.next_charge += 1;
                let id = format!("ch_{:06}", ledger.next_charge);
                let charge = json!({"id": id, "status": "succeeded", "amount_cents": amount_cents});
                ledger.keys.insert(key, (201, charge));
                attempt.answered = Some(201);
                attempt.charge_id = Some(id);
            }
            Answer::Decline => {
                ledger
                    .keys
                    .insert(key, (402, json!({"error": "card_declined"})));
                attempt.answered = Some(402);
            }
            Answer::Unavailable => attempt.answered = Some(503),
            Answer::Status(status, _) => attempt.answered = Some(*status),
            Answer::NotACharge => attempt.answered = Some(201),
            Answer::Hang => {}
        }
        let charge_id = attempt.charge_id.clone();
        ledger.attempts.push(attempt);
        (answer, charge_id)
    };
    let (answer, charge_id) = answer;
    match answer {
        Answer::Charge => charged(charge_id, amount_cents),
        Answer::SlowCharge(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            charged(charge_id, amount_cents)
        }
        Answer::Decline => (
            StatusCode::PAYMENT_REQUIRED,
            axum::Json(json!({"error": "card_declined"})),
        )
            .into_response(),
        Answer::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "try_again"})),
        )
            .into_response(),
        Answer::Status(status, body) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        )
            .into_response(),
        Answer::NotACharge => (
            StatusCode::CREATED,
            [("content-type", "text/html")],
            "<html><body>Thank you for your payment</body></html>",
        )
            .into_response(),
        Answer::Hang => {
            // Longer than any timeout a shop may set within the contract's
            // 10 s; the connection closes when the shop gives up.
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
    }
}

/// What a token no scenario scripted gets: a charge, unless its name asks
/// for something else (for a learner trying their shop by hand with the
/// `gateway` example; the grader scripts every token it sends).
fn unscripted(token: &str) -> Answer {
    let name = token.strip_prefix("tok_").unwrap_or(token);
    if name.starts_with("decline") {
        Answer::Decline
    } else if name.starts_with("unavailable") {
        Answer::Unavailable
    } else if name.starts_with("fail") {
        Answer::Status(500, "internal gateway error".into())
    } else if name.starts_with("hang") {
        Answer::Hang
    } else {
        Answer::Charge
    }
}

fn charged(id: Option<String>, amount_cents: Option<i64>) -> Response {
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": id, "status": "succeeded", "amount_cents": amount_cents})),
    )
        .into_response()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
