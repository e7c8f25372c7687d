//! Tests for production/observability: the shop served on 127.0.0.1 over a
//! real SQLite file, its logs read back line by line as JSON, its
//! `/metrics` scraped and parsed as the OpenMetrics text format.
//!
//! How the logs are caught. tracing has one subscriber per process (the
//! global default) or per thread; a server's requests run on several
//! threads (a runtime's worker, its blocking threads), and the tests of
//! this file run at the same time. So the test binary installs your
//! `subscriber(...)` once, as the global default, with a writer that hands
//! each line to the capture of the thread that wrote it. Each test serves
//! the app on a runtime of its own whose threads (its one worker and every
//! blocking thread it starts) all write to that test's capture, and no
//! other thread does: a test sees every line its server writes and no line
//! of another test.
//!
//! How time is made exact. The shop measures latency with a [`Clock`] the
//! test moves by hand, and a hook the shop calls before every database job
//! lets the test hold a request in the middle of its work (a gate it
//! opens): a request held while the clock moves 1.5 s took 1.5 s, to the
//! microsecond, on any machine.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use production_observability::{Clock, Shop, app, subscriber};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Method, Reply, TestServer, Value, json, status_text};
use tracing_subscriber::fmt::MakeWriter;

// ---------------------------------------------------------------------------
// Catching the logs
// ---------------------------------------------------------------------------

/// What the subscriber wrote on the threads of one test's server.
type Captured = Arc<Mutex<Vec<u8>>>;

thread_local! {
    /// Where the lines written on this thread go, if anywhere.
    static CAPTURE: RefCell<Option<Captured>> = const { RefCell::new(None) };
}

/// The writer the tests give `subscriber(...)`: each line goes to the
/// capture of the thread that writes it.
struct ToThisThreadsCapture;

impl<'writer> MakeWriter<'writer> for ToThisThreadsCapture {
    type Writer = CaptureWriter;

    fn make_writer(&'writer self) -> CaptureWriter {
        CaptureWriter(CAPTURE.with_borrow(Clone::clone))
    }
}

struct CaptureWriter(Option<Captured>);

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(captured) = &self.0 {
            captured
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs `subscriber(ToThisThreadsCapture)` as the global default, once
/// for the whole test binary, before any test's server runs.
fn install_subscriber() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = subscriber(ToThisThreadsCapture);
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            panic!(
                "\nthe test could not install your subscriber: another one is installed \
                 already\nOnly a program's main installs a subscriber (examples/serve.rs does): \
                 app() and Shop::open must not.\n"
            );
        }
    });
}

/// One line the subscriber wrote, parsed.
struct LogLine {
    text: String,
    json: Value,
}

impl LogLine {
    /// Every value of a field called `key`, wherever it is in the line:
    /// among the event's fields, nested under `fields`, or among the fields
    /// of a span (`span`, `spans`).
    fn values(&self, key: &str) -> Vec<String> {
        let mut found = Vec::new();
        collect(&self.json, key, &mut found);
        found
    }

    /// The field's value, if the line has the field (the first, if it is in
    /// more than one place).
    fn field(&self, key: &str) -> Option<String> {
        self.values(key).into_iter().next()
    }

    /// Whether the line has the field `key`, everywhere equal to `value`.
    fn carries(&self, key: &str, value: &str) -> bool {
        let values = self.values(key);
        !values.is_empty() && values.iter().all(|found| found == value)
    }

    fn message(&self) -> String {
        self.field("message").unwrap_or_default()
    }
}

fn collect(value: &Value, key: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, inner) in map {
                if name == key && !inner.is_object() && !inner.is_array() {
                    found.push(match inner {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    });
                } else {
                    collect(inner, key, found);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, key, found);
            }
        }
        _ => {}
    }
}

/// Lines for a failure message, one a line, cut to a readable number.
fn show(lines: &[&LogLine]) -> String {
    const LIMIT: usize = 30;
    if lines.is_empty() {
        return "    (none at all)\n".to_string();
    }
    let mut shown: String = lines
        .iter()
        .take(LIMIT)
        .map(|line| format!("    {}\n", line.text))
        .collect();
    if lines.len() > LIMIT {
        shown.push_str(&format!("    ... ({} lines in all)\n", lines.len()));
    }
    shown
}

/// Whether `text` is an RFC 3339 timestamp: `2026-11-30T09:15:00Z`, with
/// or without a fraction of a second, in UTC or with an offset.
fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    if bytes.len() < shape.len() + 1 {
        return false;
    }
    let fits = bytes
        .iter()
        .zip(shape)
        .all(|(byte, expected)| match expected {
            b'd' => byte.is_ascii_digit(),
            expected => byte.eq_ignore_ascii_case(expected),
        });
    let mut rest = &text[shape.len()..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    let zone = rest.eq_ignore_ascii_case("z")
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest[1..3].bytes().all(|byte| byte.is_ascii_digit())
            && &rest[3..4] == ":"
            && rest[4..].bytes().all(|byte| byte.is_ascii_digit()));
    fits && zone
}

// ---------------------------------------------------------------------------
// The clock, the gate and the database the shop is given
// ---------------------------------------------------------------------------

/// A clock that moves only when the test moves it: microseconds.
#[derive(Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> TestClock {
        // Far from zero: a subtraction the wrong way round shows.
        TestClock(Arc::new(AtomicU64::new(1_000_000_000)))
    }

    fn clock(&self) -> Clock {
        let now = Arc::clone(&self.0);
        Clock::from_fn(move || Duration::from_micros(now.load(Ordering::SeqCst)))
    }

    fn advance(&self, by: Duration) {
        let micros = u64::try_from(by.as_micros()).expect("the tests move the clock by seconds");
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

/// Where the test holds database jobs: the shop calls [`Gate::pass`] before
/// each, on the blocking thread that runs it.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    waiting: usize,
}

/// The longest a job waits at a closed gate: a test that fails with the
/// gate closed opens it when dropped; this is the last resort.
const GATE_AT_MOST: Duration = Duration::from_secs(30);

