//! Tests for auth/tokens: a real server on 127.0.0.1 in front of a real
//! SQLite file in a temporary folder, with two customers (Ada, id 1, and
//! Bob, id 2). The app's clock is the test's: it stands at a fixed moment
//! (in 2096, so that the system's clock can never decide anything) and
//! moves only when a test moves it; no test sleeps.
//!
//! The attack tokens are made here, by hand: claims signed with the shop's
//! own key (so that only the claim under test is wrong), with another key,
//! with another algorithm, with `alg: none`, or a real token whose payload
//! is swapped under its signature.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use auth_tokens::{Clock, Db, Settings, app, create_schema, hash_password, insert_customer};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};

/// The moment the app's clock shows until a test moves it: Unix seconds,
/// in 2096.
const NOW: u64 = 4_000_000_000;

/// The tokens' lifetime in the settings, in seconds.
const TTL: u64 = 900;

/// The shop's signing key in these tests.
const KEY: &[u8] = b"the shop's test key: 32+ random bytes in production";

/// Another key, that is not the shop's.
const OTHER_KEY: &[u8] = b"somebody else's key, just as long and just as secret";

/// Everybody's password in these tests.
const PASSWORD: &str = "correct horse battery staple";

/// The challenge of a request with no credentials.
const NO_CREDENTIALS: &str = r#"Bearer realm="shop""#;

/// The challenge of a request with a token that is no good.
const INVALID_TOKEN: &str = r#"Bearer realm="shop", error="invalid_token""#;

/// The shop's database file, in a folder removed when dropped, with Ada
/// (id 1) and Bob (id 2), and the clock the apps read.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
    now: Arc<AtomicU64>,
}

impl Shop {
    fn new() -> Shop {
        // One argon2 hash for every customer of every test: hashing is slow
        // on purpose.
        static HASH: OnceLock<String> = OnceLock::new();
        let hash = HASH.get_or_init(|| hash_password(PASSWORD));
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        insert_customer(&db, "ada@example.com", "Ada", hash, "customer")
            .expect("the test could not store Ada");
        insert_customer(&db, "bob@example.com", "Bob", hash, "admin")
            .expect("the test could not store Bob");
        Shop {
            _folder: folder,
            path,
            now: Arc::new(AtomicU64::new(NOW)),
        }
    }

    /// The app under test, signing with `key`, tokens good for `ttl`.
    async fn serve_with(&self, key: &[u8], ttl: u64) -> TestServer {
        let settings = Settings {
            signing_key: key.to_vec(),
            token_ttl: ttl,
        };
        let now = Arc::clone(&self.now);
        let clock = Clock::new(move || now.load(Ordering::SeqCst));
        TestServer::spawn(app(Db::open(&self.path), settings, clock)).await
    }

    /// The app under test, signing with [`KEY`], tokens good for [`TTL`].
    async fn serve(&self) -> TestServer {
        self.serve_with(KEY, TTL).await
    }

