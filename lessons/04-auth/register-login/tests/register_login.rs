//! Tests for auth/register-login: a real server on 127.0.0.1 in front of a
//! real SQLite file in a temporary folder.
//!
//! The app gets a hasher of the tests' own: the real argon2id hasher,
//! wrapped so that it counts every hash and records every verification
//! (which stored string a login verified against). That is how the tests
//! see that a login for an unknown email does the same work as one for a
//! wrong password, without timing anything. A tracing subscriber of the
//! tests' own records every span and event, at every level, from every
//! thread, so the tests can look for passwords and hashes in them.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once, OnceLock};
use std::time::Duration;

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::PasswordHash;
use auth_register_login::{Argon2Hasher, HashError, Hasher, Shop, app};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json};

/// Ada's password in most tests.
const PASSWORD: &str = "correct horse battery staple";

/// The body of every refused login.
fn refused_login() -> Value {
    json!({
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "The email or password is wrong."
    })
}

/// The body of a registration whose email is taken.
fn email_taken() -> Value {
    json!({
        "type": "about:blank",
        "title": "Email already registered",
        "status": 409,
        "detail": "A customer with this email already exists."
    })
}

/// The body of every answer to an error of the shop's own.
fn internal_problem() -> Value {
    json!({
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "Something went wrong on our side. Please try again."
    })
}

/// The body of a registration refused for its password.
fn invalid_password(message: &str) -> Value {
    json!({
        "type": "https://shop.example/problems/validation",
        "title": "Your request is not valid",
        "status": 422,
        "errors": [{ "field": "password", "message": message }]
    })
}

// ANCHOR: counting
/// The real hasher, watched: how many hashes it made, and the stored string
/// of every verification.
#[derive(Default)]
struct Watched {
    hashes: AtomicUsize,
    verified_against: Mutex<Vec<String>>,
    /// Once set, each hash waits (up to 5 s) until this many hashes are
    /// running at once: the race test's meeting point.
    meet: OnceLock<Meeting>,
}

impl Hasher for Watched {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        self.hashes.fetch_add(1, Ordering::SeqCst);
        if let Some(meeting) = self.meet.get() {
            meeting.arrive_and_wait();
        }
        Argon2Hasher.hash(password)
    }

    fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        self.verified_against.lock().unwrap().push(phc.to_string());
        Argon2Hasher.verify(password, phc)
    }
}
// ANCHOR_END: counting

impl Watched {
    fn hash_count(&self) -> usize {
        self.hashes.load(Ordering::SeqCst)
    }

    /// The stored strings verified against since the last call.
    fn take_verifications(&self) -> Vec<String> {
        std::mem::take(&mut *self.verified_against.lock().unwrap())
    }
}

/// Hashes that wait for each other: `count` of them must be running at the
/// same time before any goes on (or 5 s pass).
struct Meeting {
    count: usize,
    arrived: Mutex<usize>,
    changed: Condvar,
}

impl Meeting {
    fn arrive_and_wait(&self) {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.changed.notify_all();
        let wait = Duration::from_secs(5);
        let _ = self
            .changed
            .wait_timeout_while(arrived, wait, |arrived| *arrived < self.count)
            .unwrap();
    }
}

/// The shop on a new SQLite file, served with a watched hasher.
struct Setup {
    _folder: TempDir,
    path: PathBuf,
    hasher: Arc<Watched>,
    server: TestServer,
}

impl Setup {
    async fn new() -> Setup {
        recording();
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let shop = Shop::open(&path).expect("the given Shop::open failed on a new file");
        let hasher = Arc::new(Watched::default());
        let shared: Arc<dyn Hasher> = hasher.clone();
        let server = TestServer::spawn(app(shop, shared)).await;
        Setup {
            _folder: folder,
            path,
            hasher,
            server,
        }
    }

    async fn register(&self, email: &str, name: &str, password: &str) -> Reply {
        let body = json!({ "email": email, "name": name, "password": password });
        self.server.post("/register").json(&body).send().await
    }

    async fn login(&self, email: &str, password: &str) -> Reply {
        let body = json!({ "email": email, "password": password });
        self.server.post("/login").json(&body).send().await
    }