/// How long a test waits for its requests to reach the gate.
const REACH_AT_MOST: Duration = Duration::from_secs(10);

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn close(&self) {
        self.lock().closed = true;
    }

    fn open(&self) {
        self.lock().closed = false;
        self.changed.notify_all();
    }

    /// Waits here while the gate is closed.
    fn pass(&self) {
        let mut state = self.lock();
        if !state.closed {
            return;
        }
        state.waiting += 1;
        let (mut state, _) = self
            .changed
            .wait_timeout_while(state, GATE_AT_MOST, |state| state.closed)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.waiting -= 1;
    }

    /// Whether `count` jobs wait at the gate within [`REACH_AT_MOST`].
    async fn reached_by(&self, count: usize) -> bool {
        let started = Instant::now();
        loop {
            if self.lock().waiting >= count {
                return true;
            }
            if started.elapsed() > REACH_AT_MOST {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// The shop's SQLite file, in a folder removed when dropped.
struct Database {
    _folder: TempDir,
    path: PathBuf,
}

impl Database {
    fn new() -> Database {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        Database {
            _folder: folder,
            path,
        }
    }

    fn connect(&self) -> Connection {
        Connection::open(&self.path).expect("the test could not open the shop's database")
    }

    /// Adds the products 1 to `count`, straight into the table.
    fn add_products(&self, count: i64) {
        let mut db = self.connect();
        let transaction = db
            .transaction()
            .expect("the test could not begin a transaction");
        for id in 1..=count {
            transaction
                .execute(
                    "INSERT INTO products (id, sku, name, price_cents, stock, created_at)
                     VALUES (?1, 'SKU-' || ?1, 'Product ' || ?1, 1250, 12, '2026-11-30T09:15:00Z')",
                    [id],
                )
                .expect("the test could not add its products");
        }
        transaction
            .commit()
            .expect("the test could not add its products");
    }

    /// Breaks the database: every query of the shop fails from now on.
    fn drop_products_table(&self) {
        self.connect()
            .execute_batch("DROP TABLE products")
            .expect("the test could not drop the products table");
    }
}

// ---------------------------------------------------------------------------
// The shop under observation
// ---------------------------------------------------------------------------

/// The app served on a runtime of its own, with everything the test
/// watches: its log lines, its clock, its gate, its database.
struct Observed {
    server: Option<TestServer>,
    runtime: Option<tokio::runtime::Runtime>,
    captured: Captured,
    clock: TestClock,
    gate: Arc<Gate>,
    database: Database,
}

impl Observed {
    /// Builds the shop (here, in the test: a `todo!()` fails the test with
    /// its own message) and serves it.
    async fn start() -> Observed {
        install_subscriber();
        let database = Database::new();
        let clock = TestClock::new();
        let gate = Arc::new(Gate::default());
        let shop = match Shop::open(&database.path, clock.clock()) {
            Ok(shop) => shop,
            Err(error) => panic!("\nopening the shop returned an error: {error}\n"),
        };
        let at_the_gate = Arc::clone(&gate);
        let router = app(shop.before_query(move || at_the_gate.pass()));

        let captured = Captured::default();
        let for_its_threads = Arc::clone(&captured);
        // One worker: requests in flight at once take turns on one thread,
        // which is where a span entered at the wrong time shows.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .on_thread_start(move || CAPTURE.set(Some(Arc::clone(&for_its_threads))))
            .build()
            .expect("the test could not start a runtime for its server");
        let server = runtime
            .spawn(TestServer::spawn(router))
            .await
            .expect("the test could not start its server");
        Observed {
            server: Some(server),
            runtime: Some(runtime),
            captured,
            clock,
            gate,
            database,
        }
    }

    fn server(&self) -> &TestServer {
        self.server
            .as_ref()
            .expect("the server runs until the test ends")
    }

    /// `GET path` with `x-request-id: id`.
    async fn get(&self, path: &str, id: &str) -> Reply {
        self.server()
            .get(path)
            .header("x-request-id", id)
            .send()
            .await
    }

    /// `GET path` with `x-request-id: id`, held at its database job while
    /// the clock moves `took`.
    async fn slow_get(&self, path: &str, id: &str, took: Duration) -> Reply {
        self.gate.close();
        let request = self.server().get(path).header("x-request-id", id).send();
        let request = tokio::spawn(request);
        if !self.gate.reached_by(1).await {
            self.gate.open();
            panic!(
                "\nthe request never reached its database query within {} seconds\n  \
                 request:  GET {path}\n            x-request-id: {id}\nThe handler looks the \
                 product up in the database; the test holds that query to make the request \
                 take {took:?}. Does the request get to the handler?\n",
                REACH_AT_MOST.as_secs()
            );
        }
        self.clock.advance(took);
        self.gate.open();
        answered(request.await)
    }

    /// Every line written so far, each parsed as JSON; a line that is not a
    /// JSON object fails the test.
    fn lines(&self) -> Vec<LogLine> {
        let bytes = self
            .captured
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut lines = Vec::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            match serde_json::from_str::<Value>(line) {
                Ok(json) if json.is_object() => lines.push(LogLine {
                    text: line.to_string(),
                    json,
                }),
                _ => panic!(
                    "\na log line is not a JSON object\n  the line: {}\nEvery line the \
                     subscriber writes must be one JSON object, such as\n  \
                     {{\"timestamp\":\"2026-11-30T09:15:00.000000Z\",\"level\":\"INFO\",\
                     \"message\":\"finished\",...}}\nso that a log pipeline can read its fields. \
                     tracing-subscriber's formatter writes plain text unless it is told to \
                     write JSON.\n",
                    testkit::quote(line)
                ),
            }
        }
        lines
    }

    /// `GET /metrics`, parsed.
    async fn scrape(&self) -> Scrape {
        let reply = self.server().get("/metrics").send().await;
        reply.assert_status(200);
        Scrape::parse(&reply)
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // Jobs held at the gate finish, and the server's runtime stops
        // without waiting for them.
        self.gate.open();
        drop(self.server.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What a spawned request answered; a panic in it (the request failed)
/// continues here with its own message.
fn answered(outcome: Result<Reply, tokio::task::JoinError>) -> Reply {
    match outcome {
        Ok(reply) => reply,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("\na request of the test was cancelled: {error}\n"),
    }
}

/// The lines that carry `request_id` = `id`.
fn lines_of<'a>(lines: &'a [LogLine], id: &str) -> Vec<&'a LogLine> {
    lines
        .iter()
        .filter(|line| line.values("request_id").iter().any(|found| found == id))
        .collect()
}

/// The lines whose message is `message`.
fn with_message<'a>(lines: &'a [LogLine], message: &str) -> Vec<&'a LogLine> {
    lines
        .iter()
        .filter(|line| line.message() == message)
        .collect()
}

/// The one `finished` line of the request `id`; fails unless there is
/// exactly one.
#[track_caller]
fn finished_line<'a>(lines: &'a [LogLine], id: &str, request: &str) -> &'a LogLine {
    let all: Vec<&LogLine> = lines.iter().collect();
    let finished: Vec<&LogLine> = with_message(lines, "finished")
        .into_iter()
        .filter(|line| line.carries("request_id", id))
        .collect();
    match finished.as_slice() {
        [line] => line,
        [] => panic!(
            "\nno `finished` line carries the request id {id}\n  request:  {request}\n  \
             the lines written:\n{}When the response is ready, the middleware logs one line \
             with the message `finished`, inside the request's span (so it carries \
             request_id, method and route), with the status and the latency.\n",
            show(&all)
        ),
        several => panic!(
            "\n{} `finished` lines carry the request id {id}, expected one\n  request:  \
             {request}\n  those lines:\n{}",
            several.len(),
            show(several)
        ),
    }
}

