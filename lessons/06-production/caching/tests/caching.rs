//! Tests for production/caching: the shop's app on a real SQLite file,
//! called over HTTP on 127.0.0.1, reading its catalogue through a fake
//! [`Catalogue`] the tests hold in their hands. The fake wraps the real
//! [`SqliteCatalogue`]: it counts every load, reads the database at once
//! (so a load sees the catalogue as it was when it started), then holds the
//! load back until the test releases it, and can fail or panic on request.
//! Writes can be held back the same way.
//!
//! Nothing here sleeps to let time pass: the app's clock is a number the
//! test sets. Races are staged in order: a middleware of the test's own
//! counts the requests that reached the app, and every test that waits for
//! something waits for a condition, for a few seconds at most. The staged
//! tests run the server and the test on one runtime thread, so when the
//! test sees that a request arrived, its handler has already run as far as
//! it can (to the load, or to the wait for one).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use production_caching::{
    BoxFuture, Catalogue, Clock, LoadError, NewProduct, Product, ProductPatch, SqliteCatalogue,
    TTL_SECONDS, WriteError, app,
};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The time when every test starts: 2026-11-30T09:15:00Z, in Unix seconds.
const START: u64 = 1_796_030_100;

/// Where [`Harness::warm_up`] leaves the clock: 100 s after [`START`],
/// well after the warm-up's catalogue expired (at 60 s).
const AFTER_WARM_UP: u64 = 100;

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- the shop

/// The shop's database, in a temporary folder, with three products.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
}

impl Shop {
    fn new() -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        SqliteCatalogue::open(&path).expect("SqliteCatalogue::open failed on a new file");
        let db = Connection::open(&path).expect("the test could not open its database");
        db.execute_batch(
            "INSERT INTO products (id, sku, name, price_cents, stock, created_at) VALUES
                 (1, 'MUG-RED', 'Red mug', 1250, 12, '2026-11-30T09:15:00Z'),
                 (2, 'TEE-BLK', 'Black T-shirt', 2000, 5, '2026-11-30T09:15:00Z'),
                 (3, 'BOWL-CAFE', 'Bol à café, 450 ml', 1890, 7, '2026-11-30T09:15:00Z');",
        )
        .expect("the test could not add its products");
        Shop {
            _folder: folder,
            path,
        }
    }

    /// Every product in the file, as `GET /products` should list them,
    /// read with a connection of the test's own.
    fn products(&self) -> Value {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        let mut statement = db
            .prepare("SELECT id, sku, name, price_cents, stock FROM products ORDER BY id")
            .expect("the test could not read the products");
        let rows = statement
            .query_map([], |row| {
                Ok(json!({
                    "id": row.get::<_, i64>(0)?,
                    "sku": row.get::<_, String>(1)?,
                    "name": row.get::<_, String>(2)?,
                    "price_cents": row.get::<_, i64>(3)?,
                    "stock": row.get::<_, i64>(4)?,
                }))
            })
            .expect("the test could not read the products");
        Value::Array(rows.map(|row| row.expect("a product row reads")).collect())
    }

    /// Makes every insert of a product with this sku fail in the database,
    /// as a full disk would.
    fn break_inserts_of(&self, sku: &str) {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.execute_batch(&format!(
            "CREATE TRIGGER full_disk BEFORE INSERT ON products WHEN NEW.sku = '{sku}'
             BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;"
        ))
        .expect("the test could not add its trigger");
    }

    /// Changes a price behind the app's back, as another process would.
    fn set_price(&self, id: i64, price_cents: i64) {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.busy_timeout(PATIENCE).expect("a busy timeout sets");
        db.execute(
            "UPDATE products SET price_cents = ?2 WHERE id = ?1",
            (id, price_cents),
        )
        .expect("the test could not change a price");
    }
}

// ------------------------------------------------------- the fake catalogue

/// What the fake does with a load once it is released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Returns what it read from the database.
    Products,
    /// Fails with a `LoadError`.
    Fail,
    /// Panics.
    Panic,
}

/// Which loads may finish: all, or only those numbered here (1 is the
/// first load of the test).
#[derive(Clone, Debug)]
struct Released {
    all: bool,
    loads: Vec<usize>,
}