    /// Registers Ada, who must be answered `201`; returns her id.
    async fn register_ada(&self) -> i64 {
        let reply = self
            .register("ada@example.com", "Ada Lovelace", PASSWORD)
            .await;
        reply.assert_status(201);
        match reply.json()["id"].as_i64() {
            Some(id) => id,
            None => reply.fail("expected the created customer's `id`, a number, in the body"),
        }
    }

    /// Every row of the customers table: (id, email, name, password_hash, role).
    fn rows(&self) -> Vec<(i64, String, String, String, String)> {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        let mut statement = db
            .prepare("SELECT id, email, name, password_hash, role FROM customers ORDER BY id")
            .expect("the test could not read the customers table");
        statement
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .expect("the test could not read the customers table")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read the customers table")
    }
}

/// Whether `password` verifies against `phc`, by argon2 itself.
fn argon2_verifies(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// `$argon2id$v=19$m=19456,t=2,p=1$`: everything before the salt.
fn algorithm_and_parameters(phc: &str) -> String {
    let fields: Vec<&str> = phc.split('$').collect();
    match fields.get(..4) {
        Some(head) => format!("{}$", head.join("$")),
        None => phc.to_string(),
    }
}

#[tokio::test]
async fn registering_answers_201_with_the_customer_and_neither_password_nor_hash() {
    let setup = Setup::new().await;

    let reply = setup
        .register("  Ada@Example.com ", "Ada Lovelace", PASSWORD)
        .await;

    reply
        .assert_status(201)
        .assert_content_type("application/json");
    let Some(id) = reply.json()["id"].as_i64() else {
        reply.fail("expected the created customer's `id`, a number, in the body");
    };
    let expected = json!({
        "id": id, "email": "Ada@Example.com", "name": "Ada Lovelace", "role": "customer"
    });
    if reply.json() != expected {
        reply.fail_with_diagnosis(
            &format!("expected the JSON body {expected}"),
            "The customer comes back as stored: the email without its surrounding spaces, \
             the role `customer`, and nothing else: never the password, never its hash.",
        );
    }
    if reply.text().contains(PASSWORD) || reply.text().contains("$argon2") {
        reply.fail("the body holds the password or its hash, expected neither");
    }
}

// ANCHOR: stored
#[tokio::test]
async fn the_database_holds_an_argon2id_hash_of_the_password_never_the_password() {
    let setup = Setup::new().await;
    setup.register_ada().await;
    setup
        .register("grace@example.com", "Grace Hopper", PASSWORD)
        .await
        .assert_status(201);

    let rows = setup.rows();
    assert!(
        rows.len() == 2,
        "\nthe customers table holds {} rows after two registrations, expected 2\n",
        rows.len()
    );
    for (_, email, _, password_hash, role) in &rows {
        assert!(
            !password_hash.contains(PASSWORD),
            "\nthe password_hash column of {email} holds the password itself\n  stored: \
             {password_hash:?}\nStore only the hasher's PHC string of the password.\n"
        );
        assert!(
            password_hash.starts_with("$argon2id$v=19$")
                && argon2_verifies(PASSWORD, password_hash),
            "\nthe password_hash column of {email} holds {password_hash:?}, expected an \
             argon2id PHC string that verifies the password\n  POST /register was sent \
             password {PASSWORD:?}.\nHash the password with the app's hasher (`hasher.hash`) \
             and store what it returns.\n"
        );
        assert!(
            role == "customer",
            "\nthe role column of {email} holds {role:?}, expected \"customer\"\n"
        );
    }
    assert!(
        rows[0].3 != rows[1].3,
        "\ntwo customers with the same password have the same stored hash, expected two \
         different ones\n  stored: {:?}\nEach hash has its own random salt: was the hash made \
         once and reused?\n",
        rows[0].3
    );
}
// ANCHOR_END: stored

// ANCHOR: duplicate
#[tokio::test]
async fn an_email_already_registered_in_any_case_answers_409_and_changes_nothing() {
    let setup = Setup::new().await;
    setup.register_ada().await;
    let before = setup.rows();

    for email in ["ada@example.com", "ADA@Example.COM", "  Ada@example.com  "] {
        let reply = setup
            .register(email, "Someone Else", "another password, quite long")
            .await;
        reply
            .assert_status(409)
            .assert_content_type("application/problem+json")
            .assert_json(&email_taken());
    }

    let after = setup.rows();
    assert!(
        after == before,
        "\nthe customers table changed after registrations refused with 409\n  before: \
         {before:?}\n  after:  {after:?}\nA refused registration stores nothing and \
         replaces nothing: Ada's name and password hash stay as they were. Let the UNIQUE \
         constraint refuse the row (no `INSERT OR REPLACE`, no upsert).\n"
    );
}
// ANCHOR_END: duplicate

// ANCHOR: policy
#[tokio::test]
async fn a_password_under_12_or_over_1024_characters_answers_422_and_is_not_even_hashed() {
    let setup = Setup::new().await;
    let hashes_at_start = setup.hasher.hash_count();

    let too_short = [
        ("x".repeat(11), "11 ASCII characters"),
        ("é".repeat(11), "11 characters, 22 bytes in UTF-8"),
        ("🔑".repeat(11), "11 characters, 44 bytes in UTF-8"),
        (String::new(), "an empty password"),
    ];
    for (password, what) in &too_short {
        let reply = setup.register("ada@example.com", "Ada", password).await;
        if reply.status() != 422
            || reply.json() != invalid_password("must be at least 12 characters")
        {
            reply.fail_with_diagnosis(
                &format!("expected 422 with the password's field error for {what}"),
                &format!(
                    "expected body: {}\nA password is counted in characters (Unicode \
                     scalar values, `chars()`), not in bytes (`len()`).",
                    invalid_password("must be at least 12 characters")
                ),
            );
        }
    }
    let too_long = "a".repeat(1025);
    let reply = setup.register("ada@example.com", "Ada", &too_long).await;
    if reply.status() != 422 || reply.json() != invalid_password("must be at most 1024 characters")
    {
        reply.fail_with_diagnosis(
            "expected 422 with the password's field error for 1025 characters",
            &format!(
                "expected body: {}",
                invalid_password("must be at most 1024 characters")
            ),
        );
    }

    let rows = setup.rows();
    assert!(
        rows.is_empty(),
        "\nthe customers table holds {} rows after registrations refused with 422, expected \
         none\n",
        rows.len()
    );
    let hashed = setup.hasher.hash_count() - hashes_at_start;
    assert!(
        hashed == 0,
        "\nthe app hashed {hashed} passwords for registrations it refused with 422, expected \
         0\nCheck the body first: a password that breaks the rules is never hashed (hashing \
         is the expensive part, and there is nothing to store).\n"
    );
}
// ANCHOR_END: policy

#[tokio::test]
async fn every_broken_rule_of_a_registration_is_reported_at_once_up_to_the_limits() {
    let setup = Setup::new().await;
    let long_email = format!("{}@example.com", "a".repeat(243)); // 255 characters
    let cases = [
        (
            json!({ "email": "not-an-email", "name": "   ", "password": "short" }),
            json!([
                { "field": "email", "message": "must be an email address" },
                { "field": "name", "message": "must not be empty" },
                { "field": "password", "message": "must be at least 12 characters" }
            ]),
        ),
        (
            json!({ "email": long_email, "name": "n".repeat(101), "password": PASSWORD }),
            json!([
                { "field": "email", "message": "must be an email address" },
                { "field": "name", "message": "must be at most 100 characters" }
            ]),
        ),
        (
            json!({ "email": "ada@", "name": "Ada", "password": PASSWORD }),
            json!([{ "field": "email", "message": "must be an email address" }]),
        ),
    ];
    for (body, errors) in cases {
        let reply = setup.server.post("/register").json(&body).send().await;
        let expected = json!({
            "type": "https://shop.example/problems/validation",
            "title": "Your request is not valid",
            "status": 422,
            "errors": errors
        });
        if reply.status() != 422 || reply.json() != expected {
            reply.fail_with_diagnosis(
                "expected 422 with every field error of the body, in the order email, name, \
                 password",
                &format!(
                    "expected body: {expected}\nThe given `check_new_customer` checks the \
                     email and the name and calls your `check_password`: use it, so that \
                     every broken rule is reported in one answer."
                ),
            );
        }
    }
    // At the limits: a 254-character email and a 100-character name.
    let email = format!("{}@example.com", "a".repeat(242));
    let reply = setup.register(&email, &"n".repeat(100), PASSWORD).await;
    reply.assert_status(201);
    let rows = setup.rows();
    assert!(
        rows.len() == 1,
        "\nthe customers table holds {} rows, expected only the one valid registration\n",
        rows.len()
    );
}

#[tokio::test]
async fn a_database_error_while_registering_answers_500_not_409() {
    let setup = Setup::new().await;
    // The table the registration writes to is gone: the insert fails, and
    // not because of the UNIQUE constraint.
    let db = Connection::open(&setup.path).expect("the test could not open the database");
    db.execute_batch("DROP TABLE customers")
        .expect("the test could not drop the customers table");

    let reply = setup
        .register("ada@example.com", "Ada Lovelace", PASSWORD)
        .await;

    if reply.status() != 500 || reply.json() != internal_problem() {
        reply.fail_with_diagnosis(
            "expected 500 with the internal problem for a database error",
            &format!(
                "expected body: {}\nThe customers table was dropped, so the insert failed \
                 (`no such table`). Only the UNIQUE constraint's refusal means the email is \
                 taken (`is_unique_violation`); any other database error is the shop's \
                 fault, a 500 that tells nothing.",
                internal_problem()
            ),
        );
    }
}

#[tokio::test]
async fn a_password_of_12_to_1024_characters_is_accepted_counted_in_characters() {
    let setup = Setup::new().await;
    let accepted = [
        ("é".repeat(12), "12 characters, 24 bytes"),
        ("p".repeat(12), "12 ASCII characters"),
        ("ü".repeat(1024), "1024 characters, 2048 bytes"),
        (
            format!("  {}  ", "spaces around"),
            "17 characters with spaces around",
        ),
    ];
    for (number, (password, what)) in accepted.iter().enumerate() {
        let email = format!("customer{number}@example.com");
        let reply = setup.register(&email, "A customer", password).await;
        if reply.status() != 201 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 201 Created for a password of {what}, got {}",
                    testkit::status_text(reply.status())
                ),
                "A password of 12 to 1024 characters is accepted, counted in characters \
                 (`chars()`), not bytes; spaces count like any other character.",
            );
        }
    }
}

