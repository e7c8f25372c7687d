//! Tests for auth/password-reset: the shop's app on a real SQLite file in a
//! temporary folder, called over HTTP on 127.0.0.1, with a fake mailer
//! that keeps every mail the shop sends (the tests read the token from the
//! link in it, as a customer would) and a clock the tests set. The
//! database is read with a connection of the test's own: what is stored of
//! a token, the new password's hash, the sessions left.
//!
//! The concurrent test stages its race: it holds the database's write lock
//! while two confirms with one token arrive, waits until both are waiting
//! for that lock (the shop reports every wait through `Shop::on_lock_wait`),
//! and only then lets them go. A handler that checks the token before it
//! holds the write lock has by then seen an unused token twice.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use auth_password_reset::argon2::{Argon2, PasswordHash, PasswordVerifier as _};
use auth_password_reset::sha2::{Digest as _, Sha256};
use auth_password_reset::{Mail, Mailer, Settings, Shop, app};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, json, status_text};
use tokio::time::Instant;

/// The tests' clock starts here (2026-11-30T09:15:00Z, Unix seconds).
const T0: i64 = 1_796_030_100;

/// The reset tokens' lifetime in the tests: 15 minutes (the default is 30).
const TTL: i64 = 900;

/// The reset page the tests' mails link to.
const RESET_PAGE: &str = "https://shop.test/reset";

const ADA: i64 = 1;
const ADAS_OLD_PASSWORD: &str = "ada's old password";

/// What `POST /password-reset` answers, whatever the email.
fn requested_body() -> testkit::Value {
    json!({ "detail": "If an account has this email, a link to reset its password is on its way." })
}

/// What a confirm with a token that cannot be used answers.
fn invalid_token_body() -> testkit::Value {
    json!({
        "type": "about:blank", "title": "Invalid token", "status": 400,
        "detail": "This reset link is invalid or has expired. Ask for a new one.",
    })
}

/// A mailer that keeps what it is given.
#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Vec<Mail>>>);

impl Mailer for Outbox {
    fn send(&self, mail: Mail) {
        self.0
            .lock()
            .expect("the outbox is never poisoned")
            .push(mail);
    }
}

/// Ada's old password hash, made once for every test.
fn adas_old_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| auth_password_reset::hash_password(ADAS_OLD_PASSWORD))
}

/// A shop in a temporary SQLite file with two customers, Ada
/// (`ada@example.com`, two sessions) and Grace (`grace@example.com`, one
/// session), a clock at [`T0`] and tokens valid for [`TTL`] seconds.
struct Fixture {
    _folder: TempDir,
    path: PathBuf,
    outbox: Outbox,
    clock: Arc<AtomicI64>,
}

impl Fixture {
    fn new() -> Fixture {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let fixture = Fixture {
            _folder: folder,
            path,
            outbox: Outbox::default(),
            clock: Arc::new(AtomicI64::new(T0)),
        };
        fixture.shop();
        fixture
            .connect()
            .execute_batch(&format!(
                "INSERT INTO customers (id, email, name, password_hash) VALUES
                     (1, 'ada@example.com', 'Ada', '{old}'),
                     (2, 'grace@example.com', 'Grace', '{old}');
                 INSERT INTO sessions (id, customer_id, expires_at) VALUES
                     ('ada-phone', 1, {later}), ('ada-laptop', 1, {later}),
                     ('grace-laptop', 2, {later});",
                old = adas_old_hash(),
                later = T0 + 86_400,
            ))
            .expect("the test could not add its customers and sessions");
        fixture
    }

    fn shop(&self) -> Shop {
        let clock = self.clock.clone();
        let settings = Settings {
            reset_ttl: TTL,
            reset_page: RESET_PAGE.to_string(),
        };
        Shop::open(&self.path, Arc::new(self.outbox.clone()))
            .unwrap_or_else(|error| panic!("\nShop::open failed on the test's file: {error}\n"))
            .with_clock(move || clock.load(Ordering::SeqCst))
            .with_settings(settings)
    }

    async fn server(&self) -> TestServer {
        TestServer::spawn(app(self.shop())).await
    }

