//! Tests for database/async-access: a real server on 127.0.0.1 in front of a
//! real SQLite file in a temporary folder, and the pool used directly.
//!
//! Two tests watch the async runtime itself: a timer ticks every few
//! milliseconds on the test's single runtime thread while slow SQLite work
//! runs. If that work blocks the runtime's thread, the ticks stop until it
//! is done, and the longest gap between ticks gives it away.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use database_async_access::{Pool, app, create_schema, heavy_report};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{TestServer, json, status_text};
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

/// A busy timeout long enough never to expire in these tests.
const PATIENT: Duration = Duration::from_secs(10);

/// How long the slow work of the runtime tests should take on this machine.
const SLOW_WORK: Duration = Duration::from_millis(600);

/// A pause of the async runtime shorter than this goes unnoticed: a loaded
/// machine may not run the test's thread for a few tens of milliseconds.
const NOTICEABLE: Duration = Duration::from_millis(100);

/// A SQLite file with the app's schema, in a folder removed when dropped.
struct Database {
    _folder: TempDir,
    path: PathBuf,
}

impl Database {
    fn new() -> Database {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("notes.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        Database {
            _folder: folder,
            path,
        }
    }

    /// The pool under test: `Pool::open` on this file.
    fn pool(&self, size: usize, busy_timeout: Duration) -> Pool {
        match Pool::open(&self.path, size, busy_timeout) {
            Ok(pool) => pool,
            Err(error) => panic!(
                "\nopening the pool returned an error: {error}\n  call: Pool::open(&path, {size}, {busy_timeout:?})\n"
            ),
        }
    }

    /// The texts of every note in the file, read with a connection of the
    /// test's own.
    fn stored_texts(&self) -> Vec<String> {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        let mut statement = db
            .prepare("SELECT text FROM notes ORDER BY id")
            .expect("the test could not read the notes table");
        statement
            .query_map([], |row| row.get(0))
            .expect("the test could not read the notes table")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read the notes table")
    }
}

/// How long a job of these tests may take, waiting for its connection
/// included: far more than any of them needs.
const A_JOB_AT_MOST: Duration = Duration::from_secs(10);

/// Runs `job` on the pool, failing the test with a plain message if it
/// returns an error, or if it is not done within [`A_JOB_AT_MOST`].
async fn run<T, F>(pool: &Pool, job: F) -> T
where
    F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::time::timeout(A_JOB_AT_MOST, pool.run(job)).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!(
            "\na job that cannot fail returned an error through the pool: {error}\n  call: pool.run(job)\n"
        ),
        Err(_) => panic!(
            "\na job given to Pool::run was not done within {} seconds\n  call: pool.run(job)\n\
             The job itself takes a moment. Was it waiting for a connection that never came \
             back to the pool? A connection goes back when its job ends.\n",
            A_JOB_AT_MOST.as_secs()
        ),
    }
}

/// What a spawned job returned. If it panicked, the test fails with that
/// panic, whose message was printed when it happened: the verdict is its
/// first line, not a "task panicked" wrapped around it.
fn finished<T>(job: Result<T, tokio::task::JoinError>) -> T {
    match job {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("\na job given to Pool::run was cancelled: {error}\n"),
    }
}

#[tokio::test]
async fn a_created_note_answers_201_and_is_stored_in_the_file() {
    let database = Database::new();
    let server = TestServer::spawn(app(database.pool(2, PATIENT))).await;

    let reply = server
        .post("/notes")
        .json(&json!({ "text": "buy milk" }))
        .send()
        .await;

    reply
        .assert_status(201)
        .assert_content_type("application/json");
    let Some(id) = reply.json()["id"].as_i64() else {
        reply.fail("expected a JSON body of the shape {\"id\": 1, \"text\": \"buy milk\"}");
    };
    reply.assert_json(&json!({ "id": id, "text": "buy milk" }));
    let stored = database.stored_texts();
    if stored != ["buy milk"] {
        reply.fail(&format!(
            "the database file's notes table holds {stored:?}, expected [\"buy milk\"]"
        ));
    }
}