/// The real catalogue, counted and held back by the test.
struct Fake {
    real: SqliteCatalogue,
    /// How many loads were started.
    loads: AtomicUsize,
    /// How many loads have read the database.
    snapshots: AtomicUsize,
    released: watch::Sender<Released>,
    outcome: Mutex<Outcome>,
    /// How many writes were started.
    writes: AtomicUsize,
    writes_open: watch::Sender<bool>,
}

impl Fake {
    fn new(shop: &Shop) -> Fake {
        let all = Released {
            all: true,
            loads: Vec::new(),
        };
        Fake {
            real: SqliteCatalogue::open(&shop.path).expect("SqliteCatalogue::open failed"),
            loads: AtomicUsize::new(0),
            snapshots: AtomicUsize::new(0),
            released: watch::channel(all).0,
            outcome: Mutex::new(Outcome::Products),
            writes: AtomicUsize::new(0),
            writes_open: watch::channel(true).0,
        }
    }

    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    fn snapshots(&self) -> usize {
        self.snapshots.load(Ordering::SeqCst)
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// From now on, loads wait until the test releases them.
    fn hold_loads(&self) {
        self.released.send_replace(Released {
            all: false,
            loads: Vec::new(),
        });
    }

    /// Lets load number `number` (1 for the first) finish.
    fn release(&self, number: usize) {
        self.released
            .send_modify(|released| released.loads.push(number));
    }

    /// Lets every load finish, now and from now on.
    fn release_all(&self) {
        self.released.send_modify(|released| released.all = true);
    }

    fn set_outcome(&self, outcome: Outcome) {
        *self.outcome.lock().unwrap() = outcome;
    }

    fn hold_writes(&self) {
        self.writes_open.send_replace(false);
    }

    fn release_writes(&self) {
        self.writes_open.send_replace(true);
    }
}

impl Catalogue for Fake {
    fn load(&self) -> BoxFuture<'_, Result<Vec<Product>, LoadError>> {
        Box::pin(async move {
            let number = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
            let outcome = *self.outcome.lock().unwrap();
            // The snapshot is taken first: a slow query returns the rows
            // as they were when it started.
            let products = self.real.load().await;
            self.snapshots.fetch_add(1, Ordering::SeqCst);
            let mut released = self.released.subscribe();
            let _ = released
                .wait_for(|released| released.all || released.loads.contains(&number))
                .await;
            match outcome {
                Outcome::Products => products,
                Outcome::Fail => Err(LoadError("the database is down (the test says so)".into())),
                Outcome::Panic => panic!("the catalogue query crashed (the test made it panic)"),
            }
        })
    }

    fn create(&self, new: NewProduct) -> BoxFuture<'_, Result<Product, WriteError>> {
        Box::pin(async move {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let mut open = self.writes_open.subscribe();
            let _ = open.wait_for(|open| *open).await;
            self.real.create(new).await
        })
    }

    fn update(
        &self,
        id: i64,
        patch: ProductPatch,
    ) -> BoxFuture<'_, Result<Option<Product>, WriteError>> {
        Box::pin(async move {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let mut open = self.writes_open.subscribe();
            let _ = open.wait_for(|open| *open).await;
            self.real.update(id, patch).await
        })
    }
}

// ------------------------------------------------------------- the harness

/// What the test's middleware sees of the requests.
#[derive(Clone)]
struct Watcher {
    /// How many requests reached the app.
    arrived: Arc<AtomicUsize>,
    /// Set to true, it drops the handler of every request sent with the
    /// header `x-test-hang-up`, as a client that hangs up (or a request
    /// timeout) does.
    hang_up: watch::Sender<bool>,
    /// How many handlers were dropped that way.
    dropped: Arc<AtomicUsize>,
}

async fn watch_requests(State(watcher): State<Watcher>, request: Request, next: Next) -> Response {
    watcher.arrived.fetch_add(1, Ordering::SeqCst);
    if !request.headers().contains_key("x-test-hang-up") {
        return next.run(request).await;
    }
    let mut hang_up = watcher.hang_up.subscribe();
    tokio::select! {
        response = next.run(request) => response,
        _ = hang_up.wait_for(|hang_up| *hang_up) => {
            watcher.dropped.fetch_add(1, Ordering::SeqCst);
            StatusCode::REQUEST_TIMEOUT.into_response()
        }
    }
}

/// The app on a shop with three products, its catalogue the fake, its
/// clock at [`START`], served on 127.0.0.1.
struct Harness {
    shop: Shop,
    fake: Arc<Fake>,
    now: Arc<AtomicU64>,
    watcher: Watcher,
    server: TestServer,
}

