//! Tests for production/sse: the shop's app on a real SQLite file in a
//! temporary folder, its event streams read over HTTP on 127.0.0.1 by a
//! client that parses Server-Sent Events as a browser's `EventSource` does
//! (`id:`, `event:`, `data:` on one or more lines, comment lines, LF, CR or
//! CRLF line ends, a blank line ending each event).
//!
//! Nothing here waits for time to pass. The races are staged: the shop
//! calls `Shop::on_read` each time it has read an order's events, and the
//! test's watcher can hold that read (the stream's task then waits on it)
//! while the test changes the order's status, as often as it likes, before
//! it lets the read return. A stream that reads its backlog before it
//! subscribes to the channel, or that is held behind more events than the
//! channel keeps, meets exactly the situation it must survive, on every
//! run.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use production_sse::{CHANNEL_CAPACITY, ReadStep, Shop, app, place_order};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{TestServer, Value, json, reqwest, status_text};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long the test waits for an event, for the end of a stream or for a
/// keep-alive before it says none came: far more than any correct stream
/// needs, even on a loaded machine.
const WAIT: Duration = Duration::from_secs(5);

/// How long the test waits for the shop to read an order's events.
const READ_WAIT: Duration = Duration::from_secs(5);

/// A shop in a temporary SQLite file, with one customer (1, Ada). Each of
/// its apps calls the fixture's [`Gate`] after every read of an order's
/// events.
struct Fixture {
    _folder: TempDir,
    path: PathBuf,
    gate: Arc<Gate>,
}

impl Fixture {
    fn new() -> Fixture {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        Shop::open(&path).unwrap_or_else(|error| {
            panic!("\nShop::open failed on a new file: {error}\n  call: Shop::open(&path)\n")
        });
        let fixture = Fixture {
            _folder: folder,
            path,
            gate: Arc::new(Gate::default()),
        };
        fixture
            .connect()
            .execute(
                "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada')",
                [],
            )
            .expect("the test could not add its customer");
        fixture
    }

    /// A connection of the test's own, patient with the app's locks.
    fn connect(&self) -> Connection {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.busy_timeout(Duration::from_secs(10))
            .expect("the test could not set a busy timeout");
        db
    }

    /// The shop on this file, reporting its reads to the gate.
    fn shop(&self) -> Shop {
        let gate = Arc::clone(&self.gate);
        Shop::open(&self.path)
            .unwrap_or_else(|error| panic!("\nShop::open failed on the test's file: {error}\n"))
            .on_read(move |order_id, step| gate.watch(order_id, step))
    }

    /// The shop's app on this file, served on a free port.
    async fn server(&self) -> TestServer {
        TestServer::spawn(app(self.shop())).await
    }

    /// A new pending order of Ada's, with its first event; its id.
    fn place_order(&self) -> i64 {
        place_order(&mut self.connect(), 1, 2500)
            .unwrap_or_else(|error| panic!("\nplace_order failed: {error}\n"))
    }

    /// Every event of `order` in the database, oldest first.
    fn events_of(&self, order: i64) -> Vec<Row> {
        let db = self.connect();
        let mut statement = db
            .prepare(
                "SELECT id, order_id, status, created_at FROM order_events
                 WHERE order_id = ?1 ORDER BY id",
            )
            .expect("the test could not read order_events");
        statement
            .query_map([order], |row| {
                Ok(Row {
                    id: row.get(0)?,
                    order_id: row.get(1)?,
                    status: row.get(2)?,
                    at: row.get(3)?,
                })
            })
            .expect("the test could not read order_events")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read order_events")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // A failed test lets a read it still holds go at once.
        self.gate.release();
    }
}

/// One row of `order_events`.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    id: i64,
    order_id: i64,
    status: String,
    at: String,
}

impl Row {
    /// `5 (paid)`
    fn short(&self) -> String {
        format!("{} ({})", self.id, self.status)
    }

    /// The `data:` of this event, as the exercise states it.
    fn data(&self) -> Value {
        json!({ "order_id": self.order_id, "status": self.status, "at": self.at })
    }
}

/// The rows' ids and statuses: `[1 (pending), 3 (paid)]`.
fn shorts(rows: &[Row]) -> String {
    let shown: Vec<String> = rows.iter().map(Row::short).collect();
    format!("[{}]", shown.join(", "))
}

/// Where the test holds the shop's reads of an order's events. The shop
/// calls [`Gate::watch`] (through `Shop::on_read`) on a blocking thread
/// before each read, and after it, before the read returns.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    released: Condvar,
    held: Notify,
}

#[derive(Default)]
struct GateState {
    /// The order whose next read is to be held, and where.
    hold: Option<(i64, ReadStep)>,
    /// Whether the read being held may go on.
    release: bool,
    /// The order of every read done, in turn.
    reads: Vec<i64>,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by the shop before and after each read of `order_id`'s
    /// events.
    fn watch(&self, order_id: i64, step: ReadStep) {
        let mut state = self.lock();
        if step == ReadStep::After {
            state.reads.push(order_id);
        }
        if state.hold != Some((order_id, step)) {
            return;
        }
        state.hold = None;
        self.held.notify_one();
        let wait = Duration::from_secs(10);
        let _ = self
            .released
            .wait_timeout_while(state, wait, |state| !state.release);
    }

