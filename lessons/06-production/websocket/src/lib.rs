//! # production/websocket — A support chat over WebSocket
//!
//! The shop's customers talk to its support staff in chat rooms: a client
//! opens a WebSocket to `GET /chat/{room}?name=alice`, and every text it
//! sends goes to every member of the room, as a JSON event with the room's
//! next sequence number; joins and leaves are announced. Write the chat: the
//! handshake, the broadcast, and each member's connection.
//!
//! The hard part is the member who stops reading. Each member has a queue
//! of [`OUTBOX`] events. A broadcast never waits for anyone: a member whose
//! queue is full is dropped from the room, so that one slow client neither
//! holds up the others nor makes the server's memory grow. A connection that
//! ends, however it ends, leaves the room.
//! The book's section "A support chat over WebSocket" explains every piece
//! you need.
//!
//! Run `cargo checker check` when you think you are done.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

/// How many events wait in one member's queue, at most, for its connection
/// to send them. A member whose queue is full when an event comes is too
/// slow: it is removed from the room and its connection is closed.
pub const OUTBOX: usize = 32;

/// The longest name, in characters (not bytes). A name has at least one.
pub const MAX_NAME_CHARS: usize = 32;

/// The longest message, in characters (not bytes).
pub const MAX_TEXT_CHARS: usize = 2000;

/// The largest WebSocket message the server reads at all, in bytes: enough
/// for [`MAX_TEXT_CHARS`] characters of four bytes each. Anything larger is
/// refused by the WebSocket layer before it is even buffered whole.
const MAX_MESSAGE_BYTES: usize = 4 * MAX_TEXT_CHARS;

/// How long a closing connection may take to send its Close frame: a
/// client too slow to read its messages will not read that one either.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What happened in a room, as every member receives it: one JSON text
/// message per event, such as
/// `{"type":"message","from":"alice","text":"Hello","seq":3}`.
#[derive(Serialize)]
struct Event {
    #[serde(flatten)]
    what: What,
    /// The event's number in its room: 1 for the room's first event (its
    /// first member's `joined`), then one more for each event after it.
    seq: u64,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum What {
    /// `{"type":"joined","name":"bob","seq":2}`
    Joined { name: String },
    /// `{"type":"left","name":"bob","seq":5}`
    Left { name: String },
    /// `{"type":"message","from":"alice","text":"Hello","seq":3}`
    Message { from: String, text: String },
}

/// Every room, with its members. Cloning a `Chat` is cheap: the clones share
/// the rooms.
#[derive(Clone, Default)]
pub struct Chat {
    registry: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    /// The rooms that have members; a room that loses its last member is
    /// removed.
    rooms: HashMap<String, Room>,
    /// The id of the last member who joined, in any room.
    last_id: u64,
}

#[derive(Default)]
struct Room {
    /// The `seq` of the room's last event.
    last_seq: u64,
    /// The members, in the order they joined.
    members: Vec<Member>,
}

/// One member of a room, as the room holds it.
struct Member {
    id: u64,
    name: String,
    /// The sending end of the member's queue: events as JSON text.
    outbox: mpsc::Sender<Utf8Bytes>,
    /// Never sent on: when the room drops the member, this goes with it, and
    /// the member's connection, which waits on the other end, learns that it
    /// was removed.
    _removed: oneshot::Sender<()>,
}

/// What joining gives the new member's connection.
struct Membership {
    id: u64,
    /// The receiving end of the member's queue.
    outbox: mpsc::Receiver<Utf8Bytes>,
    /// Completes when the room has dropped the member.
    removed: oneshot::Receiver<()>,
}

impl Chat {
    pub fn new() -> Chat {
        Chat::default()
    }

    /// The names of the rooms that have members, sorted.
    pub fn rooms(&self) -> Vec<String> {
        let mut rooms: Vec<String> = self.lock().rooms.keys().cloned().collect();
        rooms.sort();
        rooms
    }

    /// The names of a room's members, in the order they joined (none if the
    /// room does not exist).
    pub fn members(&self, room: &str) -> Vec<String> {
        let registry = self.lock();
        let Some(room) = registry.rooms.get(room) else {
            return Vec::new();
        };
        room.members
            .iter()
            .map(|member| member.name.clone())
            .collect()
    }

    /// The registry, also if a thread panicked while holding it: every
    /// change to it is complete before anything can panic.
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a member called `name` to `room` (made if it does not exist),
    /// after announcing `joined` to the members already there.
    fn join(&self, room: &str, name: &str) -> Membership {
        // TODO: the new member gets a new id and a queue that holds OUTBOX
        // events at most, and is added to the room after the members already
        // there were told `joined` (the newcomer does not get its own).
        let joined = What::Joined {
            name: name.to_string(),
        };
        let _ = (self.lock().last_id, room, joined, OUTBOX, Room::broadcast);
        let (_, outbox) = mpsc::channel(1);
        let (_, removed) = oneshot::channel();
        Membership {
            id: 0,
            outbox,
            removed,
        }
    }

    /// Broadcasts `text` from member `id` of `room`, if it is still a member.
    fn say(&self, room: &str, id: u64, text: &str) {
        // TODO: every member of the room, the sender included, gets
        // {"type":"message","from":...,"text":...,"seq":...}, `from` being
        // the sender's name. A member the room has dropped says nothing.
        let message = What::Message {
            from: String::new(),
            text: text.to_string(),
        };
        let _ = (self.lock(), room, id, message);
        todo!()
    }

