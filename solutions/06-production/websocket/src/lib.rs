//! # production/websocket — reference solution

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc::error::TrySendError;
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

// ANCHOR: event
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
// ANCHOR_END: event

// ANCHOR: registry
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
// ANCHOR_END: registry

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

    // ANCHOR: join
    /// Adds a member called `name` to `room` (made if it does not exist),
    /// after announcing `joined` to the members already there.
    fn join(&self, room: &str, name: &str) -> Membership {
        let mut registry = self.lock();
        registry.last_id += 1;
        let id = registry.last_id;
        let room = registry.rooms.entry(room.to_string()).or_default();
        room.broadcast(What::Joined {
            name: name.to_string(),
        });
        let (sender, outbox) = mpsc::channel(OUTBOX);
        let (removed_sender, removed) = oneshot::channel();
        room.members.push(Member {
            id,
            name: name.to_string(),
            outbox: sender,
            _removed: removed_sender,
        });
        Membership {
            id,
            outbox,
            removed,
        }
    }
    // ANCHOR_END: join

    // ANCHOR: say
    /// Broadcasts `text` from member `id` of `room`, if it is still a member.
    fn say(&self, room: &str, id: u64, text: &str) {
        let mut registry = self.lock();
        let Some(members) = registry.rooms.get_mut(room) else {
            return;
        };
        let Some(member) = members.members.iter().find(|member| member.id == id) else {
            return;
        };
        let from = member.name.clone();
        members.broadcast(What::Message {
            from,
            text: text.to_string(),
        });
        registry.forget_if_empty(room);
    }
    // ANCHOR_END: say

    // ANCHOR: leave
    /// Removes member `id` from `room` and announces `left` to the others,
    /// unless it is no longer a member (the room dropped it already).
    fn leave(&self, room: &str, id: u64) {
        let mut registry = self.lock();
        let Some(members) = registry.rooms.get_mut(room) else {
            return;
        };
        let Some(at) = members.members.iter().position(|member| member.id == id) else {
            return;
        };
        let member = members.members.remove(at);
        members.broadcast(What::Left { name: member.name });
        registry.forget_if_empty(room);
    }
    // ANCHOR_END: leave
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
    // ANCHOR: broadcast
    /// Gives `what` the room's next `seq` and queues it for every member,
    /// without ever waiting. A member whose queue is full (or whose
    /// connection has ended) is dropped from the room, which ends its
    /// connection, and its `left` is broadcast in turn.
    fn broadcast(&mut self, what: What) {
        let mut pending = VecDeque::from([what]);
        while let Some(what) = pending.pop_front() {
            self.last_seq += 1;
            let event = Event {
                what,
                seq: self.last_seq,
            };
            let text = serde_json::to_string(&event).expect("an event is plain JSON");
            // One allocation for all: cloning `Utf8Bytes` shares the bytes.
            let text = Utf8Bytes::from(text);
            self.members
                .retain(|member| match member.outbox.try_send(text.clone()) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                        pending.push_back(What::Left {
                            name: member.name.clone(),
                        });
                        false
                    }
                });
        }
    }
    // ANCHOR_END: broadcast
}

// ANCHOR: app
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
// ANCHOR_END: app

// ANCHOR: handler
async fn join(
    State(chat): State<Chat>,
    Path(room): Path<String>,
    Query(query): Query<JoinQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !valid_name(&query.name) {
        return bad_name();
    }
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| connection(socket, chat, room, query.name))
}

/// Whether `name` may be a member's name: 1 to 32 characters.
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&name.chars().count())
}
// ANCHOR_END: handler

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

// ANCHOR: ending
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
        let (code, reason) = match self {
            Ending::ClientGone => return None,
            Ending::TooSlow => (close_code::POLICY, "too slow"),
            Ending::Binary => (close_code::UNSUPPORTED, "text only"),
            Ending::TooLong => (close_code::SIZE, "message too long"),
        };
        let reason = Utf8Bytes::from_static(reason);
        Some(CloseFrame { code, reason })
    }
}
// ANCHOR_END: ending

// ANCHOR: connection
/// One member's connection, from its upgrade to its end: joins the room,
/// sends the member's queue to the client while it reads what the client
/// says, and leaves the room however it ends.
async fn connection(socket: WebSocket, chat: Chat, room: String, name: String) {
    let Membership {
        id,
        mut outbox,
        mut removed,
    } = chat.join(&room, &name);
    let (mut sink, mut stream) = socket.split();
    let ending = tokio::select! {
        ending = send_queue(&mut outbox, &mut sink) => ending,
        ending = read_client(&mut stream, &chat, &room, id) => ending,
        // Also while a send is stuck on a client that does not read.
        _ = &mut removed => Ending::TooSlow,
    };
    chat.leave(&room, id);
    // The closing handshake, within CLOSE_GRACE: a client that reads
    // nothing gets no more time than that.
    let _ = tokio::time::timeout(CLOSE_GRACE, close(ending, &mut sink, &mut stream)).await;
}

/// Ends the connection properly: if the server is the one closing, it sends
/// its Close frame and reads until the client's answer; if the client
/// closed, the answer the WebSocket layer queued goes out.
async fn close(
    ending: Ending,
    sink: &mut SplitSink<WebSocket, Message>,
    stream: &mut SplitStream<WebSocket>,
) {
    match ending.close_frame() {
        Some(frame) => {
            if sink.send(Message::Close(Some(frame))).await.is_ok() {
                // What the client sent meanwhile is dropped; the stream
                // ends once its Close has come.
                while let Some(Ok(_)) = stream.next().await {}
            }
        }
        None => {
            let _ = sink.close().await;
        }
    }
}

/// Sends the events of the member's queue, in order, until the connection
/// fails or the queue is closed (the room dropped the member).
async fn send_queue(
    outbox: &mut mpsc::Receiver<Utf8Bytes>,
    sink: &mut SplitSink<WebSocket, Message>,
) -> Ending {
    while let Some(text) = outbox.recv().await {
        if sink.send(Message::Text(text)).await.is_err() {
            return Ending::ClientGone;
        }
    }
    Ending::TooSlow
}

/// Broadcasts each text the client sends, until it closes, breaks the
/// connection, or sends something the chat does not take.
async fn read_client(
    stream: &mut SplitStream<WebSocket>,
    chat: &Chat,
    room: &str,
    id: u64,
) -> Ending {
    while let Some(received) = stream.next().await {
        match received {
            Ok(Message::Text(text)) if text.as_str().chars().count() > MAX_TEXT_CHARS => {
                return Ending::TooLong;
            }
            Ok(Message::Text(text)) => chat.say(room, id, text.as_str()),
            Ok(Message::Binary(_)) => return Ending::Binary,
            // Pings are answered by the WebSocket layer itself.
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(Message::Close(_)) | Err(_) => return Ending::ClientGone,
        }
    }
    Ending::ClientGone
}
// ANCHOR_END: connection
