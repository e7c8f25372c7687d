//! Tests for production/scaling: two instances of the shop, each an `app`
//! built by its own `Shop::open` on one SQLite file (as two processes on one
//! machine would be), behind a small round-robin proxy of the test's own.
//! Every request goes through the proxy, which sends the first to instance
//! `a`, the second to `b`, the third to `a` again, and so on, and marks
//! each response `x-served-by: a` or `b`. The two instances share the
//! database and the test's clock, and nothing else.
//!
//! Three tests stage a race: the test holds the database's write lock
//! itself while many requests arrive at both instances, waits until each
//! of them is waiting for that lock (the shop reports every wait through
//! `Shop::on_lock_wait`), and only then lets them all go. Code that reads
//! first and writes later, in two steps, has by then read the same thing
//! in every request, every time.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use production_scaling::{
    Clock, JOB_LEASE, LOGIN_WINDOW, MAX_LOGIN_ATTEMPTS, SESSION_TTL, Shop, add_customer,
    add_product, app, enqueue_job,
};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Call, Reply, TestServer, Value, json, status_text};
use tokio::time::Instant;

/// The time when each test starts: 2026-11-30T09:15:00Z, in Unix seconds.
const T0: i64 = 1_796_030_100;

const ADA: &str = "ada@example.com";
const ADA_PASSWORD: &str = "correct horse battery staple";

/// Two instances of the shop on one database file, behind a round-robin
/// proxy. Customer 1 is Ada, customer 2 Grace; product 1 is the red mug
/// (1250 cents, 12 in stock), product 2 the green tea (450 cents, 5).
struct Cluster {
    _folder: TempDir,
    path: PathBuf,
    /// The clock both instances read, in Unix seconds.
    now: Arc<AtomicI64>,
    /// How many times a connection of either instance started waiting for
    /// a lock.
    waits: Arc<AtomicUsize>,
    _instances: [TestServer; 2],
    proxy: TestServer,
}

impl Cluster {
    async fn start() -> Cluster {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let now = Arc::new(AtomicI64::new(T0));
        let waits = Arc::new(AtomicUsize::new(0));
        let instance = || {
            let now = Arc::clone(&now);
            let clock = Clock::from_fn(move || now.load(Ordering::SeqCst));
            let shop = Shop::open(&path, clock).unwrap_or_else(|error| {
                panic!("\nShop::open failed: {error}\n  call: Shop::open(&path, clock)\n")
            });
            let waits = Arc::clone(&waits);
            app(shop.on_lock_wait(move || {
                waits.fetch_add(1, Ordering::SeqCst);
            }))
        };
        let a = TestServer::spawn(instance()).await;
        let b = TestServer::spawn(instance()).await;
        let proxy = TestServer::spawn(round_robin(&a, &b)).await;
        let cluster = Cluster {
            _folder: folder,
            path,
            now,
            waits,
            _instances: [a, b],
            proxy,
        };
        let db = cluster.connect();
        add_customer(&db, ADA, "Ada", ADA_PASSWORD).expect("the test could not add Ada");
        add_customer(&db, "grace@example.com", "Grace", "hopper")
            .expect("the test could not add Grace");
        add_product(&db, "MUG-RED", "Red mug", 1250, 12).expect("the test could not add a mug");
        add_product(&db, "TEA-GREEN", "Green tea", 450, 5).expect("the test could not add tea");
        cluster
    }

    /// A connection of the test's own, patient with the shop's locks.
    fn connect(&self) -> Connection {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.busy_timeout(Duration::from_secs(10))
            .expect("the test could not set a busy timeout");
        db
    }

    /// Sets both instances' clock to `T0 + seconds`.
    fn set_time(&self, seconds: i64) {
        self.now.store(T0 + seconds, Ordering::SeqCst);
    }

    fn count(&self, sql: &str) -> i64 {
        self.connect()
            .query_row(sql, [], |row| row.get(0))
            .unwrap_or_else(|error| panic!("the test could not run `{sql}`: {error}"))
    }

    async fn login(&self, email: &str, password: &str) -> Reply {
        let body = json!({ "email": email, "password": password });
        self.proxy.post("/login").json(&body).send().await
    }

    async fn me(&self, session: &str) -> Reply {
        let cookie = format!("session={session}");
        self.proxy.get("/me").header("cookie", &cookie).send().await
    }

    async fn logout(&self, session: &str) -> Reply {
        let cookie = format!("session={session}");
        self.proxy
            .post("/logout")
            .header("cookie", &cookie)
            .send()
            .await
    }

    fn order(&self, key: &str, body: &Value) -> Call {
        self.proxy
            .post("/orders")
            .header("idempotency-key", key)
            .json(body)
    }

    async fn claim(&self) -> Reply {
        self.proxy.post("/jobs/claim").send().await
    }