    /// Sets the app's clock.
    fn set_now(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Removes a customer from the database, as an admin tool might.
    fn delete_customer(&self, id: i64) {
        let db = Connection::open(&self.path).expect("the test could not open its database");
        db.execute("DELETE FROM customers WHERE id = ?1", [id])
            .expect("the test could not delete the customer");
    }
}

/// `POST /token` for `email` with the right password; the reply, after
/// checking it is a token.
async fn login(server: &TestServer, email: &str) -> (Reply, String) {
    let reply = server
        .post("/token")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    reply.assert_status(200);
    let body = reply.json();
    let Some(token) = body["access_token"].as_str() else {
        reply.fail_with_diagnosis(
            "expected an \"access_token\" string in the body",
            "The given handler puts `issue_token`'s token there: does it return the JWT?",
        );
    };
    let token = token.to_string();
    (reply, token)
}

/// `GET /me` with `Authorization: <authorization>`.
async fn me(server: &TestServer, authorization: &str) -> Reply {
    server
        .get("/me")
        .header("authorization", authorization)
        .send()
        .await
}

/// Ada as `GET /me` answers her.
fn ada() -> Value {
    json!({"id": 1, "email": "ada@example.com", "name": "Ada", "role": "customer"})
}

/// Bob as `GET /me` answers him.
fn bob() -> Value {
    json!({"id": 2, "email": "bob@example.com", "name": "Bob", "role": "admin"})
}

/// A JWT with these header fields and claims, signed by the library with
/// `key` under `alg`.
fn sign(alg: Algorithm, claims: &Value, key: &[u8]) -> String {
    let key = EncodingKey::from_secret(key).expect("the test's keys are not empty");
    jsonwebtoken::encode(&Header::new(alg), claims, &key).expect("the test's claims sign")
}

/// `value` as JSON, then base64url without padding: one segment of a JWT.
fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// The claims of a token made by the app, as JSON, read without checking.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}

/// Fails unless `reply` is `401 Unauthorized` as problem details, with
/// exactly `challenge` as its `WWW-Authenticate`.
#[track_caller]
fn assert_unauthorized(reply: &Reply, challenge: &str, diagnosis: &str) {
    if reply.status() != 401 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status {}, got {}",
                status_text(401),
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    match reply.header("www-authenticate") {
        Some(actual) if actual == challenge => {}
        Some(actual) => reply.fail_with_diagnosis(
            &format!(
                "expected header `www-authenticate: {challenge}`, got `www-authenticate: {actual}`"
            ),
            "A request without a bearer token gets `Problem::no_credentials()`; one with a \
             bearer token that is no good, for whatever reason, gets `Problem::invalid_token(..)` \
             (RFC 6750, section 3.1).",
        ),
        None => reply.fail_with_diagnosis(
            &format!("expected header `www-authenticate: {challenge}`, but the response has none"),
            "A 401 must say how to authenticate (RFC 9110, section 11.6.1): answer with \
             `Problem::no_credentials()` or `Problem::invalid_token(..)`, which set it.",
        ),
    }
    reply.assert_content_type("application/problem+json");
    if reply.json()["status"] != json!(401) {
        reply.fail("expected the problem details body to say \"status\": 401");
    }
}

// ANCHOR: issued
#[tokio::test]
async fn a_token_names_the_customer_as_sub_and_expires_ttl_seconds_after_iat() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let (reply, token) = login(&server, "ada@example.com").await;
    reply
        .assert_header("cache-control", "no-store")
        .assert_content_type("application/json");
    let body = reply.json();
    if body["token_type"] != json!("Bearer") || body["expires_in"] != json!(TTL) {
        reply.fail(&format!(
            "expected \"token_type\": \"Bearer\" and \"expires_in\": {TTL} beside the token"
        ));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = DecodingKey::from_secret(KEY).expect("the test's key is not empty");
    let decoded = match jsonwebtoken::decode::<Value>(&token, &key, &validation) {
        Ok(decoded) => decoded,
        Err(error) => reply.fail_with_diagnosis(
            &format!("the token is not an HS256 JWT signed with the settings' key ({error})"),
            "Sign with `Header::new(Algorithm::HS256)` and a key made from \
             `settings.signing_key`, never a key written in the code.",
        ),
    };
    let expected = json!({"sub": "1", "iat": NOW, "exp": NOW + TTL});
    for claim in ["sub", "iat", "exp"] {
        if decoded.claims[claim] != expected[claim] {
            reply.fail_with_diagnosis(
                &format!(
                    "expected the claim \"{claim}\": {}, got {}",
                    expected[claim], decoded.claims[claim]
                ),
                &format!(
                    "Ada is customer 1, the app's clock says {NOW}, the settings' token_ttl is \
                     {TTL}. `sub` is a string (RFC 7519, section 4.1.2); `iat` is the clock's \
                     now, not the system's time; `exp` is `iat` plus the ttl. The claims sent: \
                     {}",
                    decoded.claims
                ),
            );
        }
    }

    // The password is checked (by the given code) before any token is made.
    for (email, password) in [
        ("ada@example.com", "correct horse battery stapler"),
        ("nobody@example.com", PASSWORD),
    ] {
        let reply = server
            .post("/token")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await;
        if reply.status() != 401 || reply.text().contains("eyJ") {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 401 Unauthorized and no token for a wrong password or an \
                     unknown email, got {}",
                    status_text(reply.status())
                ),
                "The given `post_token` refuses wrong credentials before it calls \
                 `issue_token`: keep it so.",
            );
        }
    }
}
// ANCHOR_END: issued

