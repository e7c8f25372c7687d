//! Tests for security/access-control: the shop on a real SQLite file,
//! served on 127.0.0.1, called by a logged-in customer who tries to reach
//! other customers' records.
//!
//! Ada is logged in. She changes the numbers the shop shows her: the
//! customer id in the query string, the body and the `X-Customer-Id`
//! header, the order and customer ids in the path (walked one by one, and
//! spelled as `0`, `-1`, `02`, `+2`, `2 OR 1=1`, the largest integer and
//! one past it). Every attempt must find nothing of Bob's or Cy's, change
//! nothing in the database, and answer another customer's record exactly as
//! it answers one that does not exist. Every request for her own records
//! must still work.
//!
//! Each test pairs legitimate use with attacks, so that a shop that lets
//! everything through passes none of them.

use rusqlite::Connection;
use security_access_control::{
    Address, Shop, add_customer, add_order, app, save_address, start_session,
};
use testkit::tempfile::TempDir;
use testkit::{Call, Reply, TestServer, Value, json, status_text};

/// A session end far in the future.
const NEXT_CENTURY: i64 = 4_102_444_800;

/// An id no order and no customer has.
const MISSING: i64 = 999;

const IDOR_DIAGNOSIS: &str = "The session says who is asking; the request only says what they \
    ask for. Never take the customer from the query string, the body, a header or the path: \
    take it from the `Caller`, and put it into the query itself (`WHERE id = ?1 AND \
    customer_id = ?2`), so that another customer's record is simply not found.";

const LEAK_DIAGNOSIS: &str = "Another customer's record must answer exactly like a record that \
    does not exist: same status (404, not 403), same body. A different answer tells an \
    attacker which ids exist, and whose they are (the existence leak of OWASP's \"IDOR\" \
    cheat sheet).";

/// The shop with three customers and their orders, in ids that interleave
/// the customers (as a real shop's do):
///
/// | order | customer | status  |
/// | ----- | -------- | ------- |
/// | 1     | Ada      | pending |
/// | 2     | Bob      | pending |
/// | 3     | Ada      | paid    |
/// | 4     | Bob      | shipped |
/// | 5     | Cy       | pending |
/// | 6     | Ada      | shipped |
///
/// Each customer has a shipping address; Ada and Bob are logged in.
struct World {
    _folder: TempDir,
    path: std::path::PathBuf,
    server: TestServer,
    ada: i64,
    bob: i64,
    cy: i64,
    ada_session: String,
    bob_session: String,
}

/// The ids of the orders of the table above.
const ADA_ORDERS: [i64; 3] = [1, 3, 6];
const ADA_SHIPPED: i64 = 6;
const BOB_PENDING: i64 = 2;
const BOB_SHIPPED: i64 = 4;
const CY_PENDING: i64 = 5;

fn address(street: &str, city: &str, postcode: &str, country: &str) -> Address {
    Address {
        street: street.to_string(),
        city: city.to_string(),
        postcode: postcode.to_string(),
        country: country.to_string(),
    }
}

