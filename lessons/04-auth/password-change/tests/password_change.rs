//! Tests for auth/password-change: the shop's app on a real SQLite file in a
//! temporary folder, called over HTTP on 127.0.0.1, the database read with a
//! connection of the test's own, and the stored hashes checked with argon2
//! itself.
//!
//! Each customer logs in from several "devices": a device is only a session
//! id the test keeps and sends as `Cookie: session=...`, so that a test can
//! replay the cookie of a session the change should have ended. The app
//! reads the time from a clock the test holds.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use auth_password_change::{Clock, Settings, Shop, add_customer, app};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, json, status_text};

/// The time the tests' clock starts at: 2026-09-21T12:26:40Z.
const T0: i64 = 1_790_000_000;

/// Ada's and Grace's passwords.
const ADA_PASSWORD: &str = "correct horse battery staple";
const GRACE_PASSWORD: &str = "grace's own passphrase";

/// A shop in a temporary SQLite file with two customers, 1 (Ada,
/// `ada@example.com`) and 2 (Grace, `grace@example.com`), and a clock the
/// test sets.
struct Fixture {
    _folder: TempDir,
    path: PathBuf,
    now: Arc<AtomicI64>,
    settings: Settings,
}

impl Fixture {
    /// Sessions of an hour, cookies without `Secure`.
    fn new() -> Fixture {
        Fixture::with(Settings {
            session_ttl: Duration::from_secs(3600),
            secure_cookie: false,
        })
    }

    fn with(settings: Settings) -> Fixture {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let fixture = Fixture {
            _folder: folder,
            path,
            now: Arc::new(AtomicI64::new(T0)),
            settings,
        };
        let db = Connection::open(&fixture.path).expect("the test could not create its database");
        auth_password_change::create_schema(&db).expect("the given create_schema failed");
        add_customer(&db, "ada@example.com", "Ada", ADA_PASSWORD)
            .expect("the test could not add Ada");
        add_customer(&db, "grace@example.com", "Grace", GRACE_PASSWORD)
            .expect("the test could not add Grace");
        fixture
    }

    /// The shop's app on this file, served on a free port, reading the
    /// test's clock.
    async fn server(&self) -> TestServer {
        let now = Arc::clone(&self.now);
        let clock = Clock::from_fn(move || now.load(Ordering::SeqCst));
        let shop = Shop::open(&self.path, self.settings.clone(), clock)
            .unwrap_or_else(|error| panic!("\nShop::open failed on the test's file: {error}\n"));
        TestServer::spawn(app(shop)).await
    }

    /// Sets the app's clock to `seconds` after [`T0`].
    fn set_clock(&self, seconds: i64) {
        self.now.store(T0 + seconds, Ordering::SeqCst);
    }

    fn connect(&self) -> Connection {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.busy_timeout(Duration::from_secs(10))
            .expect("the test could not set a busy timeout");
        db
    }

    /// The password hash stored for customer `id`.
    fn hash_of(&self, id: i64) -> String {
        self.connect()
            .query_row(
                "SELECT password_hash FROM customers WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .expect("the test could not read a customer's password hash")
    }

    /// Every row of the sessions table: (id, customer_id, expires_at).
    fn sessions(&self) -> Vec<(String, i64, i64)> {
        let db = self.connect();
        let mut statement = db
            .prepare("SELECT id, customer_id, expires_at FROM sessions ORDER BY rowid")
            .expect("the test could not read the sessions table");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("the test could not read the sessions table")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read the sessions table")
    }
}

/// `POST /login` with these credentials, and `Cookie: session=<cookie>` if
/// one is given.
async fn login(server: &TestServer, email: &str, password: &str, cookie: Option<&str>) -> Reply {
    let mut call = server.post("/login");
    if let Some(id) = cookie {
        call = call.header("cookie", &format!("session={id}"));
    }
    call.json(&json!({ "email": email, "password": password }))
        .send()
        .await
}

/// `GET /me`, with `Cookie: session=<id>` if an id is given.
async fn me(server: &TestServer, id: Option<&str>) -> Reply {
    let mut call = server.get("/me");
    if let Some(id) = id {
        call = call.header("cookie", &format!("session={id}"));
    }
    call.send().await
}

/// A `Set-Cookie` header, parsed as RFC 6265 (section 5.2) reads it:
/// attribute names in any case and any order.
struct SetCookie {
    name: String,
    value: String,
    /// Each attribute's name in lower case, with its value if it has one.
    attributes: Vec<(String, Option<String>)>,
}

impl SetCookie {
    fn parse(header: &str) -> SetCookie {
        let mut parts = header.split(';');
        let pair = parts.next().unwrap_or_default();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let attributes = parts
            .map(|part| match part.split_once('=') {
                Some((name, value)) => (
                    name.trim().to_ascii_lowercase(),
                    Some(value.trim().to_string()),
                ),
                None => (part.trim().to_ascii_lowercase(), None),
            })
            .filter(|(name, _)| !name.is_empty())
            .collect();
        SetCookie {
            name: name.trim().to_string(),
            value: value.trim().to_string(),
            attributes,
        }
    }

