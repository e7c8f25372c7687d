//! `POST /checkout` (lessons database/transactions, api/idempotency,
//! api/upstream): the caller's cart becomes a paid order, all or nothing.
//!
//! Three short transactions around the gateway call, which never runs
//! under SQLite's write lock:
//!
//! 1. **reserve**: the checks (cart, code, stock) and, if they pass, a
//!    `pending` order that holds the stock and the code's use;
//! 2. the payment, with no transaction open;
//! 3. **confirm** (the order `paid`, the cart emptied, the job stored, the
//!    key's answer stored) or **release** (everything reserved given back,
//!    the pending order removed).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{Transaction, params};

use crate::accounts::Customer;
use crate::app::AppState;
use crate::clock::{now_ms, now_rfc3339};
use crate::discounts::DiscountCode;
use crate::idempotency::{self, Claim, Reply};
use crate::input::{Fields, read_json};
use crate::live::OrderEvent;
use crate::orders::{self, record_event};
use crate::payment::{Charge, PaymentError};
use crate::problem::Problem;

const TOKEN_RULE: &str = "must be 1 to 200 characters";

/// The checkout's body, valid.
struct CheckoutRequest {
    payment_token: String,
    discount_code: Option<String>,
}

fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<CheckoutRequest, Problem> {
    let body = read_json(headers, body)?;
    let mut fields = Fields::of(&body, &["payment_token", "discount_code"])?;
    let payment_token = fields.string("payment_token").and_then(|token| {
        let valid = (1..=200).contains(&token.chars().count());
        fields.check("payment_token", valid.then_some(token).ok_or(TOKEN_RULE))
    });
    let discount_code = fields.optional_string("discount_code");
    fields.finish()?;
    match (payment_token, discount_code) {
        (Some(payment_token), Some(discount_code)) => Ok(CheckoutRequest {
            payment_token: payment_token.to_string(),
            discount_code: discount_code.map(str::to_string),
        }),
        _ => Err(Problem::internal()),
    }
}

/// What the reservation holds until the payment's outcome is known.
struct Reservation {
    order_id: i64,
    total_cents: i64,
    /// `(product_id, quantity)`: the stock taken.
    lines: Vec<(i64, i64)>,
    /// The code whose use is taken.
    code: Option<String>,
}

/// `POST /checkout`.
pub async fn checkout(
    State(app): State<AppState>,
    customer: Customer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match idempotency::key(&headers) {
        Ok(key) => key,
        Err(problem) => return problem.into_response(),
    };
    // A checkout, once its key is claimed, runs to its end on a task of its
    // own: a client that hangs up must not leave the key claimed or the
    // stock reserved by a pending order.
    let task = tokio::spawn(async move {
        let fingerprint = idempotency::fingerprint("POST", "/checkout", &body);
        match idempotency::claim(&app.db, customer.id, &key, &fingerprint).await {
            Ok(Claim::New) => {}
            Ok(Claim::Replay(reply)) => return idempotency::replay(reply),
            Err(problem) => return problem.into_response(),
        }
        let reply = place_order(&app, &customer, &key, &headers, &body)
            .await
            .unwrap_or_else(Reply::from);
        idempotency::finish(&app.db, customer.id, key, &reply).await;
        reply.into_response()
    });
    task.await
        .unwrap_or_else(|_| Problem::internal().into_response())
}