    /// Holds the next read of `order_id`'s events, at `step`, until
    /// [`Gate::release`].
    fn hold_next_read_of(&self, order_id: i64, step: ReadStep) {
        let mut state = self.lock();
        state.hold = Some((order_id, step));
        state.release = false;
    }

    /// Waits until the read asked for is held; false if it was not within
    /// [`READ_WAIT`].
    async fn held(&self) -> bool {
        tokio::time::timeout(READ_WAIT, self.held.notified())
            .await
            .is_ok()
    }

    fn release(&self) {
        self.lock().release = true;
        self.released.notify_all();
    }

    /// How many times `order_id`'s events were read.
    fn reads_of(&self, order_id: i64) -> usize {
        self.lock()
            .reads
            .iter()
            .filter(|&&read| read == order_id)
            .count()
    }
}

/// Changes `order`'s status with the given endpoint, which must accept it;
/// the event it recorded.
async fn set_status(server: &TestServer, order: i64, status: &str) -> Row {
    let reply = server
        .post(&format!("/orders/{order}/status"))
        .json(&json!({ "status": status }))
        .send()
        .await;
    reply.assert_status(200);
    let body = reply.json();
    match (body["id"].as_i64(), body["at"].as_str()) {
        (Some(id), Some(at)) => Row {
            id,
            order_id: order,
            status: status.to_string(),
            at: at.to_string(),
        },
        _ => reply.fail("expected the recorded event, {\"id\": ..., \"at\": ...}, in the body"),
    }
}

/// `order`'s status changed to the other of `paid` and `pending`: orders
/// may go back and forth between them (a payment reversed), which makes as
/// many events as a test needs. `current` is the status before.
async fn toggle(server: &TestServer, order: i64, current: &mut &'static str) -> Row {
    *current = if *current == "paid" {
        "pending"
    } else {
        "paid"
    };
    set_status(server, order, current).await
}

/// An event as an `EventSource` dispatches it.
#[derive(Debug)]
struct SseEvent {
    /// The value of this event's own `id:` line, if it had one.
    id: Option<String>,
    /// The `event:` line's value, `message` if there was none.
    kind: String,
    /// The `data:` lines' values, joined with line feeds.
    data: String,
}

impl SseEvent {
    /// `id: 5  event: status  data: {...}`
    fn shown(&self) -> String {
        format!(
            "id: {}  event: {}  data: {}",
            self.id.as_deref().unwrap_or("(none)"),
            self.kind,
            self.data
        )
    }
}

/// What came next on a stream.
enum Item {
    Event(SseEvent),
    /// A comment line (`: ...`), such as a keep-alive.
    Comment,
    /// The response's body ended.
    End,
    /// Nothing came for [`WAIT`].
    Silence,
}

/// `GET /orders/{order}/events`, with `Last-Event-ID: last_event_id` if
/// given, opened by a client of its own (a stream may last longer than a
/// plain request may). Returns when the response's head has come; fails
/// the test unless it is `200 OK` with `text/event-stream`.
fn open(
    server: &TestServer,
    order: i64,
    last_event_id: Option<&str>,
) -> impl Future<Output = EventStream> + Send + 'static {
    let path = format!("/orders/{order}/events");
    let mut request = format!("GET {path}\n            accept: text/event-stream");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a plain HTTP client always builds");
    let mut builder = client
        .get(server.url(&path))
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request.push_str(&format!("\n            last-event-id: {id}"));
        builder = builder.header("last-event-id", id);
    }
    let last_event_id = last_event_id.map(str::to_string);
    async move {
        let response = match tokio::time::timeout(Duration::from_secs(10), builder.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => panic!(
                "\nthe request for the event stream got no response: {error}\n  request:  \
                 {request}\n"
            ),
            Err(_) => panic!(
                "\nthe event stream's response did not start within 10 seconds\n  request:  \
                 {request}\nThe handler should answer at once with the stream; the events \
                 come in its body.\n"
            ),
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        if response
            .headers()
            .contains_key("x-testkit-handler-panicked")
        {
            let panic = response.text().await.unwrap_or_default();
            panic!(
                "\nYour handler panicked while answering the request.\n  request:  \
                 {request}\n  panic:    {panic}\n"
            );
        }
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            panic!(
                "\nexpected status 200 OK and an event stream, got {}\n  request:  {request}\n  \
                 response: {}\n            {}\n",
                status_text(status),
                status_text(status),
                testkit::quote(&body)
            );
        }
        let media_type = content_type
            .as_deref()
            .and_then(|value| value.split(';').next())
            .map(str::trim);
        if media_type != Some("text/event-stream") {
            panic!(
                "\nexpected content type `text/event-stream`, got `{}`\n  request:  \
                 {request}\n  response: 200 OK\nAn EventSource refuses any other content \
                 type.\n",
                content_type.as_deref().unwrap_or("(none)")
            );
        }
        EventStream {
            request,
            order,
            last_event_id,
            response,
            bytes: Vec::new(),
            after_cr: false,
            first_line: true,
            block: Block::default(),
            received: Vec::new(),
            ended: false,
        }
    }
}

/// The fields of the event being read.
#[derive(Default)]
struct Block {
    id: Option<String>,
    kind: Option<String>,
    data: String,
}

