//! Tests for security/rate-limiting: the shop's login on a real SQLite
//! file, served on 127.0.0.1, attacked with password guesses.
//!
//! The shop reads the time from a clock the tests hold (milliseconds since
//! the Unix epoch, in an atomic) and move forward themselves: a window of
//! 15 minutes passes in an instant, and nothing sleeps.
//!
//! The concurrent test stages its race: the shop calls a hook of the test
//! whenever a password is about to be checked, and the hook holds every
//! check until each of the 50 attempts has either reached a check or been
//! answered. A limiter that checks first and counts after the password was
//! checked then lets all 50 through, every time; one that counts as it
//! lets an attempt through lets 5.
//!
//! Each test pairs legitimate use with attacks, so that a login without a
//! limit passes none of them.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use security_rate_limiting::{Clock, Shop, add_customer, app};
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, json, status_text};

/// The tests' "now" when a test starts: 2027-01-15T08:00:00Z, in ms.
const T0: i64 = 1_800_000_000_000;

/// One minute, in milliseconds.
const MINUTE: i64 = 60 * 1000;

const ADA: &str = "ada@example.com";
const ADA_PASSWORD: &str = "correct horse battery staple";
const BOB: &str = "bob@example.com";
const BOB_PASSWORD: &str = "Tr0ub4dor&3";

/// What the guesses try: the top of every leaked-password list.
const GUESSES: [&str; 8] = [
    "123456",
    "password",
    "qwerty",
    "letmein",
    "Password1!",
    "iloveyou",
    "admin",
    "correct horse battery stapler",
];

const NO_LIMIT_DIAGNOSIS: &str = "Count the attempts on each account: after 5 in a window of 15 \
    minutes, refuse every further attempt with `too_many_attempts(seconds)` until the window is \
    over. Without a limit, a script tries a whole password list against one account.";

/// The shop with Ada and Bob, its clock, and how many passwords it has
/// checked.
struct World {
    _folder: TempDir,
    path: std::path::PathBuf,
    server: TestServer,
    now: Arc<AtomicI64>,
    checks: Arc<AtomicUsize>,
}

impl World {
    async fn new() -> World {
        World::with_gate(None).await
    }

    /// The shop, with `gate` holding its password checks, if given.
    async fn with_gate(gate: Option<Arc<Gate>>) -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let now = Arc::new(AtomicI64::new(T0));
        let clock_now = now.clone();
        let clock = Clock::from_fn(move || clock_now.load(Ordering::SeqCst));
        let shop = match Shop::open(&path, clock) {
            Ok(shop) => shop,
            Err(error) => panic!("\nShop::open returned an error: {error}\n"),
        };
        let checks = Arc::new(AtomicUsize::new(0));
        let counted = checks.clone();
        let shop = shop.on_password_check(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = &gate {
                gate.arrive();
            }
        });
        let db = Connection::open(&path).expect("the test could not open the database");
        add_customer(&db, ADA, "Ada", ADA_PASSWORD).expect("Ada is added");
        add_customer(&db, BOB, "Bob", BOB_PASSWORD).expect("Bob is added");
        let server = TestServer::spawn(app(shop)).await;
        World {
            _folder: folder,
            path,
            server,
            now,
            checks,
        }
    }

    /// Sets the shop's clock to `T0 + offset` milliseconds.
    fn at(&self, offset: i64) {
        self.now.store(T0 + offset, Ordering::SeqCst);
    }

    /// `POST /login` with `email` and `password`.
    async fn login(&self, email: &str, password: &str) -> Reply {
        self.server
            .post("/login")
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
    }

    /// How many passwords the shop has checked so far.
    fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }

    /// `count` wrong passwords for `email`, each of which must be `401`.
    async fn fail(&self, email: &str, count: usize, what: &str) {
        for guess in GUESSES.iter().take(count) {
            let reply = self.login(email, guess).await;
            assert_wrong_password(&reply, what);
        }
    }
}

/// The time since `T0`, as the failure messages write it.
fn clock_text(offset: i64) -> String {
    let (minutes, ms) = (offset / MINUTE, offset % MINUTE);
    format!("T0 + {minutes} min {:.3} s", ms as f64 / 1000.0)
}