impl World {
    async fn new() -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let shop = match Shop::open(&path) {
            Ok(shop) => shop,
            Err(error) => panic!("\nShop::open returned an error: {error}\n"),
        };
        let db = Connection::open(&path).expect("the test could not open the database");
        let ada = add_customer(&db, "ada@example.com", "Ada").expect("Ada is added");
        let bob = add_customer(&db, "bob@example.com", "Bob").expect("Bob is added");
        let cy = add_customer(&db, "cy@example.com", "Cy").expect("Cy is added");
        for (customer, status, total) in [
            (ada, "pending", 2500),
            (bob, "pending", 900),
            (ada, "paid", 1200),
            (bob, "shipped", 4000),
            (cy, "pending", 700),
            (ada, "shipped", 3100),
        ] {
            add_order(&db, customer, status, total).expect("an order is added");
        }
        let addresses = [
            (ada, address("12 Analytical Row", "London", "N1 9GU", "GB")),
            (bob, address("7 Rue des Lilas", "Lyon", "69003", "FR")),
            (cy, address("Hauptstraße 5", "Wien", "1010", "AT")),
        ];
        for (customer, address) in &addresses {
            save_address(&db, *customer, address).expect("an address is saved");
        }
        let ada_session = start_session(&db, ada, NEXT_CENTURY).expect("Ada's session starts");
        let bob_session = start_session(&db, bob, NEXT_CENTURY).expect("Bob's session starts");
        let server = TestServer::spawn(app(shop)).await;
        World {
            _folder: folder,
            path,
            server,
            ada,
            bob,
            cy,
            ada_session,
            bob_session,
        }
    }

    fn db(&self) -> Connection {
        Connection::open(&self.path).expect("the test could not open the database")
    }

    /// A request with Ada's session cookie.
    fn as_ada(&self, method: testkit::Method, path: &str) -> Call {
        self.server
            .request(method, path)
            .header("cookie", &format!("session={}", self.ada_session))
    }

    /// A request with Bob's session cookie.
    fn as_bob(&self, method: testkit::Method, path: &str) -> Call {
        self.server
            .request(method, path)
            .header("cookie", &format!("session={}", self.bob_session))
    }

    /// The status of order `id`, as stored.
    fn order_status(&self, id: i64) -> String {
        self.db()
            .query_row("SELECT status FROM orders WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .expect("the test could not read an order's status")
    }

    /// Every order's status, as stored, by id.
    fn statuses(&self) -> Vec<(i64, String)> {
        let db = self.db();
        let mut statement = db
            .prepare("SELECT id, status FROM orders ORDER BY id")
            .expect("the test could not read the orders");
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("the test could not read the orders");
        rows.collect::<Result<_, _>>()
            .expect("the test could not read the orders")
    }

    /// Every stored address, by customer, as `street, city` text.
    fn addresses(&self) -> Vec<(i64, String)> {
        let db = self.db();
        let mut statement = db
            .prepare(
                "SELECT customer_id, street || ', ' || city FROM addresses ORDER BY customer_id",
            )
            .expect("the test could not read the addresses");
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("the test could not read the addresses");
        rows.collect::<Result<_, _>>()
            .expect("the test could not read the addresses")
    }

    /// The streets of Bob's and Cy's addresses: text no answer to Ada may
    /// contain.
    fn others_streets(&self) -> [&'static str; 2] {
        ["7 Rue des Lilas", "Hauptstraße 5"]
    }
}

/// The ids of the orders in a `GET /orders` answer; fails unless it is a
/// JSON array of orders.
fn order_ids(reply: &Reply) -> Vec<i64> {
    let body = reply.json();
    let Some(orders) = body.as_array() else {
        reply.fail("expected a JSON array of orders, got another JSON value")
    };
    orders
        .iter()
        .map(|order| match order["id"].as_i64() {
            Some(id) => id,
            None => reply.fail("expected every order of the list to have a numeric `id`"),
        })
        .collect()
}

/// `body` with every `id` written in its text values replaced by `{id}`,
/// so that two 404s that quote their own id compare equal.
fn normalised(body: &str, ids: &[&str]) -> String {
    fn walk(value: &mut Value, ids: &[&str]) {
        match value {
            Value::String(text) => {
                for id in ids {
                    *text = text.replace(id, "{id}");
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, ids)),
            Value::Object(fields) => fields.values_mut().for_each(|item| walk(item, ids)),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(body) {
        Ok(mut value) => {
            walk(&mut value, ids);
            value.to_string()
        }
        Err(_) => {
            let mut text = body.to_string();
            for id in ids {
                text = text.replace(id, "{id}");
            }
            text
        }
    }
}

/// Fails unless `reply`, the answer to `attack` on the record `id`, is the
/// same `404 Not Found` as `missing`, the answer for the record `MISSING`
/// that does not exist.
fn assert_not_found_like_missing(reply: &Reply, missing: &Reply, id: &str, attack: &str) {
    if reply.status() == 200 {
        reply.fail_with_diagnosis(
            &format!("{attack} answered 200 OK: Ada got another customer's record"),
            IDOR_DIAGNOSIS,
        );
    }
    if reply.status() != 404 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 404 Not Found for {attack}, got {}",
                status_text(reply.status())
            ),
            LEAK_DIAGNOSIS,
        );
    }
    if missing.status() != 404 {
        missing.fail(&format!(
            "expected 404 Not Found for a record that does not exist, got {}",
            status_text(missing.status())
        ));
    }
    let missing_id = MISSING.to_string();
    let this = normalised(reply.text(), &[id]);
    let other = normalised(missing.text(), &[&missing_id]);
    if this != other || reply.header("content-type") != missing.header("content-type") {
        reply.fail_with_diagnosis(
            &format!(
                "the 404 for {attack} differs from the 404 for a record that does not exist \
                 (id {MISSING})"
            ),
            &format!(
                "  the 404 for id {MISSING}:\n{}{LEAK_DIAGNOSIS}",
                missing.describe()
            ),
        );
    }
}