#[tokio::test]
async fn the_count_and_the_report_answer_with_their_numbers() {
    let database = Database::new();
    let server = TestServer::spawn(app(database.pool(2, PATIENT))).await;
    for text in ["one", "two"] {
        let created = server.post("/notes").json(&json!({ "text": text })).send();
        created.await.assert_status(201);
    }

    server
        .get("/notes/count")
        .send()
        .await
        .assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&json!({ "count": 2 }));
    server
        .get("/report?rows=10")
        .send()
        .await
        .assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&json!({ "rows": 10, "total": 55 }));
}

// ANCHOR: concurrent_writes
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_writes_all_succeed_and_are_stored() {
    let database = Database::new();
    let server = TestServer::spawn(app(database.pool(4, PATIENT))).await;

    // All hundred requests are sent at once, and answered in any order.
    let requests: Vec<_> = (0..100)
        .map(|number| {
            let body = json!({ "text": format!("note {number}") });
            tokio::spawn(server.post("/notes").json(&body).send())
        })
        .collect();
    let mut ids = BTreeSet::new();
    for request in requests {
        // A request that panicked (the handler did) fails with its own message.
        let reply = request
            .await
            .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        if reply.status() != 201 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 201 Created, got {}",
                    status_text(reply.status())
                ),
                "Every one of 100 concurrent POST /notes should answer 201 Created. With \
                 several connections writing at once, a connection that does not wait for \
                 the write lock (its busy timeout) fails with `database is locked`.",
            );
        }
        ids.insert(reply.json()["id"].as_i64());
    }

    assert!(
        ids.len() == 100,
        "\nonly {} different ids came back for 100 created notes, expected 100\n",
        ids.len()
    );
    let stored: BTreeSet<String> = database.stored_texts().into_iter().collect();
    let sent: BTreeSet<String> = (0..100).map(|number| format!("note {number}")).collect();
    assert!(
        stored == sent,
        "\nthe file holds {} notes, expected the 100 notes `note 0` to `note 99`\n  missing: \
         {:?}\nAll 100 POST /notes answered 201 Created.\n",
        stored.len(),
        sent.difference(&stored).collect::<Vec<_>>()
    );
    server
        .get("/notes/count")
        .send()
        .await
        .assert_status(200)
        .assert_json(&json!({ "count": 100 }));
}
// ANCHOR_END: concurrent_writes

/// Runs `count` jobs on the pool at once. Each job reads something with
/// `read`, then waits until all `count` jobs are running at the same time
/// (which proves they hold `count` different connections), for 5 seconds at
/// most. Returns what each job read, or how many jobs were ever running at
/// the same time if not all of them were.
async fn run_all_at_once<T>(
    pool: &Pool,
    count: usize,
    read: fn(&mut Connection) -> rusqlite::Result<T>,
) -> Result<Vec<T>, usize>
where
    T: Send + 'static,
{
    let meeting = Arc::new(Meeting::default());
    let jobs: Vec<_> = (0..count)
        .map(|_| {
            let pool = pool.clone();
            let meeting = Arc::clone(&meeting);
            tokio::spawn(async move {
                let job = move |db: &mut Connection| {
                    let value = read(db)?;
                    Ok((value, meeting.arrive_and_wait(count)))
                };
                run(&pool, job).await
            })
        })
        .collect();
    let mut values = Vec::new();
    let mut all_met = true;
    for job in jobs {
        let (value, met) = finished(job.await);
        values.push(value);
        all_met &= met;
    }
    if all_met {
        Ok(values)
    } else {
        Err(meeting.most_present())
    }
}

/// Where concurrent jobs wait for each other.
#[derive(Default)]
struct Meeting {
    state: Mutex<MeetingState>,
    changed: Condvar,
}

#[derive(Default)]
struct MeetingState {
    present: usize,
    most_present: usize,
    arrived: usize,
    gave_up: bool,
}

impl Meeting {
    /// Waits until `count` jobs are here at once; false if that did not
    /// happen within 5 seconds (then later arrivals do not wait either).
    fn arrive_and_wait(&self, count: usize) -> bool {
        let mut state = self.state.lock().unwrap();
        state.present += 1;
        state.arrived += 1;
        state.most_present = state.most_present.max(state.present);
        self.changed.notify_all();
        let wait = Duration::from_secs(5);
        let (mut state, _) = self
            .changed
            .wait_timeout_while(state, wait, |state| state.arrived < count && !state.gave_up)
            .unwrap();
        let all_met = state.arrived >= count && !state.gave_up;
        if !all_met {
            state.gave_up = true;
        }
        state.present -= 1;
        self.changed.notify_all();
        all_met
    }

