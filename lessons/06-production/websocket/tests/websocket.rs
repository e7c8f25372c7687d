//! Tests for production/websocket: the chat app served on 127.0.0.1, and
//! real WebSocket clients (tokio-tungstenite) that join its rooms, talk,
//! close, drop their connections, send what the chat does not take, and one
//! that never reads at all.
//!
//! Nothing here sleeps to wait for something: every wait is for an event on
//! a connection or a state of `GET /chat/{room}/members`, and gives up with a
//! message after [`PATIENCE`]. The slow client is made slow on purpose (it
//! never reads, its socket's receive buffer is tiny, and so are the send
//! buffers of the server's connections) and the fast ones are kept fast (the
//! sender never gets more than [`WINDOW`] messages ahead of what they have
//! read), so the same thing happens on every run, on a quiet machine or a
//! loaded one.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt as _;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use production_websocket::{Chat, app};
use testkit::{TestServer, Value, json, status_text};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async};
use tower_http::catch_panic::CatchPanicLayer;

/// How long a test waits for anything (an event, a close, a member list)
/// before it fails: far more than any of it takes.
const PATIENCE: Duration = Duration::from_secs(5);

/// A client's WebSocket connection to the app.
type Socket = WebSocketStream<TcpStream>;

/// The chat app, served on free ports of 127.0.0.1 for one test: one for
/// HTTP requests, through testkit, and one for WebSocket clients, both on
/// the same rooms.
struct Support {
    server: TestServer,
    sockets: SocketAddr,
}

impl Support {
    async fn start() -> Support {
        let chat = Chat::new();
        Support {
            server: TestServer::spawn(app(chat.clone())).await,
            sockets: serve_websockets(app(chat)).await,
        }
    }

