//! Tests for auth/extractor: a real server on 127.0.0.1 in front of a real
//! SQLite file in a temporary folder, with two customers, Ada (id 1) and
//! Bob (id 2), a session of each, three products and three orders (Ada's
//! order 1 holds product 1; Bob's orders 2 and 3 hold products 2 and 3).
//! Tokens are made here with the shop's key, the way `POST /token` of
//! auth/tokens makes them. The app's clock is the test's: it stands at a
//! fixed moment in 2096 and moves only when a test moves it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use auth_extractor::{
    Clock, Db, Settings, app, create_schema, hash_password, insert_customer, insert_order,
    insert_product, insert_session, issue_token,
};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};

/// The moment the app's clock shows until a test moves it: Unix seconds.
const NOW: u64 = 4_000_000_000;

/// When the two sessions expire.
const SESSION_END: u64 = NOW + 3600;

/// The shop's signing key in these tests.
const KEY: &[u8] = b"the shop's test key: 32+ random bytes in production";

/// Ada's session id.
const ADA_SESSION: &str = "q3Yq1H4kX0cR2sFh7mZb9VtLw8pNe5Ju6Ai1Oy3Gd0K";

/// Bob's session id.
const BOB_SESSION: &str = "Zt8Pm2Xc5Rv0Lb7Nq4Hw1Ks9Fd6Gj3Ye0Ua8Io2Ep5W";

/// The challenge of a request with no credentials.
const NO_CREDENTIALS: &str = r#"Bearer realm="shop""#;

/// The challenge of a request with credentials that are no good.
const INVALID_TOKEN: &str = r#"Bearer realm="shop", error="invalid_token""#;

/// The routes only a customer may call.
const PROTECTED: [&str; 2] = ["/me", "/me/orders"];

/// The shop's database file, in a folder removed when dropped, and the
/// clock the app reads.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
    now: Arc<AtomicU64>,
}

impl Shop {
    fn new() -> Shop {
        static HASH: OnceLock<String> = OnceLock::new();
        let hash = HASH.get_or_init(|| hash_password("correct horse battery staple"));
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let mut db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        insert_customer(&db, "ada@example.com", "Ada", hash, "customer")
            .expect("the test could not store Ada");
        insert_customer(&db, "bob@example.com", "Bob", hash, "admin")
            .expect("the test could not store Bob");
        insert_session(&db, ADA_SESSION, 1, SESSION_END).expect("Ada's session");
        insert_session(&db, BOB_SESSION, 2, SESSION_END).expect("Bob's session");
        insert_product(&db, "MUG-RED", "Red mug", 1250, 12).expect("a product");
        insert_product(&db, "TEE-BLUE", "Blue tee", 1900, 5).expect("a product");
        insert_product(&db, "CAP-GREEN", "Green cap", 1500, 0).expect("a product");
        insert_order(&mut db, 1, &[(1, 2)]).expect("Ada's order");
        insert_order(&mut db, 2, &[(2, 1)]).expect("Bob's first order");
        insert_order(&mut db, 2, &[(3, 1)]).expect("Bob's second order");
        Shop {
            _folder: folder,
            path,
            now: Arc::new(AtomicU64::new(NOW)),
        }
    }

    /// The app under test.
    async fn serve(&self) -> TestServer {
        let now = Arc::clone(&self.now);
        let clock = Clock::new(move || now.load(Ordering::SeqCst));
        let settings = Settings {
            signing_key: KEY.to_vec(),
        };
        TestServer::spawn(app(Db::open(&self.path), settings, clock)).await
    }