/// Fails unless `reply`, the answer to `attack`, is `404 Not Found`.
fn assert_404(reply: &Reply, attack: &str) {
    if reply.status() != 404 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 404 Not Found for {attack}, got {}",
                status_text(reply.status())
            ),
            IDOR_DIAGNOSIS,
        );
    }
}

/// Fails if `reply`, the answer to `attack`, shows any of `secrets`.
fn assert_shows_none_of(reply: &Reply, secrets: &[&str], attack: &str) {
    for secret in secrets {
        if reply.text().contains(secret) {
            reply.fail_with_diagnosis(
                &format!("{attack} showed {secret:?}, another customer's data"),
                IDOR_DIAGNOSIS,
            );
        }
    }
}

/// Fails unless the list `reply` answered to `attack` holds Ada's orders,
/// and only hers.
fn assert_adas_orders(reply: &Reply, attack: &str, world: &World) {
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 200 OK with Ada's orders for {attack}, got {}",
                status_text(reply.status())
            ),
            "The list holds the orders of the session's customer whatever the query string \
             says: older clients send their own `customer_id`, and it is ignored, not refused.",
        );
    }
    let ids = order_ids(reply);
    if ids != ADA_ORDERS {
        let others: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !ADA_ORDERS.contains(id))
            .collect();
        if others.is_empty() {
            reply.fail(&format!(
                "{attack} listed the orders {ids:?}, expected Ada's orders {ADA_ORDERS:?}\n\
                 The list is the session's customer's orders, all of them, oldest first."
            ));
        }
        reply.fail_with_diagnosis(
            &format!(
                "{attack} listed the orders {others:?} of other customers (Bob is customer {}, \
                 Cy customer {}), expected only Ada's {ADA_ORDERS:?}",
                world.bob, world.cy
            ),
            IDOR_DIAGNOSIS,
        );
    }
}

// ANCHOR: query_string
#[tokio::test]
async fn the_order_list_holds_the_callers_orders_whatever_the_query_string_says() {
    let world = World::new().await;
    let (ada, bob, cy) = (world.ada, world.bob, world.cy);

    let reply = world.as_ada(testkit::Method::GET, "/orders").send().await;
    assert_adas_orders(&reply, "GET /orders with Ada's session", &world);
    let path = format!("/orders?customer_id={ada}");
    let reply = world.as_ada(testkit::Method::GET, &path).send().await;
    assert_adas_orders(&reply, &format!("GET {path} with Ada's session"), &world);

    // Well-formed ids: ignored, the answer is Ada's list.
    for query in [
        format!("customer_id={bob}"),
        format!("customer_id={cy}"),
        "customer_id=0".to_string(),
        "customer_id=-1".to_string(),
        format!("customer_id=0{bob}"),
        format!("customer_id=%2B{bob}"),
    ] {
        let path = format!("/orders?{query}");
        let reply = world.as_ada(testkit::Method::GET, &path).send().await;
        assert_adas_orders(&reply, &format!("GET {path} with Ada's session"), &world);
    }

    // Parameter pollution and injection: Ada's list, or 400 for a query
    // string that does not parse; never anyone else's orders.
    for query in [
        format!("customer_id={ada}&customer_id={bob}"),
        format!("customer_id={bob}&customer_id={ada}"),
        format!("customer_id={bob}%20OR%201=1"),
        "customer_id=1%27%20OR%20%271%27=%271".to_string(),
        "customer_id=9223372036854775808".to_string(),
    ] {
        let path = format!("/orders?{query}");
        let reply = world.as_ada(testkit::Method::GET, &path).send().await;
        if reply.status() != 400 {
            assert_adas_orders(&reply, &format!("GET {path} with Ada's session"), &world);
        }
    }
}
// ANCHOR_END: query_string

