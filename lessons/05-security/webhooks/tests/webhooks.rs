//! Tests for security/webhooks: the shop's payment webhook on a real
//! SQLite file, served on 127.0.0.1, fed events signed the way the payment
//! gateway signs them, and attacked with forged, altered, stale and
//! replayed ones.
//!
//! The tests sign as the gateway does: the HMAC-SHA256 of `{t}.{body}`
//! with the shared secret, in hex, in `Shop-Signature: t=...,v1=...`. The
//! shop reads the time from a clock the tests set (Unix seconds, in an
//! atomic): nothing sleeps, and the 5-minute boundary is tested to the
//! second.
//!
//! Each test pairs legitimate events, which must be applied, with attacks,
//! which must be refused with `400` and change nothing (no order, and no
//! recorded event id), so that the starter, which applies whatever it is
//! sent, passes none of them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use hmac::{Hmac, KeyInit as _, Mac as _};
use rusqlite::Connection;
use security_webhooks::{Clock, Shop, add_customer, add_order, app};
use sha2::Sha256;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, json, status_text};

/// The tests' "now" when a test starts: 2027-01-15T08:00:00Z.
const T0: i64 = 1_800_000_000;

/// The secret the shop and the gateway share.
const SECRET: &str = "whsec_7Vq2LmX9pR4sT8wZ3nB6cD1fG5hJ0kY";

/// The secret the gateway used before its last rotation.
const OLD_SECRET: &str = "whsec_rotatedAwayLastWeek00000000000";

/// The orders every test starts with, all `pending`: (id, total_cents).
const ORDERS: [(i64, i64); 6] = [
    (1, 2500),
    (2, 500),
    (3, 1250),
    (4, 999),
    (5, 4200),
    (6, 100),
];

const FORGED_DIAGNOSIS: &str = "Apply an event only when its Shop-Signature header holds a v1 \
    signature that matches: the HMAC-SHA256 of `{t}.{body}` keyed with the shared secret. \
    Without that check, anyone who can reach the endpoint marks their order paid.";

/// The shop with its orders, and its clock.
struct World {
    folder: TempDir,
    server: TestServer,
    now: Arc<AtomicI64>,
}

impl World {
    async fn new() -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let now = Arc::new(AtomicI64::new(T0));
        let db = Connection::open(folder.path().join("shop.db"))
            .expect("the test could not open the database");
        security_webhooks::create_schema(&db).expect("the schema is created");
        let ada = add_customer(&db, "ada@example.com", "Ada").expect("Ada is added");
        for (id, total) in ORDERS {
            let added = add_order(&db, ada, total).expect("an order is added");
            assert!(added == id, "the order with {total} cents got id {added}");
        }
        let server = serve(&folder.path().join("shop.db"), &now).await;
        World {
            folder,
            server,
            now,
        }
    }

    /// Stops the shop and serves it again on the same database file, as
    /// after a restart.
    async fn restart(&mut self) {
        self.server = serve(&self.path(), &self.now).await;
    }

    fn path(&self) -> PathBuf {
        self.folder.path().join("shop.db")
    }

    /// Sets the shop's clock to `T0 + offset` seconds.
    fn at(&self, offset: i64) {
        self.now.store(T0 + offset, Ordering::SeqCst);
    }

    /// `POST /webhooks/payments` with `body`, as JSON, and the
    /// `Shop-Signature` header if given.
    async fn deliver(&self, body: &str, signature: Option<&str>) -> Reply {
        let mut call = self
            .server
            .post("/webhooks/payments")
            .header("content-type", "application/json");
        if let Some(signature) = signature {
            call = call.header("shop-signature", signature);
        }
        call.body(body).send().await
    }

    /// Delivers `body` signed as the gateway signs it, at `t`.
    async fn deliver_signed(&self, body: &str, t: i64) -> Reply {
        self.deliver(body, Some(&signature_header(SECRET, t, body)))
            .await
    }

    /// What the database holds: every order's status, and the recorded
    /// event ids.
    fn state(&self) -> State {
        let db = Connection::open(self.path()).expect("the test could not open the database");
        let mut query = db
            .prepare("SELECT id, status FROM orders ORDER BY id")
            .expect("the orders table is there");
        let orders = query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("the orders are read")
            .collect::<Result<_, _>>()
            .expect("the orders are read");
        let mut query = db
            .prepare("SELECT id FROM webhook_events ORDER BY id")
            .expect("the webhook_events table is there");
        let events = query
            .query_map([], |row| row.get(0))
            .expect("the events are read")
            .collect::<Result<_, _>>()
            .expect("the events are read");
        State { orders, events }
    }

    /// The status of order `id`.
    fn status(&self, id: i64) -> String {
        self.state()
            .orders
            .into_iter()
            .find_map(|(order, status)| (order == id).then_some(status))
            .expect("every order of the test is there")
    }
}