    /// Sets the app's clock.
    fn set_now(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Removes a customer from the database, with their orders (their
    /// sessions go with them: `ON DELETE CASCADE`).
    fn delete_customer(&self, id: i64) {
        let db = Connection::open(&self.path).expect("the test could not open its database");
        db.execute(
            "DELETE FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE customer_id = ?1)",
            [id],
        )
        .expect("the test could not delete the customer's order items");
        db.execute("DELETE FROM orders WHERE customer_id = ?1", [id])
            .expect("the test could not delete the customer's orders");
        db.execute("DELETE FROM customers WHERE id = ?1", [id])
            .expect("the test could not delete the customer");
    }
}

/// `Authorization: Bearer <token>` for customer `id`, issued now, good for
/// 15 minutes.
fn bearer(id: i64) -> String {
    let settings = Settings {
        signing_key: KEY.to_vec(),
    };
    format!("Bearer {}", issue_token(&settings, id, NOW, 900))
}

/// `Cookie: session=<id>`.
fn cookie(session: &str) -> String {
    format!("session={session}")
}

/// Ada as `GET /me` answers her.
fn ada() -> Value {
    json!({"id": 1, "email": "ada@example.com", "name": "Ada", "role": "customer"})
}

/// Bob as `GET /me` answers him.
fn bob() -> Value {
    json!({"id": 2, "email": "bob@example.com", "name": "Bob", "role": "admin"})
}

/// `GET path` with these headers.
async fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut call = server.get(path);
    for (name, value) in headers {
        call = call.header(name, value);
    }
    call.send().await
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
            "No credentials at all is AuthError::Missing, answered with `Bearer \
             realm=\"shop\"`; credentials that are no good (a bad token, an unknown or expired \
             session) are AuthError::Invalid, answered with `Bearer realm=\"shop\", \
             error=\"invalid_token\"`.",
        ),
        None => reply.fail_with_diagnosis(
            &format!("expected header `www-authenticate: {challenge}`, but the response has none"),
            "A 401 must say how to authenticate (RFC 9110, section 11.6.1): AuthError's \
             `into_response` sets the `WWW-Authenticate` header on every 401 it makes.",
        ),
    }
    reply.assert_content_type("application/problem+json");
    if reply.json()["status"] != json!(401) {
        reply.fail("expected the problem details body to say \"status\": 401");
    }
}

/// The ids of the orders in a `GET /me/orders` reply, after checking each
/// is `customer`'s.
#[track_caller]
fn order_ids(reply: &Reply, customer: i64) -> Vec<i64> {
    let body = reply.json();
    let Some(orders) = body.as_array() else {
        reply.fail("expected a JSON array of orders");
    };
    let mut ids = Vec::new();
    for order in orders {
        if order["customer_id"] != json!(customer) {
            reply.fail_with_diagnosis(
                &format!("customer {customer} was answered another customer's order"),
                "`GET /me/orders` lists the caller's orders only: the customer id comes from \
                 the CurrentCustomer the extractor gives the handler, nowhere else.",
            );
        }
        ids.push(order["id"].as_i64().unwrap_or_default());
    }
    ids
}

// ANCHOR: who
#[tokio::test]
async fn me_is_the_customer_the_session_cookie_or_the_bearer_token_names() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for (headers, expected, who) in [
        (
            ("cookie", cookie(ADA_SESSION)),
            ada(),
            "Ada's session cookie",
        ),
        (
            ("cookie", cookie(BOB_SESSION)),
            bob(),
            "Bob's session cookie",
        ),
        (("authorization", bearer(1)), ada(), "Ada's bearer token"),
        (("authorization", bearer(2)), bob(), "Bob's bearer token"),
    ] {
        let reply = get(&server, "/me", &[(headers.0, &headers.1)]).await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 200 OK with {who}, got {}",
                    status_text(reply.status())
                ),
                "A request with a good session cookie or a good bearer token is the customer's: \
                 the extractor reads one or the other.",
            );
        }
        reply
            .assert_content_type("application/json")
            .assert_json(&expected);
    }
}
// ANCHOR_END: who

#[tokio::test]
async fn each_customer_sees_only_their_own_orders() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for (credential, customer, expected) in [
        (("cookie", cookie(ADA_SESSION)), 1, vec![1]),
        (("authorization", bearer(1)), 1, vec![1]),
        (("cookie", cookie(BOB_SESSION)), 2, vec![2, 3]),
        (("authorization", bearer(2)), 2, vec![2, 3]),
    ] {
        let reply = get(&server, "/me/orders", &[(credential.0, &credential.1)]).await;
        reply
            .assert_status(200)
            .assert_content_type("application/json");
        let ids = order_ids(&reply, customer);
        if ids != expected {
            reply.fail(&format!(
                "expected customer {customer}'s orders {expected:?}, got the orders {ids:?}"
            ));
        }
    }
    let reply = get(&server, "/me/orders", &[("cookie", &cookie(ADA_SESSION))]).await;
    let first = &reply.json()[0];
    if first["items"] != json!([{"product_id": 1, "quantity": 2, "price_cents": 1250}])
        || first["total_cents"] != json!(2500)
        || first["status"] != json!("pending")
    {
        reply.fail("expected Ada's order with its item (2 red mugs at 1250) and total 2500");
    }
}