    /// A connection of the test's own, patient with the app's locks.
    fn connect(&self) -> Connection {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.busy_timeout(Duration::from_secs(10))
            .expect("the test could not set a busy timeout");
        db
    }

    fn set_clock(&self, now: i64) {
        self.clock.store(now, Ordering::SeqCst);
    }

    fn mails(&self) -> Vec<Mail> {
        self.outbox
            .0
            .lock()
            .expect("the outbox is never poisoned")
            .clone()
    }

    /// Every row of `password_resets`, as `(token_hash, customer_id,
    /// expires_at, used_at)`, in the order they were added.
    fn resets(&self) -> Vec<(String, i64, i64, Option<i64>)> {
        let db = self.connect();
        let mut statement = db
            .prepare(
                "SELECT token_hash, customer_id, expires_at, used_at FROM password_resets
                 ORDER BY rowid",
            )
            .expect("the test could not read password_resets");
        statement
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .expect("the test could not read password_resets")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read password_resets")
    }

    fn password_hash(&self, customer: i64) -> String {
        self.connect()
            .query_row(
                "SELECT password_hash FROM customers WHERE id = ?1",
                [customer],
                |row| row.get(0),
            )
            .expect("the test could not read a password hash")
    }

    fn sessions(&self) -> Vec<String> {
        let db = self.connect();
        let mut statement = db
            .prepare("SELECT id FROM sessions ORDER BY id")
            .expect("the test could not read the sessions");
        statement
            .query_map([], |row| row.get(0))
            .expect("the test could not read the sessions")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read the sessions")
    }
}

/// Sends `POST /password-reset` for `email`.
async fn request(server: &TestServer, email: &str) -> Reply {
    server
        .post("/password-reset")
        .json(&json!({ "email": email }))
        .send()
        .await
}

/// Sends `POST /password-reset/confirm` with `token` and `new_password`.
async fn confirm(server: &TestServer, token: &str, new_password: &str) -> Reply {
    server
        .post("/password-reset/confirm")
        .json(&json!({ "token": token, "new_password": new_password }))
        .send()
        .await
}

/// Asks for a reset of `email` and returns the token of the mail that came.
async fn token_for(fixture: &Fixture, server: &TestServer, email: &str) -> String {
    let before = fixture.mails().len();
    let reply = request(server, email).await;
    if reply.status() == 500 {
        reply.fail_with_diagnosis(
            &format!(
                "a reset request for {email}, a customer's email, got 500 Internal Server \
                 Error, expected 202 Accepted"
            ),
            "A 500 here is often the INSERT into password_resets failing: `token_hash` is its \
             primary key, and a token that repeats an earlier one (made from the clock, which \
             stands still in the tests, or from the email) collides with it.",
        );
    }
    reply.assert_status(202);
    let mails = fixture.mails();
    if mails.len() != before + 1 {
        reply.fail_with_diagnosis(
            &format!(
                "{} mails were sent for POST /password-reset with {email}, a customer's email, \
                 expected 1",
                mails.len() - before
            ),
            "A known customer gets one mail per request, through the shop's mailer, with \
             `reset_mail`.",
        );
    }
    token_in(&mails[before], &reply)
}