async fn serve(path: &std::path::Path, now: &Arc<AtomicI64>) -> TestServer {
    let clock_now = now.clone();
    let clock = Clock::from_fn(move || clock_now.load(Ordering::SeqCst));
    let shop = match Shop::open(path, SECRET, clock) {
        Ok(shop) => shop,
        Err(error) => panic!("\nShop::open returned an error: {error}\n"),
    };
    TestServer::spawn(app(shop)).await
}

/// What the database holds, to compare before and after a request.
#[derive(PartialEq)]
struct State {
    orders: Vec<(i64, String)>,
    events: Vec<String>,
}

impl State {
    /// How the orders changed from `self` to `after`, in words.
    fn order_changes(&self, after: &State) -> Vec<String> {
        self.orders
            .iter()
            .zip(&after.orders)
            .filter(|((_, before), (_, now))| before != now)
            .map(|((id, before), (_, now))| format!("order {id} went from {before:?} to {now:?}"))
            .collect()
    }

    /// The event ids `after` has and `self` has not.
    fn new_events<'a>(&self, after: &'a State) -> Vec<&'a String> {
        after
            .events
            .iter()
            .filter(|id| !self.events.contains(id))
            .collect()
    }

    /// What changed from `self` to `after`, in words.
    fn changes(&self, after: &State) -> String {
        let mut changes = self.order_changes(after);
        let new = self.new_events(after);
        if !new.is_empty() {
            changes.push(format!("webhook_events gained {new:?}"));
        }
        changes.join(", ")
    }
}

/// Makes a `Shop-Signature` header for a body.
type MakeHeader = fn(&str) -> String;

