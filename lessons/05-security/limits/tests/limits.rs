//! Tests for security/limits: the shop's back office on a real SQLite file
//! in a temporary folder, served twice from one router: once by testkit's
//! server for the requests a real client makes, once by a server whose
//! connections count every byte the app reads from its socket, for the
//! attacks.
//!
//! Every test is an attack first. The uploads are written by hand on a
//! TCP connection, so that a test chooses how the body is framed (a
//! `Content-Length`, or chunks with no length at all), how much of it goes
//! out, and when it stops; the count of bytes the server read is what
//! proves a body was refused without being read. The timeouts are real
//! time but short and bounded: a request waits on something the test
//! holds (the database, or the rest of a body it never sends), so the
//! server's timeout is the only way that request ends.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use security_limits::{Db, Limits, app, create_schema};
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, quote, status_text};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The body limit the shop uses unless a test says otherwise: 64 KiB.
const LIMIT: usize = 64 * 1024;

/// How big an endless upload gets before the test ends it: 16 MiB.
const ENDLESS: usize = 16 * 1024 * 1024;

/// The most a server may read of a refused upload: 1 MiB, the limit plus
/// what a server reads ahead into its buffers, far below [`ENDLESS`].
const READ_AT_MOST: usize = 1024 * 1024;

/// The size of the chunks (or the writes) an upload is sent in.
const CHUNK: usize = 4 * 1024;

/// How long a test waits for an answer that must come (once a timeout has
/// passed, or at once): long enough for a loaded machine, short enough to
/// fail a server that never answers.
const ANSWER_WITHIN: Duration = Duration::from_secs(6);

/// The products in every test's database: sku, name, price_cents, stock.
const CATALOGUE: [(&str, &str, i64, i64); 3] = [
    ("MUG-RED", "Red mug", 1250, 12),
    ("TEE-COTTON", "100% cotton tee", 1999, 5),
    ("TORCH-CREME", "Crème brûlée torch", 3400, 1),
];

/// The stock report of [`CATALOGUE`].
fn catalogue_report() -> Value {
    testkit::json!({"products": 3, "units": 18, "value_cents": 28395})
}

// ---------------------------------------------------------------------------
// The shop under test
// ---------------------------------------------------------------------------

/// The shop's database file, its app served twice, and the handle on the
/// app's database that the tests hold as a backup would.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
    db: Db,
    /// testkit's server, for the requests a real client makes.
    server: TestServer,
    /// The same app, on connections that count what the server reads.
    counting: CountingServer,
}