/// The token in the link of `mail`.
#[track_caller]
fn token_in(mail: &Mail, reply: &Reply) -> String {
    let Some((_, rest)) = mail.body.split_once("?token=") else {
        reply.fail(&format!(
            "the reset mail has no link with `?token=` in it\n  the mail's body: {:?}",
            mail.body
        ));
    };
    rest.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The SHA-256 of `token`'s text, in lowercase hex.
fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `phc` is an argon2 PHC string `password` was hashed into.
fn verifies(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Fails unless `reply` is the `400` of a token that cannot be used.
#[track_caller]
fn assert_invalid_token(reply: &Reply, what: &str, diagnosis: &str) {
    if reply.status() != 400 {
        reply.fail_with_diagnosis(
            &format!(
                "a confirm with {what} got {}, expected 400 Bad Request",
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    reply
        .assert_content_type("application/problem+json")
        .assert_json(&invalid_token_body());
}

#[tokio::test]
async fn a_reset_request_answers_202_and_mails_a_token_to_the_stored_address() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    // Typed as people type it: the address stored is ada@example.com.
    let reply = request(&server, "Ada@Example.COM").await;

    reply
        .assert_status(202)
        .assert_content_type("application/json")
        .assert_json(&requested_body());
    let mails = fixture.mails();
    if mails.len() != 1 {
        reply.fail_with_diagnosis(
            &format!(
                "{} mails were sent for POST /password-reset with Ada's email (typed \
                 Ada@Example.COM), expected 1",
                mails.len()
            ),
            "Emails compare without regard to ASCII case: the column is `COLLATE NOCASE`, so \
             `WHERE email = ?1` finds her. Send one mail, with `reset_mail`, through the \
             shop's mailer.",
        );
    }
    let mail = &mails[0];
    if mail.to != "ada@example.com" {
        reply.fail_with_diagnosis(
            &format!(
                "the reset mail went to {:?}, expected \"ada@example.com\", the address the \
                 database holds",
                mail.to
            ),
            "Send the mail to the address stored with the account, never to the one in the \
             request: an attacker controls the request (GitLab's CVE-2023-7028 mailed reset \
             links to an address the attacker added to the request).",
        );
    }
    let token = token_in(mail, &reply);
    let link = format!("{RESET_PAGE}?token={token}");
    if mail.subject != "Reset your password"
        || !mail.body.contains(&link)
        || !mail.body.contains("within 15 minutes")
    {
        reply.fail(&format!(
            "the reset mail is not the one `reset_mail` makes with the shop's settings (a \
             15-minute token, links to {RESET_PAGE})\n  the mail: {mail:?}"
        ));
    }
    if token.len() != 43
        || !token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        reply.fail(&format!(
            "the token in the mail is {token:?} ({} characters), expected 43 characters of \
             base64url without padding (32 random bytes)",
            token.len()
        ));
    }
    if reply.text().contains(&token) || reply.describe().contains(&token) {
        reply.fail_with_diagnosis(
            "the response to POST /password-reset contains the token",
            "The token proves that its holder reads the customer's mail: it travels in the \
             mail only. Whoever sent the request (anyone who knows the email) must learn \
             nothing from the response.",
        );
    }
}

#[tokio::test]
async fn an_unknown_email_gets_the_same_answer_and_nothing_happens() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let known = request(&server, "grace@example.com").await;
    known.assert_status(202);

    for email in ["nobody@example.com", "grace@example.co", "", "' OR 1=1 --"] {
        let unknown = request(&server, email).await;
        if unknown.status() != known.status() || unknown.text() != known.text() {
            unknown.fail_with_diagnosis(
                &format!(
                    "an unknown email got another answer from POST /password-reset than a known \
                     one\n  known email's answer: {} {}",
                    status_text(known.status()),
                    known.text()
                ),
                "A different status or body tells anyone which emails have accounts at the \
                 shop (account enumeration). Answer 202 with the same body, whatever the email.",
            );
        }
        if unknown.header("content-type") != known.header("content-type") {
            unknown.fail(&format!(
                "an unknown email got `content-type: {}` from POST /password-reset, a known one \
                 `content-type: {}`",
                unknown.header("content-type").unwrap_or("(none)"),
                known.header("content-type").unwrap_or("(none)")
            ));
        }
    }
    let malformed = server
        .post("/password-reset")
        .json(&json!({ "mail": "grace@example.com" }))
        .send()
        .await;
    malformed
        .assert_status(422)
        .assert_content_type("application/problem+json");
    if malformed.json()["title"] != "Invalid body" {
        malformed.fail("expected the given \"Invalid body\" problem for a body without \"email\"");
    }
    let mails = fixture.mails();
    let resets = fixture.resets();
    if mails.len() != 1 || resets.len() != 1 {
        panic!(
            "\nrequests for 4 unknown emails and 1 known one sent {} mails and stored {} tokens, \
             expected 1 and 1\nAn unknown email stores nothing and mails nobody.\n",
            mails.len(),
            resets.len()
        );
    }
}

#[tokio::test]
async fn only_the_hash_of_the_token_is_stored_with_its_expiry() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let token = token_for(&fixture, &server, "ada@example.com").await;

    let resets = fixture.resets();
    let Some((stored, customer, expires_at, used_at)) = resets.first().cloned() else {
        panic!(
            "\na reset was mailed, but password_resets is empty, expected one row\nStore the \
             token's hash, the customer's id and the expiry before the mail goes out.\n"
        );
    };
    if stored == token || stored.contains(&token) {
        panic!(
            "\nthe token itself is stored in password_resets.token_hash: {stored:?}\nWhoever \
             reads the database (a backup, a leaked dump, a curious colleague) could reset any \
             customer's password with it. Store its SHA-256 only, in hex.\n"
        );
    }
    if stored != sha256_hex(&token) {
        panic!(
            "\npassword_resets.token_hash is {stored:?}, expected the SHA-256 of the mailed \
             token in lowercase hex, {:?}\n  the mailed token: {token:?}\nHash the token's text \
             (the 43 characters the mail carries) and write each of the digest's 32 bytes as \
             two hex digits.\n",
            sha256_hex(&token)
        );
    }
    if customer != ADA || expires_at != T0 + TTL || used_at.is_some() {
        panic!(
            "\nthe stored token is (customer {customer}, expires_at {expires_at}, used_at \
             {used_at:?}), expected (customer {ADA}, expires_at {}, used_at None)\nThe clock \
             said {T0} and the settings' reset_ttl is {TTL}: expires_at is the shop's clock \
             now plus reset_ttl.\n",
            T0 + TTL
        );
    }
}

#[tokio::test]
async fn a_database_that_fails_answers_500_and_mails_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    fixture
        .connect()
        .execute_batch("DROP TABLE password_resets")
        .expect("the test could not drop password_resets");
    let internal = json!({
        "type": "about:blank", "title": "Internal Server Error", "status": 500,
        "detail": "Something went wrong on our side. Please try again.",
    });

    let reply = request(&server, "ada@example.com").await;

    if reply.status() == 202 && !fixture.mails().is_empty() {
        reply.fail_with_diagnosis(
            "a reset link was mailed although its token could not be stored, expected 500 \
             Internal Server Error and no mail",
            "Store the token first, then mail it: a mail whose token the shop never stored is a \
             link that cannot work, sent to a customer who will then ask again.",
        );
    }
    reply.assert_status(500).assert_json(&internal);
    let confirmed = confirm(
        &server,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "a password of 12+",
    )
    .await;
    confirmed.assert_status(500).assert_json(&internal);
    if !fixture.mails().is_empty() {
        reply.fail("a reset request whose token could not be stored sent a mail anyway");
    }
}