#[tokio::test]
async fn the_claims_follow_the_clock_the_customer_and_the_ttl_setting() {
    let shop = Shop::new();
    let server = shop.serve_with(KEY, 60).await;

    shop.set_now(NOW + 500);
    let (reply, token) = login(&server, "bob@example.com").await;
    let claims = claims_of(&token);
    let expected = json!({"sub": "2", "iat": NOW + 500, "exp": NOW + 560});
    for claim in ["sub", "iat", "exp"] {
        if claims[claim] != expected[claim] {
            reply.fail_with_diagnosis(
                &format!(
                    "expected the claim \"{claim}\": {}, got {}",
                    expected[claim], claims[claim]
                ),
                &format!(
                    "This time the customer is Bob (id 2), the clock says {} and the settings' \
                     token_ttl is 60. Read them from the arguments, not from constants. The \
                     claims sent: {claims}",
                    NOW + 500
                ),
            );
        }
    }
    let answer = me(&server, &format!("Bearer {token}")).await;
    answer.assert_status(200).assert_json(&bob());
}

// ANCHOR: me
#[tokio::test]
async fn me_answers_the_customer_whose_token_it_is() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let (_, ada_token) = login(&server, "ada@example.com").await;
    let (_, bob_token) = login(&server, "bob@example.com").await;

    me(&server, &format!("Bearer {ada_token}"))
        .await
        .assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&ada());
    me(&server, &format!("Bearer {bob_token}"))
        .await
        .assert_status(200)
        .assert_json(&bob());
    // The scheme's name is case-insensitive (RFC 9110, section 11.1).
    let reply = me(&server, &format!("bearer {ada_token}")).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 200 OK, got {}",
                status_text(reply.status())
            ),
            "An authentication scheme's name is case-insensitive (RFC 9110, section 11.1): \
             `bearer` is `Bearer`. Compare it with `eq_ignore_ascii_case`, not `==` or \
             `strip_prefix(\"Bearer \")`.",
        );
    }
    reply.assert_json(&ada());
}
// ANCHOR_END: me

#[tokio::test]
async fn no_bearer_token_is_401_with_a_challenge_and_no_error_code() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let (_, token) = login(&server, "ada@example.com").await;

    let reply = server.get("/me").send().await;
    assert_unauthorized(
        &reply,
        NO_CREDENTIALS,
        "A request with no Authorization header has no credentials: 401 with the challenge, \
         so that the client knows it needs a token.",
    );
    for authorization in [
        "Basic YWRhQGV4YW1wbGUuY29tOmNvcnJlY3QgaG9yc2U=".to_string(),
        format!("Token {token}"),
        token.clone(),
    ] {
        let reply = me(&server, &authorization).await;
        assert_unauthorized(
            &reply,
            NO_CREDENTIALS,
            "Only the `Bearer` scheme carries a token here: any other scheme, and a token \
             without a scheme, are no credentials of this API. Read the scheme before the \
             token: taking the second word whatever the first is accepts a token sent as \
             `Token <jwt>`.",
        );
    }
}

#[tokio::test]
async fn a_malformed_bearer_token_is_401_invalid_token() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let (_, token) = login(&server, "ada@example.com").await;
    let mut parts = token.split('.');
    let (header, payload) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));

    for authorization in [
        "Bearer".to_string(),
        "Bearer ".to_string(),
        "Bearer not-a-token".to_string(),
        "Bearer a.b.c".to_string(),
        format!("Bearer {header}.{payload}"),
        format!("Bearer {token}.{payload}"),
        format!("Bearer {token}x"),
    ] {
        let reply = me(&server, &authorization).await;
        assert_unauthorized(
            &reply,
            INVALID_TOKEN,
            "A bearer token that does not decode, or whose signature does not verify, is an \
             invalid token: 401, never a 500 or a panic, and the challenge with \
             error=\"invalid_token\".",
        );
    }
}

