//! Tests for server/state: a real server on 127.0.0.1, asked with a real client.
//!
//! The concurrency tests run the server on a multi-threaded runtime, so
//! handlers really run at the same time on different threads, as they do in
//! production.

use std::collections::BTreeSet;

use server_state::app;
use testkit::{Call, Reply, TestServer, Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// How many requests a burst fires at once.
const AT_ONCE: u64 = 200;

/// How many bursts a concurrency test fires, one after the other. A lost
/// update needs two handlers to interleave at just the wrong instant, so one
/// burst can be lucky; many bursts in a row rarely are.
const BURSTS: u64 = 40;

/// Lets one concurrency test fire its bursts at a time. Two tests firing at
/// once would share the machine's cores, and the fewer handlers really run in
/// parallel, the likelier a racy solution gets lucky.
static ONE_TEST_FIRES_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Sends every call at the same time and waits for all the replies.
async fn send_all_at_once(calls: Vec<Call>) -> Vec<Reply> {
    let mut in_flight = JoinSet::new();
    for call in calls {
        in_flight.spawn(call.send());
    }
    in_flight.join_all().await
}

/// Fires [`BURSTS`] × [`AT_ONCE`] requests in all: request `n` (0, 1, 2, ...)
/// is `make_call(n)`. Request 0 goes alone, so that a handler that panics
/// fails the test with one clear message rather than two hundred; the others
/// go in bursts of [`AT_ONCE`] at once. Returns every reply.
async fn fire_bursts(make_call: impl Fn(u64) -> Call) -> Vec<Reply> {
    let _turn = ONE_TEST_FIRES_AT_A_TIME.lock().await;
    let mut replies = vec![make_call(0).send().await];
    let numbers: Vec<u64> = (1..BURSTS * AT_ONCE).collect();
    for burst in numbers.chunks(AT_ONCE as usize) {
        let calls = burst.iter().copied().map(&make_call).collect();
        replies.extend(send_all_at_once(calls).await);
    }
    replies
}

/// The `hits` number of a `{"hits": n}` reply; fails the test otherwise.
#[track_caller]
fn hits_in(reply: &Reply) -> u64 {
    match reply.json().get("hits").and_then(Value::as_u64) {
        Some(hits) => hits,
        None => reply.fail("expected a JSON body of the shape {\"hits\": n}"),
    }
}

#[tokio::test]
async fn hits_start_at_zero_and_reading_them_counts_no_hit() {
    let server = TestServer::spawn(app()).await;

    server
        .get("/hits")
        .send()
        .await
        .assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&json!({ "hits": 0 }));
    server
        .get("/hits")
        .send()
        .await
        .assert_status(200)
        .assert_json(&json!({ "hits": 0 }));
}

#[tokio::test]
async fn each_post_counts_one_hit_and_answers_the_new_total() {
    let server = TestServer::spawn(app()).await;

    for expected in 1..=3 {
        server
            .post("/hits")
            .send()
            .await
            .assert_status(200)
            .assert_content_type("application/json")
            .assert_json(&json!({ "hits": expected }));
    }
    server
        .get("/hits")
        .send()
        .await
        .assert_status(200)
        .assert_json(&json!({ "hits": 3 }));
}

// ANCHOR: concurrent_hits
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_hits_lose_no_update() {
    let server = TestServer::spawn(app()).await;

    for reply in fire_bursts(|_| server.post("/hits")).await {
        reply.assert_status(200);
    }

    let reply = server.get("/hits").send().await;
    reply.assert_status(200);
    let total = hits_in(&reply);
    let sent = BURSTS * AT_ONCE;
    if total != sent {
        reply.fail_with_diagnosis(
            &format!(
                "the count is {total}, expected {sent}: {} updates were lost",
                sent.abs_diff(total)
            ),
            &format!(
                "{BURSTS} bursts of {AT_ONCE} POST /hits were sent at once, {sent} in all, \
                 before this request. Do all requests share one counter, and is each hit \
                 counted in one indivisible step?"
            ),
        );
    }
}
// ANCHOR_END: concurrent_hits

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hits_each_answer_a_different_total() {
    let server = TestServer::spawn(app()).await;

    let replies = fire_bursts(|_| server.post("/hits")).await;

    let mut answered = BTreeSet::new();
    let mut repeated = BTreeSet::new();
    for reply in &replies {
        reply.assert_status(200);
        let total = hits_in(reply);
        if !answered.insert(total) {
            repeated.insert(total);
        }
    }
    let sent = BURSTS * AT_ONCE;
    let expected: BTreeSet<u64> = (1..=sent).collect();
    assert!(
        answered == expected,
        "\nthe {sent} POST /hits did not answer every total from 1 to {sent} once each\n  \
         expected: every number from 1 to {sent}, once each\n  \
         got:      {} different totals; these came back more than once: {repeated:?}\n\
         {BURSTS} bursts of {AT_ONCE} POST /hits were sent at once, and each should answer \
         the total its own hit made. Does each POST answer the value its own update \
         produced, rather than reading the counter again afterwards?\n",
        answered.len(),
    );
}