impl Harness {
    async fn start() -> Harness {
        let shop = Shop::new();
        let fake = Arc::new(Fake::new(&shop));
        let now = Arc::new(AtomicU64::new(START));
        let clock = {
            let now = Arc::clone(&now);
            Clock::from_fn(move || now.load(Ordering::SeqCst))
        };
        let watcher = Watcher {
            arrived: Arc::new(AtomicUsize::new(0)),
            hang_up: watch::channel(false).0,
            dropped: Arc::new(AtomicUsize::new(0)),
        };
        let catalogue: Arc<dyn Catalogue> = fake.clone();
        let app: Router = app(catalogue, clock).layer(middleware::from_fn_with_state(
            watcher.clone(),
            watch_requests,
        ));
        let server = TestServer::spawn(app).await;
        Harness {
            shop,
            fake,
            now,
            watcher,
            server,
        }
    }

    /// Sets the app's clock to `seconds` after [`START`].
    fn at(&self, seconds: u64) {
        self.now.store(START + seconds, Ordering::SeqCst);
    }

    fn arrived(&self) -> usize {
        self.watcher.arrived.load(Ordering::SeqCst)
    }

    /// Reads the catalogue once (one load), then moves the clock to
    /// [`AFTER_WARM_UP`], well past its expiry: the cache holds nothing
    /// fresh. The staged
    /// tests start with it, so that an app that cannot serve one request
    /// fails on that request alone.
    async fn warm_up(&self) {
        let reply = self.server.get("/products").send().await;
        assert_catalogue(
            &reply,
            &self.shop.products(),
            "GET /products lists every product of the database, in id order, as JSON.",
        );
        self.at(AFTER_WARM_UP);
    }

    /// Sends `GET /products` in a task of its own.
    fn get_later(&self) -> JoinHandle<Reply> {
        tokio::spawn(self.server.get("/products").send())
    }

    /// Waits until `count` requests in all have reached the app.
    async fn wait_for_arrivals(&self, count: usize) {
        if !wait_until(PATIENCE, || self.arrived() >= count).await {
            panic!(
                "\nonly {} of {count} requests reached the app within {} seconds\nThe test sent \
                 them all; the server did not take them in.\n",
                self.arrived(),
                PATIENCE.as_secs()
            );
        }
    }

    /// Waits until `count` loads have read the database.
    async fn wait_for_snapshots(&self, count: usize, request: &str) {
        if !wait_until(PATIENCE, || self.fake.snapshots() >= count).await {
            panic!(
                "\nthe catalogue was not loaded within {} seconds of `{request}`\n  loads started: \
                 {}, expected {count}\nA request that finds no fresh catalogue in the cache \
                 should start a load (or wait for the one already running).\n",
                PATIENCE.as_secs(),
                self.fake.loads(),
            );
        }
    }
}

/// Whether `condition` became true within `patience`, checked every
/// millisecond while the app's tasks run.
async fn wait_until(patience: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + patience;
    while !condition() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// The reply of a request sent with [`Harness::get_later`]. If it panicked
/// (the handler did), the test fails with that panic's message; if it does
/// not answer within [`PATIENCE`], with `verdict` and `diagnosis`.
async fn reply_of(request: JoinHandle<Reply>, verdict: &str, diagnosis: &str) -> Reply {
    match tokio::time::timeout(PATIENCE, request).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(error)) => std::panic::resume_unwind(error.into_panic()),
        Err(_) => panic!(
            "\n{verdict}\n  request:  GET /products\n  expected: an answer within {} seconds\n  \
             got:      no answer\n{diagnosis}\n",
            PATIENCE.as_secs()
        ),
    }
}

/// Fails unless `GET /products` answered 200 with `expected` as its body.
#[track_caller]
fn assert_catalogue(reply: &Reply, expected: &Value, diagnosis: &str) {
    reply
        .assert_status(200)
        .assert_content_type("application/json");
    let body = reply.json();
    if &body != expected {
        reply.fail_with_diagnosis(
            &format!(
                "another catalogue than expected came back from GET /products\n  expected: \
                 {expected}"
            ),
            diagnosis,
        );
    }
}

