//! Tests for api/idempotency: the shop's app on a real SQLite file in a
//! temporary folder, called over HTTP on 127.0.0.1, the database read with
//! a connection of the test's own.
//!
//! The concurrent test stages its race: it holds the database's write lock
//! itself while twenty requests with one key arrive, waits until each of
//! them is waiting for that lock (the shop reports every wait through
//! `Shop::on_lock_wait`), and only then lets them go. A handler that looks
//! the key up before it holds the write lock has by then seen "no such key"
//! twenty times, every time.

use std::path::PathBuf;
use std::time::Duration;

use api_idempotency::{Shop, app};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};
use tokio::time::Instant;

/// A shop in a temporary SQLite file: customers 1 (Ada) and 2 (Grace); the
/// red mug (product 7, 1250 cents, 12 in stock) and the green tea (product
/// 8, 450 cents, 1 in stock).
struct Fixture {
    _folder: TempDir,
    path: PathBuf,
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
        };
        fixture
            .connect()
            .execute_batch(
                "INSERT INTO customers (id, email, name) VALUES
                     (1, 'ada@example.com', 'Ada'), (2, 'grace@example.com', 'Grace');
                 INSERT INTO products (id, sku, name, price_cents, stock, created_at) VALUES
                     (7, 'MUG-RED', 'Red mug', 1250, 12, '2026-11-30T09:15:00Z'),
                     (8, 'TEA-GREEN', 'Green tea', 450, 1, '2026-11-30T09:15:00Z');",
            )
            .expect("the test could not add its customers and products");
        fixture
    }

    /// A connection of the test's own, patient with the app's locks.
    fn connect(&self) -> Connection {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.busy_timeout(Duration::from_secs(10))
            .expect("the test could not set a busy timeout");
        db
    }

    /// The shop's app on this file, served on a free port.
    async fn server(&self) -> TestServer {
        TestServer::spawn(app(self.shop())).await
    }

    fn shop(&self) -> Shop {
        Shop::open(&self.path)
            .unwrap_or_else(|error| panic!("\nShop::open failed on the test's file: {error}\n"))
    }

    fn count_orders(&self) -> i64 {
        self.connect()
            .query_row("SELECT count(*) FROM orders", [], |row| row.get(0))
            .expect("the test could not count the orders")
    }

    fn stock(&self, product: i64) -> i64 {
        self.connect()
            .query_row(
                "SELECT stock FROM products WHERE id = ?1",
                [product],
                |row| row.get(0),
            )
            .expect("the test could not read a product's stock")
    }

    fn order_status(&self, order: i64) -> String {
        self.connect()
            .query_row("SELECT status FROM orders WHERE id = ?1", [order], |row| {
                row.get(0)
            })
            .expect("the test could not read an order's status")
    }
}

/// Two red mugs for Ada.
fn two_mugs() -> Value {
    json!({ "customer_id": 1, "items": [{ "product_id": 7, "quantity": 2 }] })
}

/// Sends `POST path` with `body` and `Idempotency-Key: key`.
async fn post(server: &TestServer, path: &str, key: &str, body: &Value) -> Reply {
    server
        .post(path)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
}

/// Sends `POST path` with no body and `Idempotency-Key: key`.
async fn post_empty(server: &TestServer, path: &str, key: &str) -> Reply {
    server
        .post(path)
        .header("idempotency-key", key)
        .send()
        .await
}

/// The id of the order in a `201` reply, which must have one.
#[track_caller]
fn order_id(reply: &Reply) -> i64 {
    match reply.json()["id"].as_i64() {
        Some(id) => id,
        None => reply.fail("expected an order with a numeric \"id\" in the body"),
    }
}

/// Fails unless `reply` is the problem details response `status`, `title`,
/// `detail`.
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, title: &str, detail: &str) {
    reply
        .assert_status(status)
        .assert_content_type("application/problem+json")
        .assert_json(&json!({
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
        }));
}