#[tokio::test]
async fn a_stored_value_can_be_read_back() {
    let server = TestServer::spawn(app()).await;

    server
        .put("/kv/colour")
        .body("blue")
        .send()
        .await
        .assert_status(201);

    server
        .get("/kv/colour")
        .send()
        .await
        .assert_status(200)
        .assert_content_type("text/plain")
        .assert_text("blue");
}

#[tokio::test]
async fn putting_an_existing_key_answers_200_and_replaces_the_value() {
    let server = TestServer::spawn(app()).await;
    server
        .put("/kv/colour")
        .body("blue")
        .send()
        .await
        .assert_status(201);

    server
        .put("/kv/colour")
        .body("green")
        .send()
        .await
        .assert_status(200);

    server
        .get("/kv/colour")
        .send()
        .await
        .assert_status(200)
        .assert_text("green");
}

#[tokio::test]
async fn an_unknown_key_answers_404() {
    let server = TestServer::spawn(app()).await;
    server
        .put("/kv/colour")
        .body("blue")
        .send()
        .await
        .assert_status(201);

    server
        .get("/kv/size")
        .send()
        .await
        .assert_status(404)
        .assert_text("");
}

#[tokio::test]
async fn storing_a_value_answers_with_an_empty_body() {
    let server = TestServer::spawn(app()).await;

    for (value, status) in [("blue", 201), ("green", 200)] {
        server
            .put("/kv/colour")
            .body(value)
            .send()
            .await
            .assert_status(status)
            .assert_text("");
    }
}

#[tokio::test]
async fn get_kv_lists_every_pair_as_a_json_object() {
    let server = TestServer::spawn(app()).await;
    server
        .get("/kv")
        .send()
        .await
        .assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&json!({}));

    for (key, value) in [("colour", "blue"), ("size", "large")] {
        server
            .put(&format!("/kv/{key}"))
            .body(value)
            .send()
            .await
            .assert_status(201);
    }

    server
        .get("/kv")
        .send()
        .await
        .assert_status(200)
        .assert_json(&json!({ "colour": "blue", "size": "large" }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_puts_all_land() {
    let server = TestServer::spawn(app()).await;

    let put = |n| {
        server
            .put(&format!("/kv/key-{n}"))
            .body(&format!("value-{n}"))
    };
    for reply in fire_bursts(put).await {
        reply.assert_status(201);
    }

    let reply = server.get("/kv").send().await;
    reply.assert_status(200);
    let sent = BURSTS * AT_ONCE;
    let expected: serde_json::Map<String, Value> = (0..sent)
        .map(|n| (format!("key-{n}"), json!(format!("value-{n}"))))
        .collect();
    let stored = reply.json();
    if stored != Value::Object(expected) {
        let stored_count = stored.as_object().map_or(0, serde_json::Map::len);
        let verdict = if stored_count == sent as usize {
            format!("the map lists {sent} pairs, but not each key-N with value-N")
        } else {
            format!("the map lists {stored_count} pairs, expected {sent}")
        };
        reply.fail_with_diagnosis(
            &verdict,
            &format!(
                "{BURSTS} bursts of {AT_ONCE} PUT /kv/key-N were sent at once, N from 0 to \
                 {}, each with the body value-N, so the map should hold {sent} pairs, each \
                 key-N with value-N. Do all requests share one map, and is each insert done \
                 under one lock?",
                sent - 1
            ),
        );
    }
}