const ROUTE: &str = "/products/{id}";

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_log_line_is_a_json_object_with_a_timestamp_a_level_and_a_message() {
    let shop = Observed::start().await;
    shop.database.add_products(1);

    shop.get("/products/1", "req-json").await.assert_status(200);

    let lines = shop.lines();
    let all: Vec<&LogLine> = lines.iter().collect();
    if lines.is_empty() {
        panic!(
            "\nnothing was logged while the shop answered a request\n  request:  GET \
             /products/1\nThe handler logs `looking up product` at INFO: the subscriber must \
             write it, as one JSON line, to the writer it was given.\n"
        );
    }
    for line in &lines {
        let timestamp = line.field("timestamp").unwrap_or_default();
        assert!(
            is_rfc3339(&timestamp),
            "\na log line has no `timestamp` in RFC 3339 (such as \
             2026-11-30T09:15:00.123456Z)\n  the line: {}\n",
            line.text
        );
        let level = line.field("level").unwrap_or_default();
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .iter()
                .any(|known| level.eq_ignore_ascii_case(known)),
            "\na log line has no `level` (INFO, WARN, ERROR ...)\n  the line: {}\n",
            line.text
        );
        assert!(
            !line.message().is_empty(),
            "\na log line has no `message`\n  the line: {}\n",
            line.text
        );
    }
    let looking = with_message(&lines, "looking up product");
    let Some(line) = looking.first() else {
        panic!(
            "\nthe handler's line `looking up product` is not among the lines written\n  \
             request:  GET /products/1\n  the lines written:\n{}",
            show(&all)
        );
    };
    assert!(
        line.field("level")
            .is_some_and(|level| level.eq_ignore_ascii_case("INFO")),
        "\nthe handler's `looking up product` line is not at level INFO\n  the line: {}\n",
        line.text
    );
    assert!(
        line.carries("product_id", "1"),
        "\nthe handler's `looking up product` line does not carry its field product_id=1\n  \
         the line: {}\nAn event's own fields belong in its line, beside its message.\n",
        line.text
    );
}

#[tokio::test]
async fn the_request_span_puts_request_id_method_and_route_on_the_handlers_lines() {
    let shop = Observed::start().await;
    shop.database.add_products(1);

    shop.get("/products/1", "req-span-1")
        .await
        .assert_status(200);

    let lines = shop.lines();
    let all: Vec<&LogLine> = lines.iter().collect();
    for message in ["looking up product", "product found"] {
        let Some(line) = with_message(&lines, message).into_iter().next() else {
            panic!(
                "\nthe handler's line `{message}` is not among the lines written\n  request:  \
                 GET /products/1\n            x-request-id: req-span-1\n  the lines \
                 written:\n{}",
                show(&all)
            );
        };
        let fields = [
            ("request_id", "req-span-1"),
            ("method", "GET"),
            ("route", ROUTE),
        ];
        for (field, expected) in fields {
            if line.carries(field, expected) {
                continue;
            }
            let found = line.values(field);
            let diagnosis = match field {
                _ if found.is_empty() => {
                    "The line has no such field: it was logged outside the request's span. \
                     The middleware opens a span with request_id, method and route, and the \
                     rest of the stack (the handler) runs inside it, at every poll: a span \
                     entered once does not follow the future across its `.await`s."
                }
                "route" => {
                    "The route is the route the request matched, as the router spells it \
                     (`/products/{id}`), never the path it asked for (`/products/1`): one \
                     value for every product."
                }
                _ => "",
            };
            panic!(
                "\nthe handler's `{message}` line has {field} = {found:?}, expected \
                 {expected:?}\n  request:  GET /products/1\n            x-request-id: \
                 req-span-1\n  the line: {}\n{diagnosis}\n",
                line.text
            );
        }
    }
}

#[tokio::test]
async fn lines_the_database_job_logs_on_a_blocking_thread_carry_the_request_id() {
    let shop = Observed::start().await;
    shop.database.add_products(1);

    shop.get("/products/1", "req-blocking")
        .await
        .assert_status(200);

    let lines = shop.lines();
    let all: Vec<&LogLine> = lines.iter().collect();
    let Some(line) = with_message(&lines, "product read").into_iter().next() else {
        panic!(
            "\nthe database job's line `product read` is not among the lines written\n  \
             request:  GET /products/1\n  the lines written:\n{}",
            show(&all)
        );
    };
    assert!(
        line.carries("request_id", "req-blocking"),
        "\nthe line the database job logged does not carry the request's span (request_id = \
         {:?}, expected \"req-blocking\")\n  request:  GET /products/1\n            \
         x-request-id: req-blocking\n  the line: {}\nThe job runs on one of tokio's blocking \
         threads. A span is entered on a thread, and a new thread starts in no span at all: \
         `Shop::run` must take the caller's current span along and enter it around the job \
         on the blocking thread.\n",
        line.values("request_id"),
        line.text
    );
    assert!(
        line.carries("route", ROUTE),
        "\nthe line the database job logged has route = {:?}, expected \"/products/{{id}}\"\n  \
         request:  GET /products/1\n  the line: {}\nThe route is the route the request \
         matched, as the router spells it, never the path it asked for.\n",
        line.values("route"),
        line.text
    );
}