/// The gateway's signature of `body` at `t` with `secret`: lowercase hex.
fn sign(secret: &str, t: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The `Shop-Signature` header the gateway sends for `body` at `t`.
fn signature_header(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", sign(secret, &t.to_string(), body))
}

/// An event as the gateway writes it: compact JSON, with fields the shop
/// does not read.
fn event(id: &str, kind: &str, order_id: i64, amount_cents: i64) -> String {
    format!(
        r#"{{"id":"{id}","object":"event","type":"{kind}","created":{T0},"order_id":{order_id},"amount_cents":{amount_cents},"currency":"eur","livemode":false}}"#
    )
}

/// A `payment.succeeded` event for order `id` of the test's orders.
fn paid(event_id: &str, order_id: i64) -> String {
    event(event_id, "payment.succeeded", order_id, total(order_id))
}

fn total(order_id: i64) -> i64 {
    ORDERS
        .iter()
        .find_map(|&(id, total)| (id == order_id).then_some(total))
        .expect("one of the test's orders")
}

/// Fails unless `reply` is the `200` of an applied (or already applied)
/// event `id`.
#[track_caller]
fn assert_received(reply: &Reply, what: &str, id: &str) {
    if reply.status() == 400 {
        reply.fail_with_diagnosis(
            &format!("expected 200 OK for {what}, got 400 Bad Request"),
            "This event is signed as the gateway signs: the HMAC-SHA256 of `{t}.{body}`, with \
             `t` as the header writes it and the body byte for byte as it arrived (not parsed \
             and written again), keyed with the shared secret; `t` within 300 seconds of the \
             shop's clock (300 is still in), either hex case, any one of several v1 matching.",
        );
    }
    if reply.status() != 200 {
        reply.fail(&format!(
            "expected 200 OK for {what}, got {}",
            status_text(reply.status())
        ));
    }
    if reply.json() != json!({ "received": id }) {
        reply.fail(&format!(
            "expected the body {{\"received\": \"{id}\"}} for {what}"
        ));
    }
}

/// Fails unless `reply` is a `400` problem that changed nothing in the
/// database since `before`.
#[track_caller]
fn assert_refused(world: &World, before: &State, reply: &Reply, attack: &str, diagnosis: &str) {
    let after = world.state();
    if before.order_changes(&after).is_empty() && !before.new_events(&after).is_empty() {
        reply.fail_with_diagnosis(
            &format!(
                "{attack} recorded its event id: webhook_events gained {:?}; expected nothing \
                 to change",
                before.new_events(&after)
            ),
            "Record an event's id only once its signature is verified, in the transaction \
             that applies it: an id recorded from a forged request makes the shop ignore the \
             real event when the gateway sends it.",
        );
    }
    if &after != before {
        reply.fail_with_diagnosis(
            &format!(
                "{attack} was applied: {}; it answered {}, expected 400 Bad Request and \
                 nothing changed",
                before.changes(&after),
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    if reply.status() != 400 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 400 Bad Request for {attack}, got {}",
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    let content_type = reply.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/problem+json") || reply.json()["status"] != json!(400)
    {
        reply.fail(&format!(
            "the 400 for {attack} is not a problem details body with \"status\": 400\nAnswer \
             with the given `bad_signature(reason)`."
        ));
    }
}

/// Fails unless order `id` has `status`.
#[track_caller]
fn assert_order(world: &World, reply: &Reply, id: i64, status: &str, why: &str) {
    let actual = world.status(id);
    if actual != status {
        reply.fail(&format!(
            "expected order {id} to be {status:?} {why}, but it is {actual:?}"
        ));
    }
}

// ANCHOR: unsigned
#[tokio::test]
async fn a_signed_event_is_applied_and_unsigned_ones_are_refused() {
    let world = World::new().await;

    let body = paid("evt_1PaidAda", 1);
    let reply = world.deliver_signed(&body, T0).await;
    assert_received(
        &reply,
        "the gateway's signed payment of order 1",
        "evt_1PaidAda",
    );
    assert_order(&world, &reply, 1, "paid", "after its signed payment");

    let forged = paid("evt_forged", 2);
    let attacks = [
        (None, "no Shop-Signature header"),
        (Some(String::new()), "an empty Shop-Signature header"),
        (
            Some(format!("t={T0}")),
            "a Shop-Signature with a t and no v1",
        ),
        (
            Some(format!("t={T0},v1=")),
            "a Shop-Signature with an empty v1",
        ),
        (
            Some(format!("v1={}", sign(SECRET, "", &forged))),
            "a Shop-Signature with no t",
        ),
        (
            Some(format!("t={T0},v1={}", "0".repeat(64))),
            "a v1 of 64 zeros",
        ),
        (
            Some(format!("sha256={}", sign(SECRET, &T0.to_string(), &forged))),
            "a GitHub-style `sha256=` header",
        ),
    ];
    for (signature, what) in attacks {
        let before = world.state();
        let reply = world.deliver(&forged, signature.as_deref()).await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("a forged payment of order 2 with {what}"),
            FORGED_DIAGNOSIS,
        );
    }
}
// ANCHOR_END: unsigned

#[tokio::test]
async fn a_signed_event_the_shop_cannot_apply_is_refused_and_a_forged_one_too() {
    let world = World::new().await;

    for (body, what) in [
        (
            event("evt_wrong_amount", "payment.succeeded", 1, 2499),
            "a signed payment of 2499 cents for order 1, which is 2500",
        ),
        (
            event("evt_no_order", "payment.succeeded", 99, 2500),
            "a signed payment of order 99, which does not exist",
        ),
        (
            event("evt_unknown_type", "payment.disputed", 1, 2500),
            "a signed event of the unknown type payment.disputed",
        ),
    ] {
        let before = world.state();
        let reply = world.deliver_signed(&body, T0).await;
        if reply.status() != 422 {
            reply.fail(&format!(
                "expected 422 Unprocessable Content for {what}, got {}\nThe given code that \
                 applies events refuses it: keep it.",
                status_text(reply.status())
            ));
        }
        let after = world.state();
        if after != before {
            reply.fail(&format!(
                "{what} changed the database: {}; expected nothing to change\nA refused \
                 event is not recorded either: the gateway will send it again, and then it \
                 must be applied if it can be.",
                before.changes(&after)
            ));
        }
    }
    let reply = world
        .deliver_signed(&event("evt_refund", "payment.refunded", 1, 2500), T0)
        .await;
    assert_received(
        &reply,
        "the gateway's signed refund of order 1",
        "evt_refund",
    );
    assert_order(&world, &reply, 1, "cancelled", "after its signed refund");

    let before = world.state();
    let forged = event("evt_forged", "payment.succeeded", 1, 2500);
    let reply = world.deliver(&forged, None).await;
    assert_refused(
        &world,
        &before,
        &reply,
        "a forged payment of the refunded order 1, with no Shop-Signature header",
        FORGED_DIAGNOSIS,
    );

    // The database fails: a 500 that tells the gateway nothing of it.
    let db = Connection::open(world.path()).expect("the test could not open the database");
    db.execute_batch("DROP TABLE webhook_events")
        .expect("the test drops webhook_events");
    let reply = world.deliver_signed(&paid("evt_db_down", 2), T0).await;
    let content_type = reply.header("content-type").unwrap_or_default();
    if reply.status() != 500
        || !content_type.starts_with("application/problem+json")
        || reply.json()["status"] != json!(500)
    {
        reply.fail(&format!(
            "expected 500 Internal Server Error with a problem details body for a signed \
             payment while the webhook_events table is missing, got {}\nA database error is \
             the given `internal_error(&error)`: the gateway sees a 500 and sends the event \
             again later.",
            status_text(reply.status())
        ));
    }
    if reply.text().contains("webhook_events") {
        reply.fail(
            "the 500 quotes the database error (it names the table webhook_events)\nLog it, \
             and tell the client nothing of the shop's internals.",
        );
    }
}

#[tokio::test]
async fn a_signature_made_with_another_secret_is_refused() {
    let world = World::new().await;

    let body = paid("evt_2", 2);
    for (secret, what) in [
        ("whsec_guessed0000000000000000000000000", "a guessed secret"),
        ("", "an empty secret"),
        (
            "whsec_7Vq2LmX9pR4sT8wZ3nB6cD1fG5hJ0k",
            "the shop's secret without its last character",
        ),
        (
            "WHSEC_7VQ2LMX9PR4ST8WZ3NB6CD1FG5HJ0KY",
            "the shop's secret in uppercase",
        ),
    ] {
        let before = world.state();
        let reply = world
            .deliver(&body, Some(&signature_header(secret, T0, &body)))
            .await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("a payment of order 2 signed with {what}"),
            "The key of the HMAC is the whole shared secret, as bytes: only the gateway and \
             the shop know it, and a signature made with any other key must not match.",
        );
    }
    let reply = world.deliver_signed(&body, T0).await;
    assert_received(&reply, "the gateway's signed payment of order 2", "evt_2");
    assert_order(&world, &reply, 2, "paid", "after its signed payment");
}

#[tokio::test]
async fn a_body_changed_after_signing_is_refused() {
    let world = World::new().await;

    // The gateway signed a payment of order 2 (500 cents); the attacker
    // wants order 1 (2500 cents) paid, and keeps the signature.
    let signed = paid("evt_3", 2);
    let signature = signature_header(SECRET, T0, &signed);
    let attacks = [
        (
            signed
                .replace("\"order_id\":2", "\"order_id\":1")
                .replace("\"amount_cents\":500", "\"amount_cents\":2500"),
            "the order id and the amount changed to order 1's",
        ),
        (
            signed.replace("\"order_id\":2", "\"order_id\":3"),
            "the order id changed",
        ),
        (
            signed.replace(
                "\"type\":\"payment.succeeded\"",
                "\"type\":\"payment.refunded\"",
            ),
            "the type changed to a refund",
        ),
        (format!("{signed} "), "a space added after it"),
        (
            signed.replace("{\"id\"", "{ \"id\""),
            "a space added inside it",
        ),
        (
            signed.replace(",\"livemode\":false", ",\"livemode\":true"),
            "a field the shop does not read changed",
        ),
    ];
    for (body, what) in attacks {
        let before = world.state();
        let reply = world.deliver(&body, Some(&signature)).await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("the gateway's signed payment of order 2 with {what}"),
            "The signature covers the body byte for byte: verify it over the bytes exactly \
             as they arrived, before parsing them, and apply nothing it does not cover. Any \
             change, even one JSON does not care about, must break it.",
        );
    }
    // The event as the gateway sent it: its id was in every forged request
    // above, which must not have been recorded.
    let reply = world.deliver(&signed, Some(&signature)).await;
    if reply.status() == 200 && world.status(2) == "pending" {
        reply.fail_with_diagnosis(
            "the gateway's genuine payment of order 2 was answered 200 OK but not applied: \
             order 2 is still \"pending\"",
            "The forged requests before it carried the same event id, evt_3. Record an event \
             id only once its signature is verified (and in the transaction that applies the \
             event), or anyone who learns an upcoming id can block the real event.",
        );
    }
    assert_received(
        &reply,
        "the gateway's payment of order 2, as signed",
        "evt_3",
    );
    assert_order(&world, &reply, 2, "paid", "after its signed payment");
}

#[tokio::test]
async fn a_signature_from_another_event_is_refused() {
    let world = World::new().await;

    let first = paid("evt_4a", 2);
    let first_signature = signature_header(SECRET, T0, &first);
    let reply = world.deliver(&first, Some(&first_signature)).await;
    assert_received(&reply, "the gateway's signed payment of order 2", "evt_4a");

    for (body, what) in [
        (paid("evt_4b", 1), "a payment of order 1"),
        (
            paid("evt_4a", 1),
            "a payment of order 1 with the same event id",
        ),
        (
            paid("evt_4c", 2),
            "a payment of order 2 with a new event id",
        ),
    ] {
        let before = world.state();
        let reply = world.deliver(&body, Some(&first_signature)).await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("{what}, with the signature of the gateway's event evt_4a"),
            "A signature is valid for the one body it was made over: compute the HMAC over \
             this request's own body, and compare.",
        );
    }
    assert_order(&world, &reply, 2, "paid", "after its signed payment");
}