// ANCHOR: login
#[tokio::test]
async fn the_right_password_logs_in_whatever_the_case_and_spaces_of_the_email() {
    let setup = Setup::new().await;
    let reply = setup
        .register("Ada@Example.com", "Ada Lovelace", PASSWORD)
        .await;
    reply.assert_status(201);
    let id = reply.json()["id"].clone();
    let customer = json!({
        "id": id, "email": "Ada@Example.com", "name": "Ada Lovelace", "role": "customer"
    });

    for email in ["Ada@Example.com", "ada@example.com", "  ADA@EXAMPLE.COM  "] {
        let reply = setup.login(email, PASSWORD).await;
        if reply.status() != 200 || reply.json() != customer {
            reply.fail_with_diagnosis(
                &format!("expected 200 OK with the customer for the email {email:?}"),
                &format!(
                    "expected body: {customer}\nThe email is looked up without its \
                     surrounding spaces, and in any case: the column is COLLATE NOCASE, so \
                     `WHERE email = ?1` already ignores case. (`lower(email) = ?1` with the \
                     email sent as it is does not.)"
                ),
            );
        }
    }
}
// ANCHOR_END: login

#[tokio::test]
async fn the_password_is_taken_as_sent_not_trimmed() {
    let setup = Setup::new().await;
    let padded = "  padded pass phrase  ";
    setup
        .register("ada@example.com", "Ada", padded)
        .await
        .assert_status(201);

    let reply = setup.login("ada@example.com", padded.trim()).await;
    if reply.status() != 401 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 401 Unauthorized for the password without its spaces, got {}",
                testkit::status_text(reply.status())
            ),
            "Ada registered the password \"  padded pass phrase  \". Spaces are part of a \
             password: trim the email, never the password.",
        );
    }
    setup
        .login("ada@example.com", padded)
        .await
        .assert_status(200);
}