/// The checkout proper, once the key is claimed: the key's answer.
async fn place_order(
    app: &AppState,
    customer: &Customer,
    key: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, Problem> {
    let request = parse_request(headers, body)?;
    let customer_id = customer.id;
    let code = request.discount_code.clone();
    let reservation = app
        .db
        .write(move |tx| reserve(tx, customer_id, code.as_deref()))
        .await?;

    let paid = if reservation.total_cents == 0 {
        // Nothing to charge: the gateway is not called.
        Ok(())
    } else {
        let charge = Charge {
            amount_cents: reservation.total_cents,
            payment_token: &request.payment_token,
            idempotency_key: format!("{customer_id}:{key}"),
            reference: format!("order-{}", reservation.order_id),
        };
        app.gateway.charge(&charge).await
    };

    match paid {
        Ok(()) => {
            let key = key.to_string();
            let order_id = reservation.order_id;
            let confirmed = app
                .db
                .write(move |tx| confirm(tx, customer_id, &key, order_id))
                .await;
            match confirmed {
                Ok((reply, events)) => {
                    for event in events {
                        app.live.publish(event);
                    }
                    app.jobs.notify_one();
                    Ok(reply)
                }
                Err(problem) => {
                    // The card was charged but the order could not be
                    // recorded: give the stock back and answer 500. A retry
                    // with the key reuses the gateway key, and the gateway
                    // replays its charge instead of making another.
                    release_logged(app, reservation, None).await;
                    Err(problem)
                }
            }
        }
        Err(error) => {
            let problem = match error {
                PaymentError::Declined => Problem::payment_declined(),
                PaymentError::Failed => Problem::payment_failed(),
                PaymentError::TimedOut => Problem::payment_timeout(),
            };
            let reply = Reply::from(problem);
            // A 402 is the key's answer for good: stored with the release.
            let stored = (reply.status.as_u16() < 500)
                .then(|| (customer_id, key.to_string(), reply.clone()));
            release_logged(app, reservation, stored).await;
            Ok(reply)
        }
    }
}

/// Step 1: the checks, in the contract's order, and the reservation.
fn reserve(
    tx: &Transaction<'_>,
    customer_id: i64,
    code: Option<&str>,
) -> Result<Reservation, Problem> {
    // (product_id, quantity, price_cents, stock), in product_id order.
    let lines: Vec<(i64, i64, i64, i64)> = {
        let mut statement = tx.prepare_cached(
            "SELECT p.id, c.quantity, p.price_cents, p.stock
             FROM cart_items c JOIN products p ON p.id = c.product_id
             WHERE c.customer_id = ?1 ORDER BY p.id",
        )?;
        statement
            .query_map([customer_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?
    };
    if lines.is_empty() {
        return Err(Problem::cart_empty());
    }

    let discount = match code {
        None => None,
        Some(code) => {
            let found = DiscountCode::find(tx, code)?
                .ok_or_else(|| Problem::invalid_discount_code(code, "unknown"))?;
            if let Some(reason) = found.refusal(now_ms()) {
                return Err(Problem::invalid_discount_code(code, reason));
            }
            Some(found)
        }
    };

    if let Some(&(product_id, _, _, stock)) = lines
        .iter()
        .find(|(_, quantity, _, stock)| quantity > stock)
    {
        return Err(Problem::out_of_stock(product_id, stock));
    }

    let subtotal_cents: i64 = lines
        .iter()
        .map(|(_, quantity, price, _)| quantity * price)
        .sum();
    let discount_cents = discount
        .as_ref()
        .map_or(0, |code| code.discount_cents(subtotal_cents));
    let total_cents = subtotal_cents - discount_cents;
    let code = discount.map(|code| code.code);

    tx.execute(
        "INSERT INTO orders (customer_id, status, subtotal_cents, discount_code, discount_cents,
                             total_cents, created_at)
         VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6)",
        params![
            customer_id,
            subtotal_cents,
            code,
            discount_cents,
            total_cents,
            now_rfc3339()
        ],
    )?;
    let order_id = tx.last_insert_rowid();
    for &(product_id, quantity, price_cents, _) in &lines {
        tx.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
             VALUES (?1, ?2, ?3, ?4)",
            params![order_id, product_id, quantity, price_cents],
        )?;
        tx.execute(
            "UPDATE products SET stock = stock - ?1, version = version + 1 WHERE id = ?2",
            params![quantity, product_id],
        )?;
    }
    if let Some(code) = &code {
        tx.execute(
            "UPDATE discount_codes SET reserved = reserved + 1 WHERE code = ?1",
            [code],
        )?;
    }
    record_event(tx, order_id, "pending")?;

    Ok(Reservation {
        order_id,
        total_cents,
        lines: lines
            .iter()
            .map(|&(id, quantity, _, _)| (id, quantity))
            .collect(),
        code,
    })
}