#[tokio::test]
async fn the_timestamp_is_part_of_what_is_signed() {
    let world = World::new().await;

    // An event the attacker captured an hour ago, with its signature.
    let captured = paid("evt_5", 3);
    let old_signature = sign(SECRET, &(T0 - 3600).to_string(), &captured);
    for (header, what) in [
        (format!("t={T0},v1={old_signature}"), "its t changed to now"),
        (
            format!("t={},v1={old_signature}", T0 - 60),
            "its t changed to a minute ago",
        ),
        (
            format!("t={},v1={old_signature}", T0 - 3600),
            "its t left as it was, an hour ago",
        ),
    ] {
        let before = world.state();
        let reply = world.deliver(&captured, Some(&header)).await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("a payment of order 3 the gateway signed an hour ago, replayed with {what}"),
            "The signed payload is `{t}.{body}`: the timestamp is inside the signature, so \
             that changing it breaks the signature. A signature over the body alone lets \
             anyone replay an old event with a fresh `t`.",
        );
    }
    let reply = world.deliver_signed(&captured, T0).await;
    assert_received(
        &reply,
        "the same payment of order 3, signed by the gateway now",
        "evt_5",
    );
    assert_order(&world, &reply, 3, "paid", "after its signed payment");
}

// ANCHOR: tolerance
#[tokio::test]
async fn signatures_more_than_five_minutes_away_are_refused() {
    let world = World::new().await;

    world.at(120);
    let now = T0 + 120;
    for (order, offset, what) in [
        (1, -300, "exactly 300 seconds ago"),
        (2, 300, "exactly 300 seconds ahead"),
    ] {
        let id = format!("evt_6_{order}");
        let reply = world.deliver_signed(&paid(&id, order), now + offset).await;
        if reply.status() == 400 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 200 OK for a payment signed {what} (the clock says {now}), got \
                     400 Bad Request"
                ),
                "The tolerance is 300 seconds either way, and 300 is still in: refuse only a \
                 `t` more than 300 seconds from the shop's clock.",
            );
        }
        assert_received(&reply, &format!("a payment signed {what}"), &id);
        assert_order(&world, &reply, order, "paid", "after its signed payment");
    }
    for (order, t, what) in [
        (3, now - 301, "301 seconds ago"),
        (4, now + 301, "301 seconds ahead"),
        (5, now - 86_400, "a day ago"),
        (6, now + 86_400, "a day ahead"),
    ] {
        let before = world.state();
        let reply = world
            .deliver_signed(&paid(&format!("evt_6_{order}"), order), t)
            .await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("a payment of order {order} signed {what} (the clock says {now})"),
            "Refuse a signature whose `t` is more than 300 seconds from the shop's clock, in \
             the past (a replay of a captured event) and in the future (a signature made \
             ahead of time stays usable until then). Compare with the clock the shop was \
             given.",
        );
    }
}
// ANCHOR_END: tolerance

