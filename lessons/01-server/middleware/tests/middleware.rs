//! Tests for server/middleware: a real server on 127.0.0.1, asked with a real
//! client, and a tracing subscriber that records the spans the server opens.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use server_middleware::{REQUEST_ID, RESPONSE_TIME, SLOW_WORK, app};
use testkit::{Reply, TestServer};
use tokio::task::JoinSet;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

#[tokio::test]
async fn an_incoming_request_id_is_kept_for_the_handler_and_echoed() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .get("/")
        .header(REQUEST_ID, "from-the-client-42")
        .send()
        .await;

    reply
        .assert_status(200)
        .assert_header(REQUEST_ID, "from-the-client-42")
        .assert_text("from-the-client-42");
}

// ANCHOR: minted
#[tokio::test]
async fn a_request_without_an_id_gets_a_fresh_one_on_the_response() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/").send().await;

    let id = reply.assert_status(200).expect_header(REQUEST_ID);
    if id.trim().is_empty() {
        reply.fail(&format!("expected a fresh, non-empty `{REQUEST_ID}`"));
    }
}
// ANCHOR_END: minted

#[tokio::test]
async fn the_handler_sees_the_same_minted_id_as_the_client() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/").send().await;

    let id = reply.assert_status(200).expect_header(REQUEST_ID);
    if reply.text() != id {
        reply.fail(&format!(
            "the handler (its answer is the body) saw another request id than the \
             response's `{REQUEST_ID}: {id}`; set the fresh id on the request before the \
             handler runs, and echo that same id"
        ));
    }
}

#[tokio::test]
async fn minted_request_ids_are_unique_across_100_requests() {
    let server = TestServer::spawn(app()).await;

    let mut in_flight = JoinSet::new();
    for _ in 0..100 {
        in_flight.spawn(server.get("/").send());
    }
    let replies = in_flight.join_all().await;

    let mut ids = BTreeSet::new();
    for reply in &replies {
        let id = reply.assert_status(200).expect_header(REQUEST_ID);
        if !ids.insert(id.to_string()) {
            reply.fail(&format!(
                "100 requests without an id were sent at once, and two of them got the \
                 same `{REQUEST_ID}: {id}`; every minted id must be unique"
            ));
        }
    }
}

/// The `<n>` of `x-response-time: <n>ms`; fails the test if the header is
/// missing or has another shape.
#[track_caller]
fn response_time_in(reply: &Reply) -> u128 {
    let value = reply.expect_header(RESPONSE_TIME);
    match value.strip_suffix("ms").map(str::parse::<u128>) {
        Some(Ok(millis)) => millis,
        _ => reply.fail(&format!(
            "expected `{RESPONSE_TIME}: <n>ms` with <n> a whole number of milliseconds, \
             like `{RESPONSE_TIME}: 52ms`, got `{RESPONSE_TIME}: {value}`"
        )),
    }
}

#[tokio::test]
async fn every_response_says_its_response_time_in_whole_milliseconds() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/").send().await;

    reply.assert_status(200);
    response_time_in(&reply);
}

// ANCHOR: timing
#[tokio::test]
async fn the_response_time_covers_the_handlers_work() {
    let server = TestServer::spawn(app()).await;

    let started = Instant::now();
    let reply = server.get("/slow").send().await;
    let seen_by_client = started.elapsed().as_millis();

    reply.assert_status(200).assert_text("done");
    let reported = response_time_in(&reply);
    let work = SLOW_WORK.as_millis();
    if reported < work {
        reply.fail(&format!(
            "GET /slow works for {work} ms, so `{RESPONSE_TIME}` must say at least \
             {work}ms, but it says {reported}ms: is the clock stopped after \
             `next.run(request).await` returns?"
        ));
    }
    if reported > seen_by_client {
        reply.fail(&format!(
            "the whole request took {seen_by_client} ms as the client saw it, so the \
             server cannot have spent {reported} ms on it: is the unit milliseconds?"
        ));
    }
}
// ANCHOR_END: timing

#[tokio::test]
async fn an_unknown_path_still_gets_a_request_id_and_a_response_time() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/no/such/page").send().await;

    reply.assert_status(404).expect_header(REQUEST_ID);
    response_time_in(&reply);
}

/// The spans opened on this thread while a [`SpanRecording`] is alive.
///
/// A `#[tokio::test]` runs the test, the server and the client on one thread,
/// so the recording sees every span the server opens for the test's requests,
/// and none of the other tests, which run on other threads.
struct SpanRecording {
    spans: Spans,
}