// ANCHOR: expiry
#[tokio::test]
async fn a_token_is_good_until_the_second_before_exp_and_not_at_exp() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let (_, token) = login(&server, "ada@example.com").await;
    let bearer = format!("Bearer {token}");

    shop.set_now(NOW + TTL - 1);
    let reply = me(&server, &bearer).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 200 OK one second before exp, got {}",
                status_text(reply.status())
            ),
            &format!(
                "The token was issued at {NOW} with exp {}; the app's clock now says {}. \
                 Compare exp with the app's clock (the `now` given to verify_token), not the \
                 system's.",
                NOW + TTL,
                NOW + TTL - 1
            ),
        );
    }
    for (now, when) in [
        (NOW + TTL, "at exp itself"),
        (NOW + TTL + 1, "one second after exp"),
        (NOW + TTL + 30, "30 seconds after exp"),
    ] {
        shop.set_now(now);
        let reply = me(&server, &bearer).await;
        if reply.status() != 401 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 401 Unauthorized {when}, got {}",
                    status_text(reply.status())
                ),
                &format!(
                    "The token's exp is {}; the app's clock says {now}. A token has expired \
                     once now >= exp (RFC 7519, section 4.1.4), with no leeway: jsonwebtoken's \
                     Validation checks exp against the system's clock with 60 seconds of \
                     leeway, so turn that off (`validate_exp = false`) and compare with the \
                     app's clock yourself.",
                    NOW + TTL
                ),
            );
        }
        assert_unauthorized(
            &reply,
            INVALID_TOKEN,
            "An expired token is an invalid token.",
        );
    }
}
// ANCHOR_END: expiry

// ANCHOR: tampered
#[tokio::test]
async fn a_payload_changed_under_its_signature_is_401() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let (_, token) = login(&server, "ada@example.com").await;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, _, signature] = parts[..] else {
        panic!(
            "a token made by the app has three segments, this one has {}: {token}",
            parts.len()
        );
    };

    for (claims, what) in [
        (
            json!({"sub": "2", "iat": NOW, "exp": NOW + TTL}),
            "sub changed to Bob's id",
        ),
        (
            json!({"sub": "1", "iat": NOW, "exp": NOW + 100 * TTL}),
            "exp pushed later",
        ),
    ] {
        let forged = format!("{header}.{}.{signature}", segment(&claims));
        let reply = me(&server, &format!("Bearer {forged}")).await;
        if reply.status() == 200 {
            reply.fail_with_diagnosis(
                &format!("a token with its payload changed ({what}) was accepted"),
                "The signature covers the header and the payload: a payload changed after \
                 signing no longer matches it. Decode with `jsonwebtoken::decode` and a \
                 `DecodingKey` from the settings' key, which checks the signature; \
                 `insecure_decode` and reading the payload by hand check nothing.",
            );
        }
        assert_unauthorized(&reply, INVALID_TOKEN, "A forged token is an invalid token.");
    }
}
// ANCHOR_END: tampered

#[tokio::test]
async fn a_token_signed_with_another_key_is_401() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let claims = json!({"sub": "1", "iat": NOW, "exp": NOW + TTL});

    let forged = sign(Algorithm::HS256, &claims, OTHER_KEY);
    let reply = me(&server, &format!("Bearer {forged}")).await;
    if reply.status() == 200 {
        reply.fail_with_diagnosis(
            "a token signed with another key than the settings' was accepted",
            "Verify with a `DecodingKey` made from `settings.signing_key`, and nothing else.",
        );
    }
    assert_unauthorized(
        &reply,
        INVALID_TOKEN,
        "A token signed by somebody else is invalid.",
    );

    let genuine = sign(Algorithm::HS256, &claims, KEY);
    let reply = me(&server, &format!("Bearer {genuine}")).await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 200 OK for a token signed with the settings' key, got {}",
                status_text(reply.status())
            ),
            &format!(
                "The test signed {claims} with HS256 and the settings' key, as the app \
                 does: that token is good."
            ),
        );
    }
    reply.assert_json(&ada());
}

#[tokio::test]
async fn the_key_comes_from_the_settings() {
    let shop = Shop::new();
    let first = shop.serve_with(KEY, TTL).await;
    let second = shop.serve_with(OTHER_KEY, TTL).await;
    let (_, first_token) = login(&first, "ada@example.com").await;
    let (_, second_token) = login(&second, "ada@example.com").await;

    if first_token == second_token {
        panic!(
            "\ntwo apps with two different signing keys issued the same token\n  token: \
             {first_token}\nThe key is `settings.signing_key`, never a constant of the code.\n"
        );
    }
    let reply = me(&second, &format!("Bearer {first_token}")).await;
    assert_unauthorized(
        &reply,
        INVALID_TOKEN,
        "This token was issued by an app with another key: its signature is not this app's.",
    );
    me(&second, &format!("Bearer {second_token}"))
        .await
        .assert_status(200)
        .assert_json(&ada());
}

