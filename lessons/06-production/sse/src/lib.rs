//! # production/sse — Order status, live: Server-Sent Events
//!
//! Let a client follow an order as it moves: `GET /orders/{id}/events`
//! answers with a stream of Server-Sent Events, one per change of the
//! order's status, each exactly once and in order, and a client that
//! reconnects with `Last-Event-ID` carries on where it stopped. The
//! database is the source of truth; the shop's broadcast channel only says
//! that something new is there, and may drop what a slow stream has not
//! taken.
//! The book's section "Order status, live: Server-Sent Events" explains
//! every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, stream};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;

/// How many events the shop's channel holds for a subscriber that has not
/// received them yet. A subscriber that falls further behind loses the
/// oldest ones from the channel (they are still in the database).
pub const CHANNEL_CAPACITY: usize = 16;

/// How long a stream may stay silent before the shop sends a comment line
/// to keep proxies from closing it, unless [`Shop::keep_alive_every`] says
/// otherwise.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The shop's database, a SQLite file with a connection of its own for
/// every job, and the channel its status changes are published on.
///
/// Cloning a `Shop` is cheap: the clones share the file and the channel.
#[derive(Clone)]
pub struct Shop {
    path: PathBuf,
    /// Every status change, once it is in the database, in the order of
    /// the events' ids. Subscribe to receive the changes published from
    /// then on.
    events: broadcast::Sender<OrderEvent>,
    /// Held while a change is written and published, so that changes are
    /// published in the order of their ids.
    publishing: Arc<Mutex<()>>,
    /// The longest silence on a stream before a keep-alive comment.
    keep_alive: Duration,
    /// Called with the order's id before and after each read of
    /// [`Shop::read_events`] (the tests watch it).
    on_read: Option<Arc<dyn Fn(i64, ReadStep) + Send + Sync>>,
}

impl Shop {
    /// The shop on the SQLite file at `path`, created with the schema if
    /// needed, in WAL mode.
    pub fn open(path: &Path) -> rusqlite::Result<Shop> {
        let db = Connection::open(path)?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        create_schema(&db)?;
        let (events, _) = broadcast::channel(CHANNEL_CAPACITY);
        Ok(Shop {
            path: path.to_path_buf(),
            events,
            publishing: Arc::new(Mutex::new(())),
            keep_alive: KEEP_ALIVE,
            on_read: None,
        })
    }

    /// The same shop, sending a keep-alive comment on a stream that has
    /// been silent for `interval`.
    pub fn keep_alive_every(self, interval: Duration) -> Shop {
        Shop {
            keep_alive: interval,
            ..self
        }
    }

    /// The same shop, calling `watcher` with the order's id each time
    /// [`Shop::read_events`] is about to read an order's events, and again
    /// once it has read them, before it returns them.
    pub fn on_read(self, watcher: impl Fn(i64, ReadStep) + Send + Sync + 'static) -> Shop {
        Shop {
            on_read: Some(Arc::new(watcher)),
            ..self
        }
    }

    /// A new connection to the shop's file: foreign keys on, and waiting up
    /// to 10 seconds for another connection's lock.
    fn connect(&self) -> rusqlite::Result<Connection> {
        let db = Connection::open(&self.path)?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(Duration::from_secs(10))?;
        Ok(db)
    }

    /// Runs `job` on a new connection, on tokio's blocking threads.
    async fn run<T, F>(&self, job: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let shop = self.clone();
        let task = tokio::task::spawn_blocking(move || job(&mut shop.connect()?));
        match task.await {
            Ok(result) => result,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        }
    }

    /// Order `order_id`'s status and its events with an id greater than
    /// `after`, read by [`read_history`]; `None` if there is no such order.
    pub async fn read_events(
        &self,
        order_id: i64,
        after: i64,
    ) -> rusqlite::Result<Option<History>> {
        let on_read = self.on_read.clone();
        self.run(move |db| {
            if let Some(watcher) = &on_read {
                watcher(order_id, ReadStep::Before);
            }
            let history = read_history(db, order_id, after)?;
            if let Some(watcher) = &on_read {
                watcher(order_id, ReadStep::After);
            }
            Ok(history)
        })
        .await
    }

