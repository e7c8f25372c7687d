//! Idempotent checkouts (lesson api/idempotency): a key, per customer,
//! stands for one request; its answer is stored and replayed.

use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::problem::{PROBLEM_JSON, Problem};

/// The longest key a client may send.
const MAX_KEY_LEN: usize = 255;

/// An answer as it is stored under a key and sent again: status, content
/// type, `Location` and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: StatusCode, body: &serde_json::Value, location: Option<String>) -> Reply {
        Reply {
            status,
            content_type: "application/json".to_string(),
            location,
            body: body.to_string().into_bytes(),
        }
    }

    /// Whether it is the key's answer for good: a `5xx` is not, so that a
    /// retry runs the checkout again.
    fn is_final(&self) -> bool {
        self.status.as_u16() < 500
    }

    /// The reply sent again, saying so.
    fn replayed(self) -> Response {
        let mut response = self.into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

impl From<Problem> for Reply {
    fn from(problem: Problem) -> Reply {
        Reply {
            status: problem.status,
            content_type: PROBLEM_JSON.to_string(),
            location: None,
            body: problem.body(),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        if let Ok(content_type) = HeaderValue::try_from(self.content_type) {
            headers.insert(CONTENT_TYPE, content_type);
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::try_from(l).ok()) {
            headers.insert(LOCATION, location);
        }
        response
    }
}

/// The request's `Idempotency-Key`: 1 to 255 characters from space to `~`.
pub fn key(headers: &HeaderMap) -> Result<String, Problem> {
    let key = headers
        .get("idempotency-key")
        .map(HeaderValue::as_bytes)
        .ok_or_else(Problem::invalid_idempotency_key)?;
    let valid =
        (1..=MAX_KEY_LEN).contains(&key.len()) && key.iter().all(|b| (0x20..=0x7e).contains(b));
    if !valid {
        return Err(Problem::invalid_idempotency_key());
    }
    String::from_utf8(key.to_vec()).map_err(|_| Problem::invalid_idempotency_key())
}

/// What makes two requests with one key the same request: method, path
/// and body bytes.
pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(method)
        .chain_update([0])
        .chain_update(path)
        .chain_update([0])
        .chain_update(body)
        .finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What a key says about a request.
pub enum Claim {
    /// The key is new: the request runs, and its answer is stored.
    New,
    /// The key's stored answer, to send again.
    Replay(Reply),
}

/// Claims `key` for this request, or says why it may not run: the key came
/// with another request (`422`), or its first request still runs (`409`).
pub async fn claim(
    db: &Db,
    customer_id: i64,
    key: &str,
    fingerprint: &str,
) -> Result<Claim, Problem> {
    let (key, fingerprint) = (key.to_string(), fingerprint.to_string());
    db.write(move |tx| {
        let stored = tx
            .query_row(
                "SELECT fingerprint, status, content_type, location, body
                 FROM idempotency_keys WHERE customer_id = ?1 AND key = ?2",
                params![customer_id, key],
                |row| {
                    let status: Option<u16> = row.get(1)?;
                    let reply = match status {
                        Some(status) => Some(Reply {
                            status: StatusCode::from_u16(status)
                                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                            content_type: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                            location: row.get(3)?,
                            body: row.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
                        }),
                        None => None,
                    };
                    Ok((row.get::<_, String>(0)?, reply))
                },
            )
            .optional()?;
        match stored {
            None => {
                tx.execute(
                    "INSERT INTO idempotency_keys (customer_id, key, fingerprint)
                     VALUES (?1, ?2, ?3)",
                    params![customer_id, key, fingerprint],
                )?;
                Ok(Claim::New)
            }
            Some((stored, _)) if stored != fingerprint => Err(Problem::idempotency_key_reused()
                .detail("this Idempotency-Key came with another request")),
            Some((_, Some(reply))) => Ok(Claim::Replay(reply)),
            Some((_, None)) => Err(Problem::idempotency_key_in_use()
                .detail("the first request with this Idempotency-Key is still running")),
        }
    })
    .await
}

/// Stores `reply` as the key's answer, inside the transaction that makes
/// what it says true (the `201`'s order, the `402`'s release of the stock).
pub fn store(
    conn: &Connection,
    customer_id: i64,
    key: &str,
    reply: &Reply,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE idempotency_keys SET status = ?3, content_type = ?4, location = ?5, body = ?6
         WHERE customer_id = ?1 AND key = ?2",
        params![
            customer_id,
            key,
            reply.status.as_u16(),
            reply.content_type,
            reply.location,
            reply.body
        ],
    )?;
    Ok(())
}

/// Ends the request with the key: its answer is stored if it is final and
/// not stored yet; otherwise the claim is let go, for a retry to run.
pub async fn finish(db: &Db, customer_id: i64, key: String, reply: &Reply) {
    let reply = reply.clone();
    let outcome = db
        .write(move |tx| {
            if reply.is_final() {
                tx.execute(
                    "UPDATE idempotency_keys
                     SET status = ?3, content_type = ?4, location = ?5, body = ?6
                     WHERE customer_id = ?1 AND key = ?2 AND status IS NULL",
                    params![
                        customer_id,
                        key,
                        reply.status.as_u16(),
                        reply.content_type,
                        reply.location,
                        reply.body
                    ],
                )
            } else {
                tx.execute(
                    "DELETE FROM idempotency_keys
                     WHERE customer_id = ?1 AND key = ?2 AND status IS NULL",
                    params![customer_id, key],
                )
            }
        })
        .await;
    if let Err(error) = outcome {
        tracing::error!(%error, "storing a checkout's answer failed");
    }
}

/// Sends a stored answer again, with `Idempotent-Replayed: true`.
pub fn replay(reply: Reply) -> Response {
    reply.replayed()
}

/// At startup: keys whose request was running when the shop stopped are let
/// go (that request will never answer), so a retry can run.
pub fn forget_unfinished(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM idempotency_keys WHERE status IS NULL", [])
}