/// Fails unless `replay` repeats `first`: same status, same body, same
/// `location`, and says it is a replay.
#[track_caller]
fn assert_replay(replay: &Reply, first: &Reply) {
    if replay.status() != first.status() {
        replay.fail_with_diagnosis(
            &format!(
                "a retry with the same Idempotency-Key got {}, but the first request got {}",
                status_text(replay.status()),
                status_text(first.status())
            ),
            "A retry must get the stored response of the first request, whatever it was.",
        );
    }
    if replay.text() != first.text() {
        replay.fail_with_diagnosis(
            &format!(
                "a retry with the same Idempotency-Key got another body than the first \
                 request\n  first body: {}",
                first.text()
            ),
            "A replay sends the stored body again, byte for byte: the retrying client must \
             learn the same order id (and everything else) as if the first answer had reached \
             it.",
        );
    }
    if replay.header("location") != first.header("location") {
        replay.fail_with_diagnosis(
            &format!(
                "a retry with the same Idempotency-Key got `location: {}`, the first request \
                 `location: {}`",
                replay.header("location").unwrap_or("(none)"),
                first.header("location").unwrap_or("(none)")
            ),
            "Store the headers that matter with the response: the Location of the created \
             order is one.",
        );
    }
    let content_type = replay.header("content-type");
    if content_type != first.header("content-type") {
        replay.fail(&format!(
            "a retry with the same Idempotency-Key got `content-type: {}`, the first request \
             `content-type: {}`",
            content_type.unwrap_or("(none)"),
            first.header("content-type").unwrap_or("(none)")
        ));
    }
    replay.assert_header("idempotent-replayed", "true");
}

/// Fails unless the database holds `expected` orders and `mugs` red mugs.
#[track_caller]
fn assert_orders_and_stock(
    fixture: &Fixture,
    reply: &Reply,
    expected: i64,
    mugs: i64,
    story: &str,
) {
    let orders = fixture.count_orders();
    if orders != expected {
        reply.fail_with_diagnosis(
            &format!("{story} left {orders} orders in the database, expected {expected}"),
            "A request whose Idempotency-Key was seen before must create nothing: it gets the \
             stored response of the first one. (The response above is the last one sent.)",
        );
    }
    let stock = fixture.stock(7);
    if stock != mugs {
        reply.fail(&format!(
            "{story} left {stock} red mugs in stock, expected {mugs} (12 before)"
        ));
    }
}

#[tokio::test]
async fn a_keyed_order_answers_201_with_its_location_and_the_order() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let reply = post(&server, "/orders", "order-ada-1", &two_mugs()).await;

    reply
        .assert_status(201)
        .assert_content_type("application/json")
        .assert_no_header("idempotent-replayed");
    let id = order_id(&reply);
    reply.assert_header("location", &format!("/orders/{id}"));
    let order = reply.json();
    let created_at = order["created_at"].as_str().unwrap_or_default();
    let expected = json!({
        "id": id,
        "customer_id": 1,
        "status": "pending",
        "items": [{ "product_id": 7, "quantity": 2, "price_cents": 1250 }],
        "total_cents": 2500,
        "created_at": created_at,
    });
    if created_at.len() != 20 || !created_at.ends_with('Z') {
        reply.fail("expected \"created_at\" as RFC 3339 UTC text, like \"2026-11-30T09:15:00Z\"");
    }
    reply.assert_json(&expected);
    assert_orders_and_stock(&fixture, &reply, 1, 10, "one POST /orders");
    let location = format!("/orders/{id}");
    server
        .get(&location)
        .send()
        .await
        .assert_status(200)
        .assert_json(&expected);
}

#[tokio::test]
async fn the_shops_own_checks_answer_behind_the_key_too() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // Two products, the tea's whole stock.
    let both = json!({ "customer_id": 2, "items": [
        { "product_id": 7, "quantity": 2 },
        { "product_id": 8, "quantity": 1 },
    ] });

    let reply = post(&server, "/orders", "both", &both).await;

    reply.assert_status(201);
    let total = reply.json()["total_cents"].clone();
    if total != json!(2950) {
        reply.fail(&format!(
            "expected \"total_cents\": 2950 for 2 mugs at 1250 and 1 tea at 450, got {total}"
        ));
    }
    for (key, items) in [
        ("none-of-it", json!([{ "product_id": 7, "quantity": 0 }])),
        (
            "twice",
            json!([{ "product_id": 7, "quantity": 1 }, { "product_id": 7, "quantity": 1 }]),
        ),
    ] {
        let body = json!({ "customer_id": 1, "items": items });
        let refused = post(&server, "/orders", key, &body).await;
        let detail = "Each product appears once, with a quantity of at least 1.";
        assert_problem(&refused, 422, "Invalid item", detail);
        let retry = post(&server, "/orders", key, &body).await;
        assert_replay(&retry, &refused);
    }
    let missing = server.get("/orders/99").send().await;
    assert_problem(&missing, 404, "Not found", "There is no order 99.");
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_response_and_creates_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let first = post(&server, "/orders", "order-ada-1", &two_mugs()).await;
    first.assert_status(201);
    for _ in 0..2 {
        let retry = post(&server, "/orders", "order-ada-1", &two_mugs()).await;
        assert_replay(&retry, &first);
        assert_orders_and_stock(&fixture, &retry, 1, 10, "a POST /orders and its retries");
    }
}