// ANCHOR: missing
#[tokio::test]
async fn every_protected_route_without_credentials_is_401_with_the_challenge() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for path in PROTECTED {
        for headers in [
            vec![],
            vec![("x-customer-id", "1")],
            vec![("authorization", "Basic YWRhQGV4YW1wbGUuY29tOnNlY3JldA==")],
            vec![("cookie", "theme=dark")],
        ] {
            let reply = get(&server, path, &headers).await;
            if reply.status() == 403 {
                reply.fail_with_diagnosis(
                    "expected status 401 Unauthorized, got 403 Forbidden",
                    "401 says \"I do not know who you are: authenticate\"; 403 says \"I know \
                     who you are, and you may not\" (RFC 9110, sections 15.5.2 and 15.5.4). A \
                     request with no credentials is a 401.",
                );
            }
            assert_unauthorized(
                &reply,
                NO_CREDENTIALS,
                "A request with no bearer token and no session cookie names nobody: 401, with \
                 the challenge and no error code. An `X-Customer-Id` header is no credential: \
                 anybody can send one.",
            );
        }
    }
}
// ANCHOR_END: missing

#[tokio::test]
async fn an_unknown_session_cookie_is_401_invalid_token() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let longer = format!("{ADA_SESSION}x");
    let shorter = &ADA_SESSION[..ADA_SESSION.len() - 1];

    for path in PROTECTED {
        for session in ["garbage", "", &longer, shorter, "1", "' OR '1'='1"] {
            let value = cookie(session);
            let reply = get(&server, path, &[("cookie", &value)]).await;
            assert_unauthorized(
                &reply,
                INVALID_TOKEN,
                "A session cookie that names no session is a credential that is no good: 401 \
                 with error=\"invalid_token\", not a request without credentials.",
            );
        }
    }
}

// ANCHOR: expired
#[tokio::test]
async fn a_session_is_good_until_the_second_before_it_expires() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let value = cookie(ADA_SESSION);

    for path in PROTECTED {
        shop.set_now(SESSION_END - 1);
        let reply = get(&server, path, &[("cookie", &value)]).await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 200 OK one second before the session expires, got {}",
                    status_text(reply.status())
                ),
                &format!(
                    "Ada's session expires at {SESSION_END}; the app's clock says {}.",
                    SESSION_END - 1
                ),
            );
        }
        for now in [SESSION_END, SESSION_END + 1, SESSION_END + 86_400] {
            shop.set_now(now);
            let reply = get(&server, path, &[("cookie", &value)]).await;
            if reply.status() == 200 {
                reply.fail_with_diagnosis(
                    &format!(
                        "an expired session was accepted: it expires at {SESSION_END}, the \
                         clock says {now}"
                    ),
                    "A session is good while the app's clock is before its expires_at: \
                     `customer_for_session` gives the expiry, the extractor compares it with \
                     `state.clock.now()`.",
                );
            }
            assert_unauthorized(&reply, INVALID_TOKEN, "An expired session is no good.");
        }
    }
}
// ANCHOR_END: expired

#[tokio::test]
async fn a_bad_bearer_token_is_401_invalid_token() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let other = Settings {
        signing_key: b"somebody else's key, just as long and just as secret".to_vec(),
    };
    let foreign = format!("Bearer {}", issue_token(&other, 1, NOW, 900));
    let expired = format!(
        "Bearer {}",
        issue_token(
            &Settings {
                signing_key: KEY.to_vec()
            },
            1,
            NOW - 900,
            900
        )
    );

    for path in PROTECTED {
        for (authorization, what) in [
            ("Bearer not-a-token", "a token that is no JWT"),
            ("Bearer", "no token after the scheme"),
            (foreign.as_str(), "a token signed with another key"),
            (expired.as_str(), "a token that expired at the clock's now"),
        ] {
            let reply = get(&server, path, &[("authorization", authorization)]).await;
            if reply.status() == 200 {
                reply.fail_with_diagnosis(
                    &format!("{what} was accepted"),
                    "A bearer token counts only if `verify_token` accepts it at the app's \
                     clock's now.",
                );
            }
            assert_unauthorized(&reply, INVALID_TOKEN, "A bad bearer token is no good.");
        }
    }
}

#[tokio::test]
async fn credentials_of_a_deleted_customer_are_401_invalid_token() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let token = bearer(2);
    get(&server, "/me", &[("authorization", &token)])
        .await
        .assert_status(200);

    shop.delete_customer(2);
    for path in PROTECTED {
        for (name, value) in [
            ("authorization", token.clone()),
            ("cookie", cookie(BOB_SESSION)),
        ] {
            let reply = get(&server, path, &[(name, &value)]).await;
            if reply.status() == 200 || reply.status() == 404 {
                reply.fail_with_diagnosis(
                    &format!(
                        "the {name} of a deleted customer was answered {}",
                        status_text(reply.status())
                    ),
                    "Bob was deleted after his token and session were made: they name nobody \
                     now, and credentials that name nobody are no good (401 invalid_token).",
                );
            }
            assert_unauthorized(&reply, INVALID_TOKEN, "Credentials for nobody are no good.");
        }
    }
}