    fn most_present(&self) -> usize {
        self.state.lock().unwrap().most_present
    }
}

fn journal_mode(db: &mut Connection) -> rusqlite::Result<String> {
    db.pragma_query_value(None, "journal_mode", |row| row.get(0))
}

fn busy_timeout_in_ms(db: &mut Connection) -> rusqlite::Result<i64> {
    db.pragma_query_value(None, "busy_timeout", |row| row.get(0))
}

#[tokio::test]
async fn a_pool_of_four_runs_four_jobs_at_the_same_time() {
    let database = Database::new();
    let pool = database.pool(4, PATIENT);

    let outcome = run_all_at_once(&pool, 4, journal_mode).await;

    if let Err(most) = outcome {
        panic!(
            "\nat most {most} of 4 jobs ran at the same time on a pool of four connections\n\
             The four jobs were given at once, so all four should run at the same time, each \
             on a connection of its own.\n"
        );
    }
}

// ANCHOR: pragmas
#[tokio::test]
async fn every_connection_is_in_wal_mode_with_the_busy_timeout_it_was_given() {
    let database = Database::new();
    let pool = database.pool(3, Duration::from_millis(1500));

    let pragmas = |db: &mut Connection| Ok((journal_mode(db)?, busy_timeout_in_ms(db)?));
    let Ok(connections) = run_all_at_once(&pool, 3, pragmas).await else {
        panic!("\na pool of three connections did not run three jobs at the same time\n");
    };

    for (mode, busy_timeout) in connections {
        assert!(
            mode == "wal",
            "\na connection of the pool is in journal mode `{mode}`, expected `wal`\n\
             `PRAGMA journal_mode` read it. Every connection of the pool should use WAL mode.\n"
        );
        assert!(
            busy_timeout == 1500,
            "\na connection of the pool has a busy timeout of {busy_timeout} ms, expected 1500 \
             ms\n`PRAGMA busy_timeout` read it. The pool was opened with a busy timeout of \
             1.5 s.\n"
        );
    }
}
// ANCHOR_END: pragmas

/// Whether `db` is used for the first time by this test: the first call on
/// each connection creates a temporary table, which lives as long as the
/// connection and is seen by no other connection.
fn first_use(db: &mut Connection) -> rusqlite::Result<bool> {
    db.execute_batch("CREATE TEMP TABLE IF NOT EXISTS uses (n INTEGER)")?;
    let earlier_uses: i64 = db.query_row("SELECT count(*) FROM temp.uses", [], |row| row.get(0))?;
    db.execute("INSERT INTO temp.uses (n) VALUES (1)", [])?;
    Ok(earlier_uses == 0)
}

#[tokio::test]
async fn jobs_wait_for_a_free_connection_and_reuse_the_pools_connections() {
    let database = Database::new();
    let pool = database.pool(2, PATIENT);

    let jobs: Vec<_> = (0..20)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { run(&pool, first_use).await })
        })
        .collect();
    let mut connections = 0;
    for job in jobs {
        if finished(job.await) {
            connections += 1;
        }
    }

    assert!(
        connections <= 2,
        "\nthe jobs ran on {connections} different connections of a pool of two\n20 jobs \
         were given at once: they should take turns on the pool's two connections. A pool \
         opens its connections once, and a job waits for one to be free.\n"
    );
}

