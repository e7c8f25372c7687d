//! Tests for auth/sessions: the shop's app on a real SQLite file in a
//! temporary folder, called over HTTP on 127.0.0.1, the database read with a
//! connection of the test's own.
//!
//! The app reads the time from a clock the test holds: a test that wants a
//! session to expire moves the clock forward, it never sleeps. Cookies are
//! sent by hand (`Cookie: session=...`), the way a browser would, so that a
//! test can also replay a cookie the server told the browser to forget.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use auth_sessions::{Clock, Settings, Shop, add_customer, app};
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
        auth_sessions::create_schema(&db).expect("the given create_schema failed");
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

/// `POST /logout` with `Cookie: session=<id>`.
async fn logout(server: &TestServer, id: &str) -> Reply {
    server
        .post("/logout")
        .header("cookie", &format!("session={id}"))
        .send()
        .await
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

#[tokio::test]
async fn a_login_answers_the_customer_and_a_session_cookie_the_page_cannot_read() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let reply = login(&server, "ada@example.com", ADA_PASSWORD, None).await;

    reply.assert_status(200);
    reply.assert_json(&json!({ "id": 1, "email": "ada@example.com", "name": "Ada" }));
    let cookie = session_cookie(&reply);
    check_id_shape(&reply, &cookie.value);
    let diagnosis = "The session cookie is `session=<id>; HttpOnly; SameSite=Lax; Path=/; \
                     Max-Age=<the session's time to live in seconds>`, with `Secure` only when \
                     the settings ask for it. HttpOnly keeps the page's JavaScript (and an \
                     XSS payload) from reading it; SameSite=Lax keeps other sites' forms from \
                     sending it; Path=/ sends it to every route.";
    let expected: [(&str, Option<&str>); 4] = [
        ("HttpOnly", None),
        ("SameSite", Some("Lax")),
        ("Path", Some("/")),
        ("Max-Age", Some("3600")),
    ];
    for (name, value) in expected {
        let found = cookie.attribute(name);
        let matches = match (found, value) {
            (Some(None), None) => true,
            (Some(Some(found)), Some(value)) if name == "SameSite" => {
                found.eq_ignore_ascii_case(value)
            }
            (Some(Some(found)), Some(value)) => found == value,
            _ => false,
        };
        if !matches {
            let wanted = match value {
                Some(value) => format!("{name}={value}"),
                None => name.to_string(),
            };
            let verdict = match found {
                None => {
                    format!("the session cookie has no `{name}` attribute, expected `{wanted}`")
                }
                Some(Some(found)) => {
                    format!("the session cookie has `{name}={found}`, expected `{wanted}`")
                }
                Some(None) => {
                    format!("the session cookie has `{name}` without a value, expected `{wanted}`")
                }
            };
            reply.fail_with_diagnosis(&verdict, diagnosis);
        }
    }
    for name in ["Secure", "Domain"] {
        if cookie.attribute(name).is_some() {
            reply.fail_with_diagnosis(
                &format!("the session cookie has a `{name}` attribute, expected none"),
                "These settings have `secure_cookie: false` (a server on plain http://, where \
                 a browser would never send a Secure cookie back), and a session cookie \
                 without Domain stays with the host that set it.",
            );
        }
    }
}

#[tokio::test]
async fn a_login_stores_its_session_with_the_time_it_expires() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    fixture.set_clock(100);

    let reply = login(&server, "grace@example.com", GRACE_PASSWORD, None).await;

    let id = new_session_of(&reply);
    let stored = fixture.sessions();
    let expected = vec![(id.clone(), 2, T0 + 100 + 3600)];
    if stored != expected {
        reply.fail_with_diagnosis(
            &format!(
                "the sessions table holds {stored:?}, expected one row {:?}",
                expected[0]
            ),
            &format!(
                "A login stores one row: the id it sent in the cookie, the customer's id (Grace \
                 is 2), and expires_at, the clock's time at the login ({}) plus the session's \
                 time to live (3600 s), in Unix seconds.",
                T0 + 100
            ),
        );
    }
}