#[tokio::test]
async fn different_keys_are_different_orders_even_with_the_same_body() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let first = post(&server, "/orders", "order-ada-1", &two_mugs()).await;
    let second = post(&server, "/orders", "order-ada-2", &two_mugs()).await;

    first.assert_status(201);
    second
        .assert_status(201)
        .assert_no_header("idempotent-replayed");
    if order_id(&second) == order_id(&first) {
        second.fail_with_diagnosis(
            "a second order with another Idempotency-Key got the first order back",
            "Two keys are two requests: a customer may well buy two mugs twice. The key, not \
             the body, tells a retry from a new request.",
        );
    }
    assert_orders_and_stock(&fixture, &second, 2, 8, "two POST /orders with two keys");
}

// ANCHOR: concurrent
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_requests_at_once_with_one_key_create_one_order_and_get_one_response() {
    let fixture = Fixture::new();
    // Two servers on one database, as two processes of the shop would be.
    let (wait_started, mut waits) = tokio::sync::mpsc::unbounded_channel();
    let watched = |shop: Shop| {
        let wait_started = wait_started.clone();
        shop.on_lock_wait(move || {
            let _ = wait_started.send(());
        })
    };
    let servers = [
        TestServer::spawn(app(watched(fixture.shop()))).await,
        TestServer::spawn(app(watched(fixture.shop()))).await,
    ];
    // One keyed request that changes nothing (there is no order 999), so
    // that an app that cannot answer at all fails here, once.
    post_empty(&servers[0], "/orders/999/cancel", "warm-up").await;

    // The test holds the write lock while the requests arrive...
    let lock = fixture.connect();
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("the test could not take the write lock");
    let requests: Vec<_> = (0..20)
        .map(|n| {
            let call = servers[n % 2]
                .post("/orders")
                .header("idempotency-key", "order-ada-1")
                .json(&two_mugs());
            tokio::spawn(call.send())
        })
        .collect();
    // ...until all twenty wait for it (5 s at most; fewer if some answered).
    let mut waiting = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while waiting < 20 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(20), waits.recv()).await {
            Ok(_) => waiting += 1,
            Err(_) if requests.iter().any(|request| request.is_finished()) => break,
            Err(_) => {}
        }
    }
    lock.execute_batch("ROLLBACK")
        .expect("the test could not let go of the write lock");

    let mut replies = Vec::new();
    for request in requests {
        let reply = request
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        replies.push(reply);
    }
    check_one_order_one_response(&fixture, &replies, waiting);
}
// ANCHOR_END: concurrent

/// The verdicts of the concurrent test.
fn check_one_order_one_response(fixture: &Fixture, replies: &[Reply], waiting: usize) {
    let sent = format!(
        "20 requests POST /orders with `Idempotency-Key: order-ada-1` and the same body were \
         sent at once, 10 to each of two servers on one database, while the test held the \
         write lock; {waiting} of them started waiting for it before the test let it go."
    );
    let orders = fixture.count_orders();
    if orders != 1 {
        panic!(
            "\nthe same Idempotency-Key created {orders} orders, expected 1\n{sent}\nEach \
             request looked the key up, found nothing, and went on to create its order. Look \
             the key up inside the transaction that writes the order and the stored response, \
             once that transaction holds the write lock (BEGIN IMMEDIATE): then only one \
             request at a time can find the key missing, and the others find the stored \
             response. A map in memory does not help either: the two servers share only the \
             database.\n"
        );
    }
    let stock = fixture.stock(7);
    if stock != 10 {
        panic!(
            "\n{} red mugs left in stock, expected 10 (12 before, one order of 2)\n{sent}\n",
            stock
        );
    }
    for reply in replies {
        if reply.status() != 201 {
            reply.fail_with_diagnosis(
                &format!(
                    "one of 20 requests with the same Idempotency-Key got {}, expected 201 \
                     Created like the first\n{sent}",
                    status_text(reply.status())
                ),
                "Every duplicate must wait for the first request's result and replay it (not \
                 409, not an error). A transaction that reads the key before it asks for the \
                 write lock (a plain BEGIN) fails with `database is locked` once another \
                 connection has written in between: begin it IMMEDIATE.",
            );
        }
    }
    let first = replies
        .iter()
        .find(|reply| reply.header("idempotent-replayed").is_none())
        .unwrap_or_else(|| {
            replies[0].fail(&format!(
                "all 20 responses say `idempotent-replayed: true`, expected one first answer \
                 without it\n{sent}"
            ))
        });
    for reply in replies.iter().filter(|reply| !std::ptr::eq(*reply, first)) {
        assert_replay(reply, first);
    }
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused_with_422() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let first = post(&server, "/orders", "order-ada-1", &two_mugs()).await;
    first.assert_status(201);

    let three_mugs = json!({ "customer_id": 1, "items": [{ "product_id": 7, "quantity": 3 }] });
    let reused = post(&server, "/orders", "order-ada-1", &three_mugs).await;

    if reused.status() == 201 {
        reused.fail_with_diagnosis(
            "the same Idempotency-Key with another body got 201 Created, expected 422 \
             Unprocessable Content",
            "The key was first sent with 2 mugs, now with 3: this is not a retry but another \
             request that reuses the key. The fingerprint stored with the key must cover the \
             body.",
        );
    }
    assert_problem(
        &reused,
        422,
        "Idempotency-Key is already used",
        "This Idempotency-Key was sent with a different request.",
    );
    assert_orders_and_stock(
        &fixture,
        &reused,
        1,
        10,
        "an order, then its key with another body",
    );
    let retry = post(&server, "/orders", "order-ada-1", &two_mugs()).await;
    assert_replay(&retry, &first);
}