/// An open event stream, read event by event.
struct EventStream {
    /// The request, as failure messages show it.
    request: String,
    order: i64,
    last_event_id: Option<String>,
    response: reqwest::Response,
    /// Bytes received and not yet read as lines.
    bytes: Vec<u8>,
    /// Whether the last line ended with CR (so a LF right after it is part
    /// of that line end).
    after_cr: bool,
    /// Whether no line has been read yet (it may start with a BOM).
    first_line: bool,
    block: Block,
    /// Every event received, for failure messages.
    received: Vec<SseEvent>,
    ended: bool,
}

impl EventStream {
    /// The next whole line received, without its line end.
    fn next_line(&mut self) -> Option<String> {
        if self.after_cr {
            match self.bytes.first() {
                None => return None,
                Some(b'\n') => {
                    self.bytes.remove(0);
                    self.after_cr = false;
                }
                Some(_) => self.after_cr = false,
            }
        }
        let end = self
            .bytes
            .iter()
            .position(|&byte| byte == b'\n' || byte == b'\r')?;
        let mut line = String::from_utf8_lossy(&self.bytes[..end]).into_owned();
        self.after_cr = self.bytes[end] == b'\r';
        self.bytes.drain(..=end);
        if std::mem::take(&mut self.first_line)
            && let Some(rest) = line.strip_prefix('\u{feff}')
        {
            line = rest.to_string();
        }
        Some(line)
    }

    /// The next event or comment among the lines received, if a whole one
    /// has come.
    fn parse(&mut self) -> Option<Item> {
        while let Some(line) = self.next_line() {
            if line.is_empty() {
                let block = std::mem::take(&mut self.block);
                if block.data.is_empty() {
                    continue;
                }
                let mut data = block.data;
                data.pop();
                return Some(Item::Event(SseEvent {
                    id: block.id,
                    kind: block.kind.unwrap_or_else(|| "message".to_string()),
                    data,
                }));
            }
            if line.starts_with(':') {
                return Some(Item::Comment);
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line.as_str(), ""),
            };
            match field {
                "event" => self.block.kind = Some(value.to_string()),
                "data" => {
                    self.block.data.push_str(value);
                    self.block.data.push('\n');
                }
                "id" if !value.contains('\0') => self.block.id = Some(value.to_string()),
                _ => {}
            }
        }
        None
    }

    /// The next event, comment or end, waiting at most [`WAIT`] for it.
    async fn next_item(&mut self) -> Item {
        self.next_item_before(Instant::now() + WAIT).await
    }

    /// The next event, comment or end, if it comes before `deadline`.
    async fn next_item_before(&mut self, deadline: Instant) -> Item {
        loop {
            if let Some(item) = self.parse() {
                return item;
            }
            if self.ended {
                return Item::End;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Item::Silence,
                Ok(Ok(Some(bytes))) => self.bytes.extend_from_slice(&bytes),
                Ok(Ok(None)) => self.ended = true,
                Ok(Err(error)) => self.fail(
                    &format!("the event stream broke off: {error}"),
                    "The connection closed without the end of the response. If your code \
                     panicked while the stream ran, its message is printed above.",
                ),
            }
        }
    }

    /// The next event, or the end or silence instead, waiting at most
    /// [`WAIT`]; comments are skipped (a stream of keep-alives alone is
    /// silence).
    async fn next_event(&mut self) -> Item {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.next_item_before(deadline).await {
                Item::Comment => {}
                item => return item,
            }
        }
    }

    /// Fails the test: the verdict, the request, what was received, and a
    /// diagnosis.
    fn fail(&self, verdict: &str, diagnosis: &str) -> ! {
        let mut received = String::new();
        for event in &self.received {
            received.push_str(&format!("\n            {}", event.shown()));
        }
        if received.is_empty() {
            received.push_str(" (no event)");
        }
        panic!(
            "\n{verdict}\n  request:  {}\n  received:{received}\n{diagnosis}\n",
            self.request
        )
    }

    /// Reads one event for each of `expected`, which must be them, in
    /// order, each `id: <its id>`, `event: status` and its data. `why`
    /// says what the test did, for the failure message.
    async fn expect(&mut self, expected: &[Row], why: &str) {
        for row in expected {
            let event = match self.next_event().await {
                Item::Event(event) => event,
                Item::End => self.fail(
                    &format!(
                        "the stream of order {} ended before event {}",
                        self.order,
                        row.short()
                    ),
                    &format!(
                        "{why}\nExpected next: {}. The stream ends only after the order's \
                         final status (shipped or cancelled).",
                        shorts(expected)
                    ),
                ),
                Item::Silence | Item::Comment => self.fail(
                    &format!(
                        "event {} never came: the stream of order {} sent no event for {} \
                         seconds",
                        row.short(),
                        self.order,
                        WAIT.as_secs()
                    ),
                    &format!("{why}\nExpected, in order: {}.", shorts(expected)),
                ),
            };
            let id: Option<i64> = event.id.as_deref().and_then(|id| id.trim().parse().ok());
            self.received.push(event);
            let event = self.received.last().expect("just pushed");
            let Some(id) = id else {
                let verdict = match &event.id {
                    None => format!(
                        "an event came without an `id:` line, expected `id: {}`",
                        row.id
                    ),
                    Some(other) => format!(
                        "an event came with `id: {other}`, expected `id: {}`",
                        row.id
                    ),
                };
                self.fail(
                    &verdict,
                    "Each event's id is its row's id in order_events: that is what the client \
                     sends back as Last-Event-ID when it reconnects.",
                );
            };
            if id != row.id {
                let id_text = id.to_string();
                let seen_before = self.received[..self.received.len() - 1]
                    .iter()
                    .any(|earlier| earlier.id.as_deref() == Some(id_text.as_str()));
                let last_event_id: Option<i64> = self
                    .last_event_id
                    .as_deref()
                    .and_then(|last| last.trim().parse().ok());
                let verdict = if seen_before {
                    format!("the stream of order {} sent event {id} twice", self.order)
                } else if last_event_id == Some(id) {
                    format!(
                        "the stream resent event {id}, the one Last-Event-ID named: expected \
                         event {} first",
                        row.short()
                    )
                } else if last_event_id.is_some_and(|last| id < last) {
                    format!(
                        "the stream of order {} sent event {id}, older than Last-Event-ID: {}; \
                         expected event {}",
                        self.order,
                        last_event_id.unwrap_or_default(),
                        row.short()
                    )
                } else if id < row.id {
                    format!(
                        "the stream of order {} sent event {id}, expected event {}",
                        self.order,
                        row.short()
                    )
                } else {
                    format!(
                        "event {} is missing from the stream of order {}: event {id} came \
                         instead",
                        row.short(),
                        self.order
                    )
                };
                self.fail(
                    &verdict,
                    &format!("{why}\nExpected, in order: {}.", shorts(expected)),
                );
            }
            if event.kind != "status" {
                self.fail(
                    &format!(
                        "event {id} came with `event: {}`, expected `event: status`",
                        event.kind
                    ),
                    "Every event of the stream has the type `status` (an event without an \
                     `event:` line is a `message`).",
                );
            }
            let data: Option<Value> = serde_json::from_str(&event.data).ok();
            if data.as_ref() != Some(&row.data()) {
                self.fail(
                    &format!(
                        "event {id} came with the data {}, expected {}",
                        event.data,
                        row.data()
                    ),
                    "The data is one JSON object: the order's id, the status it changed to, \
                     and the time of the change as order_events stores it.",
                );
            }
        }
    }

    /// Reads on until the stream ends; fails if an event comes first, or
    /// if it does not end within [`WAIT`].
    async fn expect_end(&mut self, why: &str) {
        match self.next_event().await {
            Item::End => {}
            Item::Event(event) => {
                let shown = event.shown();
                self.received.push(event);
                self.fail(
                    &format!(
                        "the stream of order {} sent an event after the order's final status: \
                         {shown}",
                        self.order
                    ),
                    why,
                );
            }
            Item::Silence | Item::Comment => self.fail(
                &format!(
                    "the stream of order {} did not end after the order's final status: still \
                     open after {} seconds",
                    self.order,
                    WAIT.as_secs()
                ),
                why,
            ),
        }
    }
}