#[tokio::test]
async fn the_cookie_is_secure_and_lasts_as_long_as_the_settings_say() {
    let fixture = Fixture::with(Settings {
        session_ttl: Duration::from_secs(90),
        secure_cookie: true,
    });
    let server = fixture.server().await;

    let reply = login(&server, "ada@example.com", ADA_PASSWORD, None).await;

    let id = new_session_of(&reply);
    let cookie = session_cookie(&reply);
    if cookie.attribute("Secure").is_none() {
        reply.fail_with_diagnosis(
            "the session cookie has no `Secure` attribute, expected one",
            "These settings have `secure_cookie: true`: the browser must send the cookie \
             over HTTPS only, never in clear text.",
        );
    }
    if cookie.attribute("Max-Age") != Some(Some("90")) {
        reply.fail_with_diagnosis(
            "the session cookie's `Max-Age` is not 90, the session's time to live in these settings",
            "Max-Age is the settings' session_ttl in seconds, not a fixed number.",
        );
    }
    let stored = fixture.sessions();
    if stored != vec![(id, 1, T0 + 90)] {
        reply.fail(&format!(
            "the sessions table holds {stored:?}, expected one row for customer 1 that expires \
             at {} (the clock's time plus 90 s)",
            T0 + 90
        ));
    }
}

#[tokio::test]
async fn a_failed_login_sets_no_cookie_and_stores_no_session() {
    let fixture = Fixture::new();
    let server = fixture.server().await;

    let wrong_password = login(&server, "ada@example.com", GRACE_PASSWORD, None).await;
    let unknown_email = login(&server, "nobody@example.com", ADA_PASSWORD, None).await;

    for reply in [&wrong_password, &unknown_email] {
        reply
            .assert_status(401)
            .assert_content_type("application/problem+json");
        if !reply.header_all("set-cookie").is_empty() {
            reply.fail("expected no `Set-Cookie` header on a failed login, got one");
        }
    }
    if wrong_password.text() != unknown_email.text() {
        unknown_email.fail_with_diagnosis(
            "an unknown email and a wrong password got different bodies",
            &format!(
                "The wrong password for ada@example.com got\n            {}\nA client must \
                 not learn which emails have an account.\n",
                wrong_password.text()
            ),
        );
    }
    let stored = fixture.sessions();
    assert!(
        stored.is_empty(),
        "\nthe sessions table holds {stored:?} after two failed logins, expected no row\n"
    );
}

#[tokio::test]
async fn me_answers_the_customer_whose_session_the_cookie_names() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let ada = new_session_of(&login(&server, "ada@example.com", ADA_PASSWORD, None).await);
    let grace = new_session_of(&login(&server, "grace@example.com", GRACE_PASSWORD, None).await);

    me(&server, Some(&ada))
        .await
        .assert_status(200)
        .assert_json(&json!({ "id": 1, "email": "ada@example.com", "name": "Ada" }));
    me(&server, Some(&grace))
        .await
        .assert_status(200)
        .assert_json(&json!({ "id": 2, "email": "grace@example.com", "name": "Grace" }));
}

#[tokio::test]
async fn me_without_a_valid_session_is_401() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // A well-formed id that no login made, and one that is not even that.
    let unknown = URL_SAFE_NO_PAD.encode([7u8; 32]);

    for id in [None, Some(unknown.as_str()), Some("1"), Some("")] {
        let reply = me(&server, id).await;
        if reply.status() != 401 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 401 Unauthorized, got {}",
                    status_text(reply.status())
                ),
                "No login made this session id (or there is no cookie at all): the request \
                 comes from nobody the shop knows.",
            );
        }
        reply.assert_content_type("application/problem+json");
    }
}

#[tokio::test]
async fn a_session_is_valid_until_the_second_it_expires_and_is_then_deleted() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let id = new_session_of(&login(&server, "ada@example.com", ADA_PASSWORD, None).await);

    fixture.set_clock(3599);
    let last_second = me(&server, Some(&id)).await;
    if last_second.status() != 200 {
        last_second.fail_with_diagnosis(
            &format!(
                "expected status 200 OK one second before the session expires, got {}",
                status_text(last_second.status())
            ),
            &format!(
                "The session expires at {} (its login's time plus 3600 s) and the clock reads {}: \
                 a session is valid while now < expires_at.",
                T0 + 3600,
                T0 + 3599
            ),
        );
    }

    fixture.set_clock(3600);
    let expired = me(&server, Some(&id)).await;
    if expired.status() != 401 {
        expired.fail_with_diagnosis(
            &format!(
                "expected status 401 Unauthorized at the second the session expires, got {}",
                status_text(expired.status())
            ),
            &format!(
                "The session expires at {} and the clock reads exactly that: a session is valid \
                 while now < expires_at, so at expires_at it is over.",
                T0 + 3600
            ),
        );
    }
    expired.assert_content_type("application/problem+json");
    let stored = fixture.sessions();
    assert!(
        stored.is_empty(),
        "\nan expired session is still in the sessions table: {stored:?}\nGET /me with a \
         session that has expired should delete its row, not just refuse it.\n"
    );
}

