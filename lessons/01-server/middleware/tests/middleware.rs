//! Tests for server/middleware: a real server on 127.0.0.1, asked with a real
//! client, and a tracing subscriber that records the spans the server opens.

use std::collections::BTreeSet;
use std::time::Instant;

use server_middleware::{REQUEST_ID, RESPONSE_TIME, SLOW_WORK, app};
use testkit::trace::{Recording, list};
use testkit::{Reply, TestServer};
use tokio::task::JoinSet;

/// The `x-request-id` of `reply`, or a failure that says why it is missing.
/// `to_get_root` says whether `reply` answers a `GET /`, whose body is the
/// id its handler saw; for another path, a `GET /` without an id is sent to
/// find out whether handlers get an id at all. When a handler got one, a
/// `GET /` with an id of the client's tells layers in the wrong order (the
/// client's id comes back) from no layer that copies the id (it does not).
async fn request_id_of(server: &TestServer, reply: &Reply, to_get_root: bool) -> String {
    if let Some(id) = reply.header(REQUEST_ID) {
        return id.to_string();
    }
    let (handler_saw, who_got_one) = if to_get_root {
        (reply.text().to_string(), "the handler got one")
    } else {
        let probe = server.get("/").send().await;
        let handler_saw = match probe.header(REQUEST_ID) {
            None if probe.status() == 200 => probe.text().to_string(),
            _ => String::new(),
        };
        (
            handler_saw,
            "the handler of a `GET /` sent without one got one",
        )
    };
    if handler_saw.is_empty() || handler_saw == "no request id" {
        reply.fail(&format!(
            "expected a `{REQUEST_ID}` header, but the response has none"
        ));
    }
    let client_id = "the-clients-own-id-4711";
    let echo = server.get("/").header(REQUEST_ID, client_id).send().await;
    if echo.header(REQUEST_ID) == Some(client_id) {
        reply.fail_with_diagnosis(
            &format!(
                "the response has no `{REQUEST_ID}`, though {who_got_one} ({handler_saw:?}): the \
                 request-id layers are likely in the wrong order"
            ),
            &format!(
                "  expected: the response carries `{REQUEST_ID}` with the id the handler got\n  \
                 actual:   no `{REQUEST_ID}` header\nAn id was minted and set on the request, \
                 but none came back, while an id the client sends does come back. \
                 PropagateRequestIdLayer notes the request's id on the way in: if it runs before \
                 (outside) SetRequestIdLayer, a request without an id has none yet when it \
                 looks. Put SetRequestIdLayer outside PropagateRequestIdLayer: first of the two \
                 in a ServiceBuilder, or added after it with Router::layer."
            ),
        )
    }
    reply.fail_with_diagnosis(
        &format!(
            "the response has no `{REQUEST_ID}`, though {who_got_one} ({handler_saw:?}): nothing \
             copies the request's id onto the response"
        ),
        &format!(
            "  expected: the response carries `{REQUEST_ID}` with the id the handler got\n  \
             actual:   no `{REQUEST_ID}` header\nNot even an id the client sends comes back \
             (`GET /` with `{REQUEST_ID}: {client_id}` got none). Something must copy the \
             request's id onto every response: tower-http's PropagateRequestIdLayer does."
        ),
    )
}

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

    reply.assert_status(200);
    let id = request_id_of(&server, &reply, true).await;
    if id.trim().is_empty() {
        reply.fail(&format!("expected a fresh, non-empty `{REQUEST_ID}`"));
    }
}
// ANCHOR_END: minted

#[tokio::test]
async fn the_handler_sees_the_same_minted_id_as_the_client() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/").send().await;

    reply.assert_status(200);
    let id = request_id_of(&server, &reply, true).await;
    if reply.text() != id {
        reply.fail_with_diagnosis(
            &format!(
                "the handler saw the request id {:?}, but the response says `{REQUEST_ID}: {id}`",
                reply.text()
            ),
            "The handler answers with the id it saw. Set the fresh id on the request before \
             the handler runs, and echo that same id on the response.",
        );
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
        reply.assert_status(200);
        let id = request_id_of(&server, reply, true).await;
        if !ids.insert(id.to_string()) {
            reply.fail_with_diagnosis(
                &format!("two responses carry the same minted `{REQUEST_ID}: {id}`"),
                "100 requests without an id were sent at once: every minted id must be unique.",
            );
        }
    }
}

