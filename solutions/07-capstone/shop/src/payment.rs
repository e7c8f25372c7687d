//! The payment gateway's client (lesson api/upstream): one charge, with a
//! timeout on each attempt, retries with jittered backoff for what may pass,
//! and nothing of the gateway's answers passed on to the shop's clients.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

/// Attempts in all, the first included.
const MAX_ATTEMPTS: u32 = 3;
/// The wait before the second attempt; it doubles, to at most [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// One charge to make.
pub struct Charge<'a> {
    pub amount_cents: i64,
    pub payment_token: &'a str,
    /// The same for every attempt, and for a retried checkout:
    /// `"{customer_id}:{checkout key}"`, so the gateway replays a charge it
    /// made instead of making another.
    pub idempotency_key: String,
    pub reference: String,
}

/// Why a charge was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentError {
    /// The gateway declined: final, never retried.
    Declined,
    /// The gateway failed, or answered something that is not a charge.
    Failed,
    /// No complete answer in time, on the last attempt.
    TimedOut,
}

/// What one attempt came to.
enum Attempt {
    Charged,
    /// Final: no retry changes it.
    Refused(PaymentError),
    /// Worth another attempt (a `503`, a refused or broken connection, a
    /// timeout); what to answer if it was the last.
    Transient(PaymentError),
}

/// The gateway, as the shop's configuration names it.
#[derive(Clone)]
pub struct Gateway {
    client: reqwest::Client,
    charges_url: String,
    api_key: String,
    timeout: Duration,
}

impl Gateway {
    pub fn new(base_url: &str, api_key: &str, timeout: Duration) -> reqwest::Result<Gateway> {
        let client = reqwest::Client::builder()
            // The gateway is named by the configuration; no proxy from the
            // environment comes between.
            .no_proxy()
            .build()?;
        Ok(Gateway {
            client,
            charges_url: format!("{base_url}/charges"),
            api_key: api_key.to_string(),
            timeout,
        })
    }

    /// Charges `charge`, trying up to [`MAX_ATTEMPTS`] times while the
    /// failures may pass; the last attempt's failure decides the error.
    pub async fn charge(&self, charge: &Charge<'_>) -> Result<(), PaymentError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.attempt(charge).await {
                Attempt::Charged => return Ok(()),
                Attempt::Refused(error) => return Err(error),
                Attempt::Transient(error) if attempt >= MAX_ATTEMPTS => return Err(error),
                Attempt::Transient(error) => {
                    tracing::warn!(attempt, ?error, reference = %charge.reference, "charge failed, retrying");
                }
            }
            tokio::time::sleep(jittered(backoff)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    async fn attempt(&self, charge: &Charge<'_>) -> Attempt {
        let body = json!({
            "amount_cents": charge.amount_cents,
            "payment_token": charge.payment_token,
            "reference": charge.reference,
        });
        let sent = self
            .client
            .post(&self.charges_url)
            .bearer_auth(&self.api_key)
            .header("idempotency-key", &charge.idempotency_key)
            .json(&body)
            // From connecting to the last byte of the answer.
            .timeout(self.timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Attempt::Transient(transport_error(&error)),
        };
        let status = response.status();
        // The whole answer is read, whatever its status: an answer that
        // stops halfway is not an answer.
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return Attempt::Transient(transport_error(&error)),
        };
        match status {
            StatusCode::CREATED if is_charge(&bytes) => Attempt::Charged,
            StatusCode::PAYMENT_REQUIRED => Attempt::Refused(PaymentError::Declined),
            StatusCode::SERVICE_UNAVAILABLE => Attempt::Transient(PaymentError::Failed),
            _ => {
                tracing::warn!(%status, reference = %charge.reference, "the gateway failed the charge");
                Attempt::Refused(PaymentError::Failed)
            }
        }
    }
}

/// A charge is a JSON object with a string `id`.
fn is_charge(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|charge| charge["id"].is_string())
}

fn transport_error(error: &reqwest::Error) -> PaymentError {
    if error.is_timeout() {
        PaymentError::TimedOut
    } else {
        PaymentError::Failed
    }
}

/// Somewhere between half of `backoff` and all of it, so that checkouts
/// that failed together do not all retry at the same instant.
fn jittered(backoff: Duration) -> Duration {
    let mut random = [0u8; 2];
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX),
        Err(_) => 1.0,
    };
    backoff.mul_f64(0.5 + fraction / 2.0).min(MAX_BACKOFF)
}