#[tokio::test]
async fn every_token_is_32_new_random_bytes() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    // The clock stands still: a token made from the time repeats.
    let mut tokens = Vec::new();
    for _ in 0..40 {
        tokens.push(token_for(&fixture, &server, "ada@example.com").await);
    }

    let mut distinct = tokens.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != tokens.len() {
        panic!(
            "\n40 reset requests for Ada got {} different tokens, expected 40\n  tokens: \
             {:?}\nA token made from the clock, a counter or the customer's id can be guessed \
             or repeats. Take 32 bytes from the operating system's random generator for each.\n",
            distinct.len(),
            &tokens[..4]
        );
    }
    let decoded: Vec<Vec<u8>> = tokens.iter().map(|token| base64url(token)).collect();
    if let Some((token, bytes)) = tokens
        .iter()
        .zip(&decoded)
        .find(|(_, bytes)| bytes.len() != 32)
    {
        panic!(
            "\nthe token {token:?} decodes to {} bytes, expected 32\nA reset token is 32 \
             random bytes (256 bits), in base64url without padding.\n",
            bytes.len()
        );
    }
    // Random bytes differ everywhere; a counter or a time stretched to 32
    // bytes leaves most positions the same in every token.
    let fixed = (0..32)
        .filter(|&index| {
            decoded
                .iter()
                .all(|bytes| bytes[index] == decoded[0][index])
        })
        .count();
    if fixed > 0 {
        panic!(
            "\n{fixed} of the 32 byte positions hold the same byte in all 40 tokens, expected \
             none\n  tokens: {:?}\nEvery byte of a token must be random: fill all 32 from the \
             operating system's generator.\n",
            &tokens[..4]
        );
    }
}