#[tokio::test]
async fn the_same_key_on_another_path_is_refused_with_422() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let one = order_id(
        post(&server, "/orders", "order-1", &two_mugs())
            .await
            .assert_status(201),
    );
    let two = order_id(
        post(&server, "/orders", "order-2", &two_mugs())
            .await
            .assert_status(201),
    );

    let path_one = format!("/orders/{one}/cancel");
    let cancelled = post_empty(&server, &path_one, "cancel-it").await;
    cancelled.assert_status(200);
    let path_two = format!("/orders/{two}/cancel");
    let reused = post_empty(&server, &path_two, "cancel-it").await;

    if reused.status() == 200 {
        reused.fail_with_diagnosis(
            &format!(
                "the Idempotency-Key of POST {path_one} was taken for POST {path_two}: it got \
                 200, expected 422 Unprocessable Content"
            ),
            "Both requests have an empty body, but they are not the same request: the \
             fingerprint stored with the key must cover the method and the path too. Order \
             {two} was not cancelled, whatever the response says.",
        );
    }
    assert_problem(
        &reused,
        422,
        "Idempotency-Key is already used",
        "This Idempotency-Key was sent with a different request.",
    );
    let status = fixture.order_status(two);
    if status != "pending" {
        reused.fail(&format!(
            "order {two} is {status} after a refused cancel, expected pending"
        ));
    }
}

#[tokio::test]
async fn a_retried_cancel_replays_200_instead_of_409() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let id = order_id(
        post(&server, "/orders", "order-1", &two_mugs())
            .await
            .assert_status(201),
    );
    let path = format!("/orders/{id}/cancel");

    let first = post_empty(&server, &path, "cancel-1").await;
    first
        .assert_status(200)
        .assert_no_header("idempotent-replayed");
    let retry = post_empty(&server, &path, "cancel-1").await;

    if retry.status() == 409 {
        retry.fail_with_diagnosis(
            "a retried cancel with the same Idempotency-Key got 409 Conflict, expected the \
             first answer, 200 OK, replayed",
            "Without its key the second cancel would find the order cancelled already; with \
             the key it is the same request, and gets the same response.",
        );
    }
    assert_replay(&retry, &first);
    let stock = fixture.stock(7);
    if stock != 12 {
        retry.fail(&format!(
            "{stock} red mugs in stock after an order of 2 was cancelled twice with one key, \
             expected 12: the stock went back more than once"
        ));
    }
}

#[tokio::test]
async fn a_refused_order_is_stored_and_replayed_too() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let two_teas = json!({ "customer_id": 2, "items": [{ "product_id": 8, "quantity": 2 }] });

    let first = post(&server, "/orders", "tea-1", &two_teas).await;
    assert_problem(&first, 409, "Out of stock", "Only 1 of product 8 left.");
    fixture
        .connect()
        .execute("UPDATE products SET stock = 5 WHERE id = 8", [])
        .expect("the test could not restock the tea");
    let retry = post(&server, "/orders", "tea-1", &two_teas).await;

    if retry.status() == 201 {
        retry.fail_with_diagnosis(
            "a retry of a request refused with 409 got 201 Created, expected the 409 replayed",
            "The first answer to this Idempotency-Key was 409 Out of stock; then the tea was \
             restocked (5 now). The stored response is the answer to the key, whatever it was, \
             not only a success: a client that retries must not see its request fail and then \
             succeed. Store every response the operation gives, refusals included.",
        );
    }
    assert_replay(&retry, &first);
    let orders = fixture.count_orders();
    let stock = fixture.stock(8);
    if orders != 0 || stock != 5 {
        retry.fail(&format!(
            "a refused order and its retry left {orders} orders and {stock} teas, expected 0 \
             and 5"
        ));
    }
    post(&server, "/orders", "tea-2", &two_teas)
        .await
        .assert_status(201);
}