#[tokio::test]
async fn logout_deletes_the_session_and_an_old_cookie_replayed_is_401() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let id = new_session_of(&login(&server, "ada@example.com", ADA_PASSWORD, None).await);

    let reply = logout(&server, &id).await;

    reply.assert_status(204);
    let cookie = session_cookie(&reply);
    // RFC 6265, 5.2.2: a Max-Age of 0 or less makes the browser drop the
    // cookie at once, whatever its value.
    let max_age = cookie.attribute("Max-Age").flatten();
    let dropped = max_age
        .and_then(|age| age.parse::<i64>().ok())
        .is_some_and(|age| age <= 0);
    if !dropped || cookie.value == id {
        reply.fail_with_diagnosis(
            "expected the logout to clear the cookie: `session=` with `Max-Age=0`",
            "`Set-Cookie: session=; Max-Age=0; Path=/` (with the other attributes of the \
             session cookie) tells the browser to forget it at once.",
        );
    }
    if cookie.attribute("Path") != Some(Some("/")) {
        reply.fail(
            "the cookie that clears the session has no `Path=/`, expected the same path as the \
             cookie it replaces (a browser keeps cookies of other paths)",
        );
    }
    let replayed = me(&server, Some(&id)).await;
    if replayed.status() != 401 {
        replayed.fail_with_diagnosis(
            &format!(
                "the session cookie still works after logout: expected 401 Unauthorized, got {}",
                status_text(replayed.status())
            ),
            "The logout only told the browser to forget the cookie. Anyone who copied it \
             (a shared computer, a stolen laptop, malware) still has a working session: the \
             logout must delete the session on the server.",
        );
    }
    let stored = fixture.sessions();
    assert!(
        stored.is_empty(),
        "\nthe session is still in the sessions table after logout: {stored:?}\n"
    );
}

#[tokio::test]
async fn logout_ends_only_its_own_session() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let laptop = new_session_of(&login(&server, "ada@example.com", ADA_PASSWORD, None).await);
    let phone = new_session_of(&login(&server, "ada@example.com", ADA_PASSWORD, None).await);
    let grace = new_session_of(&login(&server, "grace@example.com", GRACE_PASSWORD, None).await);

    logout(&server, &laptop).await.assert_status(204);

    for (id, who) in [
        (&phone, "Ada's other session (her phone)"),
        (&grace, "Grace's session"),
    ] {
        let reply = me(&server, Some(id)).await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "{who} ended with the logout of Ada's laptop: expected 200 OK, got {}",
                    status_text(reply.status())
                ),
                "A logout deletes the one session whose cookie came with it, not the \
                 customer's other sessions, and never other customers' sessions.",
            );
        }
    }
    let remaining = fixture.sessions().len();
    assert!(
        remaining == 2,
        "\nthe sessions table holds {remaining} rows after one of three sessions logged out, \
         expected 2\n"
    );
}

#[tokio::test]
async fn a_login_issues_a_new_id_and_ends_the_session_the_browser_had() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let first = new_session_of(&login(&server, "ada@example.com", ADA_PASSWORD, None).await);
    // An id an attacker chose and planted in the victim's browser.
    let planted = URL_SAFE_NO_PAD.encode([42u8; 32]);

    let again = login(&server, "ada@example.com", ADA_PASSWORD, Some(&first)).await;
    let second = new_session_of(&again);
    let victim = login(&server, "ada@example.com", ADA_PASSWORD, Some(&planted)).await;
    let third = new_session_of(&victim);

    for (reply, old, new) in [(&again, &first, &second), (&victim, &planted, &third)] {
        if old == new {
            reply.fail_with_diagnosis(
                "the login kept the session id the browser sent instead of issuing a new one",
                "Session fixation: an attacker who got an id into the victim's browser (or \
                 already knew it) would share the session the victim's login authenticates. \
                 Every login makes a new id.",
            );
        }
    }
    for old in [&first, &planted] {
        let reply = me(&server, Some(old)).await;
        if reply.status() != 401 {
            reply.fail_with_diagnosis(
                &format!(
                    "the session id sent with a login still works after it: expected 401 \
                     Unauthorized, got {}",
                    status_text(reply.status())
                ),
                "A login replaces the session the browser had: delete the session its cookie \
                 named before storing the new one.",
            );
        }
    }
    for new in [&second, &third] {
        me(&server, Some(new)).await.assert_status(200);
    }
}