#[tokio::test]
async fn minted_request_ids_are_unique_across_threads() {
    // One app served on two threads at once, as a multi-threaded runtime
    // serves it, so ids minted on different threads can be compared.
    let app = app();
    let servers = [
        TestServer::spawn_on_its_own_thread(app.clone()),
        TestServer::spawn_on_its_own_thread(app),
    ];

    let mut in_flight = JoinSet::new();
    for n in 0..100 {
        in_flight.spawn(servers[n % 2].get("/").send());
    }
    let replies = in_flight.join_all().await;

    let mut ids = BTreeSet::new();
    for reply in &replies {
        let id = reply.assert_status(200).expect_header(REQUEST_ID);
        if !ids.insert(id.to_string()) {
            reply.fail_with_diagnosis(
                &format!("two responses carry the same minted `{REQUEST_ID}: {id}`"),
                "100 requests without an id were sent at once, half of them to each of two \
                 servers running one app on two threads: every minted id must be unique, \
                 whichever thread mints it. Is the id unique in the whole process (a UUID, or \
                 one counter shared by all threads, incremented in one step), not only on one \
                 thread?",
            );
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
        reply.fail_with_diagnosis(
            &format!(
                "the response says `{RESPONSE_TIME}: {reported}ms`, but the handler works for \
                 {work} ms"
            ),
            &format!(
                "GET /slow works for {work} ms, so `{RESPONSE_TIME}` must say at least \
                 {work}ms. Is the clock stopped after `next.run(request).await` returns?"
            ),
        );
    }
    if reported > seen_by_client {
        reply.fail_with_diagnosis(
            &format!(
                "the response says `{RESPONSE_TIME}: {reported}ms`, more than the \
                 {seen_by_client} ms the whole request took"
            ),
            &format!(
                "The client saw the whole request take {seen_by_client} ms, so the server \
                 cannot have spent {reported} ms on it. Is the unit milliseconds?"
            ),
        );
    }
}
// ANCHOR_END: timing

#[tokio::test]
async fn an_unknown_path_still_gets_a_request_id_and_a_response_time() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/no/such/page").send().await;

    reply.assert_status(404);
    request_id_of(&server, &reply, false).await;
    response_time_in(&reply);
}

// ANCHOR: traced
#[tokio::test]
async fn every_request_is_traced_in_a_span_with_its_method_and_path() {
    let recording = Recording::start();
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/slow").send().await;

    reply.assert_status(200);
    let for_the_request = recording.spans_mentioning("/slow");
    if !for_the_request.iter().any(|span| span.contains("GET")) {
        reply.fail_with_diagnosis(
            "no span of the server records the request's method (GET) and path (/slow)",
            &format!(
                "The spans the server opened:\n{}Expected tower-http's TraceLayer to open \
                 a span for each request that records its method and its path.",
                list(&recording.spans())
            ),
        );
    }
}
// ANCHOR_END: traced

#[tokio::test]
async fn the_request_span_records_the_minted_request_id() {
    let recording = Recording::start();
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/slow").send().await;

    reply.assert_status(200);
    let id = request_id_of(&server, &reply, false).await;
    let for_the_request = recording.spans_mentioning("/slow");
    if !for_the_request.iter().any(|span| span.contains(&id)) {
        reply.fail_with_diagnosis(
            &format!("the request's span does not record its request id `{id}`"),
            &format!(
                "The span should record it, so that every log line of the request carries \
                 it. The spans that mention /slow:\n{}Does the span read the id from the \
                 request, and does the layer that mints the id run before (outside) the \
                 TraceLayer?",
                list(&for_the_request)
            ),
        );
    }
}