#[tokio::test]
async fn the_finished_line_records_the_status_and_the_latency_from_the_shops_clock() {
    let shop = Observed::start().await;
    shop.database.add_products(1);

    // Held at its query while the clock moves 1.5 s: it took 1.5 s.
    let slow = shop
        .slow_get("/products/1", "req-slow", Duration::from_millis(1500))
        .await;
    slow.assert_status(200);
    // Not held, the clock still: it took no time at all.
    let quick = shop.get("/products/2", "req-quick").await;
    quick.assert_status(404);

    let lines = shop.lines();
    let cases = [
        ("req-slow", "GET /products/1", "200", "1500"),
        ("req-quick", "GET /products/2", "404", "0"),
    ];
    for (id, request, status, latency) in cases {
        let line = finished_line(&lines, id, request);
        for (field, expected) in [
            ("request_id", id),
            ("method", "GET"),
            ("route", ROUTE),
            ("status", status),
        ] {
            assert!(
                line.carries(field, expected),
                "\nthe `finished` line has {field} = {:?}, expected {expected:?}\n  request:  \
                 {request}\n            x-request-id: {id}\n  the line: {}\n",
                line.values(field),
                line.text
            );
        }
        let found = line.values("latency_ms");
        let as_number: Vec<f64> = found.iter().filter_map(|v| v.parse().ok()).collect();
        let right = !as_number.is_empty()
            && as_number.len() == found.len()
            && as_number
                .iter()
                .all(|number| (number - latency.parse::<f64>().unwrap_or(-1.0)).abs() < 1e-6);
        assert!(
            right,
            "\nthe `finished` line has latency_ms = {found:?}, expected {latency}\n  request:  \
             {request}\n            x-request-id: {id}\n  the line: {}\nThe test's clock moved \
             {latency} ms between the moment the request reached the middleware and the \
             moment its response came back. The latency is read from the shop's Clock (not \
             the computer's), in whole milliseconds, and recorded as a number.\n",
            line.text
        );
    }
}

#[tokio::test]
async fn an_incoming_request_id_is_kept_echoed_and_logged() {
    let shop = Observed::start().await;
    shop.database.add_products(1);
    // The longest id kept: 64 characters, every kind allowed.
    let longest = format!("{}-_.x", "Az09".repeat(15));
    assert!(
        longest.len() == 64,
        "\nthe test's longest id has {} characters, expected 64\n",
        longest.len()
    );

    for id in ["req-7", longest.as_str()] {
        let reply = shop.get("/products/1", id).await;
        reply.assert_status(200);
        if reply.header("x-request-id") != Some(id) {
            reply.fail_with_diagnosis(
                &format!("expected the response to echo `x-request-id: {id}`"),
                "A request that comes with an acceptable id (1 to 64 letters, digits, `-`, \
                 `_` or `.`) keeps it: the caller, a proxy in front of the shop, or the \
                 service that called it, logs the same id, so its lines and ours can be \
                 joined.",
            );
        }
        let lines = shop.lines();
        let logged = lines_of(&lines, id);
        let messages: BTreeSet<String> = logged.iter().map(|line| line.message()).collect();
        for message in ["looking up product", "product read", "finished"] {
            if !messages.contains(message) {
                let all: Vec<&LogLine> = lines.iter().collect();
                reply.fail(&format!(
                    "the line `{message}` of this request does not carry its request id \
                     {id}\n  the lines written:\n{}",
                    show(&all)
                ));
            }
        }
    }
}

#[tokio::test]
async fn a_missing_or_unacceptable_request_id_is_replaced_by_a_fresh_one() {
    let shop = Observed::start().await;
    shop.database.add_products(1);
    let too_long = "a".repeat(65);
    // What each request sends as its x-request-id, if anything.
    let sent: [Option<&str>; 5] = [
        None,
        Some(""),
        Some(too_long.as_str()),
        Some("req 7"),
        Some("req\"7\"}"),
    ];

    let mut minted = BTreeSet::new();
    for id in sent {
        let mut call = shop.server().get("/products/1");
        if let Some(id) = id {
            call = call.header("x-request-id", id);
        }
        let reply = call.send().await;
        reply.assert_status(200);
        let fresh = reply.expect_header("x-request-id").to_string();
        let acceptable = (1..=64).contains(&fresh.len())
            && fresh
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
        if !acceptable || Some(fresh.as_str()) == id || id.is_some_and(|id| id.starts_with(&fresh))
        {
            reply.fail_with_diagnosis(
                "expected a freshly minted x-request-id on the response",
                "A request without an x-request-id, or with one that is not 1 to 64 letters, \
                 digits, `-`, `_` or `.`, gets a new id (new_request_id()): an id goes into \
                 every log line, so a client must not be able to put a kilobyte, or anything \
                 else, into every line of ours.",
            );
        }
        if !minted.insert(fresh.clone()) {
            reply.fail(&format!(
                "the minted id {fresh} was given to an earlier request too: every request \
                 gets an id of its own"
            ));
        }
        let lines = shop.lines();
        if lines_of(&lines, &fresh).len() < 3 {
            let all: Vec<&LogLine> = lines.iter().collect();
            reply.fail(&format!(
                "the lines of this request do not carry the id {fresh} its response \
                 echoed\n  the lines written:\n{}The id the response echoes is the id of \
                 the request's span.",
                show(&all)
            ));
        }
    }
}

#[tokio::test]
async fn concurrent_requests_never_mix_up_their_request_ids() {
    let shop = Observed::start().await;
    shop.database.add_products(5);

    // Ten requests, all held at their query at the same time, then all let
    // go: their lines interleave on the server's one worker thread.
    shop.gate.close();
    let requests: Vec<_> = (1..=10)
        .map(|product| {
            let request = shop
                .server()
                .get(&format!("/products/{product}"))
                .header("x-request-id", &format!("req-{product}"))
                .send();
            tokio::spawn(request)
        })
        .collect();
    if !shop.gate.reached_by(10).await {
        shop.gate.open();
        panic!(
            "\nten concurrent requests did not all reach their database query within {} \
             seconds\nThe test holds each request at its query until all ten are there.\n",
            REACH_AT_MOST.as_secs()
        );
    }
    shop.gate.open();
    for (product, request) in (1..=10).zip(requests) {
        let expected = if product <= 5 { 200 } else { 404 };
        answered(request.await).assert_status(expected);
    }

    let lines = shop.lines();
    for product in 1..=10 {
        let id = format!("req-{product}");
        // The handler's and the job's lines name their product.
        let about: Vec<&LogLine> = lines
            .iter()
            .filter(|line| line.carries("product_id", &product.to_string()))
            .collect();
        assert!(
            about.len() >= 3,
            "\nonly {} lines name product_id={product}, expected three (`looking up \
             product`, `product read`, and `product found` or `no such product`)\n  the \
             lines:\n{}",
            about.len(),
            show(&about)
        );
        for line in &about {
            assert!(
                line.carries("request_id", &id),
                "\na line about product {product} carries request_id = {:?}, expected \
                 {id:?}\n  request:  GET /products/{product}\n            x-request-id: \
                 {id}\n  the line: {}\nTen requests were in flight at once on one thread. A \
                 span entered with a guard that lives across an `.await` stays entered while \
                 the request waits, and the next request to run on that thread logs inside \
                 it. Enter the span at each poll of the request's future, and leave it at \
                 each wait.\n",
                line.values("request_id"),
                line.text
            );
        }
        let finished = finished_line(&lines, &id, &format!("GET /products/{product}"));
        let status = if product <= 5 { "200" } else { "404" };
        assert!(
            finished.carries("status", status),
            "\nthe `finished` line of {id} has status = {:?}, expected {status}\n  request:  \
             GET /products/{product}\n  the line: {}\nTen requests were in flight at once: \
             each one's line must carry its own span.\n",
            finished.values("status"),
            finished.text
        );
    }
}