/// Fails unless `reply` is the `401` of a wrong password.
#[track_caller]
fn assert_wrong_password(reply: &Reply, what: &str) {
    if reply.status() == 429 {
        reply.fail_with_diagnosis(
            &format!("expected 401 Unauthorized for {what}, got 429 Too Many Requests"),
            "This attempt is within the account's 5 of the window: it is checked, and a wrong \
             password is 401. Each account has its own count (the email trimmed, in \
             lowercase); a successful login starts it again; a window is over at exactly its \
             start + 15 minutes.",
        );
    }
    if reply.status() != 401 {
        reply.fail(&format!(
            "expected 401 Unauthorized for {what}, got {}",
            status_text(reply.status())
        ));
    }
}

/// Fails unless `reply` is the `429` with `Retry-After: seconds` of an
/// attempt refused by the limiter.
#[track_caller]
fn assert_limited(reply: &Reply, what: &str, seconds: u64) {
    if reply.status() != 429 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 429 Too Many Requests for {what}, got {}",
                status_text(reply.status())
            ),
            NO_LIMIT_DIAGNOSIS,
        );
    }
    let content_type = reply.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/problem+json") || reply.json()["status"] != json!(429)
    {
        reply.fail(&format!(
            "the 429 for {what} is not a problem details body with \"status\": 429\nAnswer \
             with the given `too_many_attempts(seconds)`."
        ));
    }
    let expected = seconds.to_string();
    match reply.header("retry-after") {
        Some(actual) if actual == expected => {}
        Some(actual) => reply.fail_with_diagnosis(
            &format!("expected `Retry-After: {expected}` for {what}, got `Retry-After: {actual}`"),
            "Retry-After is a number of whole seconds (RFC 9110, 10.2.3): the time left until \
             the window that opened with the account's first attempt is over, rounded up (999 \
             ms left is 1, 1001 ms is 2). Refused attempts do not move the window.",
        ),
        None => reply.fail(&format!(
            "expected `Retry-After: {expected}` for {what}, but the 429 has no Retry-After\n\
             A client (and a polite attacker's script) reads it to know when to come back."
        )),
    }
}

// ANCHOR: sixth
#[tokio::test]
async fn the_sixth_attempt_in_a_window_is_refused_with_retry_after() {
    let world = World::new().await;

    let reply = world.login(ADA, ADA_PASSWORD).await;
    reply.assert_status(200);
    if reply.json()["email"] != json!(ADA) {
        reply.fail("expected the body to be Ada's customer record, with her email");
    }

    world
        .fail(ADA, 5, "one of the first 5 wrong passwords for Ada")
        .await;
    let reply = world.login(ADA, "hunter2").await;
    assert_limited(&reply, "Ada's 6th wrong password within 15 minutes", 900);

    // The database fails: a 500 that says nothing of it.
    Connection::open(&world.path)
        .and_then(|db| db.execute_batch("DROP TABLE customers"))
        .expect("the test could not drop the customers table");
    let reply = world.login(BOB, BOB_PASSWORD).await;
    let content_type = reply.header("content-type").unwrap_or_default();
    if reply.status() != 500 || !content_type.starts_with("application/problem+json") {
        reply.fail(&format!(
            "expected 500 Internal Server Error as problem details for Bob's login once the \
             customers table is gone, got {} ({content_type})\nA database error is the given \
             `internal_error(&error)`.",
            status_text(reply.status())
        ));
    }
    if reply.text().contains("customers") || reply.text().contains("no such table") {
        reply.fail(
            "the 500 quotes the database's error: it tells an attacker how the shop is built",
        );
    }
}
// ANCHOR_END: sixth