    /// The attribute named `name` (in any case): `None` if absent,
    /// `Some(None)` if present without a value.
    fn attribute(&self, name: &str) -> Option<Option<&str>> {
        self.attributes
            .iter()
            .rev()
            .find(|(attribute, _)| attribute.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_deref())
    }
}

/// The one `Set-Cookie` of `reply` that sets the `session` cookie; fails
/// the test if there is none, or more than one.
#[track_caller]
fn session_cookie(reply: &Reply) -> SetCookie {
    let cookies: Vec<SetCookie> = reply
        .header_all("set-cookie")
        .into_iter()
        .map(SetCookie::parse)
        .filter(|cookie| cookie.name == "session")
        .collect();
    match cookies.len() {
        1 => cookies.into_iter().next().expect("one cookie is there"),
        0 => reply.fail(
            "expected a `Set-Cookie: session=...` header, but the response sets no `session` cookie",
        ),
        count => reply.fail(&format!(
            "expected one `Set-Cookie: session=...` header, got {count}"
        )),
    }
}

/// The new session id a login's reply sets, failing the test unless the
/// login succeeded with a well-formed id.
#[track_caller]
fn new_session_of(reply: &Reply) -> String {
    reply.assert_status(200);
    let cookie = session_cookie(reply);
    check_id_shape(reply, &cookie.value);
    cookie.value
}

/// Fails unless `id` is 43 characters of base64url that decode to 32 bytes.
#[track_caller]
fn check_id_shape(reply: &Reply, id: &str) {
    let alphabet = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
    if id.len() != 43 || !id.bytes().all(alphabet) {
        reply.fail_with_diagnosis(
            &format!(
                "expected a session id of 43 base64url characters, got {:?} ({} characters)",
                id,
                id.chars().count()
            ),
            "A session id is 32 random bytes (256 bits) in base64url without padding: 43 \
             characters of A-Z, a-z, 0-9, `-` and `_`. Fewer bytes are easier to guess; a \
             number or a time is not random at all.",
        );
    }
    match URL_SAFE_NO_PAD.decode(id) {
        Ok(bytes) if bytes.len() == 32 => {}
        _ => reply.fail(&format!(
            "the session id {id:?} is not 32 bytes in base64url without padding"
        )),
    }
}

/// Ada's new password in the tests that change it.
const NEW_PASSWORD: &str = "a new passphrase for Ada";

/// `POST /me/password` from the session `id`.
async fn change(server: &TestServer, id: Option<&str>, current: &str, new: &str) -> Reply {
    let mut call = server.post("/me/password");
    if let Some(id) = id {
        call = call.header("cookie", &format!("session={id}"));
    }
    call.json(&json!({ "current_password": current, "new_password": new }))
        .send()
        .await
}

/// A new session of Ada's, as from a device of hers.
async fn ada_device(server: &TestServer) -> String {
    new_session_of(&login(server, "ada@example.com", ADA_PASSWORD, None).await)
}

/// Whether argon2 accepts `password` for the PHC string `hash`.
fn verifies(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The salt field of a PHC string (`$argon2id$v=19$m=...,t=...,p=...$SALT$HASH`).
fn salt_of(hash: &str) -> &str {
    hash.split('$').nth(4).unwrap_or_default()
}

/// The value of parameter `name` (`m`, `t`, `p`) in a PHC string.
fn cost_of(hash: &str, name: &str) -> Option<u32> {
    hash.split('$')
        .nth(3)?
        .split(',')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?
        .parse()
        .ok()
}

/// Fails unless the reply is a `status` problem details body.
#[track_caller]
fn check_refusal(reply: &Reply, status: u16, diagnosis: &str) {
    if reply.status() != status {
        reply.fail_with_diagnosis(
            &format!(
                "expected status {}, got {}",
                status_text(status),
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    reply.assert_content_type("application/problem+json");
    if !reply.header_all("set-cookie").is_empty() {
        reply.fail("expected no `Set-Cookie` header on a refused change, got one");
    }
}

#[tokio::test]
async fn a_change_stores_a_new_argon2id_hash_of_the_new_password() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let device = ada_device(&server).await;
    let old_hash = fixture.hash_of(1);

    let reply = change(&server, Some(&device), ADA_PASSWORD, NEW_PASSWORD).await;

    reply.assert_status(204);
    let hash = fixture.hash_of(1);
    let verdict = if hash == old_hash {
        Some("the password hash did not change".to_string())
    } else if !hash.starts_with("$argon2id$") {
        Some(format!(
            "the stored password is not an argon2id PHC string: {hash:?}"
        ))
    } else if !verifies(&hash, NEW_PASSWORD) {
        Some(format!(
            "the stored hash does not verify the new password: {hash:?}"
        ))
    } else if verifies(&hash, ADA_PASSWORD) {
        Some("the stored hash still verifies the old password".to_string())
    } else if salt_of(&hash) == salt_of(&old_hash) {
        Some(format!(
            "the new hash reuses the old hash's salt {:?}",
            salt_of(&hash)
        ))
    } else if cost_of(&hash, "m").is_none_or(|m| m < 19_456)
        || cost_of(&hash, "t").is_none_or(|t| t < 2)
        || cost_of(&hash, "p").is_none_or(|p| p < 1)
    {
        Some(format!(
            "the new hash is cheaper than OWASP's minimum (m=19456, t=2, p=1): {hash:?}"
        ))
    } else {
        None
    };
    if let Some(verdict) = verdict {
        reply.fail_with_diagnosis(
            &verdict,
            &format!(
                "Ada's password hash before the change was\n            {old_hash}\nThe change \
                 stores a new argon2id PHC string of the new password, made with a new random \
                 salt and the default cost (the given `hash_password` does all of it), never \
                 the password itself.\n"
            ),
        );
    }
}

#[tokio::test]
async fn after_a_change_only_the_new_password_logs_in() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let device = ada_device(&server).await;

    change(&server, Some(&device), ADA_PASSWORD, NEW_PASSWORD)
        .await
        .assert_status(204);

    let old = login(&server, "ada@example.com", ADA_PASSWORD, None).await;
    if old.status() != 401 {
        old.fail(&format!(
            "the old password still logs in after the change: expected 401 Unauthorized, got {}",
            status_text(old.status())
        ));
    }
    login(&server, "ada@example.com", NEW_PASSWORD, None)
        .await
        .assert_status(200)
        .assert_json(&json!({ "id": 1, "email": "ada@example.com", "name": "Ada" }));
}

#[tokio::test]
async fn a_change_ends_the_customers_other_sessions_and_renews_its_own() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let laptop = ada_device(&server).await;
    let phone = ada_device(&server).await;
    let grace = new_session_of(&login(&server, "grace@example.com", GRACE_PASSWORD, None).await);
    fixture.set_clock(100);

    let reply = change(&server, Some(&laptop), ADA_PASSWORD, NEW_PASSWORD).await;

    reply.assert_status(204);
    let renewed = session_cookie(&reply);
    check_id_shape(&reply, &renewed.value);
    if renewed.value == laptop {
        reply.fail_with_diagnosis(
            "the change kept the laptop's session id instead of issuing a new one",
            "After a change of credentials the session that made it gets a new id, as after a \
             login: whoever copied the old id (the reason for the change, perhaps) loses it.",
        );
    }
    if renewed.attribute("HttpOnly").is_none() {
        reply.fail("the renewed session cookie has no `HttpOnly` attribute, expected the session cookie's attributes");
    }
    for (id, device) in [
        (&phone, "Ada's phone"),
        (&laptop, "Ada's laptop, by its old id"),
    ] {
        let replayed = me(&server, Some(id)).await;
        if replayed.status() != 401 {
            replayed.fail_with_diagnosis(
                &format!(
                    "the session of {device} still works after the password change: expected \
                     401 Unauthorized, got {}",
                    status_text(replayed.status())
                ),
                "A password change ends every other session of the customer: if the password \
                 leaked, the sessions opened with it are the attacker's. Delete them all, then \
                 give the device that made the change a new one.",
            );
        }
    }
    me(&server, Some(&renewed.value))
        .await
        .assert_status(200)
        .assert_json(&json!({ "id": 1, "email": "ada@example.com", "name": "Ada" }));
    let other = me(&server, Some(&grace)).await;
    if other.status() != 200 {
        other.fail_with_diagnosis(
            &format!(
                "Grace's session ended when Ada changed her password: expected 200 OK, got {}",
                status_text(other.status())
            ),
            "Only Ada's sessions end: a DELETE without `WHERE customer_id = ...` logs \
             everybody out.",
        );
    }
    let stored = fixture.sessions();
    let expected = vec![(grace, 2, T0 + 3600), (renewed.value, 1, T0 + 100 + 3600)];
    let mut sorted = stored.clone();
    sorted.sort_by_key(|(_, customer, _)| std::cmp::Reverse(*customer));
    assert!(
        sorted == expected,
        "\nthe sessions table holds {stored:?} after the change, expected Grace's session and \
         Ada's renewed one: {expected:?}\nThe renewed session lasts the session's time to live \
         (3600 s) from the change ({}).\n",
        T0 + 100
    );
}

#[tokio::test]
async fn the_renewed_session_ends_at_logout_like_any_other() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let device = ada_device(&server).await;
    let reply = change(&server, Some(&device), ADA_PASSWORD, NEW_PASSWORD).await;
    reply.assert_status(204);
    let renewed = session_cookie(&reply).value;

    let logout = server
        .post("/logout")
        .header("cookie", &format!("session={renewed}"))
        .send()
        .await;

    logout.assert_status(204);
    let replayed = me(&server, Some(&renewed)).await;
    if replayed.status() != 401 {
        replayed.fail_with_diagnosis(
            &format!(
                "the renewed session still works after its logout: expected 401 Unauthorized, \
                 got {}",
                status_text(replayed.status())
            ),
            "The session a change renews is an ordinary row of the sessions table, which the \
             given logout deletes.",
        );
    }
    let stored = fixture.sessions();
    assert!(
        stored.is_empty(),
        "\nthe sessions table holds {stored:?} after Ada's only session logged out, expected \
         no row\n"
    );
}

#[tokio::test]
async fn a_wrong_current_password_is_403_and_changes_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let laptop = ada_device(&server).await;
    let phone = ada_device(&server).await;
    let before = fixture.hash_of(1);