/// The spans of one recording: each span's id, and its text.
type Spans = Arc<Mutex<Vec<(Id, String)>>>;

thread_local! {
    /// Where [`ToThisThreadsRecording`] puts the spans opened on this thread.
    static RECORDING: RefCell<Option<Spans>> = const { RefCell::new(None) };
}

impl SpanRecording {
    /// Starts recording the spans opened on this thread.
    fn start() -> SpanRecording {
        // One subscriber for the whole test binary, installed by the first
        // test that records, hands each span to the recording of the thread
        // that opened it. (A per-thread subscriber, `set_default`, is not
        // enough: while only one exists, tracing caches "nobody is interested"
        // for a span first opened on any other thread, and the recording
        // would miss it.)
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let subscriber = tracing_subscriber::registry().with(ToThisThreadsRecording);
            tracing::subscriber::set_global_default(subscriber).expect(
                "the test could not install its tracing subscriber: does app() install \
                 one? Only main should.",
            );
        });
        // Spans first opened before the subscriber was installed are cached as
        // uninteresting; ask tracing to look again.
        tracing::callsite::rebuild_interest_cache();
        let spans = Arc::default();
        RECORDING.set(Some(Arc::clone(&spans)));
        SpanRecording { spans }
    }

    /// The spans recorded so far, each as `name field=value ...`.
    fn spans(&self) -> Vec<String> {
        let spans = self.spans.lock().unwrap();
        spans.iter().map(|(_, text)| text.clone()).collect()
    }

    /// The spans recorded so far that mention `text`.
    fn spans_mentioning(&self, text: &str) -> Vec<String> {
        let mut spans = self.spans();
        spans.retain(|span| span.contains(text));
        spans
    }
}

impl Drop for SpanRecording {
    fn drop(&mut self) {
        RECORDING.set(None);
    }
}

/// The layer that writes each span, as text, into the recording of the thread
/// that opened it, if that thread is recording.
struct ToThisThreadsRecording;

impl<S: Subscriber> Layer<S> for ToThisThreadsRecording {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut text = attributes.metadata().name().to_string();
        attributes.record(&mut FieldsAsText(&mut text));
        RECORDING.with_borrow(|recording| {
            if let Some(spans) = recording {
                spans.lock().unwrap().push((id.clone(), text));
            }
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        RECORDING.with_borrow(|recording| {
            let Some(spans) = recording else { return };
            let mut spans = spans.lock().unwrap();
            // The registry reuses the ids of closed spans: the latest is ours.
            if let Some((_, text)) = spans.iter_mut().rev().find(|(span, _)| span == id) {
                values.record(&mut FieldsAsText(text));
            }
        });
    }
}

/// Appends ` name=value` to the text for every field it visits.
struct FieldsAsText<'a>(&'a mut String);

impl Visit for FieldsAsText<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

/// The spans, one a line, for a failure message.
fn list(spans: &[String]) -> String {
    if spans.is_empty() {
        return "  (none at all)\n".to_string();
    }
    spans.iter().map(|span| format!("  {span}\n")).collect()
}

// ANCHOR: traced
#[tokio::test]
async fn every_request_is_traced_in_a_span_with_its_method_and_path() {
    let recording = SpanRecording::start();
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/slow").send().await;

    reply.assert_status(200);
    let for_the_request = recording.spans_mentioning("/slow");
    if !for_the_request.iter().any(|span| span.contains("GET")) {
        reply.fail(&format!(
            "expected tower-http's TraceLayer to open a span for the request that records \
             its method (GET) and its path (/slow); the spans the server opened:\n{}",
            list(&recording.spans())
        ));
    }
}
// ANCHOR_END: traced

#[tokio::test]
async fn the_request_span_records_the_minted_request_id() {
    let recording = SpanRecording::start();
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/slow").send().await;

    let id = reply.assert_status(200).expect_header(REQUEST_ID);
    let for_the_request = recording.spans_mentioning("/slow");
    if !for_the_request.iter().any(|span| span.contains(id)) {
        reply.fail(&format!(
            "expected the request's span to record its request id `{id}`, so that every \
             log line of the request carries it; the spans that mention /slow:\n{}\
             Does the span read the id from the request, and does the layer that mints \
             the id run before (outside) the TraceLayer?",
            list(&for_the_request)
        ));
    }
}