/// Fails unless the reply says `Cache-Control: public, max-age={max_age}`.
#[track_caller]
fn assert_max_age(reply: &Reply, max_age: u64, diagnosis: &str) {
    let expected = format!("public, max-age={max_age}");
    match reply.header("cache-control") {
        Some(actual) if actual == expected => {}
        Some(actual) => reply.fail_with_diagnosis(
            &format!("expected `cache-control: {expected}`, got `cache-control: {actual}`"),
            diagnosis,
        ),
        None => reply.fail_with_diagnosis(
            &format!("expected `cache-control: {expected}`, but the response has none"),
            diagnosis,
        ),
    }
}

/// Fails unless the fake was asked for `expected` loads in all.
#[track_caller]
fn assert_loads(harness: &Harness, expected: usize, reply: &Reply, diagnosis: &str) {
    let loads = harness.fake.loads();
    if loads != expected {
        reply.fail_with_diagnosis(
            &format!(
                "the catalogue was loaded {} in all, expected {}",
                times(loads),
                times(expected)
            ),
            diagnosis,
        );
    }
}

/// `once`, `twice`, `3 times`.
fn times(count: usize) -> String {
    match count {
        1 => "once".to_string(),
        2 => "twice".to_string(),
        count => format!("{count} times"),
    }
}

/// Whether a catalogue lists a product with this sku.
fn lists(catalogue: &Value, sku: &str) -> bool {
    catalogue
        .as_array()
        .is_some_and(|products| products.iter().any(|product| product["sku"] == sku))
}

