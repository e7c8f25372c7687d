//! The confirmation job (lesson production/jobs): stored by the checkout in
//! the transaction that makes the order paid, claimed atomically by the
//! worker, and done at most once in effect (one email per order and kind).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use tokio::sync::{Notify, watch};

use crate::accounts::Customer;
use crate::app::AppState;
use crate::clock::now_ms;
use crate::db::Db;
use crate::input::Id;
use crate::orders;
use crate::problem::Problem;

const CONFIRMATION: &str = "order_confirmation";
/// How long a claimed job is the claimant's before another may take it.
const LEASE_MS: i64 = 30_000;
/// How often the worker looks for jobs when nobody wakes it.
const POLL: Duration = Duration::from_millis(500);

/// Stores the confirmation job of `order_id` (inside the checkout's
/// transaction).
pub fn enqueue_confirmation(conn: &Connection, order_id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO jobs (kind, order_id, run_at_ms) VALUES (?1, ?2, ?3)",
        params![CONFIRMATION, order_id, now_ms()],
    )?;
    Ok(())
}

/// A claimed job.
struct Job {
    id: i64,
    order_id: i64,
}

/// Claims the oldest job that is due and not leased, in one statement: two
/// workers can never claim the same job.
fn claim(conn: &Connection, now: i64) -> rusqlite::Result<Option<Job>> {
    conn.query_row(
        "UPDATE jobs SET locked_until_ms = ?1 + ?2, attempts = attempts + 1
         WHERE id = (SELECT id FROM jobs
                     WHERE done_at_ms IS NULL AND run_at_ms <= ?1
                       AND (locked_until_ms IS NULL OR locked_until_ms <= ?1)
                     ORDER BY id LIMIT 1)
         RETURNING id, order_id",
        params![now, LEASE_MS],
        |row| {
            Ok(Job {
                id: row.get(0)?,
                order_id: row.get(1)?,
            })
        },
    )
    .optional()
}

/// Writes the confirmation to the outbox and marks the job done, together.
/// A second run finds the email there and writes nothing.
fn perform(conn: &Connection, job: &Job) -> rusqlite::Result<()> {
    let found = orders::load(conn, job.order_id)?;
    if let Some(order) = found {
        let (email, name): (String, String) = conn.query_row(
            "SELECT email, name FROM customers WHERE id = ?1",
            [order.customer_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let subject = format!("Your order #{}", order.id);
        let body = format!(
            "Hello {name}, thank you for your order #{}. Its total is {} cents; we will tell you when it ships.",
            order.id, order.total_cents
        );
        conn.execute(
            "INSERT INTO emails (order_id, kind, recipient, subject, body) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (order_id, kind) DO NOTHING",
            params![order.id, CONFIRMATION, email, subject, body],
        )?;
    }
    conn.execute(
        "UPDATE jobs SET done_at_ms = ?1, locked_until_ms = NULL WHERE id = ?2",
        params![now_ms(), job.id],
    )?;
    Ok(())
}

/// A failed run: tried again later, a little later each time.
fn postpone(conn: &Connection, job: &Job, error: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET locked_until_ms = NULL, last_error = ?1,
                         run_at_ms = ?2 + 1000 * min(attempts * attempts, 300)
         WHERE id = ?3",
        params![error, now_ms(), job.id],
    )?;
    Ok(())
}

/// The worker: runs due jobs until the shop stops. Woken by each checkout,
/// and polling besides, so that a job stored while it was not running (or
/// by another process) is found too.
pub async fn run_worker(db: Db, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match db.write(|tx| claim(tx, now_ms())).await {
            Ok(Some(job)) => {
                let done = db
                    .write(move |tx| match perform(tx, &job) {
                        Ok(()) => Ok(()),
                        Err(error) => postpone(tx, &job, &error.to_string()),
                    })
                    .await;
                if let Err(error) = done {
                    tracing::error!(%error, "a job failed");
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "claiming a job failed"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One email, as the outbox route shows it.
#[derive(Debug, Serialize)]
pub struct Email {
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// `GET /orders/{id}/notifications`: the order's emails, oldest first.
pub async fn notifications(
    State(app): State<AppState>,
    customer: Customer,
    Id(order_id): Id,
) -> Result<Json<Vec<Email>>, Problem> {
    let emails = app
        .db
        .read(move |conn| {
            orders::visible(conn, order_id, &customer)?;
            let mut statement = conn.prepare_cached(
                "SELECT recipient, subject, body FROM emails WHERE order_id = ?1 ORDER BY id",
            )?;
            let emails = statement
                .query_map([order_id], |row| {
                    Ok(Email {
                        recipient: row.get(0)?,
                        subject: row.get(1)?,
                        body: row.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok::<_, Problem>(emails)
        })
        .await?;
    Ok(Json(emails))
}