#[tokio::test]
async fn session_ids_are_unique_and_look_random_even_at_the_same_second() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    // The clock does not move: every login happens in the same second.
    const LOGINS: usize = 64;

    // One login after the other: each one's password check takes its time,
    // and sixty-four at once on a busy machine could outlast a request's
    // timeout.
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for number in 0..LOGINS {
        let reply = if number % 2 == 0 {
            login(&server, "ada@example.com", ADA_PASSWORD, None).await
        } else {
            login(&server, "grace@example.com", GRACE_PASSWORD, None).await
        };
        let id = new_session_of(&reply);
        let bytes = URL_SAFE_NO_PAD
            .decode(&id)
            .expect("checked by new_session_of");
        if !seen.insert(bytes.clone()) {
            reply.fail_with_diagnosis(
                &format!("two logins got the same session id {id:?}"),
                "64 logins in the same second (the clock stood still) should give 64 \
                 different ids. An id made from the time, the email or a hash of them repeats; \
                 take 32 bytes from the operating system's random number generator.",
            );
        }
        ids.push(bytes);
    }

    // Each of the 256 bit positions is 1 in some ids and 0 in others: a
    // counter, a time or an email inside the id keeps some bits fixed. For
    // random ids, a position with the same bit in all 64 has a chance of
    // 2^-63.
    let fixed: Vec<usize> = (0..256)
        .filter(|&bit| {
            let ones = ids
                .iter()
                .filter(|bytes| bytes[bit / 8] & (0x80 >> (bit % 8)) != 0)
                .count();
            ones == 0 || ones == LOGINS
        })
        .collect();
    assert!(
        fixed.is_empty(),
        "\n{} of the 256 bits of the session ids are the same in all {LOGINS} ids, expected none\n\
         the fixed bits: {fixed:?}\n\
         Random ids differ everywhere. Some part of these ids does not change from one login \
         to the next: a counter's high bytes, a timestamp, a customer's id or email.\n",
        fixed.len()
    );
    // Half the bits are ones: 8192 of 16384, give or take 64 (one
    // standard deviation); the bounds are 7 of them away.
    let ones: u32 = ids
        .iter()
        .flat_map(|bytes| bytes.iter())
        .map(|byte| byte.count_ones())
        .sum();
    assert!(
        (7_744..=8_640).contains(&ones),
        "\n{ones} of the {} bits of the session ids are ones, expected about half\nRandom bytes \
         have as many ones as zeros.\n",
        LOGINS * 256
    );
}

#[tokio::test]
async fn a_database_error_is_500_with_a_body_that_tells_nothing() {
    let fixture = Fixture::new();
    let server = fixture.server().await;
    let id = new_session_of(&login(&server, "ada@example.com", ADA_PASSWORD, None).await);
    // From here on, every query of the sessions table fails in SQLite.
    fixture
        .connect()
        .execute_batch("DROP TABLE sessions")
        .expect("the test could not drop the sessions table");

    let replies = [
        me(&server, Some(&id)).await,
        login(&server, "ada@example.com", ADA_PASSWORD, None).await,
    ];

    for reply in &replies {
        if reply.status() != 500 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 500 Internal Server Error for a database error, got {}",
                    status_text(reply.status())
                ),
                "The test dropped the sessions table, so SQLite failed. A failure of the shop \
                 is not \"nobody is logged in\" (401, which tells a client to drop its session \
                 and log in again): it is the server's error, 500.",
            );
        }
        reply.assert_content_type("application/problem+json");
        if reply.text().contains("sessions") || reply.text().contains("no such table") {
            reply.fail(
                "the body of the 500 quotes SQLite's error, expected a body that tells nothing \
                 of the shop's insides (they belong in the server's log)",
            );
        }
    }
}