/// Every header but `date`, as `name: value` lines.
fn headers_of(reply: &Reply) -> Vec<String> {
    let names = [
        "content-type",
        "content-length",
        "www-authenticate",
        "set-cookie",
    ];
    let mut lines: Vec<String> = names
        .iter()
        .flat_map(|name| {
            reply
                .header_all(name)
                .into_iter()
                .map(move |value| format!("{name}: {value}"))
        })
        .collect();
    lines.sort();
    lines
}

// ANCHOR: uniform
#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_get_the_very_same_401() {
    let setup = Setup::new().await;
    setup.register_ada().await;

    let wrong_password = setup
        .login("ada@example.com", "correct horse battery stapler")
        .await;
    let unknown_email = setup.login("grace@example.com", PASSWORD).await;

    for reply in [&wrong_password, &unknown_email] {
        reply
            .assert_status(401)
            .assert_content_type("application/problem+json")
            .assert_json(&refused_login());
    }
    let (wrong, unknown) = (headers_of(&wrong_password), headers_of(&unknown_email));
    if wrong != unknown {
        unknown_email.fail_with_diagnosis(
            "the 401 for an unknown email has other headers than the 401 for a wrong password",
            &format!(
                "the wrong password's headers: {wrong:?}\nthe unknown email's headers: \
                 {unknown:?}\nAny difference tells an attacker which emails have an account."
            ),
        );
    }
}
// ANCHOR_END: uniform