/// A stream being opened by a task of its own, while the test holds its
/// read.
struct Opening {
    task: Option<tokio::task::JoinHandle<EventStream>>,
    opened: Option<EventStream>,
}

impl Opening {
    fn start(open: impl Future<Output = EventStream> + Send + 'static) -> Opening {
        Opening {
            task: Some(tokio::spawn(open)),
            opened: None,
        }
    }

    /// Waits until the gate holds the read of `order`'s events that the
    /// stream must make. If opening the stream fails first (a handler that
    /// panics), the test fails with that.
    async fn until_held(&mut self, fixture: &Fixture, order: i64) {
        let held = fixture.gate.held();
        tokio::pin!(held);
        let task = self.task.as_mut().expect("the stream is being opened");
        let held = tokio::select! {
            held = &mut held => held,
            opened = task => {
                self.task = None;
                self.opened = Some(joined(opened));
                // The stream may read its events once its response has
                // started.
                held.await
            }
        };
        if !held {
            fail_unheld(order);
        }
    }

    /// The opened stream.
    async fn stream(mut self) -> EventStream {
        match (self.opened.take(), self.task.take()) {
            (Some(stream), _) => stream,
            (None, Some(task)) => joined(task.await),
            (None, None) => unreachable!("a stream is opened or being opened"),
        }
    }
}

/// What a task returned; its panic, if it panicked, as the test's own.
fn joined<T>(result: Result<T, tokio::task::JoinError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!(
            "
the task that opened a stream was cancelled: {error}
"
        ),
    }
}

/// Fails the test: the stream of `order` never read its events.
fn fail_unheld(order: i64) -> ! {
    panic!(
        "\nthe stream of order {order} did not read the order's events within {} seconds\n  \
         request:  GET /orders/{order}/events\nA new stream reads the events the client has \
         not seen with Shop::read_events (the tests watch it), before it waits for new ones.\n",
        READ_WAIT.as_secs()
    );
}

/// The diagnosis of a change lost between the read and the subscription.
const SUBSCRIBE_FIRST: &str = "A change committed after the stream read the order's events \
    must come from the channel: subscribe to it BEFORE reading the backlog. Subscribing after \
    the read loses whatever was published in between.";