impl Shop {
    async fn start(limits: Limits) -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        for (sku, name, price_cents, stock) in CATALOGUE {
            db.execute(
                "INSERT INTO products (sku, name, price_cents, stock, created_at)
                 VALUES (?1, ?2, ?3, ?4, '2026-11-01T09:00:00Z')",
                (sku, name, price_cents, stock),
            )
            .expect("the test could not store its products");
        }
        let db = Db::new(db);
        let router = app(limits, db.clone());
        Shop {
            _folder: folder,
            path,
            db,
            server: TestServer::spawn(router.clone()).await,
            counting: CountingServer::spawn(router).await,
        }
    }

    /// The skus in the database now, in order.
    fn skus(&self) -> Vec<String> {
        let db = Connection::open(&self.path).expect("the test could not open its database");
        let mut statement = db
            .prepare("SELECT sku FROM products ORDER BY sku")
            .expect("the test could not read the products");
        let skus = statement
            .query_map([], |row| row.get(0))
            .expect("the test could not read the products");
        skus.collect::<Result<_, _>>()
            .expect("the test could not read the products")
    }

    /// How many products the database holds whose sku starts with `prefix`.
    fn count_skus(&self, prefix: &str) -> usize {
        self.skus()
            .iter()
            .filter(|sku| sku.starts_with(prefix))
            .count()
    }

    /// Imports `body` as a real client does (with a `Content-Length`).
    async fn import(&self, body: &str) -> Reply {
        self.server
            .post("/products/import")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
    }

    /// Checks that a real client is still served: a small import stores
    /// its rows, and the report counts them.
    async fn assert_still_serves(&self, prefix: &str, context: &str) {
        let body = rows(prefix, 2);
        let reply = self.import(&body).await;
        if reply.status() != 200 {
            reply.fail(&format!(
                "a small import of 2 rows, sent {context}, was answered {}, not 200 OK",
                status_text(reply.status())
            ));
        }
        let answer = reply.json();
        if answer != testkit::json!({"imported": 2}) {
            reply.fail(&format!(
                "a small import of 2 rows, sent {context}, answered {answer}, \
                 not {{\"imported\": 2}}"
            ));
        }
        let stored = self.count_skus(prefix);
        if stored != 2 {
            reply.fail(&format!(
                "a small import of 2 rows, sent {context}, stored {stored} of them"
            ));
        }
        let report = self.server.get("/reports/stock").send().await;
        report.assert_status(200);
        let counted = report.json()["products"].as_i64();
        let expected = i64::try_from(self.skus().len()).unwrap_or(i64::MAX);
        if counted != Some(expected) {
            report.fail(&format!(
                "the stock report, asked {context}, counted {counted:?} products, \
                 the database holds {expected}"
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------

/// A compact JSON array of `count` valid rows whose skus start with
/// `prefix`: `[{"sku":"A-0001","name":"Row 1","price_cents":100,"stock":1},...]`.
fn rows(prefix: &str, count: usize) -> String {
    let rows: Vec<String> = (1..=count)
        .map(|n| {
            format!(r#"{{"sku":"{prefix}{n:04}","name":"Row {n}","price_cents":100,"stock":1}}"#)
        })
        .collect();
    format!("[{}]", rows.join(","))
}

/// `json`, followed by spaces (which JSON allows) to exactly `length` bytes.
fn padded(json: &str, length: usize) -> String {
    assert!(
        json.len() <= length,
        "the test's JSON is {} bytes, longer than the {length} it pads it to",
        json.len()
    );
    format!("{json}{}", " ".repeat(length - json.len()))
}

/// An import of one product whose name fills the body to exactly `length`
/// bytes: a valid import, just a big one.
fn one_huge_product(sku: &str, length: usize) -> Vec<u8> {
    let head = format!(r#"[{{"sku":"{sku}","name":""#);
    let tail = r#"","price_cents":1,"stock":1}]"#;
    let mut body = Vec::with_capacity(length);
    body.extend_from_slice(head.as_bytes());
    body.resize(length - tail.len(), b'A');
    body.extend_from_slice(tail.as_bytes());
    body
}

/// `bytes` as a size people read: `16 MiB`, `70 KiB`, `512 bytes`.
fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 10 * 1024 {
        format!("{} bytes ({} KiB)", bytes, bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

// ---------------------------------------------------------------------------
// A server that counts what it reads
// ---------------------------------------------------------------------------

/// How many bytes the server read from each connection, by the client's
/// address.
type ReadCounts = Arc<Mutex<HashMap<SocketAddr, Arc<AtomicUsize>>>>;

/// The app served on `127.0.0.1:0` through [`CountingListener`].
struct CountingServer {
    addr: SocketAddr,
    reads: ReadCounts,
    task: tokio::task::JoinHandle<()>,
}

impl CountingServer {
    async fn spawn(router: axum::Router) -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the test could not bind a port on 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let reads = ReadCounts::default();
        let listener = CountingListener {
            listener,
            reads: Arc::clone(&reads),
        };
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("the test server stopped with an error");
        });
        CountingServer { addr, reads, task }
    }

    /// How many bytes the server read so far from the connection whose
    /// client end is `client`.
    fn read_from(&self, client: SocketAddr) -> usize {
        let reads = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
        reads
            .get(&client)
            .map_or(0, |count| count.load(Ordering::SeqCst))
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct CountingListener {
    listener: TcpListener,
    reads: ReadCounts,
}

impl axum::serve::Listener for CountingListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        loop {
            // An error accepting one connection is that connection's: the
            // next one may be accepted.
            if let Ok((stream, client)) = self.listener.accept().await {
                let read = Arc::new(AtomicUsize::new(0));
                self.reads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(client, Arc::clone(&read));
                return (Counted { stream, read }, client);
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A connection that counts the bytes read from it.
struct Counted {
    stream: TcpStream,
    read: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let read = buf.filled().len() - before;
            self.read.fetch_add(read, Ordering::SeqCst);
        }
        poll
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------
// Uploads written by hand
// ---------------------------------------------------------------------------

/// How an upload says where its body ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `Content-Length: <the body's full length>` up front.
    Length,
    /// `Transfer-Encoding: chunked`, with no length anywhere.
    Chunked,
}

/// An import sent by hand on a TCP connection.
struct Upload {
    framing: Framing,
    body: Vec<u8>,
    /// Send only this many bytes of the body, then nothing more, holding
    /// the connection open: a client that stalls.
    stall_after: Option<usize>,
}

impl Upload {
    fn new(framing: Framing, body: Vec<u8>) -> Upload {
        Upload {
            framing,
            body,
            stall_after: None,
        }
    }

    fn stalling_after(self, sent: usize) -> Upload {
        Upload {
            stall_after: Some(sent),
            ..self
        }
    }

    /// The request line and headers.
    fn head(&self, addr: SocketAddr) -> String {
        let framing = match self.framing {
            Framing::Length => format!("content-length: {}", self.body.len()),
            Framing::Chunked => "transfer-encoding: chunked".to_string(),
        };
        format!(
            "POST /products/import HTTP/1.1\r\nhost: {addr}\r\n\
             content-type: application/json\r\n{framing}\r\n\r\n"
        )
    }

    /// The request as a failure message shows it.
    fn describe(&self) -> String {
        let framing = match self.framing {
            Framing::Length => format!("content-length: {}", self.body.len()),
            Framing::Chunked => "transfer-encoding: chunked (no content-length)".to_string(),
        };
        let how = match (self.stall_after, self.framing) {
            (Some(sent), _) => format!(
                "{} of the {} bytes promised, then nothing more, the connection held open",
                sent,
                self.body.len()
            ),
            (None, Framing::Chunked) => format!(
                "{} in chunks of {}, while the server reads",
                size(self.body.len()),
                size(CHUNK)
            ),
            (None, Framing::Length) => format!("{}, while the server reads", size(self.body.len())),
        };
        let start: String = String::from_utf8_lossy(&self.body[..self.body.len().min(60)]).into();
        format!(
            "POST /products/import\n            content-type: application/json\n            \
             {framing}\n            {}... ({how})",
            quote(&start)
        )
    }

    /// Sends the upload on a new connection to `server` and reads the
    /// answer, for at most [`ANSWER_WITHIN`].
    async fn send(self, server: &CountingServer) -> Sent {
        self.send_signalling(server, None).await
    }

    /// Like [`Upload::send`], and tells `started` once the head and the
    /// first part of the body are on their way.
    async fn send_signalling(
        self,
        server: &CountingServer,
        started: Option<tokio::sync::mpsc::Sender<()>>,
    ) -> Sent {
        let began = Instant::now();
        let stream = TcpStream::connect(server.addr)
            .await
            .expect("the test could not connect to its server");
        let client = stream.local_addr().expect("a connection has an address");
        let (mut reader, mut writer) = stream.into_split();
        let written = AtomicUsize::new(0);
        let head = self.head(server.addr);
        let send = async {
            // A write fails once the server closes the connection: the
            // answer is then what matters, so the writer just stops.
            let _ = self.write_body(&mut writer, &head, &written, started).await;
            // The connection stays open (a dropped writer would tell the
            // server the body ended), until the answer comes.
            std::future::pending::<()>().await;
        };
        let answer = tokio::select! {
            answer = read_answer(&mut reader) => Some(answer),
            () = send => None,
            () = tokio::time::sleep(ANSWER_WITHIN) => None,
        };
        Sent {
            elapsed: began.elapsed(),
            answer,
            written: written.load(Ordering::SeqCst),
            read_by_server: server.read_from(client),
            request: self.describe(),
        }
    }

    async fn write_body(
        &self,
        writer: &mut tokio::net::tcp::OwnedWriteHalf,
        head: &str,
        written: &AtomicUsize,
        started: Option<tokio::sync::mpsc::Sender<()>>,
    ) -> io::Result<()> {
        write_all(writer, head.as_bytes()).await?;
        let to_send = self.stall_after.unwrap_or(self.body.len());
        let mut started = started;
        for chunk in self.body[..to_send].chunks(CHUNK) {
            match self.framing {
                Framing::Length => write_all(writer, chunk).await?,
                Framing::Chunked => {
                    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                    framed.extend_from_slice(chunk);
                    framed.extend_from_slice(b"\r\n");
                    write_all(writer, &framed).await?;
                }
            }
            written.fetch_add(chunk.len(), Ordering::SeqCst);
            if let Some(started) = started.take() {
                let _ = started.send(()).await;
            }
        }
        if self.stall_after.is_none() && self.framing == Framing::Chunked {
            write_all(writer, b"0\r\n\r\n").await?;
        }
        Ok(())
    }
}

/// What an upload got.
struct Sent {
    request: String,
    /// The answer, or `None` if none came within [`ANSWER_WITHIN`].
    answer: Option<Answer>,
    elapsed: Duration,
    /// Bytes of the body the test wrote into the connection.
    written: usize,
    /// Bytes the server read from the connection (head and body).
    read_by_server: usize,
}

/// A response read by hand.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// Reads one HTTP/1.1 response: its head, then a body of its
/// `content-length`, in chunks, or up to the end of the connection.
async fn read_answer(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Answer {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 8192];
    let head_end = loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            break end + 4;
        }
        match read(reader, &mut buffer).await {
            Ok(0) | Err(_) => {
                return Answer {
                    status: 0,
                    head: String::from_utf8_lossy(&received).into(),
                    body: String::new(),
                };
            }
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let mut body = received[head_end..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_ascii_lowercase())
        })
    };
    let length = header("content-length").and_then(|length| length.parse::<usize>().ok());
    let chunked = header("transfer-encoding").is_some_and(|coding| coding.contains("chunked"));
    loop {
        let complete = match length {
            Some(length) => body.len() >= length,
            None if chunked => find(&body, b"0\r\n\r\n").is_some(),
            None => false,
        };
        if complete {
            break;
        }
        match read(reader, &mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => body.extend_from_slice(&buffer[..read]),
        }
    }
    if chunked {
        body = unchunk(&body);
    }
    Answer {
        status,
        head: head.trim_end().to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Writes all of `bytes` (tokio's `io-util` helpers are not among this
/// workbook's features: these two do what they would).
async fn write_all(
    writer: &mut tokio::net::tcp::OwnedWriteHalf,
    mut bytes: &[u8],
) -> io::Result<()> {
    while !bytes.is_empty() {
        let written =
            std::future::poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, bytes)).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[written..];
    }
    Ok(())
}

/// Reads what has arrived into `buffer`; `Ok(0)` at the end of the stream.
async fn read(reader: &mut tokio::net::tcp::OwnedReadHalf, buffer: &mut [u8]) -> io::Result<usize> {
    let mut buf = ReadBuf::new(buffer);
    std::future::poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, &mut buf)).await?;
    Ok(buf.filled().len())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The data of a chunked body.
fn unchunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some(line_end) = find(chunked, b"\r\n") {
        let size_text = String::from_utf8_lossy(&chunked[..line_end]);
        let Ok(size) = usize::from_str_radix(size_text.trim(), 16) else {
            break;
        };
        let start = line_end + 2;
        if size == 0 || chunked.len() < start + size {
            break;
        }
        data.extend_from_slice(&chunked[start..start + size]);
        chunked = chunked.get(start + size + 2..).unwrap_or_default();
    }
    data
}

impl Sent {
    /// The request, the answer and the counts, as a failure message shows
    /// them.
    fn describe(&self) -> String {
        let mut text = format!("  request:  {}\n", self.request);
        match &self.answer {
            None => {
                let _ = writeln!(
                    text,
                    "  response: none within {:.1} s",
                    self.elapsed.as_secs_f64()
                );
            }
            Some(answer) if answer.status == 0 => {
                let _ = writeln!(
                    text,
                    "  response: the connection closed without an answer after {:.1} s {}",
                    self.elapsed.as_secs_f64(),
                    quote(&answer.head)
                );
            }
            Some(answer) => {
                let _ = writeln!(
                    text,
                    "  response: after {:.1} s",
                    self.elapsed.as_secs_f64()
                );
                for line in answer
                    .head
                    .lines()
                    .filter(|line| !line.starts_with("date:"))
                {
                    let _ = writeln!(text, "            {line}");
                }
                if !answer.body.is_empty() {
                    let _ = writeln!(text, "            {}", quote(&answer.body));
                }
            }
        }
        let _ = writeln!(
            text,
            "  the test wrote {} of the body; the server read {} from the connection",
            size(self.written),
            size(self.read_by_server)
        );
        text
    }

    #[track_caller]
    fn fail(&self, verdict: &str, diagnosis: &str) -> ! {
        panic!("\n{verdict}\n{}{diagnosis}\n", self.describe())
    }

    /// The status, or a failure saying no answer came.
    #[track_caller]
    fn status(&self, what: &str, diagnosis: &str) -> u16 {
        match &self.answer {
            Some(answer) if answer.status != 0 => answer.status,
            Some(_) => self.fail(
                &format!("{what}: the server closed the connection without an answer"),
                diagnosis,
            ),
            None => self.fail(
                &format!("{what}: no answer within {} s", ANSWER_WITHIN.as_secs()),
                diagnosis,
            ),
        }
    }

    /// Fails unless the upload was answered `413` having read at most
    /// [`READ_AT_MOST`] of it.
    #[track_caller]
    fn assert_refused_unread(&self, what: &str) {
        let status = self.status(
            what,
            "  A body over the limit must be answered 413 as soon as it passes the \
             limit (or, with a Content-Length over the limit, before it is read).\n",
        );
        if status != 413 {
            self.fail(
                &format!(
                    "{what} was answered {}, not 413 Content Too Large",
                    status_text(status)
                ),
                "  Is the body read with no limit (axum's own limit disabled, and no \
                 other in its place)? The limit must hold on every route, for a \
                 body with a Content-Length and for a chunked one.\n",
            );
        }
        if self.read_by_server > READ_AT_MOST {
            self.fail(
                &format!(
                    "{what} was answered 413 only after the server read {} of it (at \
                     most {} may be read)",
                    size(self.read_by_server),
                    size(READ_AT_MOST)
                ),
                "  Checking the length after reading the whole body into memory is too \
                 late: the memory is spent. The limit must stop the reading itself.\n",
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_imported_and_one_byte_more_is_413() {
    let shop = Shop::start(Limits::default()).await;

    let at_limit = padded(&rows("EXACT-", 2), LIMIT);
    let reply = shop.import(&at_limit).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "a body of exactly {LIMIT} bytes (the limit) was answered {}, not 200 OK",
                status_text(reply.status())
            ),
            &format!(
                "  The limit is the largest body accepted: {LIMIT} bytes are read, {} are not.",
                LIMIT + 1
            ),
        );
    }
    reply.assert_json(&testkit::json!({"imported": 2}));

    let over = padded(&rows("OVER-", 2), LIMIT + 1);
    let reply = shop.import(&over).await;
    if reply.status() != 413 {
        reply.fail_with_diagnosis(
            &format!(
                "a body of {} bytes, one over the {LIMIT}-byte limit, was answered {}, not \
                 413 Content Too Large",
                LIMIT + 1,
                status_text(reply.status())
            ),
            "  Is the body read with no limit (axum's own limit disabled, and no other in \
             its place)? Every route must refuse a body over `limits.max_body_bytes`.",
        );
    }
    let stored = shop.count_skus("OVER-");
    if stored != 0 {
        reply.fail(&format!(
            "the body one byte over the limit was refused, yet {stored} of its rows were stored"
        ));
    }
    shop.assert_still_serves("AFTER-", "after the refused body")
        .await;
}

#[tokio::test]
async fn a_chunked_body_of_exactly_the_limit_is_imported_and_one_byte_more_is_413() {
    let shop = Shop::start(Limits::default()).await;

    let upload = Upload::new(Framing::Chunked, one_huge_product("CHUNKED-EXACT", LIMIT));
    let sent = upload.send(&shop.counting).await;
    let what = format!("a chunked body of exactly {LIMIT} bytes (the limit)");
    let status = sent.status(&what, "");
    if status != 200 {
        sent.fail(
            &format!("{what} was answered {}, not 200 OK", status_text(status)),
            "  The limit is the largest body accepted, however it is framed.\n",
        );
    }
    if shop.count_skus("CHUNKED-EXACT") != 1 {
        sent.fail(
            &format!("{what} was answered 200, but its product was not stored"),
            "",
        );
    }

    let upload = Upload::new(
        Framing::Chunked,
        one_huge_product("CHUNKED-OVER", LIMIT + 1),
    );
    let sent = upload.send(&shop.counting).await;
    let what = format!(
        "a chunked body of {} bytes, one over the limit, with no content-length",
        LIMIT + 1
    );
    let status = sent.status(&what, "");
    if status != 413 {
        sent.fail(
            &format!(
                "{what} was answered {}, not 413 Content Too Large",
                status_text(status)
            ),
            "  A check of the content-length header alone lets this body through: a \
             chunked body has no length up front. The limit must count the bytes as \
             they are read.\n",
        );
    }
    if shop.count_skus("CHUNKED-OVER") != 0 {
        sent.fail(
            &format!("{what} was refused, yet its product was stored"),
            "",
        );
    }
    shop.assert_still_serves("AFTER-", "after the refused chunked body")
        .await;
}

#[tokio::test]
async fn a_huge_body_with_a_content_length_is_refused_before_it_is_read() {
    let shop = Shop::start(Limits::default()).await;
    shop.assert_still_serves("BEFORE-", "before the attack")
        .await;

    let upload = Upload::new(Framing::Length, one_huge_product("HUGE", ENDLESS));
    let sent = upload.send(&shop.counting).await;
    sent.assert_refused_unread(&format!(
        "an upload of {} with a content-length saying so",
        size(ENDLESS)
    ));
    if shop.count_skus("HUGE") != 0 {
        sent.fail(
            "the huge upload was refused, yet its product was stored",
            "",
        );
    }
    shop.assert_still_serves("AFTER-", "after the huge upload")
        .await;
}

#[tokio::test]
async fn an_endless_chunked_body_is_refused_once_it_passes_the_limit() {
    let shop = Shop::start(Limits::default()).await;
    shop.assert_still_serves("BEFORE-", "before the attack")
        .await;

    let upload = Upload::new(Framing::Chunked, one_huge_product("ENDLESS", ENDLESS));
    let sent = upload.send(&shop.counting).await;
    sent.assert_refused_unread(&format!(
        "a chunked upload that goes on for {} with no content-length",
        size(ENDLESS)
    ));
    if shop.count_skus("ENDLESS") != 0 {
        sent.fail(
            "the endless upload was refused, yet its product was stored",
            "",
        );
    }
    shop.assert_still_serves("AFTER-", "after the endless upload")
        .await;
}

#[tokio::test]
async fn the_body_limit_is_the_one_the_settings_give() {
    // A small limit: a hard-coded 64 KiB lets 1001 bytes through.
    let small = Limits {
        max_body_bytes: 1000,
        ..Limits::default()
    };
    let shop = Shop::start(small).await;
    let reply = shop.import(&padded(&rows("SMALL-", 2), 1000)).await;
    if reply.status() != 200 {
        reply.fail(&format!(
            "with max_body_bytes = 1000, a body of exactly 1000 bytes was answered {}, \
             not 200 OK",
            status_text(reply.status())
        ));
    }
    let reply = shop.import(&padded(&rows("SMALL-OVER-", 2), 1001)).await;
    if reply.status() != 413 {
        reply.fail_with_diagnosis(
            &format!(
                "with max_body_bytes = 1000, a body of 1001 bytes was answered {}, not 413 \
                 Content Too Large",
                status_text(reply.status())
            ),
            "  Is the limit a constant instead of `limits.max_body_bytes`?",
        );
    }
    let upload = Upload::new(Framing::Chunked, one_huge_product("SMALL-CHUNKED", 1001));
    let sent = upload.send(&shop.counting).await;
    let status = sent.status(
        "with max_body_bytes = 1000, a chunked body of 1001 bytes",
        "",
    );
    if status != 413 {
        sent.fail(
            &format!(
                "with max_body_bytes = 1000, a chunked body of 1001 bytes was answered {}, \
                 not 413 Content Too Large",
                status_text(status)
            ),
            "",
        );
    }

    // A large limit: above axum's own default of 2 MB, which must not cut
    // in first.
    let large = Limits {
        max_body_bytes: 3 * 1024 * 1024,
        ..Limits::default()
    };
    let shop = Shop::start(large).await;
    let body = one_huge_product("LARGE", 2_500_000);
    let body = String::from_utf8(body).expect("the body is ASCII");
    let reply = shop.import(&body).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "with max_body_bytes = 3 MiB, a body of 2500000 bytes was answered {}, not \
                 200 OK",
                status_text(reply.status())
            ),
            "  axum's own body limit (2 MB unless told otherwise) still holds beside \
             another limit: the shop's limit must be the one that decides.",
        );
    }
}

#[tokio::test]
async fn an_import_of_more_rows_than_the_limit_is_422_and_stores_nothing() {
    for max_import_rows in [1000, 3] {
        let limits = Limits {
            max_import_rows,
            max_body_bytes: 1024 * 1024,
            ..Limits::default()
        };
        let shop = Shop::start(limits).await;

        let reply = shop.import(&rows("FULL-", max_import_rows)).await;
        if reply.status() != 200 {
            reply.fail(&format!(
                "with max_import_rows = {max_import_rows}, an import of exactly \
                 {max_import_rows} rows was answered {}, not 200 OK",
                status_text(reply.status())
            ));
        }
        reply.assert_json(&testkit::json!({ "imported": max_import_rows }));

        let reply = shop.import(&rows("TOO-MANY-", max_import_rows + 1)).await;
        if reply.status() != 422 {
            reply.fail_with_diagnosis(
                &format!(
                    "with max_import_rows = {max_import_rows}, an import of {} rows was \
                     answered {}, not 422 Unprocessable Content",
                    max_import_rows + 1,
                    status_text(reply.status())
                ),
                "  An import may hold at most `limits.max_import_rows` rows: one more is \
                 refused before anything is stored.",
            );
        }
        reply.assert_content_type("application/problem+json");
        let problem = reply.json();
        if problem["status"] != 422 {
            reply.fail("the 422's problem details do not say `\"status\": 422`");
        }
        let detail = problem["detail"].as_str().unwrap_or_default();
        if !detail.contains(&max_import_rows.to_string()) {
            reply.fail(&format!(
                "the 422's detail does not give the limit ({max_import_rows}): {detail:?}"
            ));
        }
        let stored = shop.count_skus("TOO-MANY-");
        if stored != 0 {
            reply.fail_with_diagnosis(
                &format!(
                    "the import of {} rows was refused, yet {stored} of its rows were stored",
                    max_import_rows + 1
                ),
                "  The count must be checked before anything is written.",
            );
        }
        if max_import_rows == 3 {
            assert_rows_checked(&shop).await;
        }
    }
}

/// Checks the rules every row follows, within the row limit: a free
/// product with no stock is a product; an empty sku or name, or a negative
/// price or stock, is `422` naming the row, and the import stores none of
/// its rows; a body that is not a JSON array is `400`.
async fn assert_rows_checked(shop: &Shop) {
    let free = r#"[{"sku":"FREE-STICKER","name":"Free sticker","price_cents":0,"stock":0}]"#;
    let reply = shop.import(free).await;
    if reply.status() != 200 || shop.count_skus("FREE-STICKER") != 1 {
        reply.fail_with_diagnosis(
            &format!(
                "an import of a product with price_cents 0 and stock 0 was answered {}, \
                 and stored {} product",
                status_text(reply.status()),
                shop.count_skus("FREE-STICKER")
            ),
            "  0 is a valid price and a valid stock: only negative numbers are refused.",
        );
    }
    let good = r#"{"sku":"RULES-GOOD","name":"Good row","price_cents":100,"stock":1}"#;
    let bad_rows = [
        r#"{"sku":"","name":"No sku","price_cents":100,"stock":1}"#,
        r#"{"sku":"RULES-BAD","name":"  ","price_cents":100,"stock":1}"#,
        r#"{"sku":"RULES-BAD","name":"Negative price","price_cents":-1,"stock":1}"#,
        r#"{"sku":"RULES-BAD","name":"Negative stock","price_cents":100,"stock":-1}"#,
    ];
    for bad in bad_rows {
        let body = format!("[{good},{bad}]");
        let reply = shop.import(&body).await;
        if reply.status() != 422 {
            reply.fail(&format!(
                "an import whose row 1 breaks the products' rules was answered {}, not 422 \
                 Unprocessable Content",
                status_text(reply.status())
            ));
        }
        reply.assert_content_type("application/problem+json");
        let detail = reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !detail.contains("row 1") {
            reply.fail(&format!(
                "the 422 for a bad row 1 does not name `row 1` in its detail: {detail:?}"
            ));
        }
        let stored = shop.count_skus("RULES-");
        if stored != 0 {
            reply.fail(&format!(
                "an import refused for its row 1 stored {stored} of its rows: an import is \
                 all or nothing"
            ));
        }
    }
    for not_rows in [
        r#"{"sku":"ONE"}"#,
        "[{",
        r#"[{"sku":"X","name":"Y","price_cents":1,"stock":1,"role":"admin"}]"#,
    ] {
        let reply = shop.import(not_rows).await;
        if reply.status() != 400 {
            reply.fail(&format!(
                "a body that is not a JSON array of products was answered {}, not 400 Bad \
                 Request",
                status_text(reply.status())
            ));
        }
        reply.assert_content_type("application/problem+json");
    }
}

/// What a request got when sent while the database was held.
struct Timed {
    reply: Option<Reply>,
    elapsed: Duration,
}

/// Sends `call` and waits for its answer for at most [`ANSWER_WITHIN`].
async fn timed(call: testkit::Call) -> Timed {
    let began = Instant::now();
    let reply = tokio::time::timeout(ANSWER_WITHIN, call.send()).await.ok();
    Timed {
        reply,
        elapsed: began.elapsed(),
    }
}

#[tokio::test]
async fn a_request_waiting_on_the_held_database_is_cut_off_at_the_timeout() {
    let limits = Limits {
        request_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let shop = Shop::start(limits).await;

    // A backup that holds the database briefly: the report waits, and is
    // answered once it ends, well within the timeout.
    let backup = shop.db.hold().await;
    let report = tokio::spawn(shop.server.get("/reports/stock").send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(backup);
    let reply = report.await.expect("the request task panicked");
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "the stock report, held up 300 ms by a backup with a timeout of 2 s, was \
                 answered {}, not 200 OK",
                status_text(reply.status())
            ),
            "  A request that waits less than `limits.request_timeout` must be answered \
             as usual: is the timeout a constant?",
        );
    }
    reply.assert_json(&catalogue_report());

    // A backup that does not end: the timeout is the only way out.
    let backup = shop.db.hold().await;
    let report = timed(shop.server.get("/reports/stock"));
    let import = timed(
        shop.server
            .post("/products/import")
            .header("content-type", "application/json")
            .body(&rows("HELD-", 2)),
    );
    let (report, import) = tokio::join!(report, import);
    for (timed, what, request) in [
        (&report, "stock report", "GET /reports/stock"),
        (&import, "import", "POST /products/import (2 rows)"),
    ] {
        match &timed.reply {
            None => panic!(
                "\nthe {what} got no answer within {} s while the database was held, with \
                 a timeout of 2 s: nothing cuts off a request that waits\n\
                 \x20 request:  {request}\n\
                 \x20 response: none\n\
                 Every request still unanswered after `limits.request_timeout` must be \
                 answered 503 Service Unavailable, on every route.\n",
                ANSWER_WITHIN.as_secs()
            ),
            Some(reply) if reply.status() != 503 => reply.fail(&format!(
                "the {what}, sent while the database was held, was answered {} after \
                 {:.1} s, not 503 Service Unavailable at the 2 s timeout",
                status_text(reply.status()),
                timed.elapsed.as_secs_f64()
            )),
            Some(_) => {}
        }
    }
    drop(backup);
    let stored = shop.count_skus("HELD-");
    if stored != 0 {
        panic!(
            "\nthe import cut off by the timeout stored {stored} rows once the database \
             was free\n\
             \x20 request:  POST /products/import (2 rows), while the database was held\n\
             A request answered 503 must leave nothing behind: its work is dropped.\n"
        );
    }
    let reply = shop.server.get("/reports/stock").send().await;
    reply.assert_status(200).assert_json(&catalogue_report());
}

#[tokio::test]
async fn an_upload_that_stalls_is_cut_off_at_the_timeout() {
    let limits = Limits {
        request_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let shop = Shop::start(limits).await;

    for framing in [Framing::Length, Framing::Chunked] {
        let upload = Upload::new(framing, rows("STALLED-", 20).into_bytes()).stalling_after(100);
        let sent = upload.send(&shop.counting).await;
        let what = "an upload that sent 100 bytes of its body and then nothing more, \
                    with a timeout of 0.5 s";
        let status = sent.status(
            what,
            "  Nothing cuts off a request whose body never comes: such clients \
             (slowloris) hold a connection each, for as long as they like. Every \
             request still unanswered after `limits.request_timeout` must be \
             answered, on every route.\n",
        );
        if status != 503 && status != 408 {
            sent.fail(
                &format!(
                    "{what} was answered {}, not 503 Service Unavailable (or 408 Request \
                     Timeout)",
                    status_text(status)
                ),
                "",
            );
        }
    }
    shop.assert_still_serves("AFTER-", "after the stalled uploads")
        .await;
}

#[tokio::test]
async fn twenty_oversized_uploads_at_once_leave_the_shop_answering() {
    const UPLOADS: usize = 20;
    const EACH: usize = 4 * 1024 * 1024;
    let shop = Shop::start(Limits::default()).await;

    let (started, mut starts) = tokio::sync::mpsc::channel(UPLOADS);
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|n| {
            let framing = if n % 2 == 0 {
                Framing::Chunked
            } else {
                Framing::Length
            };
            let upload = Upload::new(framing, one_huge_product(&format!("FLOOD-{n:02}"), EACH));
            upload.send_signalling(&shop.counting, Some(started.clone()))
        })
        .collect();
    let uploads = async {
        let mut sent = Vec::new();
        // One by one in one task: enough to have all twenty in flight, as
        // each waits on its socket.
        let all = futures_join(uploads);
        sent.extend(all.await);
        sent
    };
    let normal = async {
        // Once every upload is under way, a real client imports.
        for _ in 0..UPLOADS {
            starts.recv().await;
        }
        shop.assert_still_serves("NORMAL-", "while 20 oversized uploads were under way")
            .await;
    };
    let (sent, ()) = tokio::join!(uploads, normal);
    for (n, sent) in sent.iter().enumerate() {
        sent.assert_refused_unread(&format!(
            "upload {} of {UPLOADS} sent at once ({} each)",
            n + 1,
            size(EACH)
        ));
    }
    let stored = shop.count_skus("FLOOD-");
    if stored != 0 {
        panic!(
            "\nthe 20 oversized uploads were refused, yet {stored} of their products were \
             stored\n"
        );
    }
}

/// Runs every future at once, on this task, and returns their outputs in
/// order.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut handles: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (handle, output) in handles.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = handle {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *output = Some(value);
                        *handle = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