// ANCHOR: one_verification
#[tokio::test]
async fn every_login_verifies_exactly_one_hash_as_costly_as_a_customers() {
    let setup = Setup::new().await;
    setup.register_ada().await;
    let stored = setup.rows()[0].3.clone();
    let hashes_before = setup.hasher.hash_count();
    setup.hasher.take_verifications();

    let attempts = [
        ("ada@example.com", PASSWORD, "the right password"),
        (
            "ada@example.com",
            "not Ada's password at all",
            "a wrong password",
        ),
        ("grace@example.com", PASSWORD, "an unknown email"),
        ("nobody@nowhere.example", "x", "another unknown email"),
        (
            "not an email",
            "whatever",
            "an unknown text that is no email",
        ),
        ("", "", "an empty email"),
    ];
    for (email, password, what) in attempts {
        let reply = setup.login(email, password).await;
        let verifications = setup.hasher.take_verifications();
        if verifications.len() != 1 {
            reply.fail_with_diagnosis(
                &format!(
                    "a login with {what} verified {} hashes, expected exactly 1",
                    verifications.len()
                ),
                "Every login verifies one password hash, whether the email belongs to a \
                 customer or not: for an unknown email, a dummy hash made once when the app \
                 is built. Without it, a login for an unknown email answers in microseconds \
                 and one for a known email in tens of milliseconds: anyone can time which \
                 emails have an account.",
            );
        }
        let used = &verifications[0];
        if algorithm_and_parameters(used) != algorithm_and_parameters(&stored) {
            reply.fail_with_diagnosis(
                &format!(
                    "a login with {what} verified against {used:?}, expected a hash with the \
                     same algorithm and parameters as a customer's"
                ),
                &format!(
                    "Ada's stored hash: {stored:?}\nThe dummy hash must cost what a real \
                     one costs: make it with the app's hasher, like a customer's."
                ),
            );
        }
        let hashed = setup.hasher.hash_count() - hashes_before;
        if hashed != 0 {
            reply.fail_with_diagnosis(
                &format!("a login with {what} made {hashed} new hashes, expected none"),
                "A login only verifies. The dummy hash is made once, when the app is built \
                 (in `app`), not for each login: hashing and then verifying would make an \
                 unknown email twice as slow as a wrong password.",
            );
        }
    }
}
// ANCHOR_END: one_verification

#[tokio::test]
async fn a_stored_hash_that_cannot_be_checked_answers_500_never_200() {
    let setup = Setup::new().await;
    let id = setup.register_ada().await;
    let db = Connection::open(&setup.path).expect("the test could not open the database");
    db.execute(
        "UPDATE customers SET password_hash = ?1 WHERE id = ?2",
        (PASSWORD, id),
    )
    .expect("the test could not change Ada's hash");

    let reply = setup.login("ada@example.com", PASSWORD).await;

    reply
        .assert_status(500)
        .assert_content_type("application/problem+json")
        .assert_json(&internal_problem());
}