    /// The WebSocket handshake for `GET {target}`, on a connection whose
    /// receive buffer is `receive_buffer` bytes if given (the system's
    /// default otherwise): the open socket after `101 Switching
    /// Protocols`, or the status of the refusal and as much of its body as
    /// came with the head.
    async fn handshake(
        &self,
        target: &str,
        receive_buffer: Option<u32>,
    ) -> Result<Socket, (u16, String)> {
        let tcp = TcpSocket::new_v4().expect("the test could not make a socket");
        if let Some(size) = receive_buffer {
            tcp.set_recv_buffer_size(size)
                .expect("the test could not set its socket's receive buffer");
        }
        let stream = match tcp.connect(self.sockets).await {
            Ok(stream) => stream,
            Err(error) => panic!(
                "\nthe test could not connect to the app: {error}\n  request: GET {target} \
                 (a WebSocket handshake)\n"
            ),
        };
        let url = format!("ws://{}{target}", self.sockets);
        match tokio::time::timeout(PATIENCE, client_async(url, stream)).await {
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                let body = response
                    .body()
                    .as_deref()
                    .map(|body| String::from_utf8_lossy(body).into_owned())
                    .unwrap_or_default();
                Err((status, body))
            }
            Ok(Err(error)) => panic!(
                "\nthe WebSocket handshake failed: {error}\n  request: GET {target} (a \
                 WebSocket handshake)\nA handshake is answered `101 Switching Protocols` with \
                 the upgrade headers, or refused with an ordinary HTTP status.\n"
            ),
            Err(_) => panic!(
                "\nthe WebSocket handshake got no answer within {} seconds\n  request: GET \
                 {target} (a WebSocket handshake)\n",
                PATIENCE.as_secs()
            ),
        }
    }

    /// Joins `room` as `name` and waits until the app lists the new member:
    /// from then on, it receives every event of the room.
    async fn join(&self, room: &str, name: &str) -> Member {
        let socket = self.joined_socket(room, name, None).await;
        Member::new(name, socket)
    }

    /// Joins like [`Support::join`], but keeps the bare socket: nobody reads
    /// it until the test does.
    async fn joined_socket(&self, room: &str, name: &str, receive_buffer: Option<u32>) -> Socket {
        let target = format!("/chat/{room}?name={}", encode(name));
        let socket = match self.handshake(&target, receive_buffer).await {
            Ok(socket) => socket,
            Err((status, body)) => {
                let mut problem = format!(
                    "\nexpected 101 Switching Protocols, got {}\n  request:  GET {target} (a \
                     WebSocket handshake)\n  response: {}\n            {}\n",
                    status_text(status),
                    status_text(status),
                    testkit::quote(&body)
                );
                if status == 500 {
                    problem.push_str(
                        "Did the handler panic? A `not yet implemented` above is a `todo!()` \
                         still to write.\n",
                    );
                }
                panic!("{problem}");
            }
        };
        self.wait_for_members(
            room,
            |members| members.iter().any(|member| member == name),
            &format!("{name} listed as a member"),
            &format!(
                "The handshake for {name} succeeded, but {name} never appeared in the room's \
                 members. Once upgraded, the connection joins the room before anything else."
            ),
        )
        .await;
        socket
    }

    /// `GET /chat/{room}/members`: the names it lists.
    async fn members(&self, room: &str) -> Vec<String> {
        let reply = self
            .server
            .get(&format!("/chat/{room}/members"))
            .send()
            .await;
        reply.assert_status(200);
        let body = reply.json();
        let names = body["members"].as_array().map(|members| {
            members
                .iter()
                .filter_map(|name| name.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        });
        match names {
            Some(names) if body["room"] == room => names,
            _ => reply.fail(&format!(
                "expected a JSON body of the shape {{\"room\":\"{room}\",\"members\":[\"alice\"]}}"
            )),
        }
    }

    /// `GET /chat`: the rooms it lists.
    async fn rooms(&self) -> Vec<String> {
        let reply = self.server.get("/chat").send().await;
        reply.assert_status(200);
        let rooms = reply.json()["rooms"].as_array().map(|rooms| {
            rooms
                .iter()
                .filter_map(|room| room.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        });
        match rooms {
            Some(rooms) => rooms,
            None => reply.fail("expected a JSON body of the shape {\"rooms\":[\"lobby\"]}"),
        }
    }

    /// Asks for the room's members until `wanted` holds, for [`PATIENCE`]
    /// at most.
    async fn wait_for_members(
        &self,
        room: &str,
        wanted: impl Fn(&[String]) -> bool,
        expected: &str,
        diagnosis: &str,
    ) {
        let mut members = self.members(room).await;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !wanted(&members) {
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "\nthe room's members are still {members:?} after {} seconds, expected \
                     {expected}\n  request:  GET /chat/{room}/members (asked again and \
                     again)\n{diagnosis}\n",
                    PATIENCE.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            members = self.members(room).await;
        }
    }

    /// Waits until the room's members are exactly `expected`, in order.
    async fn expect_members(&self, room: &str, expected: &[&str], diagnosis: &str) {
        self.wait_for_members(
            room,
            |members| members == expected,
            &format!("{expected:?}"),
            diagnosis,
        )
        .await;
    }
}

/// How many bytes the kernel buffers for sending on each connection of the
/// WebSocket port, at most: far less than the megabytes it allows by
/// default, so that a client that does not read fills its connection's
/// buffers after a few messages, not after thousands.
const SEND_BUFFER: u32 = 8 * 1024;

/// Serves `app` on a free port of 127.0.0.1 whose connections send small
/// packets at once (`TCP_NODELAY`, as a server of WebSockets does) and
/// buffer at most [`SEND_BUFFER`] bytes for sending. A panic in a handler
/// answers `500` with the panic's message, as testkit's servers do.
async fn serve_websockets(app: Router) -> SocketAddr {
    let socket = TcpSocket::new_v4().expect("the test could not make a socket");
    socket
        .set_send_buffer_size(SEND_BUFFER)
        .expect("the test could not set its listener's send buffer");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("the test could not bind a port on 127.0.0.1");
    let listener = socket.listen(64).expect("the test could not listen");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    let listener = listener.tap_io(|connection| {
        let _ = connection.set_nodelay(true);
    });
    let app = app.layer(CatchPanicLayer::custom(panic_message));
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// `500 Internal Server Error` with the message of a handler's panic.
fn panic_message(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    };
    let status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
    axum::response::IntoResponse::into_response((status, message))
}

/// What a client received: a frame, or the end of the connection.
#[derive(Debug)]
enum Received {
    Text(String),
    Binary(usize),
    Close(Option<(u16, String)>),
    /// The connection ended: cleanly (`None`) or with this error.
    End(Option<String>),
}

impl Received {
    fn describe(&self) -> String {
        match self {
            Received::Text(text) => format!("the text `{}`", short(text)),
            Received::Binary(length) => format!("a binary message of {length} bytes"),
            Received::Close(Some((code, reason))) => {
                format!("a Close frame with code {code} ({reason:?})")
            }
            Received::Close(None) => "a Close frame without a code".to_string(),
            Received::End(None) => "the end of the connection".to_string(),
            Received::End(Some(error)) => format!("the end of the connection ({error})"),
        }
    }
}

/// Reads one frame (or the end) from `stream`.
async fn read_one(
    stream: &mut (impl futures_util::Stream<Item = tungstenite::Result<Message>> + Unpin),
) -> Received {
    loop {
        return match stream.next().await {
            Some(Ok(Message::Text(text))) => Received::Text(text.as_str().to_string()),
            Some(Ok(Message::Binary(bytes))) => Received::Binary(bytes.len()),
            Some(Ok(Message::Close(frame))) => Received::Close(
                frame.map(|frame| (u16::from(frame.code), frame.reason.as_str().to_string())),
            ),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Err(error)) => Received::End(Some(error.to_string())),
            None => Received::End(None),
        };
    }
}

