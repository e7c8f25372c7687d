//! Following an order live (lesson production/sse): its status changes as
//! Server-Sent Events, the missed ones first (`Last-Event-ID`), then each
//! new one as it happens, until a final status.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use rusqlite::{Connection, Row, params};
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::accounts::Customer;
use crate::app::AppState;
use crate::db::Db;
use crate::input::Id;
use crate::orders;
use crate::problem::Problem;

/// How many events the channel keeps for a slow stream before it lags
/// (a lagging stream reads what it missed from the database).
const CHANNEL_CAPACITY: usize = 1024;
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One status change of one order: a row of `order_events`.
#[derive(Debug, Clone, Serialize)]
pub struct OrderEvent {
    pub id: i64,
    pub order_id: i64,
    pub status: String,
    pub at: String,
}

impl OrderEvent {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<OrderEvent> {
        Ok(OrderEvent {
            id: row.get(0)?,
            order_id: row.get(1)?,
            status: row.get(2)?,
            at: row.get(3)?,
        })
    }

    fn is_final(&self) -> bool {
        is_final(&self.status)
    }
}

fn is_final(status: &str) -> bool {
    status == "shipped" || status == "cancelled"
}

/// The order's events after `after`, oldest first.
fn events_after(conn: &Connection, order_id: i64, after: i64) -> rusqlite::Result<Vec<OrderEvent>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, order_id, status, at FROM order_events
         WHERE order_id = ?1 AND id > ?2 ORDER BY id",
    )?;
    statement
        .query_map(params![order_id, after], OrderEvent::from_row)?
        .collect()
}

/// Where committed changes are announced to the streams that follow them,
/// and the signal that ends every stream when the shop stops.
#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<OrderEvent>,
    shutdown: watch::Receiver<bool>,
}

impl Hub {
    pub fn new(shutdown: watch::Receiver<bool>) -> Hub {
        Hub {
            sender: broadcast::channel(CHANNEL_CAPACITY).0,
            shutdown,
        }
    }

    /// Announces a committed change. Nobody following is not an error.
    pub fn publish(&self, event: OrderEvent) {
        let _ = self.sender.send(event);
    }
}

/// `GET /orders/{id}/events`.
pub async fn follow(
    State(app): State<AppState>,
    customer: Customer,
    Id(order_id): Id,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let after = last_event_id(&headers).unwrap_or(0);
    // Subscribe before reading: a change committed after the read is then
    // on the channel, one committed before it is in what was read.
    let live = app.live.sender.subscribe();
    let (order, backlog) = app
        .db
        .read(move |conn| {
            let order = orders::visible(conn, order_id, &customer)?;
            Ok::<_, Problem>((order, events_after(conn, order_id, after)?))
        })
        .await?;
    if backlog.is_empty() && is_final(&order.status) {
        // The client has seen the last change there will ever be.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let follow = Follow {
        db: app.db.clone(),
        order_id,
        live,
        shutdown: app.live.shutdown.clone(),
        pending: backlog.into(),
        last_sent: after,
        finished: false,
    };
    let events = stream::unfold(follow, |mut follow| async move {
        let event = follow.next().await?;
        Some((Ok::<_, Infallible>(sse_event(&event)), follow))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// `Last-Event-ID` as an integer; absent or not one means nothing seen.
fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `id: 57`, `event: status`, `data: {"order_id":41,"status":"paid","at":"..."}`.
fn sse_event(event: &OrderEvent) -> Event {
    let data = json!({"order_id": event.order_id, "status": event.status, "at": event.at});
    Event::default()
        .id(event.id.to_string())
        .event("status")
        .data(data.to_string())
}

/// What one client is sent of one order's events.
struct Follow {
    db: Db,
    order_id: i64,
    live: broadcast::Receiver<OrderEvent>,
    shutdown: watch::Receiver<bool>,
    /// Events to send, oldest first.
    pending: VecDeque<OrderEvent>,
    /// The id of the last event sent (or of `Last-Event-ID`).
    last_sent: i64,
    finished: bool,
}

impl Follow {
    /// The next event to send, or `None` when the stream is over: after a
    /// final status, or when the shop stops (an open stream must not keep
    /// it running).
    async fn next(&mut self) -> Option<OrderEvent> {
        loop {
            if self.finished || *self.shutdown.borrow() {
                return None;
            }
            if let Some(event) = self.pending.pop_front() {
                // What was read and what was published overlap.
                if event.id <= self.last_sent {
                    continue;
                }
                self.last_sent = event.id;
                self.finished = event.is_final();
                return Some(event);
            }
            let received = tokio::select! {
                received = self.live.recv() => received,
                _ = self.shutdown.changed() => return None,
            };
            match received {
                Ok(event) if event.order_id == self.order_id => self.pending.push_back(event),
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {
                    // The channel dropped events this stream had not sent:
                    // they are in the database.
                    let (order_id, after) = (self.order_id, self.last_sent);
                    match self
                        .db
                        .read(move |conn| events_after(conn, order_id, after))
                        .await
                    {
                        Ok(missed) => self.pending.extend(missed),
                        Err(error) => {
                            tracing::error!(%error, "reading missed events failed");
                            return None;
                        }
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