    /// Changes order `order_id`'s status to `status` (one of [`STATUSES`]):
    /// records the change in `order_events` and `orders` in one
    /// transaction, then publishes it on the channel.
    async fn record_status(&self, order_id: i64, status: String) -> rusqlite::Result<Change> {
        let events = self.events.clone();
        let publishing = Arc::clone(&self.publishing);
        self.run(move |db| {
            // One change at a time, from the write to the publication: the
            // channel carries the events in the order of their ids.
            let _turn = publishing.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<String> = tx
                .query_row(
                    "SELECT status FROM orders WHERE id = ?1",
                    [order_id],
                    |row| row.get(0),
                )
                .optional()?;
            match current {
                None => return Ok(Change::NoSuchOrder),
                Some(current) if is_final(&current) => {
                    let detail =
                        format!("Order {order_id} is {current}: it cannot change any more.");
                    return Ok(Change::Refused(detail));
                }
                Some(current) if current == status => {
                    return Ok(Change::Refused(format!(
                        "Order {order_id} is already {current}."
                    )));
                }
                Some(_) => {}
            }
            let event = tx.query_row(
                "INSERT INTO order_events (order_id, status, created_at)
                 VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                 RETURNING id, order_id, status, created_at",
                params![order_id, status],
                OrderEvent::from_row,
            )?;
            tx.execute(
                "UPDATE orders SET status = ?1 WHERE id = ?2",
                params![status, order_id],
            )?;
            tx.commit()?;
            // Published only once it is in the database, where a subscriber
            // that missed it will find it. No subscriber is not an error.
            let _ = events.send(event.clone());
            Ok(Change::Made(event))
        })
        .await
    }
}

/// When a [`Shop::on_read`] watcher is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStep {
    /// Before the read: what it will read is not decided yet.
    Before,
    /// After the read, before its rows are returned.
    After,
}

/// What [`Shop::record_status`] did.
enum Change {
    Made(OrderEvent),
    NoSuchOrder,
    /// The change is not allowed; why, for the client.
    Refused(String),
}

/// The statuses an order can have.
pub const STATUSES: [&str; 4] = ["pending", "paid", "shipped", "cancelled"];

/// Whether `status` is final: a shipped or cancelled order never changes
/// again, so its stream of events is over.
pub fn is_final(status: &str) -> bool {
    matches!(status, "shipped" | "cancelled")
}

/// One change of an order's status: a row of `order_events`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderEvent {
    pub id: i64,
    pub order_id: i64,
    pub status: String,
    /// When it happened: RFC 3339, UTC (`2026-11-30T09:15:00Z`).
    pub at: String,
}

impl OrderEvent {
    /// The event in a row of the columns `id, order_id, status,
    /// created_at`, in that order.
    pub fn from_row(row: &Row) -> rusqlite::Result<OrderEvent> {
        Ok(OrderEvent {
            id: row.get(0)?,
            order_id: row.get(1)?,
            status: row.get(2)?,
            at: row.get(3)?,
        })
    }
}

/// What [`read_history`] reads of an order.
#[derive(Debug)]
pub struct History {
    /// The order's status when its events were read.
    pub status: String,
    /// The events asked for, oldest first.
    pub events: Vec<OrderEvent>,
}

/// Creates the shop's tables, if they do not exist yet.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS customers (
            id    INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS orders (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers (id),
            status      TEXT NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
            total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
            created_at  TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS order_events (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id   INTEGER NOT NULL REFERENCES orders (id),
            status     TEXT NOT NULL,
            created_at TEXT NOT NULL
        ) STRICT;
        CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events (order_id, id);
        ",
    )
}

/// Places a pending order of `total_cents` for customer `customer_id`,
/// with its first event (`pending`), and returns its id.
pub fn place_order(
    db: &mut Connection,
    customer_id: i64,
    total_cents: i64,
) -> rusqlite::Result<i64> {
    let tx = db.transaction()?;
    let id: i64 = tx.query_row(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
         RETURNING id",
        params![customer_id, total_cents],
        |row| row.get(0),
    )?;
    tx.execute(
        "INSERT INTO order_events (order_id, status, created_at)
         SELECT id, status, created_at FROM orders WHERE id = ?1",
        [id],
    )?;
    tx.commit()?;
    Ok(id)
}

/// Order `order_id`'s status, and its events whose id is greater than
/// `after`, oldest first, as one consistent snapshot of the database.
/// `None` if there is no such order.
pub fn read_history(
    db: &mut Connection,
    order_id: i64,
    after: i64,
) -> rusqlite::Result<Option<History>> {
    // TODO: the order's status and its events with an id greater than
    // `after`, oldest first, both as they were at one moment (a change
    // committed in between must not make them disagree); None if there is
    // no order `order_id`.
    let _ = (db, order_id, after);
    todo!()
}

/// The shop's order events:
///
/// | request                      | answer                                                      |
/// | ---------------------------- | ----------------------------------------------------------- |
/// | `POST /orders/{id}/status`   | `200 OK`, the recorded event: `{"id": 5, "order_id": 1, "status": "paid", "at": "..."}` |
/// | `GET /orders/{id}/events`    | `200 OK`, `text/event-stream`: the order's status changes    |
///
/// `POST /orders/{id}/status` takes `{"status": "paid"}`: any of
/// [`STATUSES`] but the current one, and nothing once the order is shipped
/// or cancelled (`409 Conflict`). Errors are `application/problem+json`.
pub fn app(shop: Shop) -> Router {
    Router::new()
        .route("/orders/{id}/status", post(change_status))
        .route("/orders/{id}/events", get(order_events))
        .with_state(shop)
}