#[tokio::test]
async fn absurd_timestamps_are_refused_without_a_panic() {
    let world = World::new().await;

    let body = paid("evt_7", 4);
    for t in [
        i64::MIN.to_string(),
        i64::MAX.to_string(),
        "99999999999999999999".to_string(),
        "-1".to_string(),
        "0".to_string(),
        format!("{T0}.5"),
        format!("{T0:#x}"),
        format!("{T0} "),
        String::new(),
    ] {
        let header = format!("t={t},v1={}", sign(SECRET, &t, &body));
        let before = world.state();
        let reply = world.deliver(&body, Some(&header)).await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("a payment of order 4 signed with t={t:?}"),
            "`t` is a whole number of seconds near the shop's clock: anything else is refused. \
             Compute the distance so that it cannot overflow (`i64::MIN - now` does: \
             `abs_diff` or checked arithmetic cannot).",
        );
    }
    let reply = world.deliver_signed(&body, T0).await;
    assert_received(&reply, "the gateway's signed payment of order 4", "evt_7");
}

// ANCHOR: replay
#[tokio::test]
async fn a_replayed_event_changes_nothing() {
    let world = World::new().await;

    let payment = paid("evt_8_paid", 1);
    let payment_signature = signature_header(SECRET, T0, &payment);
    let reply = world.deliver(&payment, Some(&payment_signature)).await;
    assert_received(&reply, "the gateway's payment of order 1", "evt_8_paid");

    world.at(60);
    let refund = event("evt_8_refund", "payment.refunded", 1, 2500);
    let reply = world.deliver_signed(&refund, T0 + 60).await;
    assert_received(&reply, "the gateway's refund of order 1", "evt_8_refund");
    assert_order(&world, &reply, 1, "cancelled", "after its refund");

    world.at(120);
    for (signature, what) in [
        (
            payment_signature.clone(),
            "the gateway's payment of order 1, replayed byte for byte 2 minutes later",
        ),
        (
            signature_header(SECRET, T0 + 120, &payment),
            "the gateway's payment of order 1, sent again by the gateway with a new signature",
        ),
    ] {
        let reply = world.deliver(&payment, Some(&signature)).await;
        if world.status(1) != "cancelled" {
            reply.fail_with_diagnosis(
                &format!(
                    "{what}, after its refund, paid order 1 again: it is {:?}, expected \
                     \"cancelled\"",
                    world.status(1)
                ),
                "Record the id of every event applied (webhook_events), in the transaction \
                 that applies it, and apply an event whose id is already there no more: a \
                 signature stays valid for 5 minutes, long enough to replay it, and the \
                 gateway itself sends an event again (with a fresh t and signature) when it \
                 did not see your 200.",
            );
        }
        assert_received(&reply, what, "evt_8_paid");
    }
}
// ANCHOR_END: replay