#[tokio::test]
async fn while_limited_even_the_right_password_is_refused_unchecked() {
    let world = World::new().await;

    world
        .fail(ADA, 5, "one of the first 5 wrong passwords for Ada")
        .await;
    let checked = world.checks();
    if checked != 5 {
        panic!(
            "\nthe shop checked {checked} password(s) for Ada's first 5 attempts, expected 5\n\
             Every attempt the limiter lets through has its password checked, with the given \
             `Shop::check_password`.\n"
        );
    }
    world.at(MINUTE);
    let reply = world.login(ADA, ADA_PASSWORD).await;
    if reply.status() == 200 {
        reply.fail_with_diagnosis(
            "the right password logged Ada in after her account ran out of attempts: the \
             brute force goes on",
            "A limit that still lets the right password in only slows a guessing script \
             down until it finds it: the script sees 200 instead of 429. While the account \
             is limited, every attempt is refused before its password is checked.",
        );
    }
    assert_limited(
        &reply,
        "Ada's right password, 1 minute after her 5 wrong ones",
        840,
    );
    if world.checks() != checked {
        reply.fail(&format!(
            "the shop checked {} password(s) for attempts it refused, expected none\nA \
             refused attempt never reaches the password: checking it costs the shop a hash, \
             and the time it takes can tell a right guess from a wrong one.",
            world.checks() - checked
        ));
    }
}

#[tokio::test]
async fn other_accounts_are_not_affected() {
    let world = World::new().await;

    world
        .fail(ADA, 5, "one of the 5 wrong passwords for Ada")
        .await;
    let reply = world.login(ADA, "hunter2").await;
    assert_limited(&reply, "Ada's 6th wrong password", 900);

    let reply = world.login(BOB, BOB_PASSWORD).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 200 OK for Bob's right password while Ada's account is limited, got {}",
                status_text(reply.status())
            ),
            "The count is per account: one customer's attacker must not lock everyone out \
             (a limit on the whole login, or on the client's address, which all the tests \
             share, does).",
        );
    }
    world
        .fail(
            BOB,
            5,
            "one of the first 5 wrong passwords for Bob, Ada being limited",
        )
        .await;
    let reply = world.login(BOB, "hunter2").await;
    assert_limited(&reply, "Bob's 6th wrong password", 900);
}

#[tokio::test]
async fn guesses_on_a_thousand_other_accounts_do_not_wipe_an_accounts_count() {
    let world = World::new().await;

    world
        .fail(ADA, 5, "one of the 5 wrong passwords for Ada")
        .await;
    // The attacker tries to make the limiter forget Ada: one guess on each
    // of 1100 other emails, all made up, all within her window.
    world.at(MINUTE / 2);
    for batch in 0..22 {
        let guesses: Vec<_> = (0..50)
            .map(|n| {
                let email = format!("user{}@example.net", batch * 50 + n);
                let call = world
                    .server
                    .post("/login")
                    .json(&json!({ "email": email, "password": "123456" }))
                    .send();
                tokio::spawn(async move { (email, call.await) })
            })
            .collect();
        for guess in guesses {
            let (email, reply) = guess.await.expect("a guess's task ends");
            assert_wrong_password(&reply, &format!("a first wrong password for {email}"));
        }
    }
    world.at(MINUTE);
    let reply = world.login(ADA, ADA_PASSWORD).await;
    if reply.status() == 200 {
        reply.fail_with_diagnosis(
            "the right password logged Ada in after her 5 wrong ones and 1100 guesses on \
             other accounts: the limiter forgot her window",
            "A limiter that keeps a bounded number of accounts (a cache that evicts the \
             oldest, a cleanup that drops windows still open) lets an attacker wipe a \
             victim's count by guessing at other accounts. Forget only windows that are over.",
        );
    }
    assert_limited(
        &reply,
        "Ada's right password, after 1100 guesses on other accounts",
        840,
    );
}

#[tokio::test]
async fn an_unknown_email_is_limited_exactly_like_a_known_one() {
    let world = World::new().await;

    world
        .fail(ADA, 5, "one of the 5 wrong passwords for Ada")
        .await;
    let known = world.login(ADA, "hunter2").await;
    assert_limited(&known, "Ada's 6th wrong password", 900);

    let nobody = "nobody@example.com";
    world
        .fail(nobody, 5, "one of the 5 attempts on an unknown email")
        .await;
    let unknown = world.login(nobody, "hunter2").await;
    assert_limited(
        &unknown,
        "the 6th attempt on the unknown email nobody@example.com",
        900,
    );
    if unknown.text() != known.text() {
        unknown.fail(&format!(
            "the 429 for an unknown email differs from the 429 for Ada's account, whose body \
             is {:?}\nIf only real accounts are limited, the 429 itself tells an attacker \
             which emails have an account.",
            known.text()
        ));
    }
}