#[tokio::test]
async fn another_customers_order_is_not_found_exactly_like_a_missing_one() {
    let world = World::new().await;

    let reply = world.as_ada(testkit::Method::GET, "/orders/1").send().await;
    reply.assert_status(200);
    let order = reply.json();
    if order["id"] != json!(1) || order["customer_id"] != json!(world.ada) {
        reply.fail(&format!(
            "expected Ada's order 1 (customer {}), got another order",
            world.ada
        ));
    }

    let missing = world
        .as_ada(testkit::Method::GET, &format!("/orders/{MISSING}"))
        .send()
        .await;
    for (id, whose) in [
        (BOB_PENDING, "Bob's pending order"),
        (BOB_SHIPPED, "Bob's shipped order"),
        (CY_PENDING, "Cy's order"),
    ] {
        let path = format!("/orders/{id}");
        let reply = world.as_ada(testkit::Method::GET, &path).send().await;
        assert_not_found_like_missing(
            &reply,
            &missing,
            &id.to_string(),
            &format!("GET {path} ({whose}) with Ada's session"),
        );
    }
}

#[tokio::test]
async fn walking_the_order_ids_finds_only_the_callers_own() {
    let world = World::new().await;
    let missing = world
        .as_ada(testkit::Method::GET, &format!("/orders/{MISSING}"))
        .send()
        .await;

    // The walk an attacker scripts: every id from 0 up, past the last.
    let mut found = Vec::new();
    for id in -1..=8 {
        let path = format!("/orders/{id}");
        let reply = world.as_ada(testkit::Method::GET, &path).send().await;
        if ADA_ORDERS.contains(&id) {
            reply.assert_status(200);
            found.push(id);
            continue;
        }
        assert_not_found_like_missing(
            &reply,
            &missing,
            &id.to_string(),
            &format!("GET {path} with Ada's session (the id walk from -1 to 8)"),
        );
    }
    if found != ADA_ORDERS {
        missing.fail(&format!(
            "the id walk found Ada's orders {found:?}, expected {ADA_ORDERS:?}"
        ));
    }

    // The same ids, spelled so that a check on the text lets them through.
    let spellings = [
        "02".to_string(),
        "0004".to_string(),
        "%2B2".to_string(),
        "+5".to_string(),
        "2%20OR%201=1".to_string(),
        "1%20OR%201=1".to_string(),
        "2.0".to_string(),
        "0x2".to_string(),
        "%202".to_string(),
        i64::MAX.to_string(),
        "9223372036854775808".to_string(),
        "-9223372036854775809".to_string(),
    ];
    for spelling in &spellings {
        let path = format!("/orders/{spelling}");
        let reply = world.as_ada(testkit::Method::GET, &path).send().await;
        let attack = format!("GET {path} with Ada's session");
        if reply.status() == 200 {
            let order = reply.json();
            if order["customer_id"] != json!(world.ada) {
                reply.fail_with_diagnosis(
                    &format!(
                        "{attack} answered 200 OK with order {} of customer {}: Ada got another \
                         customer's order",
                        order["id"], order["customer_id"]
                    ),
                    IDOR_DIAGNOSIS,
                );
            }
            continue;
        }
        if reply.status() != 404 && reply.status() != 400 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 404 Not Found (or 400 Bad Request for an id that is not a \
                     number) for {attack}, got {}",
                    status_text(reply.status())
                ),
                LEAK_DIAGNOSIS,
            );
        }
    }
}