#[tokio::test]
async fn a_database_error_is_logged_at_error_inside_the_request_span() {
    let shop = Observed::start().await;
    shop.database.add_products(1);
    shop.database.drop_products_table();

    shop.get("/products/1", "req-broken")
        .await
        .assert_status(500);

    let lines = shop.lines();
    let all: Vec<&LogLine> = lines.iter().collect();
    let Some(error) = with_message(&lines, "database error").into_iter().next() else {
        panic!(
            "\nthe line `database error` is not among the lines written\n  request:  GET \
             /products/1 (the products table is gone)\n  the lines written:\n{}",
            show(&all)
        );
    };
    assert!(
        error
            .field("level")
            .is_some_and(|level| level.eq_ignore_ascii_case("ERROR")),
        "\nthe `database error` line is not at level ERROR\n  the line: {}\n",
        error.text
    );
    assert!(
        error.carries("request_id", "req-broken"),
        "\nthe `database error` line does not carry the request's span (request_id = {:?}, \
         expected \"req-broken\")\n  request:  GET /products/1 (the products table is gone)\n  \
         the line: {}\nThe error is logged when the handler's error becomes its response: \
         inside the handler, inside the request's span.\n",
        error.values("request_id"),
        error.text
    );
    assert!(
        error.carries("route", ROUTE),
        "\nthe `database error` line has route = {:?}, expected \"/products/{{id}}\"\n  \
         request:  GET /products/1 (the products table is gone)\n  the line: {}\n",
        error.values("route"),
        error.text
    );
    let finished = finished_line(&lines, "req-broken", "GET /products/1");
    assert!(
        finished.carries("status", "500"),
        "\nthe `finished` line has status = {:?}, expected 500\n  the line: {}\n",
        finished.values("status"),
        finished.text
    );
}

#[tokio::test]
async fn a_request_for_an_unknown_path_is_logged_with_the_route_unmatched() {
    let shop = Observed::start().await;

    shop.get("/nowhere/7", "req-lost").await.assert_status(404);

    let lines = shop.lines();
    let finished = finished_line(&lines, "req-lost", "GET /nowhere/7");
    for (field, expected) in [("route", "unmatched"), ("status", "404"), ("method", "GET")] {
        assert!(
            finished.carries(field, expected),
            "\nthe `finished` line has {field} = {:?}, expected {expected:?}\n  request:  GET \
             /nowhere/7\n  the line: {}\nA request that matches no route has the route \
             `unmatched`: its path is whatever a client (or a scanner) made up.\n",
            finished.values(field),
            finished.text
        );
    }
}

#[tokio::test]
async fn debug_and_trace_lines_are_left_out() {
    let shop = Observed::start().await;
    shop.database.add_products(1);

    shop.get("/products/1", "req-quiet")
        .await
        .assert_status(200);

    let lines = shop.lines();
    let chatty: Vec<&LogLine> = lines
        .iter()
        .filter(|line| {
            line.field("level").is_some_and(|level| {
                level.eq_ignore_ascii_case("DEBUG") || level.eq_ignore_ascii_case("TRACE")
            })
        })
        .collect();
    assert!(
        chatty.is_empty(),
        "\n{} lines below INFO were written, expected none\n  request:  GET /products/1\n  \
         those lines:\n{}The subscriber writes INFO, WARN and ERROR only: DEBUG lines (every \
         SQL statement, here) are for a developer's machine, and would bury the lines that \
         matter.\n",
        chatty.len(),
        show(&chatty)
    );
    let informative = with_message(&lines, "looking up product");
    assert!(
        !informative.is_empty(),
        "\nthe INFO line `looking up product` was left out too\n  request:  GET /products/1\n"
    );
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// One sample line of a scrape: `name{label="value",...} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
    line: String,
}

/// A parsed `GET /metrics`.
struct Scrape {
    /// `# TYPE` lines: family name and type.
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    /// Parses the OpenMetrics text format; fails the test on a line that is
    /// not a comment (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`) or a sample.
    fn parse(reply: &Reply) -> Scrape {
        let text = reply.text();
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.split_whitespace();
                if words.next() == Some("TYPE")
                    && let (Some(name), Some(kind)) = (words.next(), words.next())
                {
                    types.insert(name.to_string(), kind.to_string());
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            match parse_sample(line) {
                Ok(sample) => samples.push(sample),
                Err(problem) => reply.fail(&format!(
                    "line {} of the metrics is not a sample: {problem}\n  the line: {}",
                    index + 1,
                    testkit::quote(line)
                )),
            }
        }
        Scrape { types, samples }
    }

    /// The samples called `name`.
    fn named(&self, name: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .collect()
    }

    /// The value of the sample `name` with exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }

    /// The lines of the samples called `name`, for a failure message.
    fn show(&self, name: &str) -> String {
        let lines: Vec<String> = self
            .named(name)
            .iter()
            .map(|sample| format!("    {}\n", sample.line))
            .collect();
        if lines.is_empty() {
            return "    (none at all)\n".to_string();
        }
        const LIMIT: usize = 40;
        let mut shown: String = lines.iter().take(LIMIT).cloned().collect();
        if lines.len() > LIMIT {
            shown.push_str(&format!("    ... ({} lines in all)\n", lines.len()));
        }
        shown
    }
}