#[tokio::test]
async fn the_account_is_the_email_whatever_its_case_and_spacing() {
    let world = World::new().await;

    // Ada types her email her own way: it logs her in.
    let reply = world.login(" Ada@Example.com ", ADA_PASSWORD).await;
    reply.assert_status(200);

    let spellings = [
        "ada@example.com",
        "ADA@EXAMPLE.COM",
        " ada@example.com",
        "Ada@Example.Com ",
        "\tada@example.com\n",
    ];
    for spelling in spellings {
        let reply = world.login(spelling, "123456").await;
        assert_wrong_password(
            &reply,
            &format!("a wrong password for {spelling:?}, one of Ada's first 5"),
        );
    }
    for spelling in ["AdA@eXaMpLe.CoM", "  ada@example.com", "ada@example.com"] {
        let reply = world.login(spelling, "654321").await;
        if reply.status() == 401 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 429 Too Many Requests for a 6th wrong password as {spelling:?}, \
                     after 5 for Ada's email spelled {spellings:?}, got 401 Unauthorized"
                ),
                "The shop finds the account whatever the email's case and surrounding spaces \
                 (`customers.email` is COLLATE NOCASE, and the login trims it), so the limiter \
                 must count them as one account too: the email trimmed and in lowercase. \
                 Otherwise every spelling is 5 more guesses.",
            );
        }
        assert_limited(
            &reply,
            &format!("a 6th wrong password as {spelling:?}"),
            900,
        );
    }
}

#[tokio::test]
async fn a_successful_login_starts_the_count_again() {
    let world = World::new().await;

    world.fail(ADA, 4, "one of 4 wrong passwords for Ada").await;
    let reply = world.login(ADA, ADA_PASSWORD).await;
    reply.assert_status(200);
    for attempt in 1..=5 {
        let reply = world.login(ADA, GUESSES[attempt - 1]).await;
        if reply.status() == 429 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 401 Unauthorized for Ada's wrong password {attempt} after she \
                     logged in, got 429 Too Many Requests"
                ),
                "A successful login starts the account's count again: the customer who \
                 mistyped her password four times and then got it right is not locked out by \
                 her next typo.",
            );
        }
        assert_wrong_password(&reply, "a wrong password after Ada's successful login");
    }
    let reply = world.login(ADA, "hunter2").await;
    assert_limited(
        &reply,
        "Ada's 6th wrong password since her successful login",
        900,
    );
}

// ANCHOR: window
#[tokio::test]
async fn retry_after_counts_down_and_the_window_is_over_at_its_end() {
    let world = World::new().await;

    // Five guesses, a minute apart: the window opened with the first.
    for (minute, guess) in GUESSES.iter().take(5).enumerate() {
        let offset = MINUTE * i64::try_from(minute).expect("a small number");
        world.at(offset);
        let reply = world.login(ADA, guess).await;
        assert_wrong_password(
            &reply,
            &format!("a wrong password at {}", clock_text(offset)),
        );
    }
    // Refused attempts do not move the window: it ends at T0 + 15 min.
    for (offset, seconds) in [
        (5 * MINUTE, 600),
        (10 * MINUTE, 300),
        (15 * MINUTE - 1001, 2),
        (15 * MINUTE - 1000, 1),
        (15 * MINUTE - 999, 1),
        (15 * MINUTE - 1, 1),
    ] {
        world.at(offset);
        let reply = world.login(ADA, "hunter2").await;
        assert_limited(
            &reply,
            &format!(
                "a wrong password at {} (the window opened at T0)",
                clock_text(offset)
            ),
            seconds,
        );
    }

    // At T0 + 15 min exactly, the window is over: a new one opens.
    world.at(15 * MINUTE);
    let reply = world.login(ADA, "hunter2").await;
    assert_wrong_password(
        &reply,
        "a wrong password at T0 + 15 min, when the window that opened at T0 is over",
    );
    world
        .fail(ADA, 4, "one of the wrong passwords of the new window")
        .await;
    let reply = world.login(ADA, ADA_PASSWORD).await;
    assert_limited(
        &reply,
        "Ada's right password after 5 wrong ones in the window that opened at T0 + 15 min",
        900,
    );
}
// ANCHOR_END: window