#[tokio::test]
async fn a_customer_cancels_their_own_order_and_nobody_elses() {
    let world = World::new().await;
    let before = world.statuses();

    let missing = world
        .as_ada(testkit::Method::POST, &format!("/orders/{MISSING}/cancel"))
        .json(&json!({ "customer_id": world.ada }))
        .send()
        .await;
    // Each with the body the shop's clients send: the customer's id, here
    // the order's owner's, then Ada's own.
    for (id, owner, whose) in [
        (BOB_PENDING, world.bob, "Bob's pending order"),
        (BOB_PENDING, world.ada, "Bob's pending order"),
        (BOB_SHIPPED, world.bob, "Bob's shipped order"),
        (BOB_SHIPPED, world.ada, "Bob's shipped order"),
        (CY_PENDING, world.cy, "Cy's order"),
    ] {
        let path = format!("/orders/{id}/cancel");
        let body = json!({ "customer_id": owner });
        let reply = world
            .as_ada(testkit::Method::POST, &path)
            .json(&body)
            .send()
            .await;
        let attack = format!("POST {path} ({whose}) with Ada's session and the body {body}");
        let status = world.order_status(id);
        let was = &before[usize::try_from(id - 1).expect("ids start at 1")].1;
        if &status != was {
            reply.fail_with_diagnosis(
                &format!("{attack} changed the order from {was:?} to {status:?}"),
                IDOR_DIAGNOSIS,
            );
        }
        assert_not_found_like_missing(&reply, &missing, &id.to_string(), &attack);
    }

    let body = json!({ "customer_id": world.ada });
    let reply = world
        .as_ada(testkit::Method::POST, "/orders/1/cancel")
        .json(&body)
        .send()
        .await;
    reply.assert_status(200);
    if reply.json()["status"] != json!("cancelled") {
        reply.fail("Ada's own order 1 was not answered as `cancelled`");
    }
    let status = world.order_status(1);
    if status != "cancelled" {
        reply.fail(&format!(
            "Ada cancelled her own order 1, and the database says it is {status:?}, expected \
             \"cancelled\""
        ));
    }
    // Her own shipped order cannot be cancelled: that she may know.
    let path = format!("/orders/{ADA_SHIPPED}/cancel");
    let reply = world
        .as_ada(testkit::Method::POST, &path)
        .json(&body)
        .send()
        .await;
    if reply.status() != 409 || world.order_status(ADA_SHIPPED) != "shipped" {
        reply.fail(&format!(
            "expected 409 Conflict and the order still shipped for POST {path} (Ada's own \
             shipped order), got {} and the order {:?}\nA shipped order is no longer \
             cancelled: the given code answers 409 for the owner, and only for the owner.",
            status_text(reply.status()),
            world.order_status(ADA_SHIPPED)
        ));
    }
    let after = world.statuses();
    let changed: Vec<&(i64, String)> = after.iter().filter(|row| !before.contains(row)).collect();
    if changed.len() != 1 {
        reply.fail(&format!(
            "cancelling Ada's order 1 changed the orders {changed:?}, expected order 1 alone"
        ));
    }
}

#[tokio::test]
async fn the_body_never_names_the_owner_of_an_order() {
    let world = World::new().await;

    // Bob writes Ada's id into the body, on Ada's order.
    let body = json!({ "customer_id": world.ada });
    let reply = world
        .as_bob(testkit::Method::POST, "/orders/1/cancel")
        .json(&body)
        .send()
        .await;
    let status = world.order_status(1);
    if status != "pending" {
        reply.fail_with_diagnosis(
            &format!(
                "Bob cancelled Ada's order 1 by writing her id into the body {body}: it is now \
                 {status:?}"
            ),
            IDOR_DIAGNOSIS,
        );
    }
    if reply.status() != 404 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 404 Not Found for POST /orders/1/cancel (Ada's order) with Bob's \
                 session and the body {body}, got {}",
                status_text(reply.status())
            ),
            LEAK_DIAGNOSIS,
        );
    }

    // Ada cancels her own order; her client got the id in the body wrong.
    let body = json!({ "customer_id": world.bob });
    let reply = world
        .as_ada(testkit::Method::POST, "/orders/3/cancel")
        .json(&body)
        .send()
        .await;
    if reply.status() != 200 || world.order_status(3) != "cancelled" {
        reply.fail_with_diagnosis(
            &format!(
                "expected 200 OK and Ada's order 3 cancelled for POST /orders/3/cancel with \
                 Ada's session and the body {body}, got {} and the order {:?}",
                status_text(reply.status()),
                world.order_status(3)
            ),
            "The body's `customer_id` is ignored: the order is the path's, its owner the \
             session's. A check that compares the body's id with the session and refuses, or \
             uses the body's id in the query, is still trusting the body.",
        );
    }
}