    /// Sends the `n` requests `call(0)`, ..., `call(n - 1)` at once through
    /// the proxy (so half to each instance) while the test holds the write
    /// lock, and lets the lock go once all of them wait for it (5 seconds
    /// at most; at once if one has answered already). Returns the replies
    /// and how many were waiting.
    async fn at_once(&self, n: usize, call: impl Fn(usize) -> Call) -> (Vec<Reply>, usize) {
        let lock = self.connect();
        lock.execute_batch("BEGIN IMMEDIATE")
            .expect("the test could not take the write lock");
        let before = self.waits.load(Ordering::SeqCst);
        let requests: Vec<_> = (0..n).map(|i| tokio::spawn(call(i).send())).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        let waiting = loop {
            let waiting = self.waits.load(Ordering::SeqCst) - before;
            let answered = requests.iter().any(|request| request.is_finished());
            if waiting >= n || answered || Instant::now() >= deadline {
                break waiting;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        lock.execute_batch("ROLLBACK")
            .expect("the test could not let go of the write lock");
        let mut replies = Vec::new();
        for request in requests {
            match request.await {
                Ok(reply) => replies.push(reply),
                Err(error) => std::panic::resume_unwind(error.into_panic()),
            }
        }
        (replies, waiting.min(n))
    }
}

// ANCHOR: proxy
/// The proxy: a router that forwards every request, whatever its method and
/// path, to `a` and `b` in turn (method, path and query, headers, body),
/// and answers what the instance answered, plus `x-served-by`.
fn round_robin(a: &TestServer, b: &TestServer) -> Router {
    let proxy = Proxy {
        instances: Arc::new([("a", a.url("")), ("b", b.url(""))]),
        next: Arc::new(AtomicUsize::new(0)),
        client: testkit::client(),
    };
    Router::new().fallback(forward).with_state(proxy)
}

#[derive(Clone)]
struct Proxy {
    instances: Arc<[(&'static str, String); 2]>,
    next: Arc<AtomicUsize>,
    client: testkit::reqwest::Client,
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let turn = proxy.next.fetch_add(1, Ordering::SeqCst) % 2;
    let (name, base) = &proxy.instances[turn];
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return (StatusCode::BAD_REQUEST, "the proxy could not read the body").into_response();
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let mut outgoing = proxy
        .client
        .request(parts.method, format!("{base}{target}"))
        .body(body);
    for (header, value) in &parts.headers {
        if ![HOST, CONTENT_LENGTH, CONNECTION, TRANSFER_ENCODING].contains(header) {
            outgoing = outgoing.header(header, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => {
            let text = format!("the proxy got no answer from instance {name}: {error}");
            return (StatusCode::BAD_GATEWAY, text).into_response();
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (header, value) in &headers {
        if ![CONTENT_LENGTH, CONNECTION, TRANSFER_ENCODING].contains(header) {
            response.headers_mut().append(header, value.clone());
        }
    }
    let served_by = HeaderValue::from_static(name);
    response.headers_mut().insert("x-served-by", served_by);
    response
}
// ANCHOR_END: proxy

/// Which instance answered.
fn served_by(reply: &Reply) -> &str {
    reply.header("x-served-by").unwrap_or("?")
}

/// The session id the login's `set-cookie` carries; fails the test if the
/// login did not answer 200 with one.
fn session_of(login: &Reply) -> String {
    if login.status() != 200 {
        login.fail(&format!(
            "logging in with the right password answered {}, expected 200 OK (instance {})",
            status_text(login.status()),
            served_by(login)
        ));
    }
    let cookie = login.header("set-cookie").unwrap_or_default();
    match cookie
        .split(';')
        .next()
        .and_then(|pair| pair.trim().strip_prefix("session="))
    {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => login.fail("the login answered 200 but set no `session` cookie"),
    }
}

fn ada() -> Value {
    json!({ "id": 1, "email": ADA, "name": "Ada" })
}

/// Fails unless `reply` is `200 OK` with Ada as its body: `what` says which
/// session was asked about.
fn assert_ada(reply: &Reply, what: &str, diagnosis: &str) {
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "{what} was refused by instance {}: expected 200 OK, got {}",
                served_by(reply),
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    reply.assert_json(&ada());
}

/// Fails unless `reply` is `401 Unauthorized`: `what` says which session
/// was asked about.
fn assert_refused(reply: &Reply, what: &str, diagnosis: &str) {
    if reply.status() != 401 {
        reply.fail_with_diagnosis(
            &format!(
                "{what} was accepted by instance {}: expected 401 Unauthorized, got {}",
                served_by(reply),
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
}

const SESSIONS_IN_MEMORY: &str = "Each instance has its own memory: a session kept there is \
    known only to the instance that made it, and a logout there ends it only there. Keep \
    sessions where every instance reads them, in the database (the `sessions` table), and \
    look the session up there on every request.";

#[tokio::test]
async fn a_login_on_one_instance_is_honoured_by_the_other() {
    let cluster = Cluster::start().await;
    let session = session_of(&cluster.login(ADA, ADA_PASSWORD).await); // a

    let me = cluster.me(&session).await; // b
    assert_ada(
        &me,
        "GET /me with the session cookie that instance a had just made",
        SESSIONS_IN_MEMORY,
    );
    let me = cluster.me(&session).await; // a
    assert_ada(
        &me,
        "GET /me with the session cookie that instance a had made",
        SESSIONS_IN_MEMORY,
    );
}

#[tokio::test]
async fn a_logout_on_one_instance_ends_the_session_on_both() {
    let cluster = Cluster::start().await;
    let session = session_of(&cluster.login(ADA, ADA_PASSWORD).await); // a
    let seen = "GET /me with a session made by instance a";
    assert_ada(&cluster.me(&session).await, seen, SESSIONS_IN_MEMORY); // b
    assert_ada(&cluster.me(&session).await, seen, SESSIONS_IN_MEMORY); // a

    let logout = cluster.logout(&session).await; // b
    logout.assert_status(204);
    let cleared = logout.header("set-cookie").unwrap_or_default();
    if !cleared.starts_with("session=;") || !cleared.contains("Max-Age=0") {
        logout.fail(
            "the logout did not clear the cookie: expected `set-cookie: session=; ... Max-Age=0`",
        );
    }

    let ended = "GET /me with the cookie of a session that instance b had logged out";
    let diagnosis = "Both instances had seen the session before the logout. An instance that \
        remembers sessions it looked up (a cache in its memory) keeps answering for one that \
        another instance ended: ask the database every time, and delete the session there on \
        logout.";
    assert_refused(&cluster.me(&session).await, ended, diagnosis); // a
    assert_refused(&cluster.me(&session).await, ended, diagnosis); // b
}

#[tokio::test]
async fn two_logins_make_two_sessions_and_a_logout_ends_only_its_own() {
    let cluster = Cluster::start().await;
    let first = session_of(&cluster.login(ADA, ADA_PASSWORD).await); // a
    let second_login = cluster.login(ADA, ADA_PASSWORD).await; // b
    let second = session_of(&second_login);
    if second == first || second.len() < 32 {
        second_login.fail(&format!(
            "the second login's session id is {second:?}, the first one's {first:?}: expected \
             two different ids of at least 128 random bits"
        ));
    }
    let made_by_b = "GET /me with the session that instance b had just made";
    assert_ada(&cluster.me(&second).await, made_by_b, SESSIONS_IN_MEMORY); // a

    let logout = cluster.logout(&first).await; // b
    logout.assert_status(204);
    let other = "GET /me with Ada's second session, after her first was logged out,";
    assert_ada(
        &cluster.me(&second).await, // a
        other,
        "A logout ends the session of its cookie, not every session of the customer (a \
         phone and a laptop each have their own).",
    );
    let ended = "GET /me with Ada's first session, after instance b logged it out,";
    assert_refused(&cluster.me(&first).await, ended, SESSIONS_IN_MEMORY); // b
}

#[tokio::test]
async fn a_session_ends_at_its_expiry_on_both_instances() {
    let cluster = Cluster::start().await;
    let login = cluster.login(ADA, ADA_PASSWORD).await; // a, at T0
    let session = session_of(&login);
    let cookie = login.header("set-cookie").unwrap_or_default();
    // The page promises sessions of an hour.
    if !cookie.contains("; Max-Age=3600") {
        login.fail(&format!(
            "the session cookie does not say `Max-Age=3600` (SESSION_TTL is {SESSION_TTL} s): \
             a session lasts an hour"
        ));
    }

    cluster.set_time(SESSION_TTL - 1);
    let me = cluster.me(&session).await; // b
    assert_ada(
        &me,
        &format!(
            "a session made at T by instance a, asked about at T + {} s (one second before it \
             expires),",
            SESSION_TTL - 1
        ),
        &format!(
            "A session lasts SESSION_TTL ({SESSION_TTL} s) from its login. {SESSIONS_IN_MEMORY}"
        ),
    );

    cluster.set_time(SESSION_TTL);
    let at_expiry = format!(
        "a session made at T by instance a, asked about at T + {SESSION_TTL} s, when it expires,"
    );
    let diagnosis = "A session is valid while now is before its `expires_at` (login time + \
        SESSION_TTL): at `expires_at` it is over, on every instance.";
    assert_refused(&cluster.me(&session).await, &at_expiry, diagnosis); // a
    assert_refused(&cluster.me(&session).await, &at_expiry, diagnosis); // b
}

fn two_mugs() -> Value {
    json!({ "customer_id": 1, "items": [{ "product_id": 1, "quantity": 2 }] })
}

/// Fails unless `replay` is the same response as `first`, marked as a
/// replay.
fn assert_replay(replay: &Reply, first: &Reply) {
    let same = replay.status() == first.status()
        && replay.text() == first.text()
        && replay.header("location") == first.header("location");
    if !same {
        replay.fail_with_diagnosis(
            &format!(
                "a retry with the same Idempotency-Key got another response from instance {} \
                 than the first request got from instance {}",
                served_by(replay),
                served_by(first)
            ),
            &format!(
                "  the first:  {} {}\n            location: {}\nA retry must get the first \
                 response again, whichever instance it reaches: the key and the response must \
                 be stored where every instance finds them, in the database.",
                status_text(first.status()),
                first.text(),
                first.header("location").unwrap_or("(none)")
            ),
        );
    }
    if replay.header("idempotent-replayed") != Some("true") {
        replay.fail_with_diagnosis(
            &format!(
                "a retry with the same Idempotency-Key was not answered as a replay by instance \
                 {}: no `idempotent-replayed: true`",
                served_by(replay)
            ),
            "The instance ran the request again instead of finding its key: the key and its \
             response must be stored where every instance finds them, in the database.",
        );
    }
}

/// Fails unless the database holds `orders` orders, and as many
/// confirmation jobs, and the stock is what they leave.
fn assert_orders(cluster: &Cluster, reply: &Reply, orders: i64, what: &str) {
    let stored = cluster.count("SELECT count(*) FROM orders");
    if stored != orders {
        reply.fail_with_diagnosis(
            &format!("{what} created {stored} orders, expected {orders}"),
            "The first request with a key creates the order; every later one, on any \
             instance, finds the key in the database and replays its response.",
        );
    }
    let jobs = cluster.count("SELECT count(*) FROM jobs WHERE kind = 'order_confirmation'");
    let stock = cluster.count("SELECT stock FROM products WHERE id = 1");
    if jobs != orders || stock != 12 - 2 * orders {
        reply.fail(&format!(
            "after {what}: {jobs} confirmation jobs and {stock} mugs in stock, expected {orders} \
             and {}: the order, its stock and its job are written in one transaction",
            12 - 2 * orders
        ));
    }
}

#[tokio::test]
async fn the_same_idempotency_key_on_both_instances_makes_one_order() {
    let cluster = Cluster::start().await;
    let first = cluster.order("order-ada-1", &two_mugs()).send().await; // a
    first.assert_status(201);
    let retry = cluster.order("order-ada-1", &two_mugs()).send().await; // b
    assert_replay(&retry, &first);
    assert_orders(
        &cluster,
        &retry,
        1,
        "POST /orders sent to instance a, then again with the same Idempotency-Key to instance b,",
    );

    let Some(location) = first.header("location") else {
        first.fail("the created order has no `location` header");
    };
    let order = cluster.proxy.get(location).send().await; // a
    order.assert_status(200);
    if order.json() != first.json() {
        order.fail(&format!(
            "the order at the created order's `location` ({location}) is not the order \
             created\n  created: {}",
            first.text()
        ));
    }
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused_by_the_other_instance() {
    let cluster = Cluster::start().await;
    let first = cluster.order("order-ada-1", &two_mugs()).send().await; // a
    first.assert_status(201);
    let three_mugs = json!({ "customer_id": 1, "items": [{ "product_id": 1, "quantity": 3 }] });
    let reused = cluster.order("order-ada-1", &three_mugs).send().await; // b
    if reused.status() != 422 {
        reused.fail_with_diagnosis(
            &format!(
                "an Idempotency-Key that instance a had used for 2 mugs, sent to instance b with \
                 3 mugs, got {}, expected 422 Unprocessable Content",
                status_text(reused.status())
            ),
            "The key's first request, and its fingerprint, must be stored where every instance \
             finds them: instance b must know the key was used, and for what.",
        );
    }
    reused.assert_content_type("application/problem+json");
    let problem = reused.json();
    if problem["title"] != "Idempotency-Key is already used" {
        reused.fail("expected the problem `\"title\": \"Idempotency-Key is already used\"`");
    }
    assert_orders(
        &cluster,
        &reused,
        1,
        "an order, then its key with another body,",
    );
}

#[tokio::test]
async fn a_refused_order_is_refused_once_and_replayed_by_the_other_instance() {
    let cluster = Cluster::start().await;
    let too_many = json!({ "customer_id": 1, "items": [{ "product_id": 1, "quantity": 13 }] });
    let refused = cluster.order("too-many", &too_many).send().await; // a
    refused
        .assert_status(409)
        .assert_content_type("application/problem+json");
    if refused.json()["title"] != "Out of stock" {
        refused.fail("expected the problem `\"title\": \"Out of stock\"` for 13 mugs of 12");
    }
    let retry = cluster.order("too-many", &too_many).send().await; // b
    assert_replay(&retry, &refused);

    let nothing = json!({ "customer_id": 1, "items": [{ "product_id": 1, "quantity": 0 }] });
    let invalid = cluster.order("nothing", &nothing).send().await; // a
    invalid.assert_status(422);
    if invalid.json()["title"] != "Invalid item" {
        invalid.fail("expected the problem `\"title\": \"Invalid item\"` for 0 mugs");
    }

    let mixed = json!({ "customer_id": 1, "items": [
        { "product_id": 1, "quantity": 1 }, { "product_id": 2, "quantity": 1 }
    ] });
    let placed = cluster.order("mixed", &mixed).send().await; // b
    placed.assert_status(201);
    if placed.json()["total_cents"] != 1700 {
        placed.fail("expected `\"total_cents\": 1700` for a mug (1250) and a tea (450)");
    }
    let the_rest = json!({ "customer_id": 1, "items": [{ "product_id": 1, "quantity": 11 }] });
    let last = cluster.order("the-rest", &the_rest).send().await; // a
    last.assert_status(201);
    if last.json()["total_cents"] != 11 * 1250 {
        last.fail("expected `\"total_cents\": 13750` for 11 mugs of 1250 cents");
    }
    let (orders, mugs) = (
        cluster.count("SELECT count(*) FROM orders"),
        cluster.count("SELECT stock FROM products WHERE id = 1"),
    );
    if (orders, mugs) != (2, 0) {
        last.fail(&format!(
            "after two refused orders and two placed ones (1 mug and a tea, then the 11 mugs \
             left), the database holds {orders} orders and {mugs} mugs in stock, expected 2 \
             and 0"
        ));
    }

    // Lesson 03's rules for the key itself, on both instances.
    let one_tea = json!({ "customer_id": 1, "items": [{ "product_id": 2, "quantity": 1 }] });
    let no_key = cluster.proxy.post("/orders").json(&one_tea).send().await; // b
    no_key.assert_status(400);
    for key in [String::new(), "k".repeat(256)] {
        let refused = cluster.order(&key, &one_tea).send().await;
        if refused.status() != 400 {
            refused.fail(&format!(
                "an Idempotency-Key of {} bytes got {} from instance {}, expected 400 Bad \
                 Request: a key is 1 to 255 bytes",
                key.len(),
                status_text(refused.status()),
                served_by(&refused)
            ));
        }
    }
    let longest = cluster.order(&"k".repeat(255), &one_tea).send().await;
    longest.assert_status(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_retries_at_once_over_both_instances_make_one_order() {
    let cluster = Cluster::start().await;
    let (replies, waiting) = cluster
        .at_once(20, |_| cluster.order("order-ada-1", &two_mugs()))
        .await;
    let sent = format!(
        "20 requests POST /orders with `Idempotency-Key: order-ada-1` and the same body were \
         sent at once through the proxy, 10 to each instance, while the test held the write \
         lock; {waiting} of them started waiting for it before the test let it go."
    );
    let orders = cluster.count("SELECT count(*) FROM orders");
    if orders != 1 {
        panic!(
            "\nthe same Idempotency-Key created {orders} orders, expected 1\n{sent}\nEach \
             instance, or each request, looked the key up, found nothing, and created its \
             order. Look the key up in the database inside the transaction that writes the \
             order and the stored response, once that transaction holds the write lock (BEGIN \
             IMMEDIATE): then only one request at a time, on any instance, can find the key \
             missing. A lock in the memory of one instance does not stop the other.\n"
        );
    }
    for reply in &replies {
        if reply.status() != 201 {
            reply.fail_with_diagnosis(
                &format!(
                    "one of 20 requests with the same Idempotency-Key got {} from instance {}, \
                     expected 201 Created like the first\n{sent}",
                    status_text(reply.status()),
                    served_by(reply)
                ),
                "Every duplicate waits for the first request's result and replays it. A \
                 transaction that reads the key before it asks for the write lock (a plain \
                 BEGIN) fails with `database is locked` once another connection has written \
                 in between: begin it IMMEDIATE.",
            );
        }
    }
    let fresh: Vec<&Reply> = replies
        .iter()
        .filter(|reply| reply.header("idempotent-replayed").is_none())
        .collect();
    let Some(first) = fresh.first() else {
        replies[0].fail(&format!(
            "all 20 responses say `idempotent-replayed: true`, expected one first answer without \
             it\n{sent}"
        ));
    };
    for reply in replies.iter().filter(|reply| !std::ptr::eq(*reply, *first)) {
        assert_replay(reply, first);
    }
}

/// A wrong password for Ada, in one of several spellings of her email.
fn wrong_password(cluster: &Cluster, attempt: usize) -> Call {
    let spellings = [ADA, " Ada@Example.com", "ADA@EXAMPLE.COM "];
    let body = json!({ "email": spellings[attempt % 3], "password": format!("guess {attempt}") });
    cluster.proxy.post("/login").json(&body)
}

const ATTEMPTS_PER_INSTANCE: &str = "Each instance counted only the attempts that reached it: \
    behind a round-robin balancer, a guesser gets as many tries per window as there are \
    instances. Count the attempts in the database (the `login_attempts` table), with one \
    statement that counts and reads the count.";

#[tokio::test]
async fn failed_logins_are_counted_over_both_instances() {
    let cluster = Cluster::start().await;
    for attempt in 0..MAX_LOGIN_ATTEMPTS as usize {
        let reply = wrong_password(&cluster, attempt).send().await;
        reply.assert_status(401);
    }
    let verdict = |reply: &Reply, what: &str| {
        format!(
            "{what} got {} from instance {}, expected 429 Too Many Requests: the account had \
             used its {MAX_LOGIN_ATTEMPTS} attempts, on instances a, b, a, b and a",
            status_text(reply.status()),
            served_by(reply)
        )
    };
    let sixth = wrong_password(&cluster, 5).send().await; // b
    if sixth.status() != 429 {
        sixth.fail_with_diagnosis(&verdict(&sixth, "the sixth attempt"), ATTEMPTS_PER_INSTANCE);
    }
    // The page promises windows of 15 minutes.
    sixth.assert_header("retry-after", "900");

    let grace = cluster.login("grace@example.com", "hopper").await; // a
    if grace.status() != 200 {
        grace.fail_with_diagnosis(
            &format!(
                "Grace's login with her right password got {} from instance {}, expected 200 OK",
                status_text(grace.status()),
                served_by(&grace)
            ),
            "Ada's account had used its attempts, not Grace's: attempts are counted per \
             account (the email, trimmed and in lowercase), so a guesser on one account \
             never locks out another.",
        );
    }

    let right = cluster.login(ADA, ADA_PASSWORD).await; // b
    if right.status() != 429 {
        right.fail_with_diagnosis(
            &verdict(&right, "the right password, as the seventh attempt,"),
            "Once the account has no attempt left, every attempt is refused before the \
             password is checked, the right one too: otherwise a guesser learns which guess \
             was right.",
        );
    }

    cluster.set_time(LOGIN_WINDOW - 1);
    let late = cluster.login(ADA, ADA_PASSWORD).await; // a
    if late.status() != 429 {
        late.fail_with_diagnosis(
            &verdict(
                &late,
                "the right password, one second before the window's end,",
            ),
            &format!(
                "The window opened with the first attempt, at T, and lasts LOGIN_WINDOW \
                 ({LOGIN_WINDOW} s): it is not over at T + {} s.",
                LOGIN_WINDOW - 1
            ),
        );
    }
    late.assert_header("retry-after", "1");

    cluster.set_time(LOGIN_WINDOW);
    let after = cluster.login(ADA, ADA_PASSWORD).await; // b
    if after.status() != 200 {
        after.fail_with_diagnosis(
            &format!(
                "the right password, when the window had ended, got {} from instance {}, \
                 expected 200 OK",
                status_text(after.status()),
                served_by(&after)
            ),
            &format!(
                "The window opened at T with the first attempt; at T + {LOGIN_WINDOW} s it is \
                 over, and a new one opens with this attempt. Refused attempts do not push the \
                 window's end further."
            ),
        );
    }
}

#[tokio::test]
async fn a_successful_login_starts_the_count_again_on_both_instances() {
    let cluster = Cluster::start().await;
    for attempt in 0..4 {
        wrong_password(&cluster, attempt)
            .send()
            .await
            .assert_status(401);
    }
    session_of(&cluster.login(ADA, ADA_PASSWORD).await); // a
    let fresh = MAX_LOGIN_ATTEMPTS as usize;
    for attempt in 0..fresh {
        let reply = wrong_password(&cluster, attempt).send().await;
        if reply.status() != 401 {
            reply.fail_with_diagnosis(
                &format!(
                    "wrong password number {} after a successful login got {} from instance \
                     {}, expected 401 Unauthorized",
                    attempt + 1,
                    status_text(reply.status()),
                    served_by(&reply)
                ),
                "A successful login starts the account's count again, for every instance: the \
                 customer who finally typed the right password gets all their attempts back.",
            );
        }
    }
    let over = wrong_password(&cluster, fresh).send().await; // a
    if over.status() != 429 {
        over.fail_with_diagnosis(
            &format!(
                "wrong password number {} after a successful login got {} from instance {}, \
                 expected 429 Too Many Requests",
                fresh + 1,
                status_text(over.status()),
                served_by(&over)
            ),
            ATTEMPTS_PER_INSTANCE,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_wrong_passwords_at_once_get_exactly_five_tries_over_both_instances() {
    let cluster = Cluster::start().await;
    let (replies, waiting) = cluster
        .at_once(20, |attempt| wrong_password(&cluster, attempt))
        .await;
    let unexpected = replies
        .iter()
        .find(|reply| reply.status() != 401 && reply.status() != 429);
    if let Some(reply) = unexpected {
        reply.fail(&format!(
            "one of 20 wrong passwords sent at once got {} from instance {}, expected 401 \
             Unauthorized or 429 Too Many Requests",
            status_text(reply.status()),
            served_by(reply)
        ));
    }
    let tried: Vec<&str> = replies
        .iter()
        .filter(|reply| reply.status() == 401)
        .map(served_by)
        .collect();
    if tried.len() != MAX_LOGIN_ATTEMPTS as usize {
        panic!(
            "\n{} of 20 wrong passwords sent at once had their password checked (401), expected \
             {MAX_LOGIN_ATTEMPTS}\n20 POST /login for ada@example.com with wrong passwords were \
             sent at once through the proxy, 10 to each instance, while the test held the write \
             lock; {waiting} of them started waiting for it before the test let it go. The \
             401s came from instances {tried:?}; every other attempt got 429.\n{}\n",
            tried.len(),
            if tried.len() > MAX_LOGIN_ATTEMPTS as usize {
                "An attempt that reads the count, then writes it in another statement, lets \
                 every attempt that read before the first write through. Count and read the \
                 count in one statement (an upsert with RETURNING), or in one transaction \
                 that holds the write lock from its start. A count per instance lets \
                 through the limit on each."
            } else {
                "Fewer attempts got through than the limit allows."
            }
        );
    }
}

/// Fails unless `reply` is `200 OK` with a job; returns its JSON.
fn claimed(reply: &Reply, what: &str) -> Value {
    if reply.status() != 200 {
        reply.fail(&format!(
            "{what} got {} from instance {}, expected 200 OK with a job",
            status_text(reply.status()),
            served_by(reply)
        ));
    }
    reply.json()
}

/// Fails unless `reply` is `204 No Content`: no job was due.
fn nothing_due(reply: &Reply, what: &str, diagnosis: &str) {
    if reply.status() != 204 {
        reply.fail_with_diagnosis(
            &format!(
                "{what} got {} from instance {}, expected 204 No Content",
                status_text(reply.status()),
                served_by(reply)
            ),
            diagnosis,
        );
    }
}

const CLAIMS_IN_MEMORY: &str = "The instance that handed the job out remembered it in its own \
    memory; the other instance did not know. Claim the job in the database: one UPDATE that \
    picks a due job and marks it running, with its lease, in the same statement.";

#[tokio::test]
async fn each_job_is_handed_out_once_over_both_instances() {
    let cluster = Cluster::start().await;
    let db = cluster.connect();
    let mut queued = Vec::new();
    for (n, run_at) in [T0 - 10, T0 - 5, T0, T0 + 1].into_iter().enumerate() {
        let payload = json!({ "order_id": n + 1 }).to_string();
        let id = enqueue_job(&db, "order_confirmation", &payload, run_at)
            .expect("the test could not queue a job");
        queued.push(id);
    }

    let mut handed_out: Vec<(i64, String)> = Vec::new();
    for (n, queued_id) in queued.iter().take(3).enumerate() {
        let reply = cluster.claim().await;
        let job = claimed(&reply, &format!("claim {} of 3 due jobs", n + 1));
        let id = job["id"].as_i64().unwrap_or(-1);
        if let Some((_, first)) = handed_out.iter().find(|(seen, _)| *seen == id) {
            reply.fail_with_diagnosis(
                &format!(
                    "job {id} was handed out twice: by instance {first}, then by instance {}",
                    served_by(&reply)
                ),
                CLAIMS_IN_MEMORY,
            );
        }
        let payload = json!({ "order_id": n + 1 });
        let expected = json!({
            "id": queued_id, "kind": "order_confirmation", "payload": payload, "attempts": 1
        });
        if job != expected {
            reply.fail(&format!(
                "claim {} handed out {job}, expected {expected}: the due jobs go oldest `run_at` \
                 first",
                n + 1
            ));
        }
        handed_out.push((id, served_by(&reply).to_string()));
    }
    let fourth = cluster.claim().await; // b
    nothing_due(
        &fourth,
        "a fourth claim, with 3 jobs handed out and one due only at T + 1",
        "A job whose `run_at` is in the future waits for it; a job handed out waits for its \
         lease to expire, whichever instance handed it out.",
    );
    let running = cluster.count(&format!(
        "SELECT count(*) FROM jobs WHERE state = 'running' AND attempts = 1 \
         AND locked_until = {}",
        T0 + JOB_LEASE
    ));
    if running != 3 {
        fourth.fail(&format!(
            "{running} of the 3 jobs handed out are `running` in the database with 1 attempt \
             and `locked_until` = T + {JOB_LEASE}, expected all 3: the database is where every \
             instance, and a restarted one, sees that a job is taken"
        ));
    }

    cluster.set_time(1);
    let due_now = cluster.claim().await; // a
    let job = claimed(&due_now, "a claim at the very second a job's `run_at` came");
    if job["id"] != queued[3] {
        due_now.fail(&format!("expected job {}, the one due at T + 1", queued[3]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_claims_at_once_over_both_instances_never_share_a_job() {
    let cluster = Cluster::start().await;
    let db = cluster.connect();
    for n in 0..10 {
        let payload = json!({ "order_id": n + 1 }).to_string();
        enqueue_job(&db, "order_confirmation", &payload, T0 - 60 + n)
            .expect("the test could not queue a job");
    }
    let (replies, waiting) = cluster
        .at_once(16, |_| cluster.proxy.post("/jobs/claim"))
        .await;
    let sent = format!(
        "10 jobs were due; 16 POST /jobs/claim were sent at once through the proxy, 8 to each \
         instance, while the test held the write lock; {waiting} of them started waiting for it \
         before the test let it go."
    );
    let mut handed_out: Vec<(i64, &str)> = Vec::new();
    for reply in &replies {
        match reply.status() {
            204 => {}
            200 => {
                let id = reply.json()["id"].as_i64().unwrap_or(-1);
                if let Some((_, first)) = handed_out.iter().find(|(seen, _)| *seen == id) {
                    reply.fail_with_diagnosis(
                        &format!(
                            "job {id} was handed out twice, by instance {first} and by instance \
                             {}\n{sent}",
                            served_by(reply)
                        ),
                        "A claim that SELECTs a due job, then UPDATEs it in another statement, \
                         lets every claimer that read before the first write take the same \
                         job. Pick and take the job in one statement (UPDATE ... WHERE id = \
                         (SELECT ...) RETURNING ...), or make the UPDATE check that the job is \
                         still free and try again if it was not.",
                    );
                }
                handed_out.push((id, served_by(reply)));
            }
            _ => reply.fail_with_diagnosis(
                &format!(
                    "one of 16 claims at once got {} from instance {}, expected 200 OK or 204 No \
                     Content\n{sent}",
                    status_text(reply.status()),
                    served_by(reply)
                ),
                "A transaction that reads before it writes (a plain BEGIN) fails with `database \
                 is locked` once another connection has written in between: begin it \
                 IMMEDIATE, or claim with one statement.",
            ),
        }
    }
    if handed_out.len() != 10 {
        panic!(
            "\n{} of 10 due jobs were handed out by 16 claims, expected all 10\n{sent}\n",
            handed_out.len()
        );
    }
    let running =
        cluster.count("SELECT count(*) FROM jobs WHERE state = 'running' AND attempts = 1");
    if running != 10 {
        panic!(
            "\n{running} of 10 jobs are `running` with 1 attempt in the database after 16 claims, \
             expected 10\n{sent}\n"
        );
    }
}

#[tokio::test]
async fn a_claimed_job_is_handed_out_again_only_when_its_lease_has_expired() {
    let cluster = Cluster::start().await;
    let payload = json!({ "order_id": 1 }).to_string();
    let id = enqueue_job(&cluster.connect(), "order_confirmation", &payload, T0)
        .expect("the test could not queue a job");
    let first = cluster.claim().await; // a, at T0
    claimed(&first, "a claim of the one due job");

    cluster.set_time(JOB_LEASE - 1);
    let early = cluster.claim().await; // b
    nothing_due(
        &early,
        &format!(
            "a claim {} s after instance a had claimed the only job (its lease lasts {JOB_LEASE} \
             s)",
            JOB_LEASE - 1
        ),
        &format!(
            "A job is leased to its worker until `locked_until` (claim time + JOB_LEASE); \
             before then no instance may hand it out again. {CLAIMS_IN_MEMORY}"
        ),
    );

    cluster.set_time(JOB_LEASE);
    let again = cluster.claim().await; // a
    let job = claimed(
        &again,
        &format!("a claim when the job's lease had expired, {JOB_LEASE} s after it was claimed,"),
    );
    let expected = json!({ "id": id, "kind": "order_confirmation", "payload": { "order_id": 1 }, "attempts": 2 });
    if job != expected {
        again.fail(&format!(
            "the claim handed out {job}, expected {expected}: the job whose worker let its \
             lease expire, with its second attempt"
        ));
    }
    let late = cluster.claim().await; // b
    nothing_due(
        &late,
        "a claim right after the expired job was claimed again",
        "The new claim has a new lease, from now.",
    );
}

#[tokio::test]
async fn a_claim_the_database_cannot_record_hands_out_nothing_and_tells_nothing() {
    let cluster = Cluster::start().await;
    let payload = json!({ "order_id": 1 }).to_string();
    let db = cluster.connect();
    enqueue_job(&db, "order_confirmation", &payload, T0).expect("the test could not queue a job");
    db.execute_batch(
        "CREATE TRIGGER full_disk BEFORE UPDATE ON jobs
         BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
    )
    .expect("the test could not add its trigger");

    let claim = cluster.claim().await; // a
    if claim.status() != 500 {
        claim.fail_with_diagnosis(
            &format!(
                "a claim that the database could not record got {} from instance {}, expected \
                 500 Internal Server Error",
                status_text(claim.status()),
                served_by(&claim)
            ),
            "The test made every change to the `jobs` table fail. A claim that is not recorded \
             in the database is unknown to every other instance, which will hand the same job \
             out again: the claim is the UPDATE of the job's row, and when it fails no job is \
             handed out.",
        );
    }
    claim.assert_content_type("application/problem+json");
    if claim.text().contains("disk") {
        claim.fail("the 500 tells the client the database's error: log it, answer a plain problem");
    }
    let unchanged = cluster.count("SELECT count(*) FROM jobs WHERE state = 'queued'");
    if unchanged != 1 {
        claim.fail(&format!(
            "{unchanged} queued jobs after the failed claim, expected 1"
        ));
    }
}