/// Holds every password check until each of `expected` attempts has
/// either reached a check or been answered. If nothing moves for
/// `STALL`, it opens anyway (a limiter that lets one attempt at a time
/// through its lock is slow here, not wrong).
struct Gate {
    expected: usize,
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    answered: usize,
    open: bool,
}

const STALL: Duration = Duration::from_secs(2);

impl Gate {
    fn new(expected: usize) -> Gate {
        Gate {
            expected,
            state: Mutex::new(GateState::default()),
            changed: Condvar::new(),
        }
    }

    /// A password check: waits, on its blocking thread, for the gate.
    fn arrive(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.arrived += 1;
        self.changed.notify_all();
        loop {
            if state.open || state.arrived + state.answered >= self.expected {
                state.open = true;
                self.changed.notify_all();
                return;
            }
            let before = (state.arrived, state.answered);
            let (next, waited) = self
                .changed
                .wait_timeout(state, STALL)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            if waited.timed_out() && (state.arrived, state.answered) == before {
                state.open = true;
                self.changed.notify_all();
                return;
            }
        }
    }

    /// An attempt got its answer.
    fn answer(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.answered += 1;
        self.changed.notify_all();
    }
}

// ANCHOR: at_once
#[tokio::test]
async fn fifty_wrong_passwords_at_once_let_exactly_five_through() {
    const ATTEMPTS: usize = 50;
    let gate = Arc::new(Gate::new(ATTEMPTS));
    let world = World::with_gate(Some(gate.clone())).await;

    let mut attempts = Vec::new();
    for attempt in 0..ATTEMPTS {
        let call = world
            .server
            .post("/login")
            .json(&json!({ "email": ADA, "password": format!("guess-{attempt}") }))
            .send();
        let gate = gate.clone();
        attempts.push(tokio::spawn(async move {
            let reply = call.await;
            gate.answer();
            reply
        }));
    }
    let mut statuses = Vec::new();
    let mut last = None;
    for attempt in attempts {
        let reply = attempt.await.expect("an attempt's task ends");
        statuses.push(reply.status());
        last = Some(reply);
    }
    let last = last.expect("50 attempts were sent");
    let checked = statuses.iter().filter(|status| **status == 401).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    if checked > 5 {
        last.fail_with_diagnosis(
            &format!(
                "{checked} of {ATTEMPTS} wrong passwords for Ada sent at once were checked \
                 (401), expected exactly 5, the other {} refused (429)",
                ATTEMPTS - 5
            ),
            "Checking whether an attempt may go ahead and counting it must be one step, under \
             one lock: if the count only grows once the password has been checked, every \
             attempt that arrives meanwhile sees the old count, and a script that sends its \
             guesses in parallel is never limited. (The test holds each password check until \
             all 50 attempts have arrived, so this happens every time.)",
        );
    }
    if checked != 5 || refused != ATTEMPTS - 5 {
        last.fail(&format!(
            "of {ATTEMPTS} wrong passwords for Ada sent at once, {checked} were answered 401 and \
             {refused} 429, expected 5 and {}; all statuses: {statuses:?}",
            ATTEMPTS - 5
        ));
    }

    let reply = world.login(ADA, ADA_PASSWORD).await;
    assert_limited(&reply, "Ada's right password after the 50 guesses", 900);
    let reply = world.login(BOB, BOB_PASSWORD).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 200 OK for Bob's right password after 50 guesses on Ada's account, got {}",
                status_text(reply.status())
            ),
            "The count is per account: an attack on Ada's must not lock Bob out.",
        );
    }
}
// ANCHOR_END: at_once