#[tokio::test]
async fn an_address_is_read_only_by_its_customer() {
    let world = World::new().await;

    let path = format!("/customers/{}/address", world.ada);
    let reply = world.as_ada(testkit::Method::GET, &path).send().await;
    reply.assert_status(200).assert_json(&json!({
        "customer_id": world.ada,
        "street": "12 Analytical Row",
        "city": "London",
        "postcode": "N1 9GU",
        "country": "GB",
    }));

    let missing = world
        .as_ada(
            testkit::Method::GET,
            &format!("/customers/{MISSING}/address"),
        )
        .send()
        .await;
    for id in [world.bob, world.cy, 0, -1] {
        let path = format!("/customers/{id}/address");
        let reply = world.as_ada(testkit::Method::GET, &path).send().await;
        let attack = format!("GET {path} with Ada's session");
        assert_shows_none_of(&reply, &world.others_streets(), &attack);
        assert_not_found_like_missing(&reply, &missing, &id.to_string(), &attack);
    }
    for spelling in [
        format!("0{}", world.bob),
        format!("%2B{}", world.bob),
        format!("{}%20OR%201=1", world.bob),
        format!("{}.0", world.cy),
        "9223372036854775808".to_string(),
    ] {
        let path = format!("/customers/{spelling}/address");
        let reply = world.as_ada(testkit::Method::GET, &path).send().await;
        let attack = format!("GET {path} with Ada's session");
        assert_shows_none_of(&reply, &world.others_streets(), &attack);
        if reply.status() != 404 && reply.status() != 400 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 404 Not Found (or 400 Bad Request for an id that is not a \
                     number) for {attack}, got {}",
                    status_text(reply.status())
                ),
                LEAK_DIAGNOSIS,
            );
        }
    }

    // The database fails: a 500 that says nothing of it.
    world
        .db()
        .execute_batch("DROP TABLE addresses")
        .expect("the test could not drop the addresses table");
    let reply = world.as_ada(testkit::Method::GET, &path).send().await;
    let content_type = reply.header("content-type").unwrap_or_default();
    if reply.status() != 500 || !content_type.starts_with("application/problem+json") {
        reply.fail(&format!(
            "expected 500 Internal Server Error as problem details for GET {path} once the \
             addresses table is gone, got {} ({content_type})\nA database error is the given \
             `internal_error(&error)`.",
            status_text(reply.status())
        ));
    }
    if reply.text().contains("addresses") || reply.text().contains("no such table") {
        reply.fail(
            "the 500 quotes the database's error: it tells an attacker how the shop is built",
        );
    }
}

#[tokio::test]
async fn an_address_is_changed_only_by_its_customer() {
    let world = World::new().await;
    let before = world.addresses();
    let mallory = json!({
        "street": "1 Drop Lane",
        "city": "Mallorytown",
        "postcode": "666",
        "country": "XX",
    });

    let missing = world
        .as_ada(
            testkit::Method::PUT,
            &format!("/customers/{MISSING}/address"),
        )
        .json(&mallory)
        .send()
        .await;
    for (id, how) in [
        (world.bob, None),
        (world.cy, None),
        (world.bob, Some("PUT")),
        (world.bob, Some("put")),
    ] {
        let path = format!("/customers/{id}/address");
        let call = match how {
            None => world.as_ada(testkit::Method::PUT, &path),
            Some(method) => world
                .as_ada(testkit::Method::POST, &path)
                .header("x-http-method-override", method),
        };
        let reply = call.json(&mallory).send().await;
        let attack = match how {
            None => format!("PUT {path} with Ada's session"),
            Some(method) => {
                format!("POST {path} with X-HTTP-Method-Override: {method} and Ada's session")
            }
        };
        let after = world.addresses();
        if after != before {
            reply.fail_with_diagnosis(
                &format!(
                    "{attack} changed the stored addresses from {before:?} to {after:?}: Bob's \
                     parcels now go to Mallorytown"
                ),
                IDOR_DIAGNOSIS,
            );
        }
        assert_not_found_like_missing(&reply, &missing, &id.to_string(), &attack);
    }

    // Ada moves, with a PUT and then with the form's overridden POST.
    let path = format!("/customers/{}/address", world.ada);
    for (street, call) in [
        ("3 Engine Yard", world.as_ada(testkit::Method::PUT, &path)),
        (
            "4 Difference Lane",
            world
                .as_ada(testkit::Method::POST, &path)
                .header("x-http-method-override", "PUT"),
        ),
    ] {
        let new = json!({
            "street": street, "city": "London", "postcode": "N1 9GU", "country": "GB",
        });
        let reply = call.json(&new).send().await;
        reply.assert_status(200);
        let stored = world.addresses();
        let ada_now = stored.iter().find(|(customer, _)| *customer == world.ada);
        if ada_now.map(|(_, text)| text.as_str()) != Some(&format!("{street}, London")) {
            reply.fail(&format!(
                "Ada changed her own address to {street:?}, and the database holds {stored:?}"
            ));
        }
    }
}