#[tokio::test]
async fn an_unknown_order_is_404_problem_details_before_any_stream() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let reply = server
        .get("/orders/999/events")
        .header("accept", "text/event-stream")
        .send()
        .await;

    reply
        .assert_status(404)
        .assert_content_type("application/problem+json")
        .assert_json(&json!({
            "type": "about:blank",
            "title": "Not found",
            "status": 404,
            "detail": "There is no order 999.",
        }));
}

#[tokio::test]
async fn a_stream_starts_with_the_orders_whole_history_in_order() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // Two orders whose events interleave: order 1's events have the ids 1,
    // 3 and 5, not 1, 2 and 3.
    let (one, two) = (fixture.place_order(), fixture.place_order());
    set_status(&server, one, "paid").await;
    set_status(&server, two, "paid").await;
    set_status(&server, one, "pending").await;

    let mut stream = open(&server, one, None).await;

    let history = fixture.events_of(one);
    stream
        .expect(
            &history,
            "Order 1 was placed, paid, then put back to pending, between changes of order 2. \
             Without Last-Event-ID, a stream starts with all of the order's events.",
        )
        .await;
}

#[tokio::test]
async fn each_change_arrives_once_in_order_as_it_happens() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let order = fixture.place_order();
    let mut stream = open(&server, order, None).await;
    stream
        .expect(&fixture.events_of(order), "The order was just placed.")
        .await;

    for status in ["paid", "pending", "paid"] {
        let change = set_status(&server, order, status).await;
        let why = format!(
            "The stream was open when POST /orders/{order}/status changed the order to \
             {status}."
        );
        stream.expect(&[change], &why).await;
    }
    let shipped = set_status(&server, order, "shipped").await;
    stream
        .expect(
            &[shipped],
            "The order was shipped while the stream was open.",
        )
        .await;
    stream
        .expect_end(
            "A shipped order never changes again: end the stream after sending its final \
             status, or the client waits forever.",
        )
        .await;
}

#[tokio::test]
async fn a_stream_never_carries_another_orders_events() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let (mine, other) = (fixture.place_order(), fixture.place_order());
    let mut stream = open(&server, mine, None).await;
    stream
        .expect(&fixture.events_of(mine), "The order was just placed.")
        .await;

    let mut other_status = "pending";
    for _ in 0..3 {
        toggle(&server, other, &mut other_status).await;
    }
    let change = set_status(&server, mine, "paid").await;

    stream
        .expect(
            &[change],
            &format!(
                "Order {other} changed three times, then order {mine} was paid. The stream of \
                 order {mine} carries that order's events only: the channel carries every \
                 order's."
            ),
        )
        .await;
}

// ANCHOR: resume
#[tokio::test]
async fn last_event_id_resumes_after_that_event_never_with_it() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let (order, other) = (fixture.place_order(), fixture.place_order());
    let paid = set_status(&server, order, "paid").await;
    set_status(&server, other, "paid").await;
    let pending = set_status(&server, order, "pending").await;

    // The client saw `paid` before it lost the connection.
    let mut stream = open(&server, order, Some(&paid.id.to_string())).await;
    stream
        .expect(
            std::slice::from_ref(&pending),
            &format!(
                "The client reconnected with Last-Event-ID: {}: it has seen that event and \
                 every one before it. Send only events with a greater id.",
                paid.id
            ),
        )
        .await;
    let live = set_status(&server, order, "paid").await;
    stream
        .expect(
            std::slice::from_ref(&live),
            "Then the order was paid again.",
        )
        .await;

    // Reconnecting with the newest id: nothing to catch up on, then live.
    let mut stream = open(&server, order, Some(&live.id.to_string())).await;
    let next = set_status(&server, order, "pending").await;
    stream
        .expect(
            &[next],
            &format!(
                "The client reconnected with Last-Event-ID: {}, the order's newest event, then \
                 the order changed: that change is the first event it should get.",
                live.id
            ),
        )
        .await;
}
// ANCHOR_END: resume

#[tokio::test]
async fn last_event_id_is_an_id_not_a_position_in_the_orders_events() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // Event 1 is order `other`'s, 2 is `order`'s, 3 `other`'s, 4 `order`'s.
    let other = fixture.place_order();
    let order = fixture.place_order();
    let third = set_status(&server, other, "paid").await;
    set_status(&server, order, "paid").await;
    let history = fixture.events_of(order);
    let third = third.id.to_string();

    let cases = [
        ("0", &history[..], "lower than every event's id"),
        (
            "1",
            &history[..],
            "the id of another order's event, older than all of this order's",
        ),
        (
            third.as_str(),
            &history[1..],
            "the id of another order's event, between two of this order's",
        ),
    ];
    for (last_event_id, expected, what) in cases {
        let mut stream = open(&server, order, Some(last_event_id)).await;
        let why = format!(
            "Last-Event-ID: {last_event_id} is {what}. Ids grow across all orders: send this \
             order's events with an id greater than it, whether or not it is one of them."
        );
        stream.expect(expected, &why).await;
    }
}