/// `name{label="value",...} value [timestamp] [# exemplar]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| "it has no value".to_string())?;
    let name = &line[..name_end];
    let name_ok = name.chars().enumerate().all(|(index, character)| {
        character.is_ascii_alphabetic()
            || matches!(character, '_' | ':')
            || (index > 0 && character.is_ascii_digit())
    });
    if name.is_empty() || !name_ok {
        return Err(format!("`{name}` is not a metric name"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inside) = rest.strip_prefix('{') {
        let mut characters = inside.char_indices().peekable();
        let mut end = None;
        loop {
            match characters.peek() {
                Some((index, '}')) => {
                    end = Some(index + 1);
                    break;
                }
                None => break,
                _ => {}
            }
            let mut key = String::new();
            for (_, character) in characters.by_ref() {
                if character == '=' {
                    break;
                }
                key.push(character);
            }
            if characters.next().map(|(_, character)| character) != Some('"') {
                return Err(format!("the label `{key}` has no quoted value"));
            }
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, character)) = characters.next() {
                match character {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match characters.next().map(|(_, escaped)| escaped) {
                        Some('n') => value.push('\n'),
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        other => {
                            return Err(format!(
                                "the label `{key}` has an unknown escape `\\{}`",
                                other.map(String::from).unwrap_or_default()
                            ));
                        }
                    },
                    character => value.push(character),
                }
            }
            if !closed {
                return Err(format!("the value of the label `{key}` never ends"));
            }
            if labels.insert(key.clone(), value).is_some() {
                return Err(format!("the label `{key}` is there twice"));
            }
            if let Some((_, ',')) = characters.peek() {
                characters.next();
            }
        }
        let end = end.ok_or_else(|| "its labels never end with `}`".to_string())?;
        rest = &inside[end..];
    }
    let value_text = rest
        .split_whitespace()
        .next()
        .ok_or_else(|| "it has no value".to_string())?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        text => text
            .parse()
            .map_err(|_| format!("its value `{text}` is not a number"))?,
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        line: line.to_string(),
    })
}

const COUNTER: &str = "http_requests_total";
const BUCKETS: &str = "http_request_duration_seconds_bucket";
const COUNT: &str = "http_request_duration_seconds_count";
const SUM: &str = "http_request_duration_seconds_sum";

/// The labels of a request's series.
fn series(method: &str, route: &str, status: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("method".to_string(), method.to_string()),
        ("route".to_string(), route.to_string()),
        ("status".to_string(), status.to_string()),
    ])
}

/// What went wrong in a family whose samples show a raw path or method.
fn label_diagnosis(scrape: &Scrape) -> &'static str {
    let raw_path = scrape.named(COUNTER).iter().any(|sample| {
        sample
            .labels
            .get("route")
            .is_some_and(|route| route != ROUTE && route.starts_with("/products/"))
    });
    if raw_path {
        "A series has the path a client asked for as its route: every product id (and every \
         path a scanner tries) would make a new series, and each series costs memory in the \
         shop and in Prometheus for as long as they run. The route label is the route the \
         request matched, as the router spells it, or `unmatched`."
    } else {
        ""
    }
}

#[tokio::test]
async fn metrics_are_served_in_the_openmetrics_text_format() {
    let shop = Observed::start().await;
    shop.database.add_products(1);
    shop.get("/products/1", "req-1").await.assert_status(200);

    let reply = shop.server().get("/metrics").send().await;

    reply
        .assert_status(200)
        .assert_content_type("application/openmetrics-text");
    let content_type = reply.expect_header("content-type").to_string();
    if !content_type.replace(' ', "").contains("version=1.0.0") {
        reply.fail(&format!(
            "expected the content type `application/openmetrics-text; version=1.0.0; \
             charset=utf-8`, got `{content_type}`"
        ));
    }
    if reply.text().lines().last() != Some("# EOF") {
        reply.fail_with_diagnosis(
            "expected the metrics to end with the line `# EOF`",
            "The OpenMetrics text format ends with `# EOF`: a scraper that does not see it \
             knows the answer was cut short.",
        );
    }
    let scrape = Scrape::parse(&reply);
    if !scrape.named("http_requests_total_total").is_empty() {
        reply.fail_with_diagnosis(
            "the counter's samples are called http_requests_total_total",
            "prometheus-client adds `_total` to a counter's samples itself: register the \
             counter as `http_requests`, and its samples are `http_requests_total`.",
        );
    }
    let families = [
        ("http_requests", "counter"),
        ("http_request_duration_seconds", "histogram"),
    ];
    for (family, kind) in families {
        let found = scrape.types.get(family).map(String::as_str);
        if found != Some(kind) {
            reply.fail(&format!(
                "expected the line `# TYPE {family} {kind}`, found the type {found:?} for \
                 {family}"
            ));
        }
    }
    if scrape
        .value(
            COUNTER,
            &[("method", "GET"), ("route", ROUTE), ("status", "200")],
        )
        .is_none()
    {
        reply.fail(&format!(
            "expected a sample `{COUNTER}{{method=\"GET\",route=\"/products/{{id}}\",\
             status=\"200\"}}` after one GET /products/1 that answered 200"
        ));
    }
}