#[tokio::test]
async fn the_x_customer_id_header_names_nobody() {
    let world = World::new().await;
    let bob = world.bob.to_string();
    let header = |call: Call| call.header("x-customer-id", &bob);

    // What the old mobile app sends: Ada's own id.
    let reply = world
        .as_ada(testkit::Method::GET, "/orders")
        .header("x-customer-id", &world.ada.to_string())
        .send()
        .await;
    assert_adas_orders(&reply, "GET /orders with X-Customer-Id: Ada's id", &world);

    let reply = header(world.as_ada(testkit::Method::GET, "/orders"))
        .send()
        .await;
    assert_adas_orders(
        &reply,
        &format!("GET /orders with Ada's session and X-Customer-Id: {bob}"),
        &world,
    );

    let reply = header(world.as_ada(testkit::Method::GET, "/orders/2"))
        .send()
        .await;
    let missing = header(world.as_ada(testkit::Method::GET, &format!("/orders/{MISSING}")))
        .send()
        .await;
    assert_not_found_like_missing(
        &reply,
        &missing,
        "2",
        &format!("GET /orders/2 (Bob's order) with Ada's session and X-Customer-Id: {bob}"),
    );

    let path = format!("/customers/{bob}/address");
    let reply = header(world.as_ada(testkit::Method::GET, &path))
        .send()
        .await;
    let attack = format!("GET {path} with Ada's session and X-Customer-Id: {bob}");
    assert_shows_none_of(&reply, &world.others_streets(), &attack);
    assert_404(&reply, &attack);

    let body = json!({ "customer_id": world.bob });
    let reply = header(world.as_ada(testkit::Method::POST, "/orders/2/cancel"))
        .json(&body)
        .send()
        .await;
    let status = world.order_status(BOB_PENDING);
    if status != "pending" {
        reply.fail_with_diagnosis(
            &format!(
                "POST /orders/2/cancel with Ada's session and X-Customer-Id: {bob} cancelled \
                 Bob's order"
            ),
            IDOR_DIAGNOSIS,
        );
    }
    assert_404(
        &reply,
        &format!("POST /orders/2/cancel (Bob's order) with Ada's session and X-Customer-Id: {bob}"),
    );

    // No session, or an expired one: the header proves nothing.
    let expired = start_session(&world.db(), world.ada, 1_000_000_000)
        .expect("an expired session of Ada's is stored");
    for (cookie, what) in [
        (None, "no session"),
        (Some(expired), "Ada's session that expired in 2001"),
    ] {
        let mut call = world.server.get("/orders").header("x-customer-id", &bob);
        if let Some(id) = &cookie {
            call = call.header("cookie", &format!("session={id}"));
        }
        let reply = call.send().await;
        if reply.status() != 401 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 401 Unauthorized for GET /orders with X-Customer-Id: {bob} and \
                     {what}, got {}",
                    status_text(reply.status())
                ),
                "Anyone can write any header: only a valid session cookie proves who is \
                 calling (the given `Caller` checks it).",
            );
        }
    }
}