/// The body of `POST /orders/{id}/status`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: String,
}

async fn change_status(
    State(shop): State<Shop>,
    UrlPath(order_id): UrlPath<i64>,
    body: Bytes,
) -> Response {
    let change: StatusChange = match serde_json::from_slice(&body) {
        Ok(change) => change,
        Err(error) => {
            let detail = format!("The body is not a status change: {error}.");
            return problem(StatusCode::BAD_REQUEST, "Invalid body", &detail);
        }
    };
    if !STATUSES.contains(&change.status.as_str()) {
        let detail = "A status is one of pending, paid, shipped and cancelled.";
        return problem(StatusCode::UNPROCESSABLE_ENTITY, "Unknown status", detail);
    }
    match shop.record_status(order_id, change.status).await {
        Ok(Change::Made(event)) => Json(event).into_response(),
        Ok(Change::NoSuchOrder) => not_found(order_id),
        Ok(Change::Refused(detail)) => problem(StatusCode::CONFLICT, "Status not changed", &detail),
        Err(error) => internal_error(&error),
    }
}

/// `GET /orders/{id}/events`: the order's status changes as Server-Sent
/// Events.
async fn order_events(
    State(shop): State<Shop>,
    UrlPath(order_id): UrlPath<i64>,
    headers: HeaderMap,
) -> Response {
    // TODO: for an unknown order, `not_found`. Otherwise a `200 OK` event
    // stream (`text/event-stream`) whose events are those of `follow`: the
    // order's events after the client's Last-Event-ID (all of them without
    // one), then each change as it happens, none lost, also one committed
    // while the stream reads the events it starts with. If the client has
    // already seen the order's final status, `204 No Content` instead. A
    // stream quiet for the shop's keep-alive interval sends a comment line.
    let _ = (&shop.events, shop.keep_alive, order_id, headers);
    let _ = (last_event_id, follow, not_found);
    todo!()
}

/// The id in the request's `Last-Event-ID` header, if it has one that is a
/// number.
fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    // TODO: the header's number; None without the header, and for a value
    // that is not a number.
    let _ = headers;
    todo!()
}

/// `event` as it goes on the wire:
///
/// ```text
/// id: 5
/// event: status
/// data: {"order_id":1,"status":"paid","at":"2026-11-30T09:15:00Z"}
/// ```
fn sse_event(event: &OrderEvent) -> Event {
    // TODO: the event above: its id, the type `status`, and the JSON data
    // `{"order_id": ..., "status": ..., "at": ...}`.
    let _ = event;
    todo!()
}

/// What one client is sent of one order's events.
struct Follow {
    shop: Shop,
    order_id: i64,
    /// The shop's channel, subscribed to before `pending` was read.
    live: broadcast::Receiver<OrderEvent>,
    /// Events to send, oldest first: at the start, those read from the
    /// database.
    pending: VecDeque<OrderEvent>,
    /// The id of the last event sent, or of the client's `Last-Event-ID`
    /// (0 if none).
    last_sent: i64,
    /// Whether the order's final status has been sent.
    finished: bool,
}

/// The body of an SSE response: `backlog` (read after `live` subscribed),
/// then each change of order `order_id` as it happens, each as
/// [`sse_event`] makes it.
fn follow(
    shop: Shop,
    order_id: i64,
    live: broadcast::Receiver<OrderEvent>,
    backlog: Vec<OrderEvent>,
    last_sent: i64,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let follow = Follow {
        shop,
        order_id,
        live,
        pending: backlog.into(),
        last_sent,
        finished: false,
    };
    stream::unfold(follow, |mut follow| async move {
        let event = follow.next().await?;
        Some((Ok(sse_event(&event)), follow))
    })
}

impl Follow {
    /// The next event to send the client, or `None` when the stream is
    /// over.
    async fn next(&mut self) -> Option<OrderEvent> {
        // TODO: the events in `pending`, then those of this order that come
        // on `live`: each once, in the order of their ids, none whose id is
        // not greater than `last_sent`. When `live` has dropped events this
        // stream had not received yet, find them in the database and go on.
        // After the order's final status, the stream is over.
        let _ = (&self.shop, self.order_id, &mut self.live);
        let _ = (&mut self.pending, self.last_sent, self.finished);
        todo!()
    }
}

/// `404`: `{"type": "about:blank", "title": "Not found", "status": 404,
/// "detail": "There is no order 9."}`
fn not_found(order_id: i64) -> Response {
    let detail = format!("There is no order {order_id}.");
    problem(StatusCode::NOT_FOUND, "Not found", &detail)
}

/// An `application/problem+json` response (RFC 9457).
fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// A database error: logged, and answered with a `500` that tells nothing.
fn internal_error(error: &rusqlite::Error) -> Response {
    tracing::error!(%error, "database error");
    let detail = "Something went wrong on our side. Please try again.";
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        detail,
    )
}