#[tokio::test]
async fn a_request_without_a_key_is_refused_with_400_and_creates_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let reply = server.post("/orders").json(&two_mugs()).send().await;

    assert_problem(
        &reply,
        400,
        "Idempotency-Key is missing",
        "This request needs an Idempotency-Key header.",
    );
    assert_orders_and_stock(&fixture, &reply, 0, 12, "a POST /orders without a key");
    let cancel = server.post("/orders/1/cancel").send().await;
    assert_problem(
        &cancel,
        400,
        "Idempotency-Key is missing",
        "This request needs an Idempotency-Key header.",
    );
}

#[tokio::test]
async fn a_key_of_255_characters_is_taken_and_longer_or_empty_keys_are_refused() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // Visible ASCII with the characters a careless store might trip on.
    let long: String = "a-'%_\";,:/ Z".chars().cycle().take(255).collect();

    let taken = post(&server, "/orders", &long, &two_mugs()).await;
    taken.assert_status(201);
    let retry = post(&server, "/orders", &long, &two_mugs()).await;
    assert_replay(&retry, &taken);

    for key in [format!("{long}x"), String::new()] {
        let refused = post(&server, "/orders", &key, &two_mugs()).await;
        assert_problem(
            &refused,
            400,
            "Idempotency-Key is invalid",
            "An Idempotency-Key is 1 to 255 characters of visible ASCII.",
        );
    }
    assert_orders_and_stock(&fixture, &retry, 1, 10, "keys of 255, 256 and 0 characters");
}

#[tokio::test]
async fn keys_survive_a_restart_of_the_shop() {
    let fixture = Fixture::new();
    let before = fixture.server().await;
    let first = post(&before, "/orders", "order-ada-1", &two_mugs()).await;
    first.assert_status(201);
    drop(before);

    // A new app on the same file, as after a restart or on another server.
    let after = fixture.server().await;
    let retry = post(&after, "/orders", "order-ada-1", &two_mugs()).await;

    if fixture.count_orders() > 1 {
        retry.fail_with_diagnosis(
            "after a restart, a retry with the same Idempotency-Key created a new order",
            "The shop was stopped and a new app was started on the same database file. Keys \
             and their responses belong in the database, not in the app's memory: a client \
             retries whenever it likes, and maybe against another server.",
        );
    }
    assert_replay(&retry, &first);
    assert_orders_and_stock(&fixture, &retry, 1, 10, "a POST /orders and its retry");
}

#[tokio::test]
async fn an_order_whose_response_cannot_be_stored_is_not_created() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // From now on, writing to the table of keys fails, as a full disk would.
    let db = fixture.connect();
    db.execute_batch(
        "CREATE TRIGGER full_disk_insert BEFORE INSERT ON idempotency_keys
         BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;
         CREATE TRIGGER full_disk_update BEFORE UPDATE ON idempotency_keys
         BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
    )
    .expect("the test could not add its triggers to the idempotency_keys table");

    let failed = post(&server, "/orders", "order-ada-1", &two_mugs()).await;

    failed.assert_status(500);
    if failed.text().contains("disk") {
        failed.fail("the 500's body quotes the database's error, expected it to tell nothing");
    }
    let orders = fixture.count_orders();
    if orders != 0 {
        failed.fail_with_diagnosis(
            &format!(
                "the order was created ({orders} in the database) although its response could \
                 not be stored"
            ),
            "The table of keys refused the write (the test made it fail, like a full disk). \
             The order, the stock and the stored response must be one transaction: else a \
             crash between them leaves an order without its key, and the client's retry \
             creates it a second time.",
        );
    }
    db.execute_batch("DROP TRIGGER full_disk_insert; DROP TRIGGER full_disk_update;")
        .expect("the test could not drop its triggers");
    let retry = post(&server, "/orders", "order-ada-1", &two_mugs()).await;
    retry
        .assert_status(201)
        .assert_no_header("idempotent-replayed");
    assert_orders_and_stock(
        &fixture,
        &retry,
        1,
        10,
        "a failed POST /orders and its retry",
    );
}