#[tokio::test]
async fn applied_events_are_remembered_after_a_restart() {
    let mut world = World::new().await;

    let payment = paid("evt_9_paid", 5);
    let reply = world.deliver_signed(&payment, T0).await;
    assert_received(&reply, "the gateway's payment of order 5", "evt_9_paid");
    let refund = event("evt_9_refund", "payment.refunded", 5, 4200);
    let reply = world.deliver_signed(&refund, T0).await;
    assert_received(&reply, "the gateway's refund of order 5", "evt_9_refund");

    world.restart().await;
    world.at(30);
    let reply = world.deliver_signed(&payment, T0 + 30).await;
    if world.status(5) != "cancelled" {
        reply.fail_with_diagnosis(
            &format!(
                "the gateway's payment of order 5, sent again after the shop restarted, paid \
                 the refunded order again: it is {:?}, expected \"cancelled\"",
                world.status(5)
            ),
            "The ids of applied events must outlive the process: keep them in the database \
             (webhook_events), not in memory, where a restart or a second instance of the \
             shop forgets them.",
        );
    }
    assert_received(&reply, "a payment applied before the restart", "evt_9_paid");
}

#[tokio::test]
async fn one_matching_signature_among_several_is_enough_and_no_less() {
    let world = World::new().await;

    let accepted: [(i64, &str, MakeHeader); 3] = [
        (1, "a wrong v1 first, then the right one", |body: &str| {
            format!(
                "t={T0},v1={},v1={}",
                sign(OLD_SECRET, &T0.to_string(), body),
                sign(SECRET, &T0.to_string(), body)
            )
        }),
        (2, "the right v1 in uppercase hex", |body: &str| {
            format!(
                "t={T0},v1={}",
                sign(SECRET, &T0.to_string(), body).to_uppercase()
            )
        }),
        (3, "a v0 entry before the right v1", |body: &str| {
            format!(
                "v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39,t={T0},v1={}",
                sign(SECRET, &T0.to_string(), body)
            )
        }),
    ];
    for (order, what, header) in accepted {
        let id = format!("evt_10_{order}");
        let body = paid(&id, order);
        let reply = world.deliver(&body, Some(&header(&body))).await;
        assert_received(&reply, &format!("a payment with {what}"), &id);
        assert_order(&world, &reply, order, "paid", "after its signed payment");
    }

    let body = paid("evt_10_4", 4);
    let right = sign(SECRET, &T0.to_string(), &body);
    let stale_signed = sign(SECRET, &(T0 - 3600).to_string(), &body);
    let attacks = [
        (
            format!(
                "t={T0},v1={},v1={}",
                sign(OLD_SECRET, &T0.to_string(), &body),
                "ab".repeat(32)
            ),
            "two v1, neither made with the shop's secret",
        ),
        (
            format!("t={T0},v1={}", &right[..32]),
            "the first half of the right v1",
        ),
        (
            format!("t={T0},v1={}", &right[..2]),
            "the first byte of the right v1",
        ),
        (
            format!("t={T0},v1={right}00"),
            "the right v1 with a byte added",
        ),
        (format!("t={T0},v0={right}"), "the right signature, as v0"),
        (
            format!("t={},v1={stale_signed},t={T0}", T0 - 3600),
            "a t from an hour ago with its v1, and a second t of now",
        ),
        (
            format!("t={},t={T0},v1={right}", T0 - 3600),
            "two t, an hour ago and now, and the v1 of now",
        ),
        (
            format!("t={T0},v1={right},t={}", T0 - 3600),
            "the right t and v1, and a second t of an hour ago",
        ),
        (
            format!(
                "t={T0},v1={}",
                right.replace(|c: char| c.is_ascii_digit(), "g")
            ),
            "a v1 that is not hex",
        ),
    ];
    for (header, what) in attacks {
        let before = world.state();
        let reply = world.deliver(&body, Some(&header)).await;
        assert_refused(
            &world,
            &before,
            &reply,
            &format!("a payment of order 4 with {what}"),
            "One v1 that is the whole HMAC (32 bytes), made with the shop's secret over this \
             `{t}.{body}`, is needed; other entries are ignored, and a header with two t is \
             refused. Decode the hex and compare all the bytes: a prefix is not a signature.",
        );
    }
}