fn green_mug() -> Value {
    json!({ "sku": "MUG-GREEN", "name": "Green mug", "price_cents": 1350, "stock": 4 })
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn the_catalogue_is_served_with_cache_control() {
    let harness = Harness::start().await;

    let reply = harness.server.get("/products").send().await;

    assert_catalogue(
        &reply,
        &harness.shop.products(),
        "GET /products lists every product of the database, in id order, as JSON.",
    );
    assert_max_age(
        &reply,
        TTL_SECONDS,
        "A catalogue loaded just now is fresh for the whole TTL (60 s): \
         `Cache-Control: public, max-age=60` lets browsers and shared caches keep it as long.",
    );
    assert_loads(
        &harness,
        1,
        &reply,
        "One request on an empty cache loads the catalogue once.",
    );
}

#[tokio::test]
async fn hits_within_the_ttl_make_no_load_and_max_age_counts_down() {
    let harness = Harness::start().await;
    let first = harness.shop.products();
    harness
        .server
        .get("/products")
        .send()
        .await
        .assert_status(200);
    // Another process changes a price: the cache does not know yet.
    harness.shop.set_price(1, 999);

    for (age, max_age) in [(30, 30), (59, 1)] {
        harness.at(age);
        let reply = harness.server.get("/products").send().await;
        let diagnosis = format!(
            "The catalogue was loaded at the start; {age} s later it is still fresh (it stays \
             fresh while now < loaded + 60 s), so it is served from the cache, without a load, \
             and its `max-age` is what is left of its freshness: 60 - {age} = {max_age}."
        );
        assert_catalogue(&reply, &first, &diagnosis);
        assert_loads(&harness, 1, &reply, &diagnosis);
        assert_max_age(&reply, max_age, &diagnosis);
    }
}

#[tokio::test]
async fn the_catalogue_expires_exactly_at_its_ttl() {
    let harness = Harness::start().await;
    harness
        .server
        .get("/products")
        .send()
        .await
        .assert_status(200);
    harness.shop.set_price(1, 999);
    let changed = harness.shop.products();

    harness.at(TTL_SECONDS);
    let reply = harness.server.get("/products").send().await;

    let diagnosis = "The catalogue was loaded at the start, with a TTL of 60 s: it is fresh \
                     while now < loaded + 60, so at exactly 60 s it has expired. The request \
                     loads the catalogue again (and sees the new price of the red mug), and \
                     the new entry is fresh for 60 s. An entry served at 60 s (`<=` for `<`) \
                     lives a second too long.";
    assert_loads(&harness, 2, &reply, diagnosis);
    assert_catalogue(&reply, &changed, diagnosis);
    assert_max_age(&reply, TTL_SECONDS, diagnosis);

    harness.at(TTL_SECONDS + 1);
    let reply = harness.server.get("/products").send().await;
    let diagnosis = "The catalogue was loaded again at 60 s: at 61 s it is one second old, \
                     served from the cache with `max-age=59`.";
    assert_loads(&harness, 2, &reply, diagnosis);
    assert_max_age(&reply, TTL_SECONDS - 1, diagnosis);
}

#[tokio::test]
async fn freshness_counts_from_when_the_load_started() {
    let harness = Harness::start().await;
    let catalogue = harness.shop.products();
    harness.warm_up().await;
    harness.fake.hold_loads();
    let request = harness.get_later();
    harness.wait_for_snapshots(2, "GET /products").await;

    // The load read the database at 100 s, and takes 20 s to come back.
    harness.at(AFTER_WARM_UP + 20);
    harness.fake.release_all();
    let reply = reply_of(
        request,
        "no answer to GET /products",
        "The load was released; its request should then answer.",
    )
    .await;

    let diagnosis = "The load read the database at 100 s and came back 20 s later: the data \
                     is 20 s old when it arrives, so it is fresh for 40 s more, not 60, and \
                     expires at 160 s. An entry's age counts from the moment its load started \
                     (read the clock before loading, not after).";
    assert_catalogue(&reply, &catalogue, diagnosis);
    assert_max_age(&reply, TTL_SECONDS - 20, diagnosis);

    harness.at(AFTER_WARM_UP + TTL_SECONDS - 1);
    let reply = harness.server.get("/products").send().await;
    assert_loads(&harness, 2, &reply, diagnosis);
    assert_max_age(&reply, 1, diagnosis);
    harness.at(AFTER_WARM_UP + TTL_SECONDS);
    let reply = harness.server.get("/products").send().await;
    assert_loads(&harness, 3, &reply, diagnosis);
}

// ANCHOR: stampede
#[tokio::test]
async fn a_hundred_concurrent_misses_make_one_load() {
    let harness = Harness::start().await;
    let catalogue = harness.shop.products();
    // One load at 0 s, which expired at 60 s: the clock says 100 s.
    harness.warm_up().await;
    harness.fake.hold_loads();

    // A hundred requests find the catalogue expired at the same moment...
    let requests: Vec<_> = (0..100).map(|_| harness.get_later()).collect();
    harness.wait_for_arrivals(1 + 100).await;
    // ...and only then does the (first) load come back.
    harness.fake.release_all();

    let mut first_body = None;
    for request in requests {
        let reply = reply_of(
            request,
            "one of 100 concurrent GET /products never answered",
            "Every request that waits for a load must get its result when it lands.",
        )
        .await;
        assert_catalogue(
            &reply,
            &catalogue,
            "Every one of the 100 requests gets the catalogue.",
        );
        let body = first_body.get_or_insert_with(|| reply.text().to_string());
        if reply.text() != body.as_str() {
            reply.fail("two of 100 concurrent GET /products got different bodies");
        }
    }
    let loads = harness.fake.loads() - 1;
    assert!(
        loads == 1,
        "\n100 concurrent GET /products on an expired cache made {loads} loads, expected 1\n\
         All 100 requests had reached the app before the first load came back. A cache that \
         checks for a fresh entry and, finding none, loads lets every request of a stampede \
         through to the database: the first request to miss must start the one load, and \
         every other request must wait for that load (single flight) instead of starting its \
         own.\n"
    );
}
// ANCHOR_END: stampede

#[tokio::test]
async fn every_successful_write_invalidates_and_a_failed_one_does_not() {
    let harness = Harness::start().await;
    harness
        .server
        .get("/products")
        .send()
        .await
        .assert_status(200);

    // A new product...
    let created = harness
        .server
        .post("/products")
        .json(&green_mug())
        .send()
        .await;
    created
        .assert_status(201)
        .assert_header("location", "/products/4");
    let reply = harness.server.get("/products").send().await;
    let diagnosis = "After a write, the next GET /products must not be served from what was \
                     cached before it: a successful POST or PATCH invalidates the cache.";
    assert_catalogue(&reply, &harness.shop.products(), diagnosis);
    assert_loads(&harness, 2, &reply, diagnosis);

    // ...a changed one...
    let patched = harness
        .server
        .patch("/products/1")
        .json(&json!({ "price_cents": 1100 }))
        .send()
        .await;
    patched.assert_status(200);
    let reply = harness.server.get("/products").send().await;
    assert_catalogue(&reply, &harness.shop.products(), diagnosis);
    assert_loads(&harness, 3, &reply, diagnosis);

    // ...and three writes that fail, and change nothing.
    harness.shop.break_inserts_of("MUG-BROKEN");
    harness
        .server
        .post("/products")
        .json(&json!({ "sku": "MUG-BROKEN", "name": "Broken mug", "price_cents": 1, "stock": 1 }))
        .send()
        .await
        .assert_status(500)
        .assert_content_type("application/problem+json");
    harness
        .server
        .patch("/products/99")
        .json(&json!({ "price_cents": 1 }))
        .send()
        .await
        .assert_status(404);
    harness
        .server
        .post("/products")
        .json(&json!({ "sku": "MUG-RED", "name": "Another red mug", "price_cents": 1, "stock": 1 }))
        .send()
        .await
        .assert_status(409);
    let reply = harness.server.get("/products").send().await;
    assert_catalogue(&reply, &harness.shop.products(), diagnosis);
    assert_loads(
        &harness,
        3,
        &reply,
        "A PATCH of a product that does not exist (404), a POST with a duplicate sku (409) \
         and one the database refused (500) changed nothing: the cached catalogue is still right, and is still served. Invalidate \
         after a write succeeds, not before it is tried.",
    );
}

#[tokio::test]
async fn the_cache_is_invalidated_after_the_write_not_before() {
    let harness = Harness::start().await;
    harness
        .server
        .get("/products")
        .send()
        .await
        .assert_status(200);

    // The write is slow: it has started, and not yet reached the database...
    harness.fake.hold_writes();
    let post = tokio::spawn(harness.server.post("/products").json(&green_mug()).send());
    if !wait_until(PATIENCE, || harness.fake.writes() >= 1).await {
        panic!(
            "\nthe catalogue's `create` was not called within {} seconds of POST /products\n\
             The handler of POST /products is given: it writes through the catalogue.\n",
            PATIENCE.as_secs()
        );
    }
    // ...when a read comes in...
    let during = reply_of(
        harness.get_later(),
        "no answer to GET /products while a write was in progress",
        "A read must not wait for a write.",
    )
    .await;
    during.assert_status(200);
    // ...and then the write lands.
    harness.fake.release_writes();
    let created = reply_of(post, "no answer to POST /products", "").await;
    created.assert_status(201);

    let reply = harness.server.get("/products").send().await;
    if !lists(&reply.json(), "MUG-GREEN") {
        reply.fail_with_diagnosis(
            "the new product (MUG-GREEN) is missing from GET /products after POST /products \
             answered 201",
            "A GET arrived while the POST was still writing. If the cache was invalidated \
             before the write reached the database, that GET loaded the catalogue without the \
             new product, and it was kept as fresh: nothing invalidated it afterwards. \
             Invalidate once the write has succeeded.",
        );
    }
}

// ANCHOR: stale_fill
#[tokio::test]
async fn a_load_that_started_before_a_write_is_not_kept() {
    let harness = Harness::start().await;
    harness.warm_up().await;
    harness.fake.hold_loads();

    // Load 2 reads the catalogue, and is slow to come back...
    let before = harness.get_later();
    harness.wait_for_snapshots(2, "GET /products").await;
    // ...while a new product is written.
    let post = tokio::spawn(harness.server.post("/products").json(&green_mug()).send());
    let created = reply_of(
        post,
        "no answer to POST /products while a load of the catalogue was in progress",
        "A write must not wait for a load: is a lock held for as long as the load takes?",
    )
    .await;
    created.assert_status(201);

    // A request that arrives after the write must not get load 2's result.
    let after = harness.get_later();
    harness.wait_for_arrivals(4).await;
    // Let a third load, if the app started one, land first: then load 2's
    // old catalogue comes back last.
    let third_load = wait_until(Duration::from_secs(2), || harness.fake.snapshots() >= 3).await;
    if third_load {
        harness.fake.release(3);
    } else {
        harness.fake.release_all();
    }
    let diagnosis = "Load 2 started before the POST and read the catalogue without MUG-GREEN. \
                     A request that arrives after the write must not wait for that load, and \
                     when it lands, its result must not be kept: the write invalidated it. \
                     Remember which invalidation a load started after (a generation number), \
                     and keep its result only if no invalidation happened since.";
    let reply = reply_of(after, "no answer to GET /products", diagnosis).await;
    reply.assert_status(200);
    if !lists(&reply.json(), "MUG-GREEN") {
        reply.fail_with_diagnosis(
            "the new product (MUG-GREEN) is missing from GET /products sent after POST \
             /products answered 201",
            diagnosis,
        );
    }
    harness.fake.release_all();
    reply_of(before, "the first GET /products never answered", "")
        .await
        .assert_status(200);

    let reply = harness.server.get("/products").send().await;
    if !lists(&reply.json(), "MUG-GREEN") {
        reply.fail_with_diagnosis(
            "the product created by POST /products (MUG-GREEN) is missing from GET /products: \
             the cache kept the catalogue of a load that started before the write",
            diagnosis,
        );
    }
}
// ANCHOR_END: stale_fill

#[tokio::test]
async fn an_old_load_that_lands_first_neither_is_kept_nor_ends_the_new_one() {
    let harness = Harness::start().await;
    harness.warm_up().await;
    harness.fake.hold_loads();

    // Load 2 reads the catalogue; a product is written; request C arrives.
    let before = harness.get_later();
    harness.wait_for_snapshots(2, "GET /products").await;
    let post = tokio::spawn(harness.server.post("/products").json(&green_mug()).send());
    let created = reply_of(
        post,
        "no answer to POST /products while a load of the catalogue was in progress",
        "A write must not wait for a load: is a lock held for as long as the load takes?",
    )
    .await;
    created.assert_status(201);
    let after = harness.get_later();
    harness.wait_for_arrivals(4).await;

    // This time the old load lands first...
    harness.fake.release(2);
    reply_of(before, "the first GET /products never answered", "")
        .await
        .assert_status(200);
    // ...while load 3, C's, is still running when request D arrives.
    if !wait_until(PATIENCE, || harness.fake.snapshots() >= 3).await {
        panic!(
            "\nno load started for GET /products sent after POST /products answered \
             201\n  loads after the warm-up: {}, expected 2\nThe write invalidated the \
             catalogue. A request that arrives after it needs a load that started after it: \
             it must not wait for load 2, which started before the write, nor be answered \
             with its result.\n",
            harness.fake.loads() - 1
        );
    }
    let during = harness.get_later();
    harness.wait_for_arrivals(5).await;
    harness.fake.release_all();

    let diagnosis = "Load 2 started before the POST and landed first, while load 3 (started \
                     after the write) was still running. Load 2's catalogue must not be kept \
                     (it lacks MUG-GREEN), and its landing must not end load 3's flight: a \
                     request that arrives meanwhile waits for load 3. A load may clear only \
                     its own flight (give each one an id).";
    for request in [after, during] {
        let reply = reply_of(request, "no answer to GET /products", diagnosis).await;
        reply.assert_status(200);
        if !lists(&reply.json(), "MUG-GREEN") {
            reply.fail_with_diagnosis(
                "the new product (MUG-GREEN) is missing from GET /products sent after POST \
                 /products answered 201",
                diagnosis,
            );
        }
    }
    let loads = harness.fake.loads() - 1;
    assert!(
        loads == 2,
        "\nthe catalogue was loaded {} after the warm-up, expected twice\nLoad 2 (before the \
         write) and load 3 (after it): request D arrived while load 3 was running, and should \
         have waited for it. Did load 2, landing, clear load 3's flight?\n",
        times(loads)
    );
}

// ANCHOR: failure
#[tokio::test]
async fn a_failed_load_is_shared_by_its_waiters_and_not_kept() {
    let harness = Harness::start().await;
    harness.warm_up().await;
    harness.fake.set_outcome(Outcome::Fail);
    harness.fake.hold_loads();

    let requests: Vec<_> = (0..20).map(|_| harness.get_later()).collect();
    harness.wait_for_arrivals(1 + 20).await;
    harness.fake.release_all();

    for request in requests {
        let reply = reply_of(
            request,
            "a GET /products waiting for a load that failed never answered",
            "When a load fails, every request waiting for it must be told, with the error: \
             waiting for a catalogue that will never be stored hangs forever.",
        )
        .await;
        reply
            .assert_status(503)
            .assert_content_type("application/problem+json")
            .assert_header("cache-control", "no-store");
        let body = reply.json();
        if body["status"] != 503 || body["title"] != "Service Unavailable" {
            reply.fail("expected the problem details of a LoadError: status 503, title Service Unavailable");
        }
    }
    let loads = harness.fake.loads() - 1;
    assert!(
        loads == 1,
        "\n20 concurrent GET /products whose load failed made {loads} loads, expected 1\nThe \
         20 requests waited for one load, which failed: each should get that load's error \
         (503). A waiter that starts a load of its own when the one it waited for fails \
         turns one failure into a stampede on a database that is already struggling.\n"
    );

    // The database is back: the error was not kept.
    harness.fake.set_outcome(Outcome::Products);
    let reply = harness.server.get("/products").send().await;
    let diagnosis = "A failed load is not cached: the next request loads again.";
    assert_catalogue(&reply, &harness.shop.products(), diagnosis);
    assert_loads(&harness, 3, &reply, diagnosis);
}
// ANCHOR_END: failure

#[tokio::test]
async fn a_load_that_panics_releases_its_waiters() {
    let harness = Harness::start().await;
    harness.warm_up().await;
    harness.fake.set_outcome(Outcome::Panic);
    harness.fake.hold_loads();

    // Plain requests: a handler may panic here, as the load did.
    let client = testkit::client();
    let requests: Vec<_> = (0..5)
        .map(|_| tokio::spawn(client.get(harness.server.url("/products")).send()))
        .collect();
    harness.wait_for_arrivals(1 + 5).await;
    harness.fake.release_all();

    for request in requests {
        let answer = tokio::time::timeout(PATIENCE, request).await;
        let status = match answer {
            Ok(Ok(Ok(response))) => response.status().as_u16(),
            Ok(Ok(Err(error))) => panic!(
                "\na GET /products waiting for a load that panicked got no response: {error}\n"
            ),
            Ok(Err(error)) => std::panic::resume_unwind(error.into_panic()),
            Err(_) => panic!(
                "\na GET /products waiting for a load that panicked never answered\n  \
                 request:  GET /products\n  expected: an error status within {} seconds\n  \
                 got:      no answer\nThe load panicked: whatever the requests waiting for it \
                 wait on must still end (something dropped when the load ends, however it \
                 ends, tells them), and they answer with an error.\n",
                PATIENCE.as_secs()
            ),
        };
        assert!(
            status >= 500,
            "\na GET /products waiting for a load that panicked got {}, expected an error \
             (503)\n",
            status_text(status)
        );
    }

    harness.fake.set_outcome(Outcome::Products);
    let reply = reply_of(
        harness.get_later(),
        "no answer to GET /products after a load had panicked",
        "The load that panicked must not stay \"in progress\" for ever: the next request \
         starts a new one.",
    )
    .await;
    assert_catalogue(
        &reply,
        &harness.shop.products(),
        "A load that panicked is over: the next request loads again, and gets the catalogue.",
    );
}

#[tokio::test]
async fn a_dropped_request_does_not_strand_the_others() {
    let harness = Harness::start().await;
    let catalogue = harness.shop.products();
    harness.warm_up().await;
    harness.fake.hold_loads();

    // The first request starts the load, and is then dropped (its client
    // hung up); one request is waiting for the load already, one comes
    // after.
    let first = tokio::spawn(
        harness
            .server
            .get("/products")
            .header("x-test-hang-up", "1")
            .send(),
    );
    harness.wait_for_snapshots(2, "GET /products").await;
    let waiting = harness.get_later();
    harness.wait_for_arrivals(3).await;
    harness.watcher.hang_up.send_replace(true);
    reply_of(first, "the dropped request never answered", "")
        .await
        .assert_status(408);
    let later = harness.get_later();
    harness.wait_for_arrivals(4).await;
    harness.fake.release_all();

    let diagnosis = "The request that started the load was dropped while the load ran (axum \
                     drops a handler's future when its client hangs up or a timeout fires). \
                     Everything that request owned went with it. The other requests must \
                     still get the catalogue: either the load runs on without the request \
                     that started it (a task of its own), or a waiter notices that the load \
                     was abandoned and starts it again.";
    for request in [waiting, later] {
        let reply = reply_of(
            request,
            "a GET /products never answered after the request that started the load was dropped",
            diagnosis,
        )
        .await;
        assert_catalogue(&reply, &catalogue, diagnosis);
    }
    let loads = harness.fake.loads() - 1;
    assert!(
        loads <= 2,
        "\nthe catalogue was loaded {} after the warm-up, expected at most twice\nOne load was started, \
         and its request dropped: one more load, at most, serves the two requests left.\n",
        times(loads)
    );
}