/// A member of a room, seen from its client: what it sends goes out at
/// once, and what it receives is read all the time by a task of its own
/// (a member that reads is never the slow one).
struct Member {
    name: String,
    sink: SplitSink<Socket, Message>,
    inbox: mpsc::UnboundedReceiver<Received>,
    reader: JoinHandle<()>,
    /// Everything received so far, for failure messages.
    history: Vec<String>,
}

impl Member {
    fn new(name: &str, socket: Socket) -> Member {
        let (sink, stream) = socket.split();
        let (deliver, inbox) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_all(stream, deliver));
        Member {
            name: name.to_string(),
            sink,
            inbox,
            reader,
            history: Vec::new(),
        }
    }

    /// Sends a message.
    async fn send(&mut self, message: Message) {
        let what = match &message {
            Message::Text(text) => format!("the text {}", testkit::quote(text.as_str())),
            other => format!("{other:?}"),
        };
        match tokio::time::timeout(PATIENCE, self.sink.send(message)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!(
                "\n{} could not send {what}: {error}\nThe server closed or broke {}'s \
                 connection.\n  {} received before: {:#?}\n",
                self.name, self.name, self.name, self.history
            ),
            Err(_) => panic!(
                "\n{} could not send {what} within {} seconds\nThe server is not reading \
                 {}'s connection.\n",
                self.name,
                PATIENCE.as_secs(),
                self.name
            ),
        }
    }

    async fn say(&mut self, text: &str) {
        self.send(Message::text(text)).await;
    }

    /// The next thing received, waiting [`PATIENCE`] at most for it.
    async fn next(&mut self, expected: &str) -> Received {
        match tokio::time::timeout(PATIENCE, self.inbox.recv()).await {
            Ok(Some(received)) => {
                self.history.push(received.describe());
                received
            }
            Ok(None) => unreachable!("the reader task delivers the end before it stops"),
            Err(_) => panic!(
                "\n{} received nothing within {} seconds, expected {expected}\n  {} received \
                 before: {:#?}\n",
                self.name,
                PATIENCE.as_secs(),
                self.name,
                self.history
            ),
        }
    }

    /// Fails unless the next thing received is a text holding `expected`
    /// as JSON.
    async fn expect_event(&mut self, expected: &Value, diagnosis: &str) {
        let received = self.next(&format!("the event {expected}")).await;
        let event = match &received {
            Received::Text(text) => serde_json::from_str::<Value>(text).ok(),
            _ => None,
        };
        if event.as_ref() != Some(expected) {
            panic!(
                "\n{} received {}, expected the event {}\n  {} received before: \
                 {:#?}\n{diagnosis}\n",
                self.name,
                received.describe(),
                short(&expected.to_string()),
                self.name,
                &self.history[..self.history.len() - 1]
            );
        }
    }

    /// Fails unless the server closes the connection with a Close frame of
    /// `code`, then ends it.
    async fn expect_close(&mut self, code: u16, why: &str) {
        let expected = format!("a Close frame with code {code}");
        let received = self.next(&expected).await;
        match received {
            Received::Close(Some((actual, _))) if actual == code => {}
            other => panic!(
                "\n{} received {}, expected {expected}\n  after: {why}\n  {} received \
                 before: {:#?}\nThe server ends a connection it refuses with a Close frame \
                 whose code says why (RFC 6455, section 7.4.1).\n",
                self.name,
                other.describe(),
                self.name,
                &self.history[..self.history.len() - 1]
            ),
        }
        self.expect_end(why).await;
    }

    /// Fails unless the connection ends (the server closes it).
    async fn expect_end(&mut self, why: &str) {
        match tokio::time::timeout(PATIENCE, self.inbox.recv()).await {
            Ok(Some(Received::End(_))) => {}
            Ok(Some(other)) => panic!(
                "\n{} received {} after the Close frame, expected the end of the connection\n  \
                 after: {why}\n",
                self.name,
                other.describe()
            ),
            Ok(None) => unreachable!("the reader task delivers the end before it stops"),
            Err(_) => panic!(
                "\n{}'s connection is still open {} seconds after the closing handshake\n  \
                 after: {why}\nOnce the Close frames are exchanged, the server closes the TCP \
                 connection (RFC 6455, section 7.1.1): its tasks end, and the socket is \
                 dropped.\n",
                self.name,
                PATIENCE.as_secs()
            ),
        }
    }

    /// Drops the TCP connection without a Close frame, as a client does
    /// whose network vanished or whose process was killed.
    async fn drop_connection(self) {
        self.reader.abort();
        let _ = self.reader.await;
        drop(self.sink);
    }
}