#[tokio::test]
async fn the_signature_covers_the_body_exactly_as_sent() {
    let world = World::new().await;

    // The attacker pretty-prints a signed event (the JSON means the same)
    // and keeps its signature.
    let signed = paid("evt_11_a", 2);
    let signature = signature_header(SECRET, T0, &signed);
    let value: serde_json::Value = serde_json::from_str(&signed).expect("the event is JSON");
    let pretty = serde_json::to_string_pretty(&value).expect("JSON prints");
    let before = world.state();
    let reply = world.deliver(&pretty, Some(&signature)).await;
    assert_refused(
        &world,
        &before,
        &reply,
        "the gateway's signed payment of order 2, pretty-printed, with its signature",
        "The signature is over the bytes the gateway sent, not over what they mean: verify \
         it over the raw body, exactly as it arrived.",
    );

    // The gateway writes its JSON its own way: keys in its order, spaces,
    // escapes, nested fields, a final newline. Its signature covers these
    // bytes, and no parser writes them back the same.
    let body = "{\n  \"type\" : \"payment.succeeded\",\t\"id\":\"evt_11_b\" ,\n  \
                \"data\": {\"customer\": \"Ad\\u00e9le\", \"note\": \"caf\u{e9} \\/ 10\\u20ac\"},\
                \n  \"amount_cents\": 1250, \"order_id\": 3, \"created\": 1.8e9\n}\n";
    let reply = world.deliver_signed(body, T0).await;
    if reply.status() == 400 {
        reply.fail_with_diagnosis(
            "expected 200 OK for the gateway's payment of order 3, signed over its body as \
             sent, got 400 Bad Request",
            "The signature was computed over these exact bytes. Parsing the JSON and writing \
             it out again (to verify it, or because the handler only has the parsed event) \
             changes the spacing, the key order and the escapes, and the signature no longer \
             matches: read the body as raw bytes, verify those, then parse.",
        );
    }
    assert_received(
        &reply,
        "the gateway's payment of order 3, in its own JSON style",
        "evt_11_b",
    );
    assert_order(&world, &reply, 3, "paid", "after its signed payment");
}