#[tokio::test]
async fn every_answer_is_counted_by_method_route_and_status_errors_included() {
    let shop = Observed::start().await;
    shop.database.add_products(2);
    let server = shop.server();
    let mug = json!({ "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12 });
    let negative = json!({ "sku": "MUG-BLUE", "name": "Blue mug", "price_cents": -1, "stock": 1 });
    let sample = json!({ "sku": "SAMPLE", "name": "Free sample", "price_cents": 0, "stock": 0 });

    for _ in 0..3 {
        shop.get("/products/1", "req").await.assert_status(200);
    }
    shop.get("/products/99", "req").await.assert_status(404);
    shop.get("/products/abc", "req").await.assert_status(400);
    server
        .post("/products")
        .json(&mug)
        .send()
        .await
        .assert_status(201);
    // Nothing negative about zero.
    server
        .post("/products")
        .json(&sample)
        .send()
        .await
        .assert_status(201);
    server
        .post("/products")
        .json(&mug)
        .send()
        .await
        .assert_status(409);
    server
        .post("/products")
        .json(&negative)
        .send()
        .await
        .assert_status(422);
    shop.get("/nowhere", "req").await.assert_status(404);
    server.delete("/products/1").send().await.assert_status(405);
    shop.database.drop_products_table();
    shop.get("/products/2", "req").await.assert_status(500);
    let pan = json!({ "sku": "PAN", "name": "Pan", "price_cents": 3900, "stock": 2 });
    server
        .post("/products")
        .json(&pan)
        .send()
        .await
        .assert_status(500);

    let scrape = shop.scrape().await;
    let sent = "  requests sent, in order:\n    GET /products/1 three times (200), GET \
                /products/99 (404), GET /products/abc (400),\n    POST /products (201), one \
                with a price and a stock of 0 (201), the first again (409), one with a \
                negative price (422),\n    GET /nowhere (404), \
                DELETE /products/1 (405), and with the products table gone GET /products/2 \
                (500) and POST /products (500)\n";
    let expected = [
        (("GET", ROUTE, 200), 3.0),
        (("GET", ROUTE, 404), 1.0),
        (("GET", ROUTE, 400), 1.0),
        (("POST", "/products", 201), 2.0),
        (("POST", "/products", 409), 1.0),
        (("POST", "/products", 422), 1.0),
        (("GET", "unmatched", 404), 1.0),
        (("DELETE", ROUTE, 405), 1.0),
        (("GET", ROUTE, 500), 1.0),
        (("POST", "/products", 500), 1.0),
    ];
    for ((method, route, status), count) in expected {
        let labels = series(method, route, status);
        let found = scrape
            .named(COUNTER)
            .into_iter()
            .find(|sample| sample.labels == labels)
            .map(|sample| sample.value);
        assert!(
            found == Some(count),
            "\nexpected {COUNTER}{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} \
             {count}, found {found:?}\n{sent}  the counter's samples:\n{}Every answer is \
             counted, the errors most of all (a 404 of an unknown path, a 400 the framework \
             gave, a 500): the error rate is what alerts are made of.\n{}\n",
            scrape.show(COUNTER),
            label_diagnosis(&scrape)
        );
        let observed = scrape
            .named(COUNT)
            .into_iter()
            .find(|sample| sample.labels == labels)
            .map(|sample| sample.value);
        assert!(
            observed == Some(count),
            "\nexpected {COUNT}{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} \
             {count}, found {observed:?}\n{sent}  the histogram's counts:\n{}Every answer \
             counted is also timed: the histogram has the same series as the counter.\n",
            scrape.show(COUNT)
        );
    }
    let others: Vec<&Sample> = scrape
        .named(COUNTER)
        .into_iter()
        .filter(|sample| {
            !expected
                .iter()
                .any(|((method, route, status), _)| sample.labels == series(method, route, *status))
        })
        .collect();
    assert!(
        others.is_empty(),
        "\nthe counter has {} series no request of the test made\n{sent}  those series:\n{}{}\n",
        others.len(),
        others
            .iter()
            .map(|sample| format!("    {}\n", sample.line))
            .collect::<String>(),
        label_diagnosis(&scrape)
    );
}

#[tokio::test]
async fn a_hundred_product_ids_make_one_series_and_unknown_paths_one_more() {
    let shop = Observed::start().await;
    shop.database.add_products(100);

    let requests: Vec<_> = (1..=100)
        .map(|product| {
            let request = shop.server().get(&format!("/products/{product}")).send();
            tokio::spawn(request)
        })
        .collect();
    for request in requests {
        answered(request.await).assert_status(200);
    }
    // What scanners ask for: every path different.
    let unknown = [
        "/wp-login.php",
        "/.env",
        "/products/1/reviews",
        "/products",
        "/%E2%82%AC",
        "/admin/%22%7D%20x",
        "/nowhere/1",
        "/nowhere/2",
    ];
    for path in unknown {
        let reply = shop.server().get(path).send().await;
        if reply.status() != 404 && reply.status() != 405 {
            reply.fail(&format!(
                "expected status 404 Not Found (or 405), got {}",
                status_text(reply.status())
            ));
        }
    }

    let scrape = shop.scrape().await;
    let products: Vec<&Sample> = scrape
        .named(COUNTER)
        .into_iter()
        .filter(|sample| sample.labels.get("method").map(String::as_str) == Some("GET"))
        .filter(|sample| {
            sample
                .labels
                .get("route")
                .is_some_and(|route| route.starts_with("/products/"))
        })
        .collect();
    let one = products.len() == 1 && products[0].labels == series("GET", ROUTE, 200);
    assert!(
        one && products[0].value == 100.0,
        "\n100 GET /products/{{id}} with 100 different ids made {} series, expected one: \
         {COUNTER}{{method=\"GET\",route=\"/products/{{id}}\",status=\"200\"}} 100\n  the \
         counter's samples:\n{}{}\n",
        products.len(),
        scrape.show(COUNTER),
        label_diagnosis(&scrape)
    );
    let unmatched: Vec<&Sample> = scrape
        .named(COUNTER)
        .into_iter()
        .filter(|sample| sample.labels.get("route").map(String::as_str) != Some(ROUTE))
        .collect();
    let total: f64 = unmatched.iter().map(|sample| sample.value).sum();
    let only_unmatched = unmatched.iter().all(|sample| {
        sample.labels.get("route").map(String::as_str) == Some("unmatched")
            || sample.labels.get("route").map(String::as_str) == Some("/products")
    });
    assert!(
        only_unmatched && total == unknown.len() as f64,
        "\n{} requests for paths no route matches made the series below, expected them all \
         under route=\"unmatched\" (or \"/products\" for the method it does not allow)\n  \
         paths asked for: {unknown:?}\n  the counter's samples:\n{}A path that matches no \
         route is whatever a client made up: as a label, each one would be a new series.\n",
        unknown.len(),
        scrape.show(COUNTER)
    );
    let buckets = scrape.named(BUCKETS).len();
    let series_count = scrape.named(COUNTER).len();
    assert!(
        buckets <= series_count * 12,
        "\nthe histogram has {buckets} bucket samples for {series_count} series, expected 12 \
         per series (11 bounds and +Inf)\n  the counter's samples:\n{}\n",
        scrape.show(COUNTER)
    );
}

#[tokio::test]
async fn methods_that_http_does_not_define_share_one_label() {
    let shop = Observed::start().await;
    shop.database.add_products(1);

    // Each method, and the status it gets on a GET route.
    let methods = [
        ("BREW", 405),
        ("PURGE", 405),
        ("X-ANYTHING-1", 405),
        ("PUT", 405),
        ("PATCH", 405),
        ("OPTIONS", 405),
        ("TRACE", 405),
        ("HEAD", 200),
    ];
    for (method, status) in methods {
        let method = Method::from_bytes(method.as_bytes()).expect("the test's methods are tokens");
        shop.server()
            .request(method, "/products/1")
            .send()
            .await
            .assert_status(status);
    }

    // A client sends CONNECT to a host and port, not to a path: no route
    // matches it, whatever it answers.
    let connect = shop
        .server()
        .request(Method::CONNECT, "/products/1")
        .send()
        .await;

    let scrape = shop.scrape().await;
    let connected = scrape
        .named(COUNTER)
        .into_iter()
        .filter(|sample| sample.labels.get("method").map(String::as_str) == Some("CONNECT"))
        .count();
    if connected != 1 {
        connect.fail(&format!(
            "expected one series with method=\"CONNECT\", found {connected}\n  the counter's \
             samples:\n{}CONNECT is one of the methods HTTP defines: it is a label of its own.",
            scrape.show(COUNTER)
        ));
    }
    let sent = "  requests sent to /products/1: BREW, PURGE, X-ANYTHING-1, PUT, PATCH, OPTIONS \
                and TRACE (405 each), HEAD (200)\n";
    let expected = [
        ("_OTHER", "405", 3.0),
        ("PUT", "405", 1.0),
        ("PATCH", "405", 1.0),
        ("OPTIONS", "405", 1.0),
        ("TRACE", "405", 1.0),
        ("HEAD", "200", 1.0),
    ];
    for (method, status, count) in expected {
        let found = scrape.value(
            COUNTER,
            &[("method", method), ("route", ROUTE), ("status", status)],
        );
        assert!(
            found == Some(count),
            "\nexpected {COUNTER}{{method=\"{method}\",route=\"/products/{{id}}\",\
             status=\"{status}\"}} {count}, found {found:?}\n{sent}  the counter's \
             samples:\n{}HTTP lets a client send any token as a method, so a raw method is a \
             label anyone can grow. The methods HTTP defines (GET, HEAD, POST, PUT, DELETE, \
             CONNECT, OPTIONS, TRACE, PATCH) are labels of their own; every other one is \
             `_OTHER`.\n",
            scrape.show(COUNTER)
        );
    }
    let series_count = scrape.named(COUNTER).len() - connected;
    assert!(
        series_count == expected.len(),
        "\nthe counter has {series_count} series, expected {}\n{sent}  the counter's \
         samples:\n{}",
        expected.len(),
        scrape.show(COUNTER)
    );
}

#[tokio::test]
async fn latencies_are_observed_in_seconds_into_cumulative_buckets() {
    let shop = Observed::start().await;
    shop.database.add_products(1);

    let took = [
        Duration::from_millis(1500),
        // Exactly on a bucket's bound: `le` means less than or equal.
        Duration::from_millis(250),
    ];
    for (index, took) in took.into_iter().enumerate() {
        shop.slow_get("/products/1", &format!("req-slow-{index}"), took)
            .await
            .assert_status(200);
    }
    for index in 0..2 {
        shop.get("/products/1", &format!("req-quick-{index}"))
            .await
            .assert_status(200);
    }

    let scrape = shop.scrape().await;
    let sent = "  requests sent: four GET /products/1 (200), which took 1.5 s, 0.25 s, 0 s and 0 \
                s on the shop's clock\n";
    let labels = [("method", "GET"), ("route", ROUTE), ("status", "200")];
    let sum = scrape.value(SUM, &labels);
    let count = scrape.value(COUNT, &labels);
    let diagnosis = match sum {
        Some(sum) if (sum - 1750.0).abs() < 1.0 => {
            "The sum is 1750: the latencies were observed in milliseconds. A metric named \
             `_seconds` holds seconds (as a float): Prometheus's units are base units, and \
             the buckets are in seconds."
        }
        Some(sum) if (sum - 1.0).abs() < 1e-9 => {
            "The sum is 1: the latencies were cut to whole seconds. Observe the latency as a \
             float number of seconds."
        }
        Some(sum) if sum < 0.1 => {
            "The time did not come from the shop's clock, which the test moved while the \
             requests were held."
        }
        _ => "",
    };
    assert!(
        count == Some(4.0) && sum.is_some_and(|sum| (sum - 1.75).abs() < 1e-9),
        "\nexpected {SUM}{{...}} 1.75 and {COUNT}{{...}} 4, found {sum:?} and {count:?}\n{sent}  \
         the histogram's sum and count:\n{}{}{diagnosis}\n",
        scrape.show(SUM),
        scrape.show(COUNT)
    );
    let expected = [
        ("0.005", 2.0),
        ("0.01", 2.0),
        ("0.025", 2.0),
        ("0.05", 2.0),
        ("0.1", 2.0),
        ("0.25", 3.0),
        ("0.5", 3.0),
        ("1.0", 3.0),
        ("2.5", 4.0),
        ("5.0", 4.0),
        ("10.0", 4.0),
        ("+Inf", 4.0),
    ];
    let buckets: Vec<&Sample> = scrape
        .named(BUCKETS)
        .into_iter()
        .filter(|sample| {
            let mut without_le = sample.labels.clone();
            without_le.remove("le");
            without_le == series("GET", ROUTE, 200)
        })
        .collect();
    for (bound, count) in expected {
        let wanted: f64 = if bound == "+Inf" {
            f64::INFINITY
        } else {
            bound.parse().expect("the test's bounds are numbers")
        };
        let found = buckets
            .iter()
            .find(|sample| {
                sample.labels.get("le").is_some_and(|le| {
                    le.parse::<f64>()
                        .ok()
                        .or((le == "+Inf").then_some(f64::INFINITY))
                        == Some(wanted)
                })
            })
            .map(|sample| sample.value);
        assert!(
            found == Some(count),
            "\nexpected {BUCKETS}{{...,le=\"{bound}\"}} {count}, found {found:?}\n{sent}  the \
             buckets:\n{}A bucket counts every observation less than or equal to its bound \
             (so it includes the buckets below it), and the buckets are \
             LATENCY_BUCKETS.\n{diagnosis}\n",
            scrape.show(BUCKETS)
        );
    }
    assert!(
        buckets.len() == expected.len(),
        "\nthe series has {} buckets, expected {} (LATENCY_BUCKETS and +Inf)\n  the \
         buckets:\n{}",
        buckets.len(),
        expected.len(),
        scrape.show(BUCKETS)
    );
}