#[test]
fn a_job_that_panics_gives_its_connection_back() {
    let database = Database::new();
    let pool = database.pool(1, PATIENT);

    // The jobs run on a thread and a runtime of their own, which report each
    // step: if the second job waits forever, even blocking its thread, this
    // test still ends, and says why.
    let (report, steps) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the test could not start a runtime");
        runtime.block_on(async move {
            let panicking = pool.clone();
            let job = |_: &mut Connection| -> rusqlite::Result<()> { panic!("a job that panics") };
            let first = tokio::spawn(async move { panicking.run(job).await }).await;
            let _ = report.send(match first {
                Err(error) if error.is_panic() => Ok(()),
                other => Err(format!("{other:?}")),
            });
            let next = tokio::spawn(async move { pool.run(journal_mode).await }).await;
            let _ = report.send(match next {
                Ok(Ok(_)) => Ok(()),
                other => Err(format!("{other:?}")),
            });
        });
    });

    let wait = Duration::from_secs(10);
    match steps.recv_timeout(wait) {
        Ok(Ok(())) => {}
        Ok(Err(outcome)) => panic!(
            "\na job panicked, but its `run` returned {outcome} instead of panicking too\nThe \
             panic continues in the caller.\n"
        ),
        Err(_) => panic!("\na job that panics did not make its `run` end within 10 seconds\n"),
    }
    match steps.recv_timeout(wait) {
        Ok(Ok(())) => {}
        Ok(Err(outcome)) => panic!(
            "\nthe job after one that panicked ended with {outcome}, expected it to run as \
             usual\nThe pool has one connection, and ran a job that panicked first.\n"
        ),
        Err(_) => panic!(
            "\nthe job after one that panicked got no connection within 10 seconds\nThe pool \
             has one connection. The connection must go back to the pool when a job ends, also \
             when it ends with a panic.\n"
        ),
    }
}

#[test]
fn a_job_whose_caller_stopped_waiting_still_gives_its_connection_back() {
    let database = Database::new();
    let pool = database.pool(1, PATIENT);

    // As in the panic test, the jobs run on a thread and a runtime of their
    // own, so that a job waiting forever for a lost connection cannot hang
    // the test.
    let (report, steps) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the test could not start a runtime");
        runtime.block_on(async move {
            let (started, job_started) = oneshot::channel();
            let (finish, may_finish) = std::sync::mpsc::channel::<()>();
            let abandoning = pool.clone();
            let caller = tokio::spawn(async move {
                let job = move |db: &mut Connection| {
                    let _ = started.send(());
                    let _ = may_finish.recv();
                    journal_mode(db)
                };
                abandoning.run(job).await
            });
            if job_started.await.is_err() {
                let _ = report.send(Err("the first job never started".to_string()));
                return;
            }
            // The caller stops waiting while its job runs, as a handler
            // does when its client hangs up: its future is dropped.
            caller.abort();
            let _ = caller.await;
            // Only then does the job end.
            let _ = finish.send(());
            let next = tokio::spawn(async move { pool.run(journal_mode).await }).await;
            let _ = report.send(match next {
                Ok(Ok(_)) => Ok(()),
                other => Err(format!("{other:?}")),
            });
        });
    });

    match steps.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {}
        Ok(Err(outcome)) => panic!(
            "\nthe job after one whose caller stopped waiting ended with {outcome}, expected it \
             to run as usual\nThe pool has one connection.\n"
        ),
        Err(_) => panic!(
            "\nthe job after one whose caller stopped waiting got no connection within 10 \
             seconds\nThe pool has one connection. A job's caller stopped waiting for it (its \
             future was dropped, as when a client hangs up) while the job ran; then the job \
             ended. The connection must go back to the pool when the job ends, even if nobody \
             awaits the result any more: give it back from the blocking thread (a guard moved \
             into the job's closure), not after the `.await`.\n"
        ),
    }
}

#[tokio::test]
async fn a_database_error_answers_500_with_a_body_that_tells_nothing() {
    // A file without the notes table: every call of the app fails in SQLite
    // with `no such table: notes`.
    let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
    let path = folder.path().join("empty.db");
    let pool = match Pool::open(&path, 1, PATIENT) {
        Ok(pool) => pool,
        Err(error) => panic!(
            "\nopening the pool returned an error: {error}\n  call: Pool::open(&path, 1, {PATIENT:?})\n"
        ),
    };
    let server = TestServer::spawn(app(pool)).await;

    let created = server
        .post("/notes")
        .json(&json!({ "text": "buy milk" }))
        .send()
        .await;
    let counted = server.get("/notes/count").send().await;

    for reply in [created, counted] {
        reply
            .assert_status(500)
            .assert_content_type("application/json");
        if reply.json() != json!({ "error": "internal" }) {
            reply.fail_with_diagnosis(
                "expected the JSON body {\"error\":\"internal\"} for a database error",
                "The database has no notes table, so SQLite failed. A client learns only that \
                 something went wrong inside: SQLite's own message (table names, SQL) stays in \
                 the server's log.",
            );
        }
    }
}