    /// Removes member `id` from `room` and announces `left` to the others,
    /// unless it is no longer a member (the room dropped it already).
    fn leave(&self, room: &str, id: u64) {
        // TODO: the member is no longer in the room, the others are told
        // `left`, and a room without members is forgotten.
        let left = What::Left {
            name: String::new(),
        };
        let _ = (self.lock(), room, id, left, Registry::forget_if_empty);
        todo!()
    }
}

impl Registry {
    /// Removes `room` if it has no member left: an empty room costs nothing.
    fn forget_if_empty(&mut self, room: &str) {
        if self
            .rooms
            .get(room)
            .is_some_and(|room| room.members.is_empty())
        {
            self.rooms.remove(room);
        }
    }
}

impl Room {
    /// Gives `what` the room's next `seq` and queues it for every member,
    /// without ever waiting. A member whose queue is full (or whose
    /// connection has ended) is dropped from the room, which ends its
    /// connection, and its `left` is broadcast in turn.
    fn broadcast(&mut self, what: What) {
        // TODO: the event, numbered, is in the queue of every member whose
        // queue has room, at once; every other member is out of the room,
        // and the rest are told it left (which may leave others out...).
        let event = Event {
            what,
            seq: self.last_seq,
        };
        let _ = (event, VecDeque::<What>::new());
        let _ = self
            .members
            .iter()
            .map(|member| (member.id, &member.outbox));
        todo!()
    }
}

/// The support chat:
///
/// | request                      | answer                                                  |
/// | ---------------------------- | ------------------------------------------------------- |
/// | `GET /chat/{room}?name=bob`  | `101 Switching Protocols`: bob is a member of the room   |
/// | `GET /chat/{room}/members`   | `200 OK`, `{"room":"lobby","members":["alice","bob"]}`   |
/// | `GET /chat`                  | `200 OK`, `{"rooms":["lobby","order-7"]}`                |
///
/// A name is 1 to [`MAX_NAME_CHARS`] characters; any other (or none) is
/// answered `400 Bad Request`, as problem details, before any upgrade.
pub fn app(chat: Chat) -> Router {
    Router::new()
        .route("/chat", get(rooms))
        .route("/chat/{room}", get(join))
        .route("/chat/{room}/members", get(members))
        .with_state(chat)
}

/// The query of `GET /chat/{room}`: `?name=bob`.
#[derive(Deserialize)]
struct JoinQuery {
    #[serde(default)]
    name: String,
}

async fn rooms(State(chat): State<Chat>) -> Json<serde_json::Value> {
    Json(json!({ "rooms": chat.rooms() }))
}

async fn members(State(chat): State<Chat>, Path(room): Path<String>) -> Json<serde_json::Value> {
    Json(json!({ "room": room, "members": chat.members(&room) }))
}

async fn join(
    State(chat): State<Chat>,
    Path(room): Path<String>,
    Query(query): Query<JoinQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    // TODO: a name that is not 1 to MAX_NAME_CHARS characters long is
    // answered with `bad_name()`, before the upgrade. Any other is answered
    // `101 Switching Protocols`, and the upgraded connection (which reads no
    // message over MAX_MESSAGE_BYTES) runs `connection`.
    let _ = (chat, room, query.name, upgrade, MAX_MESSAGE_BYTES);
    let _ = (bad_name, connection);
    todo!()
}

/// `400 Bad Request` for a missing, empty or too long name, as RFC 9457
/// problem details.
fn bad_name() -> Response {
    let body = json!({
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": format!("a name is 1 to {MAX_NAME_CHARS} characters long"),
    });
    let content_type = [(header::CONTENT_TYPE, "application/problem+json")];
    (StatusCode::BAD_REQUEST, content_type, body.to_string()).into_response()
}

/// Why a connection ends.
enum Ending {
    /// The client sent a Close frame, or the connection broke.
    ClientGone,
    /// The room dropped the member: its queue was full.
    TooSlow,
    /// The client sent a binary message: this chat speaks text.
    Binary,
    /// The client sent a text longer than [`MAX_TEXT_CHARS`].
    TooLong,
}

impl Ending {
    /// The Close frame the server sends, if it is the one closing.
    fn close_frame(&self) -> Option<CloseFrame> {
        // TODO: when the server ends the connection, its Close frame's code
        // says why, as RFC 6455 names the reasons; when the client ended it,
        // the server sends no frame of its own.
        let _ = CloseFrame {
            code: 1000,
            reason: Utf8Bytes::from_static(""),
        };
        todo!()
    }
}

/// One member's connection, from its upgrade to its end: joins the room,
/// sends the member's queue to the client while it reads what the client
/// says, and leaves the room however it ends.
async fn connection(socket: WebSocket, chat: Chat, room: String, name: String) {
    // TODO: while the member is in the room, its queued events go out to the
    // client in order, and each text the client sends (of MAX_TEXT_CHARS
    // characters at most) is said in the room, both at the same time. The
    // connection ends when the client closes it or it breaks, when the
    // client sends a binary message or a text too long, or when the room
    // drops the member, even in the middle of a send. However it ends, the
    // member leaves the room, and the client gets the Close frame of
    // `Ending::close_frame` (or the answer to its own Close), unless it
    // cannot take it within CLOSE_GRACE.
    let _ = (socket, chat, room, name, CLOSE_GRACE);
    let _ = (Chat::join, Chat::say, Chat::leave, Ending::close_frame);
    let _ = [
        Ending::ClientGone,
        Ending::TooSlow,
        Ending::Binary,
        Ending::TooLong,
    ];
    let _ = |membership: Membership| (membership.id, membership.outbox, membership.removed);
    todo!()
}
