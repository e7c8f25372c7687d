//! Tests for production/jobs: the queue's functions called on real SQLite
//! files in temporary folders, each worker and each "process" on its own
//! connection, and the shop's `POST /orders` over HTTP.
//!
//! Time is the test's: every claim is given its `now`, and the workers read
//! a clock the test moves by hand, so a lease or a backoff ends exactly when
//! the test says, and nothing ever sleeps through one. Races are staged, not
//! hoped for: a trace callback on one connection runs a whole claim on
//! another connection between two statements of the first.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use production_jobs::{
    BACKOFF_CAP, Clock, Handler, Job, LEASE_EXPIRED, MAX_ATTEMPTS, ORDER_CONFIRMATION, Shop,
    Worker, app, backoff, claim, complete, confirmation_email, create_schema, enqueue, fail, open,
    send_confirmation, shop_handler,
};
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, OptionalExtension, params};
use testkit::tempfile::TempDir;
use testkit::{TestServer, json};

/// The tests' "now": 2026-11-30T09:00:00Z, in Unix seconds.
const NOW: i64 = 1_796_029_200;

/// The lease the tests' claims ask for, in seconds.
const LEASE: i64 = 30;

/// How often the tests' workers look for a job when none was due.
const POLL: Duration = Duration::from_millis(2);

/// How long a test waits for workers to get somewhere: far more than they
/// need, even on a slow machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// A SQLite file with the shop's schema, in a folder removed when dropped.
struct Database {
    _folder: TempDir,
    path: PathBuf,
}

impl Database {
    fn new() -> Database {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = open(&path).expect("the given `open` could not create the database");
        create_schema(&db).expect("create_schema failed on an empty database");
        Database {
            _folder: folder,
            path,
        }
    }

    /// A connection of the test's own (a worker, a process).
    fn connect(&self) -> Connection {
        open(&self.path).expect("the test could not open the database")
    }
}

/// Adds customer 1 (Ada) and products 7 (a red mug, 12.50, 12 in stock)
/// and 8 (green tea, 4.50, 1 in stock).
fn add_customer_and_products(db: &Connection) {
    db.execute_batch(
        "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada');
         INSERT INTO products (id, sku, name, price_cents, stock, created_at) VALUES
             (7, 'MUG-RED', 'Red mug', 1250, 12, '2026-11-30T08:00:00Z'),
             (8, 'TEA-GREEN', 'Green tea', 450, 1, '2026-11-30T08:00:00Z');",
    )
    .expect("the test could not add its customer and products");
}

/// Stores an order of customer 1 for two red mugs, with the test's own
/// SQL, and returns its id.
fn add_order(db: &Connection) -> i64 {
    db.query_row(
        "INSERT INTO orders (customer_id, total_cents, created_at)
         VALUES (1, 2500, '2026-11-30T09:00:00Z') RETURNING id",
        [],
        |row| row.get(0),
    )
    .and_then(|id: i64| {
        db.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, price_cents)
             VALUES (?1, 7, 2, 1250)",
            [id],
        )?;
        Ok(id)
    })
    .expect("the test could not add an order")
}

/// Stores a queued job with the test's own SQL, and returns its id.
fn add_job(db: &Connection, run_at: i64, max_attempts: i64) -> i64 {
    db.query_row(
        "INSERT INTO jobs (kind, payload, run_at, max_attempts)
         VALUES ('order_confirmation', '{\"order_id\":1}', ?1, ?2) RETURNING id",
        params![run_at, max_attempts],
        |row| row.get(0),
    )
    .expect("the test could not add a job")
}

/// A job's row, as the test reads it.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    kind: String,
    payload: String,
    state: String,
    attempts: i64,
    max_attempts: i64,
    run_at: i64,
    locked_until: Option<i64>,
    last_error: Option<String>,
}

fn row(db: &Connection, id: i64) -> Row {
    db.query_row(
        "SELECT kind, payload, state, attempts, max_attempts, run_at, locked_until, last_error
         FROM jobs WHERE id = ?1",
        [id],
        |row| {
            Ok(Row {
                kind: row.get(0)?,
                payload: row.get(1)?,
                state: row.get(2)?,
                attempts: row.get(3)?,
                max_attempts: row.get(4)?,
                run_at: row.get(5)?,
                locked_until: row.get(6)?,
                last_error: row.get(7)?,
            })
        },
    )
    .optional()
    .expect("the test could not read the jobs table")
    .unwrap_or_else(|| panic!("\njob {id} is gone from the jobs table\nA job is never deleted.\n"))
}

fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |row| row.get(0))
        .expect("the test could not count rows")
}

/// `claim(db, now, lease)`, failing the test on an error.
#[track_caller]
fn claimed(db: &Connection, now: i64, lease: i64) -> Option<Job> {
    match claim(db, now, lease) {
        Ok(job) => job,
        Err(error) => panic!(
            "\nclaim returned an error: {error}\n  call: claim(db, {}, {lease})\n",
            at(now)
        ),
    }
}

/// `now` as the tests write it: `NOW + 30`.
fn at(now: i64) -> String {
    match now - NOW {
        0 => "NOW".to_string(),
        delta if delta > 0 => format!("NOW + {delta}"),
        delta => format!("NOW - {}", -delta),
    }
}

/// Fails unless `job` is job `id` claimed for its `attempts`-th time.
#[track_caller]
fn expect_job(job: Option<Job>, id: i64, attempts: i64, call: &str, why: &str) -> Job {
    let Some(job) = job else {
        panic!("\nclaim returned None, expected job {id}\n  call: {call}\n{why}\n");
    };
    assert!(
        job.id == id,
        "\nclaim returned job {}, expected job {id}\n  call: {call}\n  returned: {job:?}\n{why}\n",
        job.id
    );
    assert!(
        job.attempts == attempts,
        "\nthe claimed job says attempts: {}, expected {attempts}\n  call: {call}\n  returned: \
         {job:?}\nA claim counts one more attempt, and returns the job as it is after the \
         claim.\n",
        job.attempts
    );
    job
}

/// A clock the test moves: Unix seconds in an atomic.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn at(now: i64) -> TestClock {
        TestClock(Arc::new(AtomicI64::new(now)))
    }

    fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    fn clock(&self) -> Clock {
        let now = Arc::clone(&self.0);
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    }
}

/// Worker tasks, as [`spawn_worker`] starts them.
type Workers = Vec<tokio::task::JoinHandle<rusqlite::Result<()>>>;