// ANCHOR: ticking
/// Runs `work` to its end while a timer ticks every 5 ms on the same runtime.
/// Returns what `work` returned, how long it took, and the longest time the
/// runtime went without ticking. Nothing else runs on the runtime's thread
/// while it is blocked, not even a timer: a blocking call shows up as a gap
/// as long as the call.
async fn run_while_ticking<F: Future>(work: F) -> (F::Output, Duration, Duration) {
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(5));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_tick = Instant::now();
    let mut longest_gap = Duration::ZERO;
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            output = &mut work => {
                let longest_gap = longest_gap.max(last_tick.elapsed());
                return (output, started.elapsed(), longest_gap);
            }
            _ = ticks.tick() => {
                longest_gap = longest_gap.max(last_tick.elapsed());
                last_tick = Instant::now();
            }
        }
    }
}
// ANCHOR_END: ticking

/// How many rows make `heavy_report` take about [`SLOW_WORK`] here and now,
/// measured on a connection of the test's own.
fn rows_for_slow_work() -> i64 {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    let mut rows: i64 = 10_000;
    loop {
        let started = Instant::now();
        heavy_report(&db, rows).expect("heavy_report failed on the test's own connection");
        let took = started.elapsed();
        if took >= Duration::from_millis(50) {
            let scale = SLOW_WORK.as_secs_f64() / took.as_secs_f64();
            return (rows as f64 * scale) as i64;
        }
        rows *= 4;
    }
}

/// Fails if the runtime stopped ticking for a noticeable time that was more
/// than half of the time `work` took: then `work` blocked the runtime's only
/// thread.
#[track_caller]
fn assert_kept_ticking(took: Duration, longest_gap: Duration, work: &str) {
    if longest_gap > NOTICEABLE && longest_gap > took / 2 {
        panic!(
            "\nthe async runtime was blocked for {longest_gap:.2?} of the {took:.2?} that {work} \
             took\nA 5 ms timer on the runtime's thread did not tick: nothing else could run. \
             A SQLite call (or a wait for a connection) blocked the thread that runs async \
             tasks. Run SQLite work with tokio::task::spawn_blocking, and wait for a free \
             connection with an async wait.\n"
        );
    }
}

// ANCHOR: slow_report
#[tokio::test] // one runtime thread, shared by the server and the test
async fn a_slow_report_does_not_stop_the_runtime() {
    let database = Database::new();
    let rows = rows_for_slow_work();
    let server = TestServer::spawn(app(database.pool(2, PATIENT))).await;

    let request = server.get(&format!("/report?rows={rows}")).send();
    let (reply, took, longest_gap) = run_while_ticking(request).await;

    reply.assert_status(200);
    assert_kept_ticking(took, longest_gap, &format!("GET /report?rows={rows}"));
}
// ANCHOR_END: slow_report

#[tokio::test]
async fn waiting_for_a_busy_connection_does_not_stop_the_runtime() {
    let database = Database::new();
    let rows = rows_for_slow_work();
    let pool = database.pool(1, PATIENT);

    // A slow job takes the pool's only connection...
    let (started, job_started) = oneshot::channel();
    let slow_pool = pool.clone();
    let slow = tokio::spawn(async move {
        let job = move |db: &mut Connection| {
            let _ = started.send(());
            heavy_report(db, rows)
        };
        run(&slow_pool, job).await
    });
    if job_started.await.is_err() {
        panic!("\na job given to Pool::run never started\n");
    }
    // ...so this one has to wait for it.
    let (_, took, longest_gap) = run_while_ticking(run(&pool, journal_mode)).await;

    finished(slow.await);
    assert_kept_ticking(
        took,
        longest_gap,
        "waiting for the only connection of a pool, busy with a slow job,",
    );
}