    let wrong = change(&server, Some(&laptop), GRACE_PASSWORD, NEW_PASSWORD).await;
    // A wrong current password is refused before the new one is looked at.
    let wrong_and_short = change(&server, Some(&laptop), "not it", "short").await;

    for reply in [&wrong, &wrong_and_short] {
        check_refusal(
            reply,
            403,
            "The current password is wrong: the change is refused with 403 Forbidden (the \
             session is valid, so not 401) before the new password is even looked at. A \
             stolen session alone must not be enough to take over the account.",
        );
    }
    let after = fixture.hash_of(1);
    if after != before {
        wrong.fail(&format!(
            "the password hash changed although the current password was wrong\n  before: \
             {before}\n  after:  {after}"
        ));
    }
    for id in [&laptop, &phone] {
        let reply = me(&server, Some(id)).await;
        if reply.status() != 200 {
            reply.fail(&format!(
                "a refused change ended a session of Ada's: expected 200 OK, got {}",
                status_text(reply.status())
            ));
        }
    }
    login(&server, "ada@example.com", ADA_PASSWORD, None)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_new_password_shorter_than_12_characters_or_unchanged_is_422() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let laptop = ada_device(&server).await;
    let phone = ada_device(&server).await;
    let before = fixture.hash_of(1);

    // 11 characters; 11 characters in 22 bytes; the current password.
    for new in ["elevenchars", "ééééééééééé", ADA_PASSWORD] {
        let reply = change(&server, Some(&laptop), ADA_PASSWORD, new).await;
        check_refusal(
            &reply,
            422,
            "A new password has at least 12 characters, counted as characters (`chars()`), \
             not bytes: \"ééééééééééé\" is 11 characters in 22 bytes. And it differs from the \
             current one.",
        );
        let after = fixture.hash_of(1);
        if after != before {
            reply.fail("the password hash changed although the new password was refused");
        }
    }
    me(&server, Some(&phone)).await.assert_status(200);