/// Delivers everything `stream` receives, the end included.
async fn read_all(mut stream: SplitStream<Socket>, deliver: mpsc::UnboundedSender<Received>) {
    loop {
        let received = read_one(&mut stream).await;
        let end = matches!(received, Received::End(_));
        if deliver.send(received).is_err() || end {
            return;
        }
    }
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// `text`, cut to a length a failure message's first line can show.
fn short(text: &str) -> String {
    const SHOWN: usize = 100;
    let length = text.chars().count();
    if length <= SHOWN {
        return text.to_string();
    }
    let cut: String = text.chars().take(SHOWN).collect();
    format!("{cut}... ({length} characters)")
}

fn joined(name: &str, seq: u64) -> Value {
    json!({ "type": "joined", "name": name, "seq": seq })
}

fn left(name: &str, seq: u64) -> Value {
    json!({ "type": "left", "name": name, "seq": seq })
}

fn message(from: &str, text: &str, seq: u64) -> Value {
    json!({ "type": "message", "from": from, "text": text, "seq": seq })
}

// ANCHOR: broadcast
#[tokio::test]
async fn a_message_reaches_every_member_of_the_room_its_sender_included() {
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let mut bob = support.join("lobby", "bob").await;
    alice
        .expect_event(&joined("bob", 2), "alice was in the room when bob joined.")
        .await;

    // Quotes, a backslash and non-ASCII: the event must be built as JSON.
    let text = r#"Où est ma commande n°7 ? "Shipped", it says \o/ 📦"#;
    alice.say(text).await;

    let diagnosis = "Every text a member sends goes to every member of the room, the sender \
                     included, as {\"type\":\"message\",\"from\":...,\"text\":...,\"seq\":...}, \
                     with the room's next seq (alice's joined was 1, bob's 2).";
    bob.expect_event(&message("alice", text, 3), diagnosis)
        .await;
    alice
        .expect_event(&message("alice", text, 3), diagnosis)
        .await;
}
// ANCHOR_END: broadcast

#[tokio::test]
async fn a_newcomer_is_announced_to_the_others_and_hears_what_follows() {
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let mut bob = support.join("lobby", "bob").await;
    let mut carol = support.join("lobby", "carol").await;
    let announced = "The members already in the room hear {\"type\":\"joined\",\"name\":...,\
                     \"seq\":...} when someone joins; seq counts every event of the room, \
                     from 1.";
    alice.expect_event(&joined("bob", 2), announced).await;
    alice.expect_event(&joined("carol", 3), announced).await;
    bob.expect_event(&joined("carol", 3), announced).await;

    carol.say("Hello, is anyone from support here?").await;
    let newcomer = "A newcomer hears the events that come after it joined: not its own \
                    joined, nor anything from before.";
    carol
        .expect_event(
            &message("carol", "Hello, is anyone from support here?", 4),
            newcomer,
        )
        .await;
    bob.expect_event(
        &message("carol", "Hello, is anyone from support here?", 4),
        newcomer,
    )
    .await;
    support
        .expect_members(
            "lobby",
            &["alice", "bob", "carol"],
            "Members are listed in the order they joined.",
        )
        .await;
}

#[tokio::test]
async fn a_member_who_closes_is_answered_removed_and_announced() {
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let mut bob = support.join("lobby", "bob").await;
    alice.expect_event(&joined("bob", 2), "").await;

    let goodbye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    bob.send(Message::Close(Some(goodbye))).await;
    let received = bob.next("the server's Close frame, answering bob's").await;
    if !matches!(received, Received::Close(_)) {
        panic!(
            "\nbob sent a Close frame and received {}, expected a Close frame in answer\nAn \
             endpoint that receives a Close frame answers with one (RFC 6455, section 5.5.1) \
             before the connection ends. The WebSocket layer queues that answer when it reads \
             the Close; it goes out when the connection is read again, flushed or closed, not \
             if the socket is simply dropped.\n",
            received.describe()
        );
    }
    bob.expect_end("bob sent a Close frame and got the server's")
        .await;

    alice
        .expect_event(
            &left("bob", 3),
            "A member who closes the connection leaves the room, and the others hear \
             {\"type\":\"left\",\"name\":...,\"seq\":...}.",
        )
        .await;
    support
        .expect_members(
            "lobby",
            &["alice"],
            "bob closed his connection: he is no longer a member.",
        )
        .await;
}

// ANCHOR: dropped
#[tokio::test]
async fn a_dropped_connection_is_removed_and_announced() {
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let bob = support.join("lobby", "bob").await;
    alice.expect_event(&joined("bob", 2), "").await;

    // No Close frame: the TCP connection just ends.
    bob.drop_connection().await;

    alice
        .expect_event(
            &left("bob", 3),
            "bob's TCP connection ended without a Close frame (a closed laptop, a killed \
             process). Reading his connection then gives an error or its end: he leaves the \
             room all the same, and the others hear it.",
        )
        .await;
    support
        .expect_members(
            "lobby",
            &["alice"],
            "bob's connection is gone: however it ended, he is no longer a member.",
        )
        .await;
}
// ANCHOR_END: dropped

#[tokio::test]
async fn a_room_without_members_is_forgotten_and_starts_again_at_seq_1() {
    let support = Support::start().await;
    let alice = support.join("lobby", "alice").await;
    let rooms = support.rooms().await;
    if rooms != ["lobby"] {
        panic!(
            "\nthe rooms listed are {rooms:?}, expected [\"lobby\"]\n  request: GET /chat\nalice is \
             in the lobby.\n"
        );
    }

    alice.drop_connection().await;
    support
        .expect_members("lobby", &[], "alice, the only member, is gone.")
        .await;
    let rooms = support.rooms().await;
    if !rooms.is_empty() {
        panic!(
            "\nthe rooms listed are {rooms:?} after their last member left, expected none\n  \
             request: GET /chat\nA room is removed with its last member: otherwise every room ever used \
             stays in memory for as long as the server runs.\n"
        );
    }

    let mut bob = support.join("lobby", "bob").await;
    let _carol = support.join("lobby", "carol").await;
    bob.expect_event(
        &joined("carol", 2),
        "The lobby was empty, so it was removed; bob's joined made it anew, with seq 1.",
    )
    .await;
}

#[tokio::test]
async fn rooms_are_isolated() {
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let mut carol = support.join("lobby", "carol").await;
    let mut bob = support.join("order-7", "bob").await;
    alice.expect_event(&joined("carol", 2), "").await;

    alice.say("hello lobby").await;
    alice
        .expect_event(&message("alice", "hello lobby", 3), "")
        .await;
    carol
        .expect_event(&message("alice", "hello lobby", 3), "")
        .await;

    bob.say("hello order 7").await;
    bob.expect_event(
        &message("bob", "hello order 7", 2),
        "bob is alone in the room order-7, where his joined was event 1: he hears nothing of \
         the lobby, and his room counts its own seq.",
    )
    .await;
    alice.say("still here").await;
    let diagnosis = "bob's message went to the room order-7 only.";
    carol
        .expect_event(&message("alice", "still here", 4), diagnosis)
        .await;
    alice
        .expect_event(&message("alice", "still here", 4), diagnosis)
        .await;

    support
        .expect_members("lobby", &["alice", "carol"], "")
        .await;
    support.expect_members("order-7", &["bob"], "").await;
    let rooms = support.rooms().await;
    if rooms != ["lobby", "order-7"] {
        panic!(
            "\nthe rooms listed are {rooms:?}, expected [\"lobby\", \"order-7\"]\n  request: GET \
             /chat\n"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_sent_at_once_reach_every_member_in_one_order() {
    const EACH: usize = 8;
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let mut bob = support.join("lobby", "bob").await;
    let mut carol = support.join("lobby", "carol").await;
    alice.expect_event(&joined("bob", 2), "").await;
    alice.expect_event(&joined("carol", 3), "").await;
    bob.expect_event(&joined("carol", 3), "").await;

    // The three send at the same time; the server reads the three
    // connections on several threads.
    async fn say_all(member: &mut Member) {
        for number in 1..=EACH {
            let text = format!("{} {number}", member.name);
            member.say(&text).await;
        }
    }
    tokio::join!(say_all(&mut alice), say_all(&mut bob), say_all(&mut carol));

    let mut seen = Vec::new();
    for member in [&mut alice, &mut bob, &mut carol] {
        let mut events = Vec::new();
        for _ in 0..3 * EACH {
            let received = member.next("one of the 24 messages").await;
            let event = match &received {
                Received::Text(text) => serde_json::from_str::<Value>(text).ok(),
                _ => None,
            };
            match event {
                Some(event) if event["type"] == "message" => events.push(event),
                _ => panic!(
                    "\n{} received {}, expected one of the 24 messages the three members \
                     sent\n",
                    member.name,
                    received.describe()
                ),
            }
        }
        seen.push((member.name.clone(), events));
    }

    let shown = |events: &[Value]| -> String {
        events
            .iter()
            .map(|event| format!("\n      {event}"))
            .collect()
    };
    for (name, events) in &seen {
        for (index, event) in events.iter().enumerate() {
            let expected_seq = 4 + index as u64;
            if event["seq"] != expected_seq {
                panic!(
                    "\n{name}'s message number {} has seq {}, expected {expected_seq}\n  {name} \
                     received:{}\nEach event takes the room's next seq, and the members \
                     receive the events in seq order: the number and the queueing happen \
                     together, while no other broadcast can come between them.\n",
                    index + 1,
                    event["seq"],
                    shown(events)
                );
            }
        }
        for sender in ["alice", "bob", "carol"] {
            let texts: Vec<&str> = events
                .iter()
                .filter(|event| event["from"] == sender)
                .filter_map(|event| event["text"].as_str())
                .collect();
            let sent: Vec<String> = (1..=EACH)
                .map(|number| format!("{sender} {number}"))
                .collect();
            if texts != sent {
                panic!(
                    "\n{name} received {sender}'s messages as {texts:?}, expected {sent:?}\n  \
                     {name} received:{}\nA member's messages are broadcast in the order it \
                     sent them, each once.\n",
                    shown(events)
                );
            }
        }
    }
    let (first, reference) = &seen[0];
    for (name, events) in &seen[1..] {
        if events != reference {
            panic!(
                "\n{name} and {first} received the 24 messages in different orders\n  {first} \
                 received:{}\n  {name} received:{}\nEvery member of a room sees its events in \
                 one order, the order of their seq.\n",
                shown(reference),
                shown(events)
            );
        }
    }
}

#[tokio::test]
async fn a_name_of_none_0_or_33_characters_is_refused_with_400_before_the_upgrade() {
    let support = Support::start().await;
    let problem = json!({
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "a name is 1 to 32 characters long",
    });
    let too_long = "a".repeat(33);
    for target in [
        "/chat/lobby".to_string(),
        "/chat/lobby?name=".to_string(),
        format!("/chat/lobby?name={too_long}"),
    ] {
        // A WebSocket handshake, sent as a plain HTTP request.
        let reply = support
            .server
            .get(&target)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await;
        if reply.status() == 101 {
            reply.fail_with_diagnosis(
                "expected status 400 Bad Request, got 101 Switching Protocols",
                "A name is 1 to 32 characters: check it before the upgrade, while the answer \
                 can still be an HTTP status. After a 101 the connection speaks WebSocket.",
            );
        }
        reply
            .assert_status(400)
            .assert_content_type("application/problem+json")
            .assert_json(&problem);
    }
    let rooms = support.rooms().await;
    if !rooms.is_empty() {
        panic!(
            "\nthe rooms listed are {rooms:?}, expected none\n  request: GET /chat\nEvery \
             handshake was \
             refused: nobody joined.\n"
        );
    }
}

#[tokio::test]
async fn a_name_of_1_or_32_characters_joins_counted_in_characters_not_bytes() {
    let support = Support::start().await;
    // 32 characters, 64 bytes in UTF-8.
    let long = "ü".repeat(32);
    let mut first = support.join("lobby", &long).await;
    let mut second = support.join("lobby", "x").await;
    first.expect_event(&joined("x", 2), "").await;
    second.say("hi").await;
    first.expect_event(&message("x", "hi", 3), "").await;
    second.expect_event(&message("x", "hi", 3), "").await;
    first.say("grüß dich").await;
    second
        .expect_event(
            &message(&long, "grüß dich", 4),
            "The name is sent as it was given.",
        )
        .await;
    support
        .expect_members("lobby", &[long.as_str(), "x"], "")
        .await;
}

// ANCHOR: close_codes
#[tokio::test]
async fn a_binary_message_closes_the_connection_with_1003() {
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let mut bob = support.join("lobby", "bob").await;
    alice.expect_event(&joined("bob", 2), "").await;

    bob.send(Message::binary(vec![0x00, 0x9f, 0x92, 0x96]))
        .await;
    bob.expect_close(1003, "bob sent a binary message").await;

    alice
        .expect_event(
            &left("bob", 3),
            "bob's connection was closed: he left the room.",
        )
        .await;
    support.expect_members("lobby", &["alice"], "").await;
}

#[tokio::test]
async fn a_text_of_2000_characters_is_broadcast_and_one_of_2001_closes_with_1009() {
    let support = Support::start().await;
    let mut alice = support.join("lobby", "alice").await;
    let mut bob = support.join("lobby", "bob").await;
    alice.expect_event(&joined("bob", 2), "").await;

    // 2000 characters, 4000 bytes in UTF-8.
    let longest = "é".repeat(2000);
    bob.say(&longest).await;
    alice
        .expect_event(
            &message("bob", &longest, 3),
            "A text of 2000 characters is allowed, whatever its size in bytes (an `é` is 2 \
             bytes in UTF-8).",
        )
        .await;
    bob.expect_event(&message("bob", &longest, 3), "").await;

    bob.say(&"a".repeat(2001)).await;
    bob.expect_close(1009, "bob sent a text of 2001 characters")
        .await;
    alice
        .expect_event(
            &left("bob", 4),
            "bob's connection was closed: he left the room.",
        )
        .await;
}
// ANCHOR_END: close_codes

/// How many of the sender's messages may be on their way to the members
/// that read, not yet received: well under the server's queue of 32.
const WINDOW: usize = 8;

/// The most the slow-member test sends before it gives up on the server
/// ever dropping the member that does not read: 4096 messages of 2000
/// characters, about 8 MiB. A server that drops it drops it after a few
/// dozen: the kernel's buffers of its connection hold a few messages, then
/// its queue of 32 fills up.
const FLOOD: usize = 4096;

/// Message `number` of the flood: 2000 characters, numbered.
fn flood_text(number: usize) -> String {
    format!("{number:05} {}", "x".repeat(1994))
}

// ANCHOR: slow
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_who_never_reads_stalls_nobody_and_is_dropped() {
    let support = Support::start().await;
    // sloth never reads, its socket's receive buffer is 4 KiB, and the
    // server's end buffers 8 KiB: what the server sends it soon has nowhere
    // to go.
    let mut sloth = support.joined_socket("lobby", "sloth", Some(4096)).await;
    let mut alice = support.join("lobby", "alice").await;
    let mut bob = support.join("lobby", "bob").await;
    alice.expect_event(&joined("bob", 3), "").await;

    // alice talks and talks; alice and bob read everything. alice never gets
    // more than WINDOW messages ahead of what both have received.
    let mut flood = Flood::default();
    while !flood.sloth_left {
        if flood.sent == FLOOD {
            sloth_never_left(&support).await;
        }
        alice.say(&flood_text(flood.sent)).await;
        flood.sent += 1;
        while flood.sent - flood.received(&alice) > WINDOW
            || flood.sent - flood.received(&bob) > WINDOW
        {
            flood.receive(&mut alice, &mut bob).await;
        }
    }
    // Everything sent reaches both, in order.
    while flood.received(&alice) < flood.sent
        || flood.received(&bob) < flood.sent
        || !flood.alice_heard_sloth_leave
    {
        flood.receive(&mut alice, &mut bob).await;
    }

    support
        .expect_members(
            "lobby",
            &["alice", "bob"],
            "sloth's queue was full: it is no longer a member.",
        )
        .await;
    expect_closed_while_not_reading(&mut sloth).await;
}
// ANCHOR_END: slow

/// Fails the slow-member test, which sent [`FLOOD`] messages without
/// bob hearing that sloth left: sloth was dropped silently, or never.
async fn sloth_never_left(support: &Support) -> ! {
    let members = support.members("lobby").await;
    if !members.iter().any(|member| member == "sloth") {
        panic!(
            "\nbob never heard sloth leave, expected {} before {FLOOD} messages \
             were sent\nsloth is no longer listed as a member ({members:?}): it was \
             dropped, silently. The others hear a dropped member leave like any \
             other.\n",
            r#"{"type":"left","name":"sloth",...}"#
        );
    }
    panic!(
        "\nsloth is still a member after {FLOOD} messages (about 8 MiB) were \
         broadcast to it, expected it dropped\nsloth never reads. Its TCP buffers \
         fill up, then its queue must fill up too, and a member whose queue is full \
         is dropped: otherwise the server keeps every message for it, and its memory \
         grows without limit. Is each member's queue bounded, and is a member whose \
         queue is full removed from the room?\n"
    );
}

/// The progress of the flood.
#[derive(Default)]
struct Flood {
    /// How many messages alice sent.
    sent: usize,
    /// How many of them alice and bob received.
    alice_received: usize,
    bob_received: usize,
    /// The seq of the last event each received.
    alice_seq: u64,
    bob_seq: u64,
    sloth_left: bool,
    alice_heard_sloth_leave: bool,
}

impl Flood {
    fn received(&self, member: &Member) -> usize {
        if member.name == "alice" {
            self.alice_received
        } else {
            self.bob_received
        }
    }

    /// Waits for the next thing alice or bob receives, and checks it.
    async fn receive(&mut self, alice: &mut Member, bob: &mut Member) {
        let received = tokio::time::timeout(PATIENCE, async {
            tokio::select! {
                received = alice.inbox.recv() => ("alice", received),
                received = bob.inbox.recv() => ("bob", received),
            }
        })
        .await;
        let Ok((name, Some(received))) = received else {
            panic!(
                "\nalice and bob received nothing for {} seconds, while alice had sent {} \
                 messages and they had received {} and {}\nA member that never reads (sloth) \
                 must not hold up the others. Does the broadcast wait for room in sloth's \
                 queue, or for sloth's socket, instead of giving up on sloth at once?\n",
                PATIENCE.as_secs(),
                self.sent,
                self.alice_received,
                self.bob_received
            );
        };
        let (count, last_seq) = if name == "alice" {
            (&mut self.alice_received, &mut self.alice_seq)
        } else {
            (&mut self.bob_received, &mut self.bob_seq)
        };
        let event = match &received {
            Received::Text(text) => serde_json::from_str::<Value>(text).ok(),
            _ => None,
        };
        let Some(event) = event else {
            panic!(
                "\n{name} received {} after {} of alice's {} messages, expected her next \
                 message or sloth's left\nA member that reads fast enough is never dropped: \
                 alice never got more than {WINDOW} messages ahead of {name}.\n",
                received.describe(),
                count,
                self.sent
            );
        };
        // alice's and bob's joined were events 2 and 3.
        let seq = *last_seq + 1;
        let expected_seq = if *last_seq == 0 { 4 } else { seq };
        let next_text = flood_text(*count);
        if event == message("alice", &next_text, expected_seq) {
            *count += 1;
            *last_seq = expected_seq;
        } else if event == left("sloth", expected_seq) {
            *last_seq = expected_seq;
            if name == "bob" {
                self.sloth_left = true;
            } else {
                self.alice_heard_sloth_leave = true;
            }
        } else {
            let shown = event.to_string();
            let shown = if shown.len() > 120 {
                format!("{}...", &shown[..120])
            } else {
                shown
            };
            panic!(
                "\n{name} received {shown}, expected alice's message number {count} (the text \
                 `{}...`) or sloth's left, with seq {expected_seq}\nEvery member that stays \
                 receives every event, in seq order, none lost: only a member whose queue is \
                 full is dropped, and the others hear it leave.\n",
                &next_text[..12]
            );
        }
    }
}

/// Fails unless the server closes sloth's connection while sloth still
/// reads nothing. sloth sends a short text every few milliseconds: while
/// the server keeps its end of the connection open, the system takes them;
/// once the server has closed it, the system answers with a reset, and
/// sending fails.
async fn expect_closed_while_not_reading(sloth: &mut Socket) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut accepted = 0;
    while tokio::time::Instant::now() < deadline {
        let send = sloth.send(Message::text("still there?"));
        match tokio::time::timeout(PATIENCE, send).await {
            Ok(Err(_)) => return,
            Ok(Ok(())) => accepted += 1,
            // The server's end takes nothing more, but it is open.
            Err(_) => break,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "\nsloth's connection is still open {} seconds after sloth was dropped from the \
         room, expected it closed\nsloth read nothing, and sent {accepted} short texts in \
         that time, which the server's end of the connection took. Removing the member \
         from the room is not enough: its connection must end too (its tasks, its socket), \
         even while a send to it is stuck, or every client that stops reading leaks a \
         connection and its buffers for as long as it stays connected.\n",
        PATIENCE.as_secs()
    );
}