/// Step 3 after a payment: everything a `201` says, together.
fn confirm(
    tx: &Transaction<'_>,
    customer_id: i64,
    key: &str,
    order_id: i64,
) -> Result<(Reply, Vec<OrderEvent>), Problem> {
    tx.execute(
        "UPDATE orders SET status = 'paid' WHERE id = ?1",
        [order_id],
    )?;
    let paid = record_event(tx, order_id, "paid")?;
    // The reserved use of the code becomes a use: the order is paid.
    tx.execute(
        "UPDATE discount_codes SET reserved = reserved - 1, uses = uses + 1
         WHERE code = (SELECT discount_code FROM orders WHERE id = ?1)",
        [order_id],
    )?;
    tx.execute(
        "DELETE FROM cart_items WHERE customer_id = ?1",
        [customer_id],
    )?;
    crate::jobs::enqueue_confirmation(tx, order_id)?;
    let order = orders::load(tx, order_id)?.ok_or_else(Problem::internal)?;
    let body = serde_json::to_value(&order).map_err(|_| Problem::internal())?;
    let reply = Reply::json(
        StatusCode::CREATED,
        &body,
        Some(format!("/orders/{order_id}")),
    );
    idempotency::store(tx, customer_id, key, &reply)?;
    // The pending event was never visible: the order could not be followed
    // before this commit. Streams get both, in order.
    let pending: Vec<OrderEvent> = {
        let mut statement = tx.prepare_cached(
            "SELECT id, order_id, status, at FROM order_events WHERE order_id = ?1 AND id < ?2
             ORDER BY id",
        )?;
        statement
            .query_map(params![order_id, paid.id], OrderEvent::from_row)?
            .collect::<rusqlite::Result<_>>()?
    };
    Ok((reply, pending.into_iter().chain([paid]).collect()))
}

/// Step 3 after a failed payment: the stock and the code's use given back,
/// the pending order removed (its id stays used), and, for a final answer,
/// that answer stored under the key in the same transaction.
fn release(
    tx: &Transaction<'_>,
    reservation: &Reservation,
    stored: Option<&(i64, String, Reply)>,
) -> rusqlite::Result<()> {
    for (product_id, quantity) in &reservation.lines {
        tx.execute(
            "UPDATE products SET stock = stock + ?1, version = version + 1 WHERE id = ?2",
            params![quantity, product_id],
        )?;
    }
    if let Some(code) = &reservation.code {
        tx.execute(
            "UPDATE discount_codes SET reserved = reserved - 1 WHERE code = ?1",
            [code],
        )?;
    }
    remove_order(tx, reservation.order_id)?;
    if let Some((customer_id, key, reply)) = stored {
        idempotency::store(tx, *customer_id, key, reply)?;
    }
    Ok(())
}

fn remove_order(tx: &Transaction<'_>, order_id: i64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM order_events WHERE order_id = ?1", [order_id])?;
    tx.execute("DELETE FROM order_items WHERE order_id = ?1", [order_id])?;
    tx.execute(
        "DELETE FROM orders WHERE id = ?1 AND status = 'pending'",
        [order_id],
    )?;
    Ok(())
}

async fn release_logged(
    app: &AppState,
    reservation: Reservation,
    stored: Option<(i64, String, Reply)>,
) {
    let outcome = app
        .db
        .write(move |tx| release(tx, &reservation, stored.as_ref()))
        .await;
    if let Err(error) = outcome {
        tracing::error!(%error, "releasing a checkout's reservation failed");
    }
}

/// At startup: orders left `pending` by a shop that stopped during their
/// payment are released, as a failed payment would have been.
pub fn release_abandoned(tx: &Transaction<'_>) -> rusqlite::Result<usize> {
    let abandoned: Vec<(i64, Option<String>)> = {
        let mut statement =
            tx.prepare("SELECT id, discount_code FROM orders WHERE status = 'pending'")?;
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    for (order_id, code) in &abandoned {
        let lines: Vec<(i64, i64)> = {
            let mut statement =
                tx.prepare("SELECT product_id, quantity FROM order_items WHERE order_id = ?1")?;
            statement
                .query_map([order_id], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let reservation = Reservation {
            order_id: *order_id,
            total_cents: 0,
            lines,
            code: code.clone(),
        };
        release(tx, &reservation, None)?;
    }
    Ok(abandoned.len())
}