#[tokio::test]
async fn a_last_event_id_that_is_not_a_number_starts_from_the_beginning() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let order = fixture.place_order();
    set_status(&server, order, "paid").await;

    let mut stream = open(&server, order, Some("yesterday")).await;

    stream
        .expect(
            &fixture.events_of(order),
            "Last-Event-ID: yesterday names no event of this shop: treat it as absent and \
             send the whole history (the client then has everything), rather than failing.",
        )
        .await;
}

#[tokio::test]
async fn a_finished_orders_stream_sends_what_is_left_then_ends() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let (shipped, cancelled) = (fixture.place_order(), fixture.place_order());
    let paid = set_status(&server, shipped, "paid").await;
    set_status(&server, cancelled, "cancelled").await;
    set_status(&server, shipped, "shipped").await;

    for (order, status) in [(shipped, "shipped"), (cancelled, "cancelled")] {
        let mut stream = open(&server, order, None).await;
        let why = format!("The order is {status}: its stream is its whole history.");
        stream.expect(&fixture.events_of(order), &why).await;
        let why = format!(
            "A {status} order never changes again: end the stream after its final status, or \
             the client waits forever."
        );
        stream.expect_end(&why).await;
    }

    let mut stream = open(&server, shipped, Some(&paid.id.to_string())).await;
    let rest = &fixture.events_of(shipped)[2..];
    let why = format!(
        "The client reconnected with Last-Event-ID: {} (paid); the order has been shipped \
         since.",
        paid.id
    );
    stream.expect(rest, &why).await;
    stream
        .expect_end("After the shipped event, the stream is over.")
        .await;
}

#[tokio::test]
async fn a_client_that_has_seen_the_final_status_gets_204_no_content() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let (shipped, cancelled) = (fixture.place_order(), fixture.place_order());
    set_status(&server, shipped, "paid").await;
    let last = set_status(&server, shipped, "shipped").await;
    let gone = set_status(&server, cancelled, "cancelled").await;

    for (order, last_event_id) in [(shipped, last.id), (cancelled, gone.id), (shipped, gone.id)] {
        let (status, shown) = answer(&server, order, &last_event_id.to_string()).await;
        if status != 204 {
            panic!(
                "\nexpected status 204 No Content, got {}\n  request:  GET \
                 /orders/{order}/events\n            accept: text/event-stream\n            \
                 last-event-id: {last_event_id}\n  response: {shown}\nThe order's final status \
                 is not newer than the client's Last-Event-ID: it has seen everything there \
                 will ever be. An EventSource reconnects whenever a stream ends, forever; 204 No \
                 Content is the answer that makes it stop.\n",
                status_text(status)
            );
        }
    }
}

/// The status of `GET /orders/{order}/events` with `Last-Event-ID:
/// last_event_id`, and the response as a failure message shows it (an
/// event stream is not read: it may never end).
async fn answer(server: &TestServer, order: i64, last_event_id: &str) -> (u16, String) {
    let request = format!(
        "GET /orders/{order}/events\n            accept: text/event-stream\n            \
         last-event-id: {last_event_id}"
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a plain HTTP client always builds");
    let sent = client
        .get(server.url(&format!("/orders/{order}/events")))
        .header("accept", "text/event-stream")
        .header("last-event-id", last_event_id)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => panic!("\nthe request got no response: {error}\n  request:  {request}\n"),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("(none)")
        .to_string();
    if response
        .headers()
        .contains_key("x-testkit-handler-panicked")
    {
        let panic = response.text().await.unwrap_or_default();
        panic!(
            "\nYour handler panicked while answering the request.\n  request:  {request}\n  \
             panic:    {panic}\n"
        );
    }
    if content_type.starts_with("text/event-stream") {
        return (
            status,
            format!(
                "{}, content-type: {content_type} (an event stream)",
                status_text(status)
            ),
        );
    }
    let body = response.text().await.unwrap_or_default();
    (
        status,
        format!(
            "{}, content-type: {content_type}\n            {}",
            status_text(status),
            testkit::quote(&body)
        ),
    )
}

// ANCHOR: race
#[tokio::test]
async fn a_change_made_while_the_stream_reads_its_backlog_is_not_lost() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let order = fixture.place_order();

    // A new client: the test holds the stream's read of the order's events
    // and changes the order before letting the read return.
    fixture.gate.hold_next_read_of(order, ReadStep::After);
    let mut opening = Opening::start(open(&server, order, None));
    opening.until_held(&fixture, order).await;
    let paid = set_status(&server, order, "paid").await;
    fixture.gate.release();
    let mut stream = opening.stream().await;
    let history = fixture.events_of(order);
    stream
        .expect(
            &history,
            &format!(
                "The order was paid (event {}) after the stream had read its events, before \
                 the read returned. {SUBSCRIBE_FIRST}",
                paid.id
            ),
        )
        .await;

    // A client that reconnects, the same way.
    fixture.gate.hold_next_read_of(order, ReadStep::After);
    let mut opening = Opening::start(open(&server, order, Some(&paid.id.to_string())));
    opening.until_held(&fixture, order).await;
    let pending = set_status(&server, order, "pending").await;
    fixture.gate.release();
    let mut stream = opening.stream().await;
    stream
        .expect(
            std::slice::from_ref(&pending),
            &format!(
                "The client reconnected with Last-Event-ID: {}; the order changed after the \
                 stream had read its events. {SUBSCRIBE_FIRST}",
                paid.id
            ),
        )
        .await;

    // The final status, made while a client that had seen everything
    // reconnects: the stream must send it (the read saw a pending order).
    fixture.gate.hold_next_read_of(order, ReadStep::After);
    let mut opening = Opening::start(open(&server, order, Some(&pending.id.to_string())));
    opening.until_held(&fixture, order).await;
    let shipped = set_status(&server, order, "shipped").await;
    fixture.gate.release();
    let mut stream = opening.stream().await;
    stream
        .expect(
            &[shipped],
            &format!(
                "The order was shipped after the stream had read its events (the order was \
                 still pending then). {SUBSCRIBE_FIRST}"
            ),
        )
        .await;
    stream
        .expect_end("The order is shipped: the stream is over.")
        .await;
}
// ANCHOR_END: race