// ANCHOR: race
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_registrations_of_one_email_at_once_give_one_201_and_one_409() {
    // Both registrations must be hashing at the same time before either
    // goes on: both are past any check made before hashing.
    let meeting = Meeting {
        count: 2,
        arrived: Mutex::new(0),
        changed: Condvar::new(),
    };
    let setup = Setup::new().await;
    let _ = setup.hasher.meet.set(meeting);

    let first = setup.register("ada@example.com", "Ada", PASSWORD);
    let second = setup.register("ADA@example.com", "Ada again", "another long password");
    let (first, second) = tokio::join!(first, second);

    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    if statuses != [201, 409] {
        let odd = if first.status() == 201 {
            &second
        } else {
            &first
        };
        odd.fail_with_diagnosis(
            &format!(
                "two registrations of one email at once answered {} and {}, expected 201 and 409",
                first.status(),
                second.status()
            ),
            "Both requests were past any check made before hashing when either stored its \
             row. Checking first (`SELECT` the email, then `INSERT`) leaves a gap between the \
             two: the UNIQUE constraint is what decides, so its error must become the 409.",
        );
    }
    let rows = setup.rows();
    assert!(
        rows.len() == 1,
        "\nthe customers table holds {} rows after two registrations of one email, expected 1\n",
        rows.len()
    );
}
// ANCHOR_END: race

// ANCHOR: logs
#[tokio::test]
async fn neither_a_password_nor_a_hash_is_logged_at_any_level() {
    let setup = Setup::new().await;
    let password = "log-canary 4f1c9a: never in a log";
    let wrong = "log-canary 7d2e0b: a wrong one";
    setup
        .register("ada@example.com", "Ada", password)
        .await
        .assert_status(201);
    setup
        .login("ada@example.com", password)
        .await
        .assert_status(200);
    setup
        .login("ada@example.com", wrong)
        .await
        .assert_status(401);
    setup
        .login("nobody@example.com", wrong)
        .await
        .assert_status(401);
    setup
        .register("ada@example.com", "Ada", password)
        .await
        .assert_status(409);
    let stored = setup.rows()[0].3.clone();
    let digest = stored.rsplit('$').next().unwrap_or_default().to_string();

    let lines = recorded();
    for (secret, what) in [
        (password, "Ada's password"),
        (wrong, "a wrong password"),
        (digest.as_str(), "the digest of Ada's stored hash"),
    ] {
        let leaks: Vec<&String> = lines.iter().filter(|line| line.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "\n{what} is in {} logged line(s), expected in none\n  secret: {secret:?}\n  \
             logged: {}\nA register and four logins were sent. Log what happened (customer \
             ids, outcomes), never a password, and never a hash: not in a message, not in a \
             field, not in a span (`#[instrument]` records every argument), not at DEBUG \
             or TRACE either.\n",
            leaks.len(),
            leaks[0]
        );
    }
}
// ANCHOR_END: logs

// What the app traces, from every thread (handlers, blocking threads), at
// every level, for the log test. Every test's events land here; the log
// test looks only for secrets no other test sends.

static RECORDED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs the recording subscriber, once for the test binary.
fn recording() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(EveryLine::default())
            .expect("the test could not install its tracing subscriber: does app() install one?");
        tracing::callsite::rebuild_interest_cache();
    });
}

fn recorded() -> Vec<String> {
    RECORDED.lock().unwrap().clone()
}

/// Records each span's and each event's fields as a line of text.
#[derive(Default)]
struct EveryLine {
    next_id: AtomicUsize,
}

impl tracing::Subscriber for EveryLine {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Fields(&mut line));
        RECORDED.lock().unwrap().push(line);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) as u64 + 1;
        tracing::span::Id::from_u64(id)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = "span fields".to_string();
        values.record(&mut Fields(&mut line));
        RECORDED.lock().unwrap().push(line);
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{} event", event.metadata().level());
        event.record(&mut Fields(&mut line));
        RECORDED.lock().unwrap().push(line);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}