/// `text` decoded from base64url without padding; bytes that are not
/// base64url end it.
fn base64url(text: &str) -> Vec<u8> {
    let value = |byte: u8| -> Option<u32> {
        Some(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut bytes = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for byte in text.bytes() {
        let Some(six) = value(byte) else { break };
        buffer = (buffer << 6) | six;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    bytes
}

#[tokio::test]
async fn a_confirm_sets_an_argon2id_hash_and_ends_the_customers_sessions() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let token = token_for(&fixture, &server, "ada@example.com").await;
    fixture.set_clock(T0 + 60);
    let new_password = "a brand new password";

    let reply = confirm(&server, &token, new_password).await;

    if reply.status() != 204 {
        reply.fail_with_diagnosis(
            &format!(
                "a confirm with the mailed token got {}, expected 204 No Content",
                status_text(reply.status())
            ),
            "The token was mailed a minute ago: it is unused and valid for 15 minutes.",
        );
    }
    reply.assert_text("");
    let hash = fixture.password_hash(ADA);
    if hash.contains(new_password) || !hash.starts_with("$argon2id$") {
        reply.fail(&format!(
            "Ada's password_hash is {hash:?} after the reset, expected an argon2id PHC string \
             (\"$argon2id$v=19$m=19456,t=2,p=1$...\")\nUse the given `hash_password`."
        ));
    }
    let params = hash.split('$').nth(3).unwrap_or_default();
    let number = |name: &str| -> u32 {
        params
            .split(',')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    if number("m") < 19_456 || number("t") < 2 || number("p") < 1 {
        reply.fail(&format!(
            "Ada's new hash has the parameters {params:?}, expected at least m=19456,t=2,p=1 \
             (OWASP's minimum for argon2id)"
        ));
    }
    if !verifies(new_password, &hash) || verifies(ADAS_OLD_PASSWORD, &hash) {
        reply.fail(&format!(
            "Ada's password_hash after the reset does not verify \"{new_password}\" (or still \
             verifies her old password): {hash:?}"
        ));
    }
    let sessions = fixture.sessions();
    if sessions != ["grace-laptop"] {
        reply.fail_with_diagnosis(
            &format!(
                "the sessions after Ada's reset are {sessions:?}, expected [\"grace-laptop\"]"
            ),
            "Whoever reset the password may be Ada locking out an intruder who has her \
             session: a reset ends every session of hers (and only hers), in the same \
             transaction.",
        );
    }
    let resets = fixture.resets();
    if resets[0].3 != Some(T0 + 60) {
        reply.fail(&format!(
            "the used token's used_at is {:?}, expected {} (the shop's clock at the confirm)",
            resets[0].3,
            T0 + 60
        ));
    }
}

#[tokio::test]
async fn a_token_works_once() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let token = token_for(&fixture, &server, "ada@example.com").await;
    confirm(&server, &token, "the first new password")
        .await
        .assert_status(204);

    let again = confirm(&server, &token, "the second new password").await;

    assert_invalid_token(
        &again,
        "a token used once already",
        "A reset token is single-use: once it has set a password, it sets no other. Whoever \
         finds it later (in a mailbox, a browser's history, a proxy's log) must not be able to \
         use it.",
    );
    let hash = fixture.password_hash(ADA);
    if !verifies("the first new password", &hash) {
        again.fail("a refused second confirm changed Ada's password anyway");
    }
}

#[tokio::test]
async fn a_token_expires_at_its_expires_at() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let adas = token_for(&fixture, &server, "ada@example.com").await;
    let graces = token_for(&fixture, &server, "grace@example.com").await;

    // One second before the expiry: still valid.
    fixture.set_clock(T0 + TTL - 1);
    let in_time = confirm(&server, &graces, "grace's new password").await;
    if in_time.status() != 204 {
        in_time.fail_with_diagnosis(
            &format!(
                "a confirm one second before the token's expiry got {}, expected 204 No Content",
                status_text(in_time.status())
            ),
            "A token issued at T is valid while the time is before T + reset_ttl: here the \
             clock says T + 899, with a reset_ttl of 900.",
        );
    }

    // At the expiry: expired.
    fixture.set_clock(T0 + TTL);
    let expired = confirm(&server, &adas, "ada's new password").await;
    assert_invalid_token(
        &expired,
        "a token whose expires_at is now",
        "The clock says exactly the token's expires_at (T + 900): the token has expired. \
         Compare `expires_at > now`, in the same statement that uses the token.",
    );
    fixture.set_clock(T0 + 7 * 86_400);
    let much_later = confirm(&server, &adas, "ada's new password").await;
    assert_invalid_token(
        &much_later,
        "a token a week old",
        "The token expired long ago.",
    );
    if !verifies(ADAS_OLD_PASSWORD, &fixture.password_hash(ADA)) {
        expired.fail("a refused confirm with an expired token changed Ada's password anyway");
    }
}

#[tokio::test]
async fn an_unknown_token_is_refused_like_a_used_one() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let token = token_for(&fixture, &server, "ada@example.com").await;
    let stored = fixture.resets()[0].0.clone();

    for (what, guess) in [
        (
            "a token nobody was sent",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        ),
        ("an empty token", String::new()),
        (
            "the mailed token with its last character cut",
            token[..42].to_string(),
        ),
        ("the mailed token in upper case", token.to_uppercase()),
        ("the hash the database stores", stored),
        ("a token with a wildcard", "%".to_string()),
    ] {
        if guess == token {
            continue;
        }
        let reply = confirm(&server, &guess, "a password for an intruder").await;
        assert_invalid_token(
            &reply,
            what,
            "Only the exact token that was mailed can be used: hash what the request brings, \
             and look for that hash. (Someone who read the stored hash from a copy of the \
             database must not be able to use it as a token.)",
        );
    }
    if !verifies(ADAS_OLD_PASSWORD, &fixture.password_hash(ADA)) {
        panic!("\nconfirms with tokens that were never mailed changed Ada's password\n");
    }
    confirm(&server, &token, "ada's new password")
        .await
        .assert_status(204);
}