#[tokio::test]
async fn a_change_made_just_before_the_stream_reads_its_backlog_is_sent_once() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let order = fixture.place_order();

    // The test holds the stream just before it reads the order's events
    // (after it subscribed, if it subscribes first), and changes the order:
    // the change is then both in what the stream reads and on the channel.
    fixture.gate.hold_next_read_of(order, ReadStep::Before);
    let mut opening = Opening::start(open(&server, order, None));
    opening.until_held(&fixture, order).await;
    let paid = set_status(&server, order, "paid").await;
    fixture.gate.release();
    let mut stream = opening.stream().await;
    stream
        .expect(
            &fixture.events_of(order),
            "The order was paid just before the stream read its events.",
        )
        .await;
    let pending = set_status(&server, order, "pending").await;
    stream
        .expect(
            &[pending],
            &format!(
                "The order was paid (event {}) after the stream subscribed and before it read                  the order's events: that event was both in the read and on the channel. Send                  it once: skip every event whose id is not greater than the last one sent.",
                paid.id
            ),
        )
        .await;
}

// ANCHOR: lag
#[tokio::test]
async fn a_stream_held_behind_more_events_than_the_channel_keeps_misses_none() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let (order, busy) = (fixture.place_order(), fixture.place_order());
    // Two clients of the busy order: one reads everything at the end, the
    // other reads its first event and then nothing more.
    let mut reader = open(&server, busy, None).await;
    reader
        .expect(&fixture.events_of(busy), "The order was just placed.")
        .await;
    let mut idle = open(&server, busy, None).await;
    idle.expect(&fixture.events_of(busy), "The order was just placed.")
        .await;

    // The stream of `order` is held in its first read, subscribed (if it
    // subscribes first) but receiving nothing, while its order is paid and
    // then the busy order changes three times as often as the channel
    // holds events.
    fixture.gate.hold_next_read_of(order, ReadStep::After);
    let mut opening = Opening::start(open(&server, order, None));
    opening.until_held(&fixture, order).await;
    let paid = set_status(&server, order, "paid").await;
    let mut busy_status = "pending";
    let flood = 3 * CHANNEL_CAPACITY + 1;
    for _ in 0..flood {
        toggle(&server, busy, &mut busy_status).await;
    }
    fixture.gate.release();
    set_status(&server, order, "shipped").await;

    let mut stream = opening.stream().await;
    let why = format!(
        "The stream was held (its task not running) while order {order} was paid (event {}) \
         and then {flood} other events were published, more than the channel's \
         {CHANNEL_CAPACITY}; it was then let go, and the order was shipped. The channel \
         dropped the oldest events this stream had not received, `paid` among them, and said \
         so (RecvError::Lagged): the events it missed are in the database. Read them from \
         there (after the last id sent) and go on; neither end the stream nor skip them.",
        paid.id
    );
    stream.expect(&fixture.events_of(order), &why).await;
    stream
        .expect_end("The order is shipped: the stream is over.")
        .await;
    if fixture.gate.reads_of(order) < 2 {
        stream.fail(
            &format!(
                "the held stream sent every event without reading the database again: it \
                 buffered {flood} events the channel could not keep"
            ),
            "A stream that keeps up with the channel by copying its events into a queue of \
             its own (an unbounded channel, a Vec) holds every event a slow client has not \
             read, in memory, without limit: one stuck client can exhaust the server. Let \
             the channel drop what a slow stream cannot take, and catch up from the \
             database.",
        );
    }

    let changes: Vec<Row> = fixture.events_of(busy)[1..].to_vec();
    let why = format!(
        "{flood} changes of order {busy} were published while another stream was held: the \
         publisher never waits for a subscriber, and no subscriber misses anything."
    );
    reader.expect(&changes, &why).await;
    idle.expect(&changes, &why).await;
}
// ANCHOR_END: lag