    // Exactly 12 characters, none of them ASCII: enough.
    let twelve = "éééééééééééé";
    let reply = change(&server, Some(&laptop), ADA_PASSWORD, twelve).await;
    if reply.status() != 204 {
        reply.fail_with_diagnosis(
            &format!(
                "a new password of exactly 12 characters was refused: expected 204 No Content, \
                 got {}",
                status_text(reply.status())
            ),
            "12 characters is the least the policy takes, and that is enough.",
        );
    }
    if !verifies(&fixture.hash_of(1), twelve) {
        reply.fail("the stored hash does not verify the new 12-character password");
    }
}

#[tokio::test]
async fn without_a_valid_session_the_change_is_401() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let device = ada_device(&server).await;
    let before = fixture.hash_of(1);
    let unknown = URL_SAFE_NO_PAD.encode([7u8; 32]);

    let mut replies = Vec::new();
    for id in [None, Some(unknown.as_str())] {
        replies.push(change(&server, id, ADA_PASSWORD, NEW_PASSWORD).await);
    }
    // The session expires at T0 + 3600.
    fixture.set_clock(3600);
    replies.push(change(&server, Some(&device), ADA_PASSWORD, NEW_PASSWORD).await);

    for reply in &replies {
        check_refusal(
            reply,
            401,
            "No valid session came with the request (none, an unknown one, an expired one): \
             nobody is logged in, so there is no password to change.",
        );
    }
    let after = fixture.hash_of(1);
    assert!(
        after == before,
        "\nthe password hash changed without a valid session\n  before: {before}\n  after:  \
         {after}\n"
    );
}