// ANCHOR: precedence
#[tokio::test]
async fn a_bearer_token_decides_alone_when_there_is_one() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let ada_cookie = cookie(ADA_SESSION);
    let bob_token = bearer(2);

    let reply = get(
        &server,
        "/me",
        &[("authorization", &bob_token), ("cookie", &ada_cookie)],
    )
    .await;
    if reply.status() != 200 || reply.json() != bob() {
        reply.fail_with_diagnosis(
            "expected Bob, whose bearer token the request carries beside Ada's cookie",
            "With both, the Authorization header decides: read it first.",
        );
    }

    let reply = get(
        &server,
        "/me",
        &[
            ("authorization", "Bearer not-a-token"),
            ("cookie", &ada_cookie),
        ],
    )
    .await;
    if reply.status() == 200 {
        reply.fail_with_diagnosis(
            "a bad bearer token beside a good session cookie was accepted",
            "A bearer token decides alone: when it is bad the request is refused, whatever \
             else it carries. Falling back to the cookie lets a client that sent a bad token \
             act as whoever the cookie names.",
        );
    }
    assert_unauthorized(&reply, INVALID_TOKEN, "A bad bearer token is no good.");

    let reply = get(
        &server,
        "/me",
        &[
            ("authorization", "Basic Ym9iQGV4YW1wbGUuY29tOnNlY3JldA=="),
            ("cookie", &ada_cookie),
            ("x-customer-id", "2"),
        ],
    )
    .await;
    if reply.status() != 200 || reply.json() != ada() {
        reply.fail_with_diagnosis(
            "expected Ada, whose session cookie the request carries beside a Basic header",
            "An Authorization header with another scheme than Bearer is not this API's: it is \
             ignored, and the session cookie decides. `X-Customer-Id` is no credential.",
        );
    }
}
// ANCHOR_END: precedence

// ANCHOR: optional
#[tokio::test]
async fn products_are_anonymous_without_credentials_and_personal_with_them() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let product = |id: i64, sku: &str, name: &str, price: i64, stock: i64| json!({"id": id, "sku": sku, "name": name, "price_cents": price, "stock": stock});
    let anonymous = json!([
        product(1, "MUG-RED", "Red mug", 1250, 12),
        product(2, "TEE-BLUE", "Blue tee", 1900, 5),
        product(3, "CAP-GREEN", "Green cap", 1500, 0),
    ]);
    let personal = |ordered: [bool; 3]| {
        let mut list = anonymous.clone();
        for (product, ordered) in list.as_array_mut().into_iter().flatten().zip(ordered) {
            product["ordered_before"] = json!(ordered);
        }
        list
    };

    for headers in [vec![], vec![("x-customer-id", "1")]] {
        let reply = get(&server, "/products", &headers).await;
        reply
            .assert_status(200)
            .assert_content_type("application/json")
            .assert_json(&anonymous);
    }
    let ada_cookie = cookie(ADA_SESSION);
    let reply = get(&server, "/products", &[("cookie", &ada_cookie)]).await;
    reply
        .assert_status(200)
        .assert_json(&personal([true, false, false]));
    let bob_token = bearer(2);
    let reply = get(&server, "/products", &[("authorization", &bob_token)]).await;
    reply
        .assert_status(200)
        .assert_json(&personal([false, true, true]));
}
// ANCHOR_END: optional

#[tokio::test]
async fn products_refuse_bad_credentials_instead_of_serving_them_anonymously() {
    let shop = Shop::new();
    let server = shop.serve().await;
    let ada_cookie = cookie(ADA_SESSION);

    shop.set_now(SESSION_END);
    for (name, value, what) in [
        ("cookie", ada_cookie.as_str(), "an expired session cookie"),
        ("cookie", "session=garbage", "an unknown session cookie"),
        ("authorization", "Bearer not-a-token", "a bad bearer token"),
    ] {
        let reply = get(&server, "/products", &[(name, value)]).await;
        if reply.status() == 200 {
            reply.fail_with_diagnosis(
                &format!("{what} was served as an anonymous request"),
                "`Option<CurrentCustomer>` is None only when there are no credentials at all. \
                 Bad credentials are refused: a customer whose session has expired must learn \
                 it (and log in again), not silently get the anonymous page. In axum 0.8 that \
                 is what `OptionalFromRequestParts` decides; `.ok()` on the extractor's result \
                 turns every refusal into None.",
            );
        }
        assert_unauthorized(
            &reply,
            INVALID_TOKEN,
            "Bad credentials are no good here either.",
        );
    }
}