// ANCHOR: algorithms
#[tokio::test]
async fn alg_none_and_every_algorithm_but_hs256_are_401() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let claims = json!({"sub": "1", "iat": NOW, "exp": NOW + TTL});
    let (_, token) = login(&server, "ada@example.com").await;
    let signature = token.rsplit('.').next().unwrap_or_default();

    let mut forged = Vec::new();
    for alg in ["none", "None", "NONE"] {
        let header = segment(&json!({"alg": alg, "typ": "JWT"}));
        forged.push((
            format!("{header}.{}.", segment(&claims)),
            format!("alg {alg}, no signature"),
        ));
        forged.push((
            format!("{header}.{}.{signature}", segment(&claims)),
            format!("alg {alg}, a signature"),
        ));
    }
    for (alg, name) in [(Algorithm::HS384, "HS384"), (Algorithm::HS512, "HS512")] {
        forged.push((
            sign(alg, &claims, KEY),
            format!("{name} with the shop's own key"),
        ));
    }
    let rs256 = segment(&json!({"alg": "RS256", "typ": "JWT"}));
    forged.push((
        format!(
            "{rs256}.{}",
            token.split_once('.').map_or("", |(_, rest)| rest)
        ),
        "alg RS256 over an HS256 signature".to_string(),
    ));
    for (token, what) in forged {
        let reply = me(&server, &format!("Bearer {token}")).await;
        if reply.status() == 200 {
            reply.fail_with_diagnosis(
                &format!("a token with {what} was accepted"),
                "The server decides the algorithm, never the token: verify with \
                 `Validation::new(Algorithm::HS256)` only. `Validation::new(header.alg)` \
                 lets the attacker choose it (algorithm confusion), and `alg: none` means \
                 no signature at all.",
            );
        }
        assert_unauthorized(
            &reply,
            INVALID_TOKEN,
            "A token in another algorithm is invalid.",
        );
    }
}
// ANCHOR_END: algorithms

#[tokio::test]
async fn a_token_without_a_good_sub_or_exp_is_401() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for (claims, what) in [
        (json!({"iat": NOW, "exp": NOW + TTL}), "no sub"),
        (json!({"sub": "1", "iat": NOW}), "no exp"),
        (
            json!({"sub": "ada", "iat": NOW, "exp": NOW + TTL}),
            "sub \"ada\"",
        ),
        (json!({"sub": "", "iat": NOW, "exp": NOW + TTL}), "sub \"\""),
        (
            json!({"sub": 1, "iat": NOW, "exp": NOW + TTL}),
            "sub the number 1",
        ),
    ] {
        let token = sign(Algorithm::HS256, &claims, KEY);
        let reply = me(&server, &format!("Bearer {token}")).await;
        if reply.status() == 200 {
            reply.fail_with_diagnosis(
                &format!("a token with {what} was accepted: {claims}"),
                "The token was signed with the shop's key, but a token is good only with a \
                 `sub` that is a customer id as a string and an `exp`: require both.",
            );
        }
        assert_unauthorized(&reply, INVALID_TOKEN, "A token with bad claims is invalid.");
    }
}

#[tokio::test]
async fn a_token_of_a_customer_who_no_longer_exists_is_401() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let (_, token) = login(&server, "bob@example.com").await;
    me(&server, &format!("Bearer {token}"))
        .await
        .assert_status(200);

    shop.delete_customer(2);
    let reply = me(&server, &format!("Bearer {token}")).await;
    if reply.status() == 200 || reply.status() == 404 {
        reply.fail_with_diagnosis(
            &format!(
                "a token of a deleted customer was answered {}",
                status_text(reply.status())
            ),
            "Bob was deleted from the database after his token was issued. The token is \
             still well signed and unexpired, but it names nobody: 401 invalid_token, the \
             same as any other token that is no good.",
        );
    }
    assert_unauthorized(&reply, INVALID_TOKEN, "A token for nobody is invalid.");
}