/// Waits, for [`PATIENCE`] at most, until `done` is true of the database;
/// false if it never was. A worker of `workers` that stops by itself on the
/// way fails the test: with its panic, if it panicked.
async fn eventually(
    path: &Path,
    workers: &mut Workers,
    done: impl Fn(&Connection) -> bool,
) -> bool {
    let db = open(path).expect("the test could not open the database");
    let waited = tokio::time::timeout(PATIENCE, async {
        while !done(&db) {
            if let Some(stopped) = workers.iter().position(|worker| worker.is_finished()) {
                match workers.swap_remove(stopped).await {
                    Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                    outcome => panic!(
                        "\na worker stopped by itself while a job was due: its task ended with \
                         {outcome:?}\nA worker runs until its task is aborted: a step that \
                         failed is logged, and the worker carries on.\n"
                    ),
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    waited.await.is_ok()
}

/// Stops every worker: aborts its task, as a process that dies would.
fn stop(workers: Workers) {
    for worker in workers {
        worker.abort();
    }
}

/// A worker on `path` with `handler`, reading `clock`, as a task.
fn spawn_worker(
    path: &Path,
    clock: &TestClock,
    handler: Handler,
) -> tokio::task::JoinHandle<rusqlite::Result<()>> {
    let worker = Worker {
        path: path.to_path_buf(),
        clock: clock.clock(),
        lease: LEASE,
        poll: POLL,
        handler,
    };
    tokio::spawn(worker.run())
}

#[test]
fn enqueue_stores_a_queued_job_that_has_not_been_tried_yet() {
    let database = Database::new();
    let db = database.connect();

    let payload = "{\"order_id\":7}";
    let call = format!("enqueue(db, \"order_confirmation\", {payload:?}, NOW + 5, 3)");
    let first = enqueue(&db, ORDER_CONFIRMATION, payload, NOW + 5, 3)
        .unwrap_or_else(|error| panic!("\nenqueue returned an error: {error}\n  call: {call}\n"));
    let second = enqueue(&db, "something_else", "{}", NOW, 1)
        .unwrap_or_else(|error| panic!("\nenqueue returned an error: {error}\n  call: {call}\n"));

    let jobs = count(&db, "SELECT count(*) FROM jobs");
    assert!(
        jobs == 2,
        "\nthe jobs table holds {jobs} rows after two calls of enqueue, expected 2\n"
    );
    assert!(
        first != second,
        "\nenqueue returned the id {first} for two different jobs\n"
    );
    let stored = row(&db, first);
    let expected = Row {
        kind: ORDER_CONFIRMATION.to_string(),
        payload: payload.to_string(),
        state: "queued".to_string(),
        attempts: 0,
        max_attempts: 3,
        run_at: NOW + 5,
        locked_until: None,
        last_error: None,
    };
    assert!(
        stored == expected,
        "\nthe job enqueue stored is not as expected\n  call: {call}\n  stored:   \
         {stored:?}\n  expected: {expected:?}\n(`id` {first} is the id enqueue returned.) A new \
         job is queued, tried 0 times, with no lease and no error yet.\n"
    );
}

// ANCHOR: with_the_order
#[tokio::test]
async fn an_order_and_its_confirmation_job_are_stored_together() {
    let database = Database::new();
    add_customer_and_products(&database.connect());
    let shop = Shop::open(&database.path, TestClock::at(NOW).clock()).expect("Shop::open failed");
    let server = TestServer::spawn(app(shop)).await;

    // Refused orders (two teas with one in stock, and broken ones): nothing
    // may be left of them.
    let db = database.connect();
    let item =
        |product_id: i64, quantity: i64| json!({ "product_id": product_id, "quantity": quantity });
    let refusals = [
        (json!({ "customer_id": 1, "items": [item(8, 2)] }), 409),
        (json!({ "customer_id": 1, "items": [] }), 422),
        (json!({ "customer_id": 2, "items": [item(7, 1)] }), 422),
        (json!({ "customer_id": 1, "items": [item(9, 1)] }), 422),
        (json!({ "customer_id": 1, "items": [item(7, 0)] }), 422),
        (
            json!({ "customer_id": 1, "items": [item(7, 1), item(7, 1)] }),
            422,
        ),
    ];
    for (refused, status) in refusals {
        let reply = server.post("/orders").json(&refused).send().await;
        reply
            .assert_status(status)
            .assert_content_type("application/problem+json");
        let jobs = count(&db, "SELECT count(*) FROM jobs");
        let orders = count(&db, "SELECT count(*) FROM orders");
        if jobs != 0 || orders != 0 {
            reply.fail_with_diagnosis(
                &format!("a refused order left {jobs} job(s) and {orders} order(s), expected none"),
                "The job is part of the order: it is stored with it, in the same transaction, \
                 and a refused order stores neither.",
            );
        }
    }

    // Two mugs, and the last tea.
    let placed = json!({ "customer_id": 1, "items": [item(7, 2), item(8, 1)] });
    let reply = server.post("/orders").json(&placed).send().await;
    reply.assert_status(201);
    let Some(order_id) = reply.json()["id"].as_i64() else {
        reply.fail("expected the order's id in the body");
    };
    reply
        .assert_header("location", &format!("/orders/{order_id}"))
        .assert_json(&json!({
            "id": order_id,
            "customer_id": 1,
            "status": "pending",
            "items": [
                { "product_id": 7, "quantity": 2, "price_cents": 1250 },
                { "product_id": 8, "quantity": 1, "price_cents": 450 },
            ],
            "total_cents": 2950,
            "created_at": "2026-11-30T09:00:00Z",
        }));
    let ids: Vec<i64> = db
        .prepare("SELECT id FROM jobs")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .expect("the test could not read the jobs table");
    let [job_id] = ids[..] else {
        reply.fail_with_diagnosis(
            &format!(
                "the jobs table holds {} job(s) after one order, expected 1",
                ids.len()
            ),
            "Placing an order enqueues its confirmation, in the transaction that stores the \
             order.",
        );
    };
    let stored = row(&db, job_id);
    let payload: serde_json::Value = serde_json::from_str(&stored.payload).unwrap_or_default();
    let expected = Row {
        kind: ORDER_CONFIRMATION.to_string(),
        payload: stored.payload.clone(),
        state: "queued".to_string(),
        attempts: 0,
        max_attempts: MAX_ATTEMPTS,
        run_at: NOW,
        locked_until: None,
        last_error: None,
    };
    if stored != expected || payload != json!({ "order_id": order_id }) {
        reply.fail_with_diagnosis(
            "the order's confirmation job is not as expected",
            &format!(
                "  stored:   {stored:?}\n  expected: kind \"order_confirmation\", payload \
                 {{\"order_id\":{order_id}}}, queued, 0 attempts of MAX_ATTEMPTS ({MAX_ATTEMPTS}), \
                 run_at the shop's clock's now (NOW = {NOW}), no lease, no error"
            ),
        );
    }
    server
        .get(&format!("/jobs/{job_id}"))
        .send()
        .await
        .assert_status(200)
        .assert_json(&json!({
            "id": job_id,
            "kind": "order_confirmation",
            "payload": { "order_id": order_id },
            "state": "queued",
            "attempts": 0,
            "max_attempts": MAX_ATTEMPTS,
            "run_at": "2026-11-30T09:00:00Z",
            "locked_until": null,
            "last_error": null,
        }));
    server
        .get(&format!("/jobs/{}", job_id + 1))
        .send()
        .await
        .assert_status(404)
        .assert_content_type("application/problem+json");
}
// ANCHOR_END: with_the_order

#[tokio::test]
async fn an_order_whose_job_cannot_be_stored_is_not_stored_either() {
    let database = Database::new();
    let db = database.connect();
    add_customer_and_products(&db);
    // The queue refuses every new job, as a full disk or a bug would.
    db.execute_batch(
        "CREATE TRIGGER queue_down BEFORE INSERT ON jobs
         BEGIN SELECT RAISE(ABORT, 'the queue is down'); END;",
    )
    .expect("the test could not add its trigger");
    let shop = Shop::open(&database.path, TestClock::at(NOW).clock()).expect("Shop::open failed");
    let server = TestServer::spawn(app(shop)).await;

    let placed = json!({ "customer_id": 1, "items": [{ "product_id": 7, "quantity": 2 }] });
    let reply = server.post("/orders").json(&placed).send().await;

    let orders = count(&db, "SELECT count(*) FROM orders");
    let stock = count(&db, "SELECT stock FROM products WHERE id = 7");
    if orders != 0 || stock != 12 {
        reply.fail_with_diagnosis(
            &format!(
                "the order was stored without its confirmation job ({orders} order(s), {stock} \
                 red mugs left of 12)"
            ),
            "A trigger of the test made every INSERT INTO jobs fail. The order and its job are \
             one transaction: if the job cannot be stored, the order must not be either, or \
             its confirmation is lost for good. Enqueue inside the order's transaction, before \
             it commits.",
        );
    }
    reply
        .assert_status(500)
        .assert_content_type("application/problem+json");
    if reply.text().contains("queue is down") {
        reply.fail("the 500 answer tells the client SQLite's error, expected nothing internal");
    }
}

#[test]
fn claim_takes_the_due_job_that_has_waited_longest() {
    let database = Database::new();
    let db = database.connect();
    let later = add_job(&db, NOW + 1, 5);
    let due_now = add_job(&db, NOW, 5);
    let oldest = add_job(&db, NOW - 10, 5);
    let oldest_too = add_job(&db, NOW - 10, 5);

    let call = "claim(db, NOW, 30)";
    let why = "Of the due jobs (run_at at or before now), the one with the earliest run_at \
               comes first, then the lowest id.";
    let job = expect_job(claimed(&db, NOW, LEASE), oldest, 1, call, why);
    let expected = Job {
        id: oldest,
        kind: ORDER_CONFIRMATION.to_string(),
        payload: "{\"order_id\":1}".to_string(),
        attempts: 1,
        max_attempts: 5,
    };
    assert!(
        job == expected,
        "\nthe claimed job is not as stored\n  call: {call}\n  returned: {job:?}\n  expected: \
         {expected:?}\n"
    );
    let stored = row(&db, oldest);
    assert!(
        stored.state == "running" && stored.attempts == 1 && stored.locked_until == Some(NOW + 30),
        "\nthe claimed job's row is not running with a lease until NOW + 30\n  call: {call}\n  \
         stored: {stored:?}\nA claim sets state = 'running', attempts + 1, and locked_until = \
         now + lease.\n"
    );
    expect_job(claimed(&db, NOW, LEASE), oldest_too, 1, call, why);
    let why_now = "A job whose run_at is exactly now is due.";
    expect_job(claimed(&db, NOW, LEASE), due_now, 1, call, why_now);
    if let Some(job) = claimed(&db, NOW, LEASE) {
        panic!(
            "\nclaim returned job {}, expected None\n  call: {call}\n  returned: {job:?}\nEvery \
             due job was claimed already; job {later} runs at NOW + 1. A running job is not \
             claimed again while its lease lasts, and a job is not claimed before its run_at.\n",
            job.id
        );
    }
    let why_later = "At NOW + 1, the job whose run_at is NOW + 1 is due.";
    expect_job(
        claimed(&db, NOW + 1, LEASE),
        later,
        1,
        "claim(db, NOW + 1, 30)",
        why_later,
    );
}

/// What two claims on two connections came to when the second ran, whole,
/// just before statement number `pause_before` of the first.
struct Race {
    first: rusqlite::Result<Option<Job>>,
    /// `None` if the first claim ran fewer statements than that.
    second: Option<Result<rusqlite::Result<Option<Job>>, String>>,
    /// The SQL of the statement the first claim was paused before.
    paused_at: String,
    /// How many statements the first claim ran.
    statements: usize,
    /// Each job's attempts after both claims, by id.
    attempts: BTreeMap<i64, i64>,
}

/// Three due jobs, two connections, and a trace on the first one that runs
/// a whole claim on the second just before the first connection's
/// statement number `pause_before` starts.
fn race(pause_before: usize) -> Race {
    let database = Database::new();
    let setup = database.connect();
    for _ in 0..3 {
        add_job(&setup, NOW - 1, 5);
    }
    let mut first = database.connect();
    let second = database.connect();
    // The second claim runs on the first one's thread: waiting for a lock
    // the first holds would only wait for nothing. It is refused at once.
    second
        .busy_timeout(Duration::ZERO)
        .expect("the test could not set a busy timeout");
    type Outcome = Result<rusqlite::Result<Option<Job>>, String>;
    let outcome: Arc<Mutex<(Option<Outcome>, String, usize)>> = Arc::default();
    let seen = Arc::clone(&outcome);
    first
        .trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |event: TraceEvent<'_>| {
                let TraceEvent::Stmt(_, sql) = event else {
                    return;
                };
                let mut seen = seen.lock().unwrap();
                seen.2 += 1;
                if seen.2 == pause_before {
                    seen.1 = sql.trim().to_string();
                    let run =
                        std::panic::catch_unwind(AssertUnwindSafe(|| claim(&second, NOW, LEASE)));
                    seen.0 = Some(run.map_err(|panic| panic_text(&panic)));
                }
            }),
        )
        .expect("the test could not trace its connection");
    let first_outcome = claim(&first, NOW, LEASE);
    first
        .trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT,
            None::<fn(TraceEvent<'_>)>,
        )
        .expect("the test could not stop tracing");
    let (second, paused_at, statements) = std::mem::take(&mut *outcome.lock().unwrap());
    let attempts = setup
        .prepare("SELECT id, attempts FROM jobs")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .expect("the test could not read the jobs table");
    Race {
        first: first_outcome,
        second,
        paused_at,
        statements,
        attempts,
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic".to_string()
    }
}

// ANCHOR: race
#[test]
fn two_claims_racing_never_take_the_same_job() {
    // A first run counts the statements one claim runs; then the second
    // claim is slipped in before each of them in turn.
    let statements = race(usize::MAX).statements;
    assert!(
        statements > 0,
        "\nclaim ran no SQL statement at all on its connection\n"
    );
    for pause_before in 1..=statements {
        let race = race(pause_before);
        let paused = format!(
            "Worker A's claim(db, NOW, 30) was paused just before its statement {pause_before} \
             of {statements} (`{}`), and worker B's whole claim(db, NOW, 30) ran on another \
             connection in between.",
            race.paused_at
        );
        let second = match race.second {
            Some(Ok(outcome)) => outcome,
            Some(Err(panic)) => panic!(
                "\nworker B's claim panicked: {panic}\n{paused}\nWhen another connection \
                 holds the write lock, a claim may fail with an error (\"database is locked\"), \
                 but not panic.\n"
            ),
            None => {
                panic!("\nclaim ran a different number of statements from one run to the next\n")
            }
        };
        if let Err(error) = &race.first {
            panic!(
                "\nworker A's claim failed because worker B claimed a job in the meantime: \
                 {error}\n{paused}\n  B got: {second:?}\nA transaction that reads first and \
                 writes later (a plain BEGIN, a deferred transaction) cannot write once \
                 another connection has written since its read: SQLite refuses it at once \
                 with SQLITE_BUSY, and a busy timeout does not help. Under load, workers \
                 fail instead of claiming. Claim in one statement, or take the write lock \
                 first (BEGIN IMMEDIATE).\n"
            );
        }
        match (&race.first, &second) {
            (Ok(Some(a)), Ok(Some(b))) if a.id == b.id => panic!(
                "\ntwo workers claiming at the same time both got job {}\n{paused}\n  A got: \
                 {a:?}\n  B got: {b:?}\nA claim that finds the next job with a SELECT, then \
                 marks it running with an UPDATE, lets another worker claim the same job in \
                 between. Make the claim one statement (UPDATE ... WHERE id = (SELECT ...) \
                 RETURNING ...), or take the write lock before reading (BEGIN IMMEDIATE).\n",
                a.id
            ),
            (Ok(None) | Err(_), Ok(None) | Err(_)) => panic!(
                "\nneither of two workers claiming at the same time got a job, of three due \
                 jobs\n{paused}\n  A: {:?}\n  B: {second:?}\n",
                race.first
            ),
            _ => {}
        }
        let mut claims: BTreeMap<i64, i64> = BTreeMap::new();
        for job in [&race.first, &second].into_iter().flatten().flatten() {
            *claims.entry(job.id).or_default() += 1;
        }
        for (id, attempts) in &race.attempts {
            let returned = claims.get(id).copied().unwrap_or(0);
            assert!(
                *attempts == returned,
                "\njob {id} was claimed {attempts} time(s) in the database, but returned by \
                 {returned} claim(s)\n{paused}\nA claim marks exactly the job it returns.\n"
            );
        }
    }
}
// ANCHOR_END: race

// ANCHOR: lease
#[test]
fn a_running_job_is_not_claimed_again_until_its_lease_ends() {
    let database = Database::new();
    let id = add_job(&database.connect(), NOW, 5);
    // Two workers, each with its own connection.
    let (first, second) = (database.connect(), database.connect());

    let why = "The job is due.";
    expect_job(
        claimed(&first, NOW, LEASE),
        id,
        1,
        "claim(db, NOW, 30)",
        why,
    );
    if let Some(job) = claimed(&second, NOW + 29, LEASE) {
        panic!(
            "\na running job was claimed again while its lease lasted\n  call: claim(db, NOW + \
             29, 30) on a second connection\n  returned: {job:?}\nThe job was claimed at NOW \
             with a lease of 30 seconds: until NOW + 30 its worker may still be working on it. \
             A running job is due again only once its locked_until is at or before now.\n"
        );
    }
    let why = "The job was claimed at NOW for 30 seconds, and nothing completed it: at NOW + \
               30 its lease has ended (its worker died), and it is due again.";
    expect_job(
        claimed(&second, NOW + 30, LEASE),
        id,
        2,
        "claim(db, NOW + 30, 30)",
        why,
    );
    let stored = row(&second, id);
    assert!(
        stored.state == "running" && stored.locked_until == Some(NOW + 60),
        "\nthe job claimed again at NOW + 30 is not running with a lease until NOW + 60\n  \
         stored: {stored:?}\n"
    );
}
// ANCHOR_END: lease

#[test]
fn a_completed_job_is_done_and_never_claimed_again() {
    let database = Database::new();
    let db = database.connect();
    let id = add_job(&db, NOW, 5);

    let job = expect_job(claimed(&db, NOW, LEASE), id, 1, "claim(db, NOW, 30)", "");
    let completed = complete(&db, &job).expect("complete returned an error");

    assert!(
        completed,
        "\ncomplete returned false for the job it was given, just claimed\n"
    );
    let stored = row(&db, id);
    assert!(
        stored.state == "done" && stored.attempts == 1,
        "\nthe completed job is {} with {} attempt(s), expected done with 1\n  stored: \
         {stored:?}\n",
        stored.state,
        stored.attempts
    );
    if let Some(job) = claimed(&db, NOW + 1_000_000, LEASE) {
        panic!(
            "\na done job was claimed again\n  call: claim(db, NOW + 1000000, 30)\n  returned: \
             {job:?}\n"
        );
    }
}

// ANCHOR: backoff
#[test]
fn a_failed_job_waits_1_2_4_8_seconds_and_is_dead_after_its_last_attempt() {
    let database = Database::new();
    let db = database.connect();
    let id = add_job(&db, NOW, 5);

    let mut now = NOW;
    for attempt in 1..=5 {
        let call = format!("claim(db, {}, 30)", at(now));
        let why = "The job failed before, and its backoff has just ended.";
        let job = expect_job(claimed(&db, now, LEASE), id, attempt, &call, why);
        let error = format!("the mail relay is down ({attempt})");
        let failed = fail(&db, &job, now, &error).expect("fail returned an error");
        assert!(
            failed,
            "\nfail returned false for the job it was given, just claimed\n"
        );
        let stored = row(&db, id);
        if attempt == 5 {
            assert!(
                stored.state == "dead" && stored.last_error.as_deref() == Some(error.as_str()),
                "\nthe job is {} after its 5th failed attempt of 5, expected dead with the last \
                 error\n  call: fail(db, &job, {}, {error:?})\n  stored: {stored:?}\nA job that \
                 failed its last attempt (attempts = max_attempts) is dead: kept, with its \
                 last_error, and never run again.\n",
                stored.state,
                at(now)
            );
            break;
        }
        let delay = 1 << (attempt - 1);
        let expected = Row {
            state: "queued".to_string(),
            run_at: now + delay,
            locked_until: None,
            last_error: Some(error.clone()),
            ..stored.clone()
        };
        assert!(
            stored == expected && stored.attempts == attempt,
            "\nthe job is not queued again to run {delay} s later after its attempt {attempt} \
             of 5 failed\n  call: fail(db, &job, {}, {error:?})\n  stored:   {stored:?}\n  \
             expected: {expected:?}\nA failed job with attempts left is queued again, to run \
             at now + backoff(attempts): 1 s after the first attempt, then 2, 4, 8 ... The \
             error is kept in last_error.\n",
            at(now)
        );
        if let Some(job) = claimed(&db, now + delay - 1, LEASE) {
            panic!(
                "\na failed job was claimed again before its backoff ended\n  call: claim(db, \
                 {}, 30)\n  returned: {job:?}\nIts attempt {attempt} failed at {}: it runs \
                 again at {}, not a second earlier.\n",
                at(now + delay - 1),
                at(now),
                at(now + delay)
            );
        }
        now += delay;
    }
    if let Some(job) = claimed(&db, now + 1_000_000, LEASE) {
        panic!(
            "\na dead job was claimed again\n  call: claim(db, {}, 30)\n  returned: {job:?}\n",
            at(now + 1_000_000)
        );
    }
}
// ANCHOR_END: backoff

#[test]
fn a_job_tried_at_most_once_is_dead_after_its_first_failure() {
    let database = Database::new();
    let db = database.connect();
    let id = add_job(&db, NOW, 1);

    let job = expect_job(claimed(&db, NOW, LEASE), id, 1, "claim(db, NOW, 30)", "");
    fail(&db, &job, NOW, "no such mailbox").expect("fail returned an error");

    let stored = row(&db, id);
    assert!(
        stored.state == "dead" && stored.last_error.as_deref() == Some("no such mailbox"),
        "\na job with max_attempts 1 is {} after its first failure, expected dead\n  call: \
         fail(db, &job, NOW, \"no such mailbox\")\n  stored: {stored:?}\n",
        stored.state
    );
}

#[test]
fn backoff_doubles_from_one_second_and_stops_at_an_hour() {
    let mut expected = 1;
    for attempts in 1..=40 {
        let got = backoff(attempts);
        assert!(
            got == expected,
            "\nthe wait after {attempts} failed attempt(s) is {got} s, expected {expected} s\n  \
             call: backoff({attempts})\nThe wait after a failed attempt is 1 s after the first, \
             twice as long after each further one, and never more than BACKOFF_CAP \
             ({BACKOFF_CAP} s).\n"
        );
        expected = (expected * 2).min(BACKOFF_CAP);
    }
    for attempts in [63, 64, 65, 1000, i64::MAX] {
        let got = std::panic::catch_unwind(|| backoff(attempts));
        assert!(
            matches!(got, Ok(BACKOFF_CAP)),
            "\nthe wait after {attempts} failed attempts is {}, expected the cap, {BACKOFF_CAP} \
             s\n  call: backoff({attempts})\nA job with many attempts waits the cap; 2 to the \
             power of attempts no longer fits in an i64 long before.\n",
            match got {
                Ok(got) => format!("{got} s"),
                Err(panic) => format!("a panic ({})", panic_text(&panic)),
            }
        );
    }
}

#[test]
fn a_job_whose_worker_dies_on_every_attempt_is_dead_after_the_last() {
    let database = Database::new();
    let db = database.connect();
    let id = add_job(&db, NOW, 3);

    // Three workers claim it in turn, and each dies without a word.
    for attempt in 1..=3 {
        let now = NOW + (attempt - 1) * LEASE;
        let call = format!("claim(db, {}, 30)", at(now));
        let why = "The previous claim's lease has just ended.";
        expect_job(claimed(&db, now, LEASE), id, attempt, &call, why);
    }
    let now = NOW + 3 * LEASE;
    if let Some(job) = claimed(&db, now, LEASE) {
        panic!(
            "\na job whose worker died on each of its 3 attempts of 3 was claimed a 4th time\n  \
             call: claim(db, {}, 30)\n  returned: {job:?}\nA crash counts as an attempt (the \
             claim counts it): otherwise a job that kills its worker is retried forever.\n",
            at(now)
        );
    }
    let stored = row(&db, id);
    assert!(
        stored.state == "dead" && stored.last_error.as_deref() == Some(LEASE_EXPIRED),
        "\nthe job whose lease ended during its last attempt is {}, expected dead with \
         last_error LEASE_EXPIRED\n  after: claim(db, {}, 30)\n  stored: {stored:?}\nA claim \
         that finds such a job marks it dead, with LEASE_EXPIRED ({LEASE_EXPIRED:?}) as its \
         last_error, so that a human can see it.\n",
        stored.state,
        at(now)
    );
}

#[test]
fn a_worker_whose_lease_ended_cannot_complete_or_fail_the_job_it_lost() {
    let database = Database::new();
    let id = add_job(&database.connect(), NOW, 5);
    let (slow, fast) = (database.connect(), database.connect());

    let lost = expect_job(claimed(&slow, NOW, LEASE), id, 1, "claim(db, NOW, 30)", "");
    let why = "The first claim's lease has ended.";
    let taken = expect_job(
        claimed(&fast, NOW + 30, LEASE),
        id,
        2,
        "claim(db, NOW + 30, 30)",
        why,
    );

    let failed = fail(&slow, &lost, NOW + 31, "too slow").expect("fail returned an error");
    let stored = row(&fast, id);
    assert!(
        !failed && stored.state == "running" && stored.attempts == 2,
        "\nfail changed a job another worker holds now\n  call: fail(db, &job, NOW + 31, \"too \
         slow\") with the job as claimed at NOW (attempts 1)\n  returned: {failed}\n  stored: \
         {stored:?}\nThe job's lease ended at NOW + 30 and a second worker claimed it (attempts \
         2): the first worker's late failure must change nothing (and return false), or the \
         job is queued while the second worker runs it. Change the row only if it is still \
         running with the attempts of this claim.\n"
    );
    let completed = complete(&slow, &lost).expect("complete returned an error");
    let stored = row(&fast, id);
    assert!(
        !completed && stored.state == "running",
        "\ncomplete changed a job another worker holds now\n  call: complete(db, &job) with the \
         job as claimed at NOW (attempts 1)\n  returned: {completed}\n  stored: {stored:?}\nThe \
         second worker (attempts 2) holds the job now.\n"
    );
    let completed = complete(&fast, &taken).expect("complete returned an error");
    let stored = row(&fast, id);
    assert!(
        completed && stored.state == "done",
        "\nthe worker that holds the job could not complete it\n  call: complete(db, &job) with \
         the job as claimed at NOW + 30 (attempts 2)\n  returned: {completed}\n  stored: \
         {stored:?}\n"
    );
}

// ANCHOR: idempotent
#[test]
fn the_confirmation_handler_writes_one_email_however_often_it_runs() {
    let database = Database::new();
    let db = database.connect();
    add_customer_and_products(&db);
    let order_id = add_order(&db);
    let job = Job {
        id: 1,
        kind: ORDER_CONFIRMATION.to_string(),
        payload: json!({ "order_id": order_id }).to_string(),
        attempts: 1,
        max_attempts: MAX_ATTEMPTS,
    };

    // The second run is what a worker that died after the first one causes.
    for run in 1..=2 {
        if let Err(error) = send_confirmation(&db, &job) {
            panic!(
                "\nthe confirmation handler failed on its run {run}: {error}\n  call: \
                 send_confirmation(db, &job) with the payload {}\nA job may run more than \
                 once: running it again is not an error.\n",
                job.payload
            );
        }
    }

    let emails = count(&db, "SELECT count(*) FROM outbox");
    assert!(
        emails == 1,
        "\nthe outbox holds {emails} emails after the confirmation of one order ran twice, \
         expected 1\nThe handler runs at least once, so it must be harmless to run again: the \
         customer gets one email per order.\n"
    );
    let expected = confirmation_email(&db, order_id)
        .expect("confirmation_email failed")
        .expect("the order exists");
    let stored: (i64, String, String, String) = db
        .query_row(
            "SELECT order_id, recipient, subject, body FROM outbox",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .expect("the test could not read the outbox");
    let wanted = (
        order_id,
        "ada@example.com".to_string(),
        format!("Your order #{order_id}"),
        format!(
            "Hello Ada,\nthank you for your order #{order_id}:\n2 x Red mug at 12.50\nTotal: \
             25.00\n"
        ),
    );
    assert!(
        (
            expected.order_id,
            &expected.recipient,
            &expected.subject,
            &expected.body
        ) == (wanted.0, &wanted.1, &wanted.2, &wanted.3),
        "\nthe given confirmation_email wrote {expected:?}, expected {wanted:?}\nDo not change \
         the given code.\n"
    );
    assert!(
        stored == wanted,
        "\nthe email in the outbox is not the order's confirmation_email\n  stored:   \
         {stored:?}\n  expected: {wanted:?}\n"
    );

    let missing = Job {
        payload: json!({ "order_id": order_id + 100 }).to_string(),
        ..job
    };
    let outcome = send_confirmation(&db, &missing);
    assert!(
        outcome.is_err() && count(&db, "SELECT count(*) FROM outbox") == 1,
        "\nthe confirmation of an order that does not exist returned {outcome:?}, expected an \
         error\n  payload: {}\nThere is nothing to confirm: that is an error (the job is \
         retried, then dead), not a success.\n",
        missing.payload
    );
}
// ANCHOR_END: idempotent

/// A handler that counts its runs of each job, on a thread that must not
/// be the test's own: a current-thread runtime runs every task there.
fn counting_handler(
    runs: Arc<Mutex<BTreeMap<i64, u32>>>,
    runtime: std::thread::ThreadId,
) -> Handler {
    Arc::new(move |_: &Connection, job: &Job| {
        *runs.lock().unwrap().entry(job.id).or_default() += 1;
        if std::thread::current().id() == runtime {
            return Err(ON_THE_RUNTIME.to_string());
        }
        Ok(())
    })
}

/// What a test's handler answers when it runs on the async runtime's thread.
const ON_THE_RUNTIME: &str = "the handler ran on the async runtime's thread";

/// Whether the job's last error says its handler ran on the runtime's thread.
fn on_the_runtime(stored: &Row) -> bool {
    stored.last_error.as_deref() == Some(ON_THE_RUNTIME)
}

/// Fails if the job's handler ran on the async runtime's thread.
#[track_caller]
fn expect_off_the_runtime(stored: &Row) {
    assert!(
        !on_the_runtime(stored),
        "\nthe worker ran a job's handler on the async runtime's thread\n  stored: \
         {stored:?}\nThe test runs on a current-thread runtime, and its handler noticed that \
         it ran on that one thread: while it runs, nothing else can, not even the other \
         workers. Run each step (the SQLite calls and the handler) on tokio's blocking \
         threads.\n"
    );
}

// ANCHOR: many_workers
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_jobs_and_eight_workers_run_every_job_exactly_once() {
    let database = Database::new();
    let db = database.connect();
    let ids: Vec<i64> = (0..200).map(|_| add_job(&db, NOW, 5)).collect();
    let clock = TestClock::at(NOW);
    let runs: Arc<Mutex<BTreeMap<i64, u32>>> = Arc::default();
    // No thread of this runtime is the test's: any thread will do.
    let nobody = std::thread::spawn(|| {}).thread().id();

    let mut workers: Workers = (0..8)
        .map(|_| {
            spawn_worker(
                &database.path,
                &clock,
                counting_handler(Arc::clone(&runs), nobody),
            )
        })
        .collect();
    let all_done = eventually(&database.path, &mut workers, |db| {
        count(db, "SELECT count(*) FROM jobs WHERE state = 'done'") == 200
    })
    .await;
    stop(workers);

    let runs = runs.lock().unwrap().clone();
    let twice: Vec<_> = runs.iter().filter(|(_, runs)| **runs > 1).collect();
    assert!(
        twice.is_empty(),
        "\n{} of 200 jobs ran more than once with 8 workers: {twice:?} (job id: runs)\nEach \
         job is claimed by one worker only. A claim that reads the next job and then marks \
         it, in two steps, lets two workers take the same job.\n",
        twice.len()
    );
    let done = count(
        &db,
        "SELECT count(*) FROM jobs WHERE state = 'done' AND attempts = 1",
    );
    let never: Vec<_> = ids.iter().filter(|id| !runs.contains_key(id)).collect();
    assert!(
        all_done && done == 200 && never.is_empty(),
        "\n{done} of 200 jobs are done after one attempt, within {} seconds of 8 workers \
         starting, expected all 200\n  never run: {} jobs\nEach worker claims a job, runs the \
         handler, completes the job, and at once looks for the next one.\n",
        PATIENCE.as_secs(),
        never.len()
    );
}
// ANCHOR_END: many_workers

// ANCHOR: killed
#[tokio::test]
async fn a_worker_killed_mid_job_leaves_it_to_another_once_the_lease_ends() {
    let database = Database::new();
    let id = add_job(&database.connect(), NOW, 5);
    let clock = TestClock::at(NOW);
    let runtime = std::thread::current().id();
    let runs: Arc<Mutex<BTreeMap<i64, u32>>> = Arc::default();
    // The first run tells the test it started, then waits at a gate the
    // test opens only at the end (or when it fails): it is the worker's
    // last moment alive. The second run is an ordinary success.
    let first_started = Arc::new(AtomicBool::new(false));
    let (open_gate, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let handler: Handler = {
        let runs = Arc::clone(&runs);
        let started = Arc::clone(&first_started);
        Arc::new(move |_: &Connection, job: &Job| {
            let run = {
                let mut runs = runs.lock().unwrap();
                let run = runs.entry(job.id).or_default();
                *run += 1;
                *run
            };
            if std::thread::current().id() == runtime {
                return Err(ON_THE_RUNTIME.to_string());
            }
            if run == 1 {
                started.store(true, Ordering::SeqCst);
                // Only a test that hangs waits this long: the test opens
                // the gate as it ends, also when it fails.
                let _ = gate.lock().unwrap().recv_timeout(3 * PATIENCE);
                return Err("the test opened the gate".to_string());
            }
            Ok(())
        })
    };

    let mut doomed = vec![spawn_worker(&database.path, &clock, handler.clone())];
    let started = eventually(&database.path, &mut doomed, |db| {
        first_started.load(Ordering::SeqCst) || on_the_runtime(&row(db, id))
    });
    let started = started.await;
    expect_off_the_runtime(&row(&database.connect(), id));
    if !started {
        panic!(
            "\na worker did not run the one due job within {} seconds\n  worker: Worker {{ \
             lease: 30, poll: 2 ms, .. }}, run as a task, the clock at NOW; the job due at \
             NOW\n",
            PATIENCE.as_secs()
        );
    }
    // The worker dies in the middle of the job: its task is aborted.
    for worker in doomed {
        worker.abort();
        let _ = worker.await;
    }

    let db = database.connect();
    let stored = row(&db, id);
    assert!(
        stored.state == "running" && stored.attempts == 1 && stored.locked_until == Some(NOW + 30),
        "\nthe job of a worker killed mid-job is not running with its lease until NOW + 30\n  \
         stored: {stored:?}\nThe worker's task was aborted while the job's handler ran: \
         nothing may complete or fail the job.\n"
    );
    if let Some(job) = claimed(&db, NOW + 29, LEASE) {
        panic!(
            "\nthe job of a killed worker was claimed again before its lease ended\n  call: \
             claim(db, NOW + 29, 30)\n  returned: {job:?}\n"
        );
    }

    // The lease ends; a new worker comes.
    clock.set(NOW + 30);
    let mut rescuer = vec![spawn_worker(&database.path, &clock, handler)];
    let done = eventually(&database.path, &mut rescuer, |db| {
        row(db, id).state == "done"
    })
    .await;
    stop(rescuer);
    let stored = row(&db, id);
    let runs = runs.lock().unwrap().get(&id).copied().unwrap_or(0);
    // The first worker's handler returns now, far too late.
    drop(open_gate);

    assert!(
        done && stored.attempts == 2 && runs == 2,
        "\nthe job of a killed worker is {} with {} attempt(s) and {runs} run(s) of its \
         handler, expected done with 2 of each\n  when: {} seconds after a second worker \
         started with the clock at NOW + 30, when the first worker's lease ended\n  stored: \
         {stored:?}\nA running job whose lease has ended is due again: its worker died.\n",
        stored.state,
        stored.attempts,
        PATIENCE.as_secs()
    );
}
// ANCHOR_END: killed

#[tokio::test]
async fn a_worker_retries_a_failing_job_after_its_backoff() {
    let database = Database::new();
    let id = add_job(&database.connect(), NOW, 5);
    let clock = TestClock::at(NOW);
    let runtime = std::thread::current().id();
    let runs = Arc::new(Mutex::new(0));
    let handler: Handler = {
        let runs = Arc::clone(&runs);
        Arc::new(move |_: &Connection, _: &Job| {
            let mut runs = runs.lock().unwrap();
            *runs += 1;
            if std::thread::current().id() == runtime {
                return Err(ON_THE_RUNTIME.to_string());
            }
            match *runs {
                1 | 2 => Err(format!("the mail relay is down ({runs})")),
                _ => Ok(()),
            }
        })
    };

    let mut worker = vec![spawn_worker(&database.path, &clock, handler)];
    let mut now = NOW;
    for attempt in 1..=2 {
        let failed = eventually(&database.path, &mut worker, |db| {
            let stored = row(db, id);
            stored.attempts == attempt && stored.state == "queued"
        })
        .await;
        let stored = row(&database.connect(), id);
        let delay = 1 << (attempt - 1);
        let error = format!("the mail relay is down ({attempt})");
        expect_off_the_runtime(&stored);
        assert!(
            failed
                && stored.run_at == now + delay
                && stored.last_error.as_deref() == Some(error.as_str()),
            "\nthe worker did not queue the job again {delay} s after its failed attempt \
             {attempt}\n  the clock: {}\n  stored: {stored:?}\nWhen the handler returns an \
             error, the worker fails the job with it, at the clock's time: the worker reads \
             its clock for every claim, and the test moves it.\n",
            at(now)
        );
        now += delay;
        clock.set(now);
    }
    let done = eventually(&database.path, &mut worker, |db| {
        row(db, id).state == "done"
    })
    .await;
    stop(worker);

    let stored = row(&database.connect(), id);
    let runs = *runs.lock().unwrap();
    assert!(
        done && stored.attempts == 3 && runs == 3,
        "\nthe job is {} after {runs} run(s), expected done after 3 (two failures, then a \
         success)\n  the clock: {}\n  stored: {stored:?}\n",
        stored.state,
        at(now)
    );
}

#[tokio::test]
async fn a_handler_that_panics_does_not_stop_its_worker() {
    let database = Database::new();
    let db = database.connect();
    let (first, second) = (add_job(&db, NOW, 5), add_job(&db, NOW, 5));
    let clock = TestClock::at(NOW);
    let runs: Arc<Mutex<BTreeMap<i64, u32>>> = Arc::default();
    let handler: Handler = {
        let runs = Arc::clone(&runs);
        Arc::new(move |_: &Connection, job: &Job| {
            let run = {
                let mut runs = runs.lock().unwrap();
                let run = runs.entry(job.id).or_default();
                *run += 1;
                *run
            };
            if job.id == first && run == 1 {
                panic!("the test's handler panics on its first run of job {first}");
            }
            Ok(())
        })
    };

    let worker = spawn_worker(&database.path, &clock, handler);
    let mut none = Workers::new();
    eventually(&database.path, &mut none, |db| {
        row(db, second).state == "done" || worker.is_finished()
    })
    .await;
    if worker.is_finished() {
        let outcome = match worker.await {
            Err(error) if error.is_panic() => {
                let panic = error.into_panic();
                let text = panic_text(&panic);
                if !text.starts_with("the test's handler panics") {
                    // The worker's own panic (a `todo!()`, say): as it is.
                    std::panic::resume_unwind(panic);
                }
                format!("it panicked: {text}")
            }
            outcome => format!("its task ended with {outcome:?}"),
        };
        panic!(
            "\na worker stopped when a job's handler panicked ({outcome})\nA panic in a \
             handler is a crash of that job, not of the worker: the worker carries on with \
             the next job, and the job's lease brings it back.\n"
        );
    }
    let stored = row(&db, first);
    assert!(
        stored.state == "running" && stored.attempts == 1,
        "\nthe job whose handler panicked is {} with {} attempt(s), expected running with 1 \
         until its lease ends\n  stored: {stored:?}\n",
        stored.state,
        stored.attempts
    );
    clock.set(NOW + LEASE);
    let mut workers = vec![worker];
    let done = eventually(&database.path, &mut workers, |db| {
        row(db, first).state == "done"
    })
    .await;
    stop(workers);
    let stored = row(&db, first);
    assert!(
        done && stored.attempts == 2,
        "\nthe job whose handler panicked is {} with {} attempt(s) once its lease ended, \
         expected done after 2\n  stored: {stored:?}\n",
        stored.state,
        stored.attempts
    );
}

#[tokio::test]
async fn the_queue_survives_a_restart() {
    let database = Database::new();
    add_customer_and_products(&database.connect());
    let clock = TestClock::at(NOW);

    // The first life of the shop: two orders, and a worker that dies just
    // after claiming the second one's job.
    {
        let shop = Shop::open(&database.path, clock.clock()).expect("Shop::open failed");
        let server = TestServer::spawn(app(shop)).await;
        for _ in 0..2 {
            let order = json!({ "customer_id": 1, "items": [{ "product_id": 7, "quantity": 1 }] });
            server
                .post("/orders")
                .json(&order)
                .send()
                .await
                .assert_status(201);
        }
        let dying = database.connect();
        claimed(&dying, NOW, LEASE);
        // A job the shop has no handler for, tried once.
        dying
            .execute(
                "INSERT INTO jobs (kind, payload, run_at, max_attempts)
                 VALUES ('gift_wrap', '{}', ?1, 1)",
                [NOW],
            )
            .expect("the test could not add a job");
    }

    // The second life: new connections and new workers, the same file.
    clock.set(NOW + LEASE);
    let mut workers: Workers = (0..2)
        .map(|_| spawn_worker(&database.path, &clock, shop_handler()))
        .collect();
    let done = eventually(&database.path, &mut workers, |db| {
        count(
            db,
            "SELECT count(*) FROM jobs WHERE state IN ('done', 'dead')",
        ) == 3
    })
    .await;
    stop(workers);

    let db = database.connect();
    let states: Vec<(String, i64, Option<String>)> = db
        .prepare("SELECT state, attempts, last_error FROM jobs ORDER BY id")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect()
        })
        .expect("the test could not read the jobs table");
    let emails = count(&db, "SELECT count(DISTINCT order_id) FROM outbox");
    let unknown_kind_is_dead = states.get(2).is_some_and(|(state, _, error)| {
        state == "dead"
            && error
                .as_deref()
                .is_some_and(|error| error.contains("gift_wrap"))
    });
    assert!(
        done && emails == 2
            && states[..2].iter().all(|(state, ..)| state == "done")
            && unknown_kind_is_dead,
        "\nafter a restart, the jobs are {states:?} (state, attempts, last_error) and the \
         outbox holds {emails} confirmation(s), expected both orders' jobs done, 2 emails, \
         and the gift_wrap job dead with an error that names its kind\nBefore the restart: \
         two orders placed with POST /orders, one of their jobs claimed at NOW by a worker \
         that died, and a job of a kind the shop has no handler for (max_attempts 1). After \
         it: two workers with the shop's handler, the clock at NOW + 30.\n"
    );
    let shop = Shop::open(&database.path, clock.clock()).expect("Shop::open failed");
    let server = TestServer::spawn(app(shop)).await;
    let reply = server.get("/outbox").send().await;
    reply.assert_status(200);
    let recipients: Vec<_> = reply
        .json()
        .as_array()
        .map(|emails| {
            emails
                .iter()
                .map(|email| email["recipient"].clone())
                .collect()
        })
        .unwrap_or_default();
    if recipients != [json!("ada@example.com"), json!("ada@example.com")] {
        reply.fail("expected the two confirmations to ada@example.com in the outbox");
    }
}