#[tokio::test]
async fn a_reset_voids_the_customers_other_tokens_and_no_one_elses() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let first = token_for(&fixture, &server, "ada@example.com").await;
    let second = token_for(&fixture, &server, "ada@example.com").await;
    let graces = token_for(&fixture, &server, "grace@example.com").await;

    confirm(&server, &second, "ada's new password")
        .await
        .assert_status(204);
    let older = confirm(&server, &first, "an intruder's password").await;

    assert_invalid_token(
        &older,
        "Ada's older token, after she reset her password with a newer one",
        "A successful reset voids every other unused token of the same customer: an older \
         link, maybe in an intruder's hands, must not undo the reset she just made.",
    );
    if !verifies("ada's new password", &fixture.password_hash(ADA)) {
        older.fail("Ada's older token changed her password after her reset");
    }
    confirm(&server, &graces, "grace's new password")
        .await
        .assert_status(204);
}

#[tokio::test]
async fn a_short_password_is_422_and_keeps_the_token() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let token = token_for(&fixture, &server, "ada@example.com").await;

    // 11 characters, 22 bytes.
    let short = confirm(&server, &token, "ééééééééééé").await;

    if short.status() == 204 {
        short.fail_with_diagnosis(
            "a new password of 11 characters (22 bytes) was taken, expected 422 \
             Unprocessable Content",
            "Count characters (`chars()`), not bytes (`len()`): \"ééééééééééé\" is 11 \
             characters, too short, however many bytes UTF-8 needs for them.",
        );
    }
    short
        .assert_status(422)
        .assert_content_type("application/problem+json")
        .assert_json(&json!({
            "type": "about:blank", "title": "Password too short", "status": 422,
            "detail": "A password has at least 12 characters.",
        }));
    if fixture.resets()[0].3.is_some() {
        short.fail_with_diagnosis(
            "a confirm refused for its short password used the token up",
            "Check the new password before touching the token: the customer picks a longer \
             one and tries again with the same link.",
        );
    }
    // 12 characters, 36 bytes.
    let twelve = "パスワードを忘れてしまった";
    let twelve = &twelve[..twelve
        .char_indices()
        .nth(12)
        .map_or(twelve.len(), |(at, _)| at)];
    let reply = confirm(&server, &token, twelve).await;
    if reply.status() != 204 {
        reply.fail_with_diagnosis(
            &format!(
                "a confirm with a new password of 12 characters (36 bytes) got {}, expected 204 \
                 No Content",
                status_text(reply.status())
            ),
            "Count characters (`chars()`), not bytes: a password of 12 Japanese characters is \
             12 characters long.",
        );
    }
    if !verifies(twelve, &fixture.password_hash(ADA)) {
        reply.fail("Ada's password_hash does not verify her new 12-character password");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_confirms_at_once_with_one_token_make_one_reset() {
    let fixture = Fixture::new();
    let (wait_started, mut waits) = tokio::sync::mpsc::unbounded_channel();
    let shop = fixture.shop().on_lock_wait(move || {
        let _ = wait_started.send(());
    });
    let server = TestServer::spawn(app(shop)).await;
    let token = token_for(&fixture, &server, "ada@example.com").await;

    // The test holds the write lock while the two confirms arrive...
    let lock = fixture.connect();
    lock.execute_batch("BEGIN IMMEDIATE")
        .expect("the test could not take the write lock");
    let passwords = ["the first password", "the second password"];
    let requests: Vec<_> = passwords
        .iter()
        .map(|password| {
            let call = server
                .post("/password-reset/confirm")
                .json(&json!({ "token": token, "new_password": password }));
            tokio::spawn(call.send())
        })
        .collect();
    // ...until both wait for it (5 s at most; fewer if one answered).
    let mut waiting = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while waiting < 2 && Instant::now() < deadline {
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

    let sent = format!(
        "2 confirms with the same token (new passwords {passwords:?}) were sent at once while \
         the test held the write lock; {waiting} of them started waiting for it before the \
         test let it go."
    );
    let succeeded: Vec<usize> = (0..2).filter(|&n| replies[n].status() == 204).collect();
    let statuses: Vec<String> = replies.iter().map(|r| status_text(r.status())).collect();
    if succeeded.len() == 2 {
        panic!(
            "\n2 of 2 confirms with one token succeeded, expected exactly 1\n{sent}\n  \
             statuses: {statuses:?}\nBoth checked the token, found it unused, and went on to \
             use it. Make the check and the use one statement: `UPDATE password_resets SET \
             used_at = ?now WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?now`, \
             and go on only if it changed a row (or do everything in a transaction that holds \
             the write lock from its first statement, BEGIN IMMEDIATE).\n"
        );
    }
    if succeeded.is_empty() {
        panic!(
            "\n0 of 2 confirms with one token succeeded, expected exactly 1\n{sent}\n  \
             statuses: {statuses:?}\nA transaction that reads the token before it asks for \
             the write lock (a plain BEGIN) cannot always get that lock afterwards: SQLite \
             answers `database is locked` at once, without waiting, when the other confirm \
             holds it or has written since. Begin the transaction IMMEDIATE, or use the token \
             in one UPDATE.\n"
        );
    }
    let winner = succeeded[0];
    assert_invalid_token(
        &replies[1 - winner],
        "a token another confirm was using at the same moment",
        "The losing confirm must find the token used, and be refused like any used token: not \
         a 500. A transaction that reads the token before it asks for the write lock (a plain \
         BEGIN) fails with `database is locked` once the other has written: begin it \
         IMMEDIATE, or use the token in one UPDATE.",
    );
    let hash = fixture.password_hash(ADA);
    if !verifies(passwords[winner], &hash) {
        replies[winner].fail(&format!(
            "Ada's password is not {:?}, the one of the confirm that got 204\n{sent}\nThe \
             refused confirm changed the password after all.",
            passwords[winner]
        ));
    }
}