#[tokio::test]
async fn a_database_error_is_500_and_changes_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let device = ada_device(&server).await;
    let before = fixture.hash_of(1);
    // The session is there, but Ada's sessions cannot be deleted: a trigger
    // makes SQLite fail every delete from the sessions table.
    fixture
        .connect()
        .execute_batch(
            "CREATE TRIGGER keep_sessions BEFORE DELETE ON sessions
             BEGIN SELECT RAISE(ABORT, 'the sessions table refuses deletes'); END;",
        )
        .expect("the test could not create its trigger");

    let reply = change(&server, Some(&device), ADA_PASSWORD, NEW_PASSWORD).await;

    if reply.status() != 500 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 500 Internal Server Error for a database error, got {}",
                status_text(reply.status())
            ),
            "The test made SQLite refuse to delete sessions, so the change cannot end the \
             other sessions: that is the server's failure, 500, with a body that tells nothing \
             of the database.",
        );
    }
    reply.assert_content_type("application/problem+json");
    if reply.text().contains("sessions") {
        reply.fail("the body of the 500 quotes SQLite's error, expected a body that tells nothing");
    }
    let after = fixture.hash_of(1);
    assert!(
        after == before,
        "\nthe password hash changed although the change failed\n  before: {before}\n  after:  \
         {after}\nThe new hash and the end of the other sessions go together, in one \
         transaction: if one fails, neither happens.\n"
    );
}