#[tokio::test]
async fn reconnecting_during_bursts_of_changes_loses_and_repeats_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let order = fixture.place_order();
    let mut status = "pending";
    let mut last_seen: Option<i64> = None;

    for round in 0..8 {
        // Changes while the client is away, then more while it connects.
        for _ in 0..2 {
            toggle(&server, order, &mut status).await;
        }
        let last_event_id = last_seen.map(|id| id.to_string());
        let mut stream = open(&server, order, last_event_id.as_deref()).await;
        for _ in 0..3 {
            toggle(&server, order, &mut status).await;
        }
        let missed: Vec<Row> = fixture
            .events_of(order)
            .into_iter()
            .filter(|row| last_seen.is_none_or(|seen| row.id > seen))
            .collect();
        // The client reads all but the last two, then loses the connection.
        let read = &missed[..missed.len() - 2];
        let why = format!(
            "Round {round}: the client reconnected with Last-Event-ID: {}; the order changed \
             twice before and three times right after it connected. Every event after the \
             last one it saw must come once, in order, from the database or the channel.",
            last_event_id.as_deref().unwrap_or("(none)")
        );
        stream.expect(read, &why).await;
        last_seen = read.last().map(|row| row.id).or(last_seen);
    }
}

#[tokio::test]
async fn a_quiet_stream_sends_keep_alive_comments() {
    let fixture = Fixture::new();
    let shop = fixture.shop().keep_alive_every(Duration::from_millis(50));
    let server = TestServer::spawn(app(shop)).await;
    let order = fixture.place_order();
    let mut stream = open(&server, order, None).await;
    stream
        .expect(&fixture.events_of(order), "The order was just placed.")
        .await;

    match stream.next_item().await {
        Item::Comment => {}
        Item::Event(event) => {
            let shown = event.shown();
            stream.received.push(event);
            stream.fail(
                &format!("an event came on a stream where nothing happened: {shown}"),
                "Nothing changed after the order was placed.",
            );
        }
        Item::End => stream.fail(
            "the stream of a pending order ended",
            "The order can still change: keep the stream open.",
        ),
        Item::Silence => stream.fail(
            &format!(
                "no keep-alive comment came in {} seconds on a quiet stream, with the shop's \
                 keep-alive interval at 50 ms",
                WAIT.as_secs()
            ),
            "A proxy closes a connection that stays silent too long. Send a comment line \
             (`:`) whenever the stream has been quiet for the shop's keep-alive interval \
             (Shop::keep_alive_every sets it; it is 15 s unless set).",
        ),
    }
}

#[tokio::test]
async fn a_refused_change_records_nothing_and_sends_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let order = fixture.place_order();
    let mut stream = open(&server, order, None).await;
    stream
        .expect(&fixture.events_of(order), "The order was just placed.")
        .await;

    let path = format!("/orders/{order}/status");
    let not_json = server.post(&path).body("paid").send().await;
    not_json
        .assert_status(400)
        .assert_content_type("application/problem+json");
    if not_json.json()["title"] != "Invalid body" {
        not_json.fail("expected a problem titled \"Invalid body\"");
    }
    let refusals = [
        (
            path.as_str(),
            "lost",
            422,
            "Unknown status",
            "A status is one of pending, paid, shipped and cancelled.".to_string(),
        ),
        (
            path.as_str(),
            "pending",
            409,
            "Status not changed",
            format!("Order {order} is already pending."),
        ),
        (
            "/orders/999/status",
            "paid",
            404,
            "Not found",
            "There is no order 999.".to_string(),
        ),
    ];
    for (path, status, code, title, detail) in refusals {
        server
            .post(path)
            .json(&json!({ "status": status }))
            .send()
            .await
            .assert_status(code)
            .assert_content_type("application/problem+json")
            .assert_json(&json!({
                "type": "about:blank",
                "title": title,
                "status": code,
                "detail": detail,
            }));
    }
    let cancelled = set_status(&server, order, "cancelled").await;
    stream
        .expect(
            &[cancelled],
            "Four changes were refused (a body that is not JSON, an unknown status, the \
             status the order already has, an unknown order), then the order was cancelled: \
             only that change is an event.",
        )
        .await;
    stream
        .expect_end("A cancelled order never changes again.")
        .await;
    server
        .post(&path)
        .json(&json!({ "status": "paid" }))
        .send()
        .await
        .assert_status(409)
        .assert_json(&json!({
            "type": "about:blank",
            "title": "Status not changed",
            "status": 409,
            "detail": format!("Order {order} is cancelled: it cannot change any more."),
        }));
    let statuses: Vec<String> = fixture
        .events_of(order)
        .into_iter()
        .map(|row| row.status)
        .collect();
    assert!(
        statuses == ["pending", "cancelled"],
        "\norder_events holds {statuses:?} for the order, expected [\"pending\", \
         \"cancelled\"]\nThe refused changes must record nothing.\n"
    );
}

#[tokio::test]
async fn a_database_error_is_a_500_that_tells_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let order = fixture.place_order();
    // Without its events table, every read and write of events fails.
    fixture
        .connect()
        .execute_batch("DROP TABLE order_events")
        .expect("the test could not drop order_events");

    let opened = server
        .get(&format!("/orders/{order}/events"))
        .header("accept", "text/event-stream")
        .send()
        .await;
    let changed = server
        .post(&format!("/orders/{order}/status"))
        .json(&json!({ "status": "paid" }))
        .send()
        .await;

    for reply in [opened, changed] {
        reply
            .assert_status(500)
            .assert_content_type("application/problem+json")
            .assert_json(&json!({
                "type": "about:blank",
                "title": "Internal Server Error",
                "status": 500,
                "detail": "Something went wrong on our side. Please try again.",
            }));
    }
}
