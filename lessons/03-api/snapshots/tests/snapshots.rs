//! Tests for api/snapshots: a real server on 127.0.0.1 in front of an
//! in-memory SQLite database, whose whole JSON responses are compared with
//! the snapshots committed in `tests/snapshots/`.
//!
//! The snapshots are the specification: the reference solution made them,
//! and a correct solution matches them as they are. Never update them to
//! make a test pass (the book's section says how to read their diffs).
//! Snapshots hide what changes from run to run (ids, the time an order was
//! placed) behind redactions such as `[id]`; the tests that follow each
//! snapshot check those hidden values one by one, so a redaction never
//! hides a wrong value.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use api_snapshots::{Db, add_customer, add_product, app, create_schema, place_order};
use insta::internals::{Content, ContentPath};
use rusqlite::Connection;
use serde_json::Value;
use testkit::{Reply, TestServer, status_text};

/// A new, empty shop database with its schema.
fn new_db() -> Db {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    Arc::new(Mutex::new(db))
}

/// Runs `sql` on the test's side of the database.
fn execute(db: &Db, sql: &str, values: impl rusqlite::Params) {
    let db = db.lock().expect("the database's lock is free in the test");
    db.execute(sql, values)
        .unwrap_or_else(|error| panic!("the test could not run `{sql}`: {error}"));
}

/// Reads one text value from the database, on the test's side.
fn read_text(db: &Db, sql: &str, id: i64) -> String {
    let db = db.lock().expect("the database's lock is free in the test");
    db.query_row(sql, [id], |row| row.get(0))
        .unwrap_or_else(|error| panic!("the test could not run `{sql}`: {error}"))
}

/// The ids of what [`shop_with_an_order`] stored.
struct Stored {
    customer: i64,
    /// By SKU: `CUP-ESP`, `MUG-RED`, `TEA-POT`.
    cup: i64,
    mug: i64,
    teapot: i64,
    order: i64,
}

/// A shop with one paid order of three products, placed by Zoë Ångström:
///
/// - 4 × `CUP-ESP` "Tasse à café" at 7.90
/// - 2 × `MUG-RED` "Red mug" at 12.50 (today 14.00: its price went up after
///   the order was placed)
/// - 1 × `TEA-POT` "Teapot, 1 l" at 34.90
///
/// 91.50 in all, 86.50 to pay with a discount of 5.00. The products were
/// added, and ordered, in an order that is not the order of their SKUs, nor
/// of their ids, nor of their names.
fn shop_with_an_order() -> (Db, Stored) {
    let db = new_db();
    let stored = {
        let mut conn = db.lock().expect("the database's lock is free in the test");
        let customer = add_customer(&conn, "zoe@example.com", "Zoë Ångström").unwrap();
        let mug = add_product(&conn, "MUG-RED", "Red mug", 1250, 40).unwrap();
        let teapot = add_product(&conn, "TEA-POT", "Teapot, 1 l", 3490, 5).unwrap();
        let cup = add_product(&conn, "CUP-ESP", "Tasse à café", 790, 100).unwrap();
        let _unordered = add_product(&conn, "MUG-BLUE", "Blue mug", 1250, 40).unwrap();
        let lines = [(teapot, 1), (cup, 4), (mug, 2)];
        let order = place_order(&mut conn, customer, &lines, 500).unwrap();
        Stored {
            customer,
            cup,
            mug,
            teapot,
            order,
        }
    };
    execute(
        &db,
        "UPDATE products SET price_cents = 1400 WHERE id = ?1",
        [stored.mug],
    );
    execute(
        &db,
        "UPDATE orders SET status = 'paid' WHERE id = ?1",
        [stored.order],
    );
    (db, stored)
}

/// Where the committed snapshots are: `tests/snapshots/` beside this file.
/// The lesson's crate and the solution's both sit three folders below the
/// workspace's root, and both find the lesson's files.
fn snapshot_folder() -> PathBuf {
    let folder = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../lessons/03-api/snapshots/tests/snapshots"
    ));
    folder.canonicalize().unwrap_or(folder)
}

/// An RFC 3339 UTC time as SQLite's `strftime('%Y-%m-%dT%H:%M:%SZ')` writes
/// it: `2026-11-30T09:15:00Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    bytes.len() == 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[19] == b'Z'
}

// ANCHOR: redactions
/// What a redaction stands in for: a value that changes from run to run.
#[derive(Clone, Copy)]
enum Redact {
    /// An id: an integer becomes `[id]`.
    Id,
    /// A time: an RFC 3339 UTC time becomes `[timestamp]`.
    Timestamp,
}

impl Redact {
    /// What `value` becomes in the snapshot. A value of the wrong shape (an
    /// id that is a string, a time in another format) stays as it is, so
    /// that the diff shows it: a redaction must not hide a wrong value.
    fn redact(self, value: Content) -> Content {
        let marker = match self {
            Redact::Id => value.as_i64().map(|_| "[id]"),
            Redact::Timestamp => value
                .as_str()
                .filter(|text| is_rfc3339_utc(text))
                .map(|_| "[timestamp]"),
        };
        marker.map_or(value, Content::from)
    }
}
// ANCHOR_END: redactions

/// What a snapshot redacts: `(selector, what)`, in insta's selector syntax
/// (`.items[].product_id`: the `product_id` of every item).
type Redactions = &'static [(&'static str, Redact)];

// ANCHOR: assert_snapshot
/// Fails unless the reply's JSON body matches the committed snapshot
/// `tests/snapshots/{name}.snap`, after `redactions`. Objects compare
/// whatever the order of their keys; arrays compare in order. `about` says
/// in the snapshot's file what it shows; `request` is the request sent.
#[track_caller]
fn assert_matches_snapshot(
    reply: &Reply,
    request: &str,
    name: &str,
    about: &str,
    redactions: Redactions,
) {
    let body = reply.json();
    let mut settings = insta::Settings::clone_current();
    settings.set_description(about);
    settings.set_snapshot_path(snapshot_folder());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_sort_maps(true);
    settings.set_omit_expression(true);
    for &(selector, what) in redactions {
        settings.add_dynamic_redaction(selector, move |value: Content, _: ContentPath<'_>| {
            what.redact(value)
        });
    }
    let compared = catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_json_snapshot!(name, body));
    }));
    if compared.is_err() {
        let diff = snapshot_diff(name, &body, redactions);
        panic!(
            "\nthe JSON body differs from the snapshot `{name}`\n  request:  {request}\n  \
             response: {}, whose body differs from tests/snapshots/{name}.snap here\n  \
             (lines with - are the snapshot, expected; lines with + are your answer):\n\n\
             {diff}\n\
             Change your code until the two agree. Do not update the snapshot, whatever \
             insta's advice says: it is the specification, made by the reference solution, \
             and the checker compares your code with it as it was shipped. [id] and \
             [timestamp] stand for ids and times (other tests check them); a value shown \
             instead of them has the wrong shape.\n",
            status_text(reply.status())
        );
    }
}
// ANCHOR_END: assert_snapshot

/// The lines that differ between the snapshot `name` and `body` (redacted
/// and with its keys sorted, as insta compares it), with two lines of
/// context around each change.
fn snapshot_diff(name: &str, body: &Value, redactions: Redactions) -> String {
    let path = snapshot_folder().join(format!("{name}.snap"));
    let file = std::fs::read_to_string(&path).unwrap_or_default();
    // The file is a header between two `---` lines, then the snapshot.
    let expected = file.splitn(3, "---\n").nth(2).unwrap_or_default();
    let mut actual = body.clone();
    for &(selector, what) in redactions {
        let segments: Vec<&str> = selector.split('.').skip(1).collect();
        redact_json(&mut actual, &segments, what);
    }
    let actual = serde_json::to_string_pretty(&sorted(actual)).unwrap_or_default();
    line_diff(expected.trim_end(), &actual)
}

/// `value` redacted at the path `segments` (`name` or `name[]`) as insta's
/// redaction does it.
fn redact_json(value: &mut Value, segments: &[&str], what: Redact) {
    let Some((segment, rest)) = segments.split_first() else {
        let redacted = what.redact(match &*value {
            Value::Number(number) => match number.as_i64() {
                Some(integer) => Content::from(integer),
                None => return,
            },
            Value::String(text) => Content::from(text.as_str()),
            _ => return,
        });
        if let Some(marker) = redacted.as_str() {
            *value = Value::from(marker);
        }
        return;
    };
    let (key, every) = match segment.strip_suffix("[]") {
        Some(key) => (key, true),
        None => (*segment, false),
    };
    let Some(inner) = value.get_mut(key) else {
        return;
    };
    match inner {
        Value::Array(items) if every => {
            for item in items {
                redact_json(item, rest, what);
            }
        }
        _ if !every => redact_json(inner, rest, what),
        _ => {}
    }
}

/// `value` with the keys of every object in sorted order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A line diff of `expected` and `actual`: changed lines marked `-`
/// (expected) and `+` (actual), with two lines of context.
fn line_diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    // The longest common subsequence, from the ends.
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut lines: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            lines.push((' ', old[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < new.len() && (i == old.len() || common[i][j + 1] >= common[i + 1][j]) {
            lines.push(('+', new[j]));
            j += 1;
        } else {
            lines.push(('-', old[i]));
            i += 1;
        }
    }
    let near_a_change = |at: usize| {
        let from = at.saturating_sub(2);
        let to = (at + 3).min(lines.len());
        lines[from..to].iter().any(|(mark, _)| *mark != ' ')
    };
    let mut text = String::new();
    let mut skipped = false;
    for (at, (mark, line)) in lines.iter().enumerate() {
        if near_a_change(at) {
            if skipped {
                text.push_str("      ...\n");
                skipped = false;
            }
            text.push_str(&format!("    {mark} {line}\n"));
        } else {
            skipped = true;
        }
    }
    text
}

/// The redactions of an order's snapshot.
const ORDER: Redactions = &[
    (".id", Redact::Id),
    (".customer.id", Redact::Id),
    (".items[].product_id", Redact::Id),
    (".created_at", Redact::Timestamp),
];

// ANCHOR: order_snapshot
#[tokio::test]
async fn an_order_answers_with_its_customer_items_and_totals() {
    let (db, stored) = shop_with_an_order();
    let server = TestServer::spawn(app(db)).await;

    let reply = server
        .get(&format!("/orders/{}", stored.order))
        .send()
        .await;

    reply
        .assert_status(200)
        .assert_content_type("application/json");
    assert_matches_snapshot(
        &reply,
        &format!("GET /orders/{}", stored.order),
        "order",
        "GET /orders/{id}: a paid order of three products, with a discount",
        ORDER,
    );
}
// ANCHOR_END: order_snapshot

/// Fails unless `value` is the integer `expected`.
#[track_caller]
fn assert_id(reply: &Reply, field: &str, value: &serde_json::Value, expected: i64, what: &str) {
    if value.as_i64() != Some(expected) {
        reply.fail_with_diagnosis(
            &format!("expected `{field}` to be {expected}, got {value}"),
            &format!(
                "{what} The snapshot shows every id as [id]: only this test checks the ids \
                 themselves, which must be the database's ids, as JSON integers."
            ),
        );
    }
}

#[tokio::test]
async fn the_ids_in_an_order_are_those_of_the_order_its_customer_and_its_products() {
    let (db, stored) = shop_with_an_order();
    let server = TestServer::spawn(app(db)).await;

    let reply = server
        .get(&format!("/orders/{}", stored.order))
        .send()
        .await;

    reply.assert_status(200);
    let body = reply.json();
    let order_is = format!("The order's id is {}.", stored.order);
    assert_id(&reply, "id", &body["id"], stored.order, &order_is);
    let customer_is = format!("Zoë Ångström's id is {}.", stored.customer);
    let customer_id = &body["customer"]["id"];
    assert_id(
        &reply,
        "customer.id",
        customer_id,
        stored.customer,
        &customer_is,
    );
    let Some(items) = body["items"].as_array() else {
        reply.fail("expected `items` to be an array of the order's lines");
    };
    let expected = [
        ("CUP-ESP", stored.cup),
        ("MUG-RED", stored.mug),
        ("TEA-POT", stored.teapot),
    ];
    if items.len() != expected.len() {
        reply.fail(&format!("expected 3 lines in `items`, got {}", items.len()));
    }
    for (index, (item, (sku, product))) in items.iter().zip(expected).enumerate() {
        let field = format!("items[{index}].product_id");
        let what = format!(
            "Line {index} is the line of {sku}, product {product}: `product_id` refers to the \
             product ordered (not the line's position, nor the order's id)."
        );
        assert_id(&reply, &field, &item["product_id"], product, &what);
    }
}

#[tokio::test]
async fn an_orders_created_at_is_the_time_stored_with_it_in_rfc_3339() {
    let (db, stored) = shop_with_an_order();
    let placed_at = "2026-11-30T09:15:00Z";
    execute(
        &db,
        "UPDATE orders SET created_at = ?1 WHERE id = ?2",
        rusqlite::params![placed_at, stored.order],
    );
    let server = TestServer::spawn(app(db.clone())).await;

    let reply = server
        .get(&format!("/orders/{}", stored.order))
        .send()
        .await;

    reply.assert_status(200);
    let created_at = &reply.json()["created_at"];
    if created_at.as_str() != Some(placed_at) {
        reply.fail_with_diagnosis(
            &format!("expected `created_at` to be \"{placed_at}\", got {created_at}"),
            "The order's `created_at` column holds \"2026-11-30T09:15:00Z\": answer it as it \
             is stored, an RFC 3339 time in UTC. The snapshot shows a time of this shape as \
             [timestamp]; this test checks the time itself.",
        );
    }
    // The order's other times stay out of it: the product's, say.
    let stored_at = read_text(
        &db,
        "SELECT created_at FROM orders WHERE id = ?1",
        stored.order,
    );
    assert!(
        stored_at == placed_at,
        "\nthe order's created_at in the database changed to {stored_at:?}, expected \
         {placed_at:?}\nA GET must not change what it reads.\n"
    );
}

/// The redactions of a problem's snapshot: none, all of it is fixed.
const PROBLEM: Redactions = &[];

#[tokio::test]
async fn an_unknown_order_is_a_404_problem() {
    let (db, _) = shop_with_an_order();
    let server = TestServer::spawn(app(db)).await;

    let reply = server.get("/orders/999").send().await;

    reply
        .assert_status(404)
        .assert_content_type("application/problem+json");
    assert_matches_snapshot(
        &reply,
        "GET /orders/999",
        "unknown_order",
        "GET /orders/999: no such order",
        PROBLEM,
    );
}

/// The ids of what [`shop_with_customers`] stored.
struct Customers {
    ada: i64,
    grace: i64,
    /// Ada's orders, newest first.
    adas_orders: [i64; 4],
}

/// A shop with two customers. Ada Lovelace placed four orders; Grace Hopper
/// one, which is not in Ada's list. Ada's orders were placed at these times
/// (the test sets them), newest first:
///
/// | order | placed at              | status      | lines             | total  |
/// | ----- | ---------------------- | ----------- | ----------------- | ------ |
/// | 4th   | `2026-11-30T09:15:00Z` | `pending`   | 1 mug             | 12.50  |
/// | 2nd   | `2026-11-30T09:15:00Z` | `shipped`   | 3 mugs, 2 pots    | 107.30 |
/// | 3rd   | `2026-11-29T18:30:00Z` | `cancelled` | 1 pot             | 34.90  |
/// | 1st   | `2026-11-28T10:00:00Z` | `paid`      | 2 mugs, 1 pot     | 54.90  |
///
/// The 2nd and 4th were placed in the same second: the newer id comes first.
/// The 1st had a discount of 5.00.
fn shop_with_customers() -> (Db, Customers) {
    let db = new_db();
    let customers = {
        let mut conn = db.lock().expect("the database's lock is free in the test");
        let ada = add_customer(&conn, "ada@example.com", "Ada Lovelace").unwrap();
        let grace = add_customer(&conn, "grace@example.com", "Grace Hopper").unwrap();
        let mug = add_product(&conn, "MUG-RED", "Red mug", 1250, 40).unwrap();
        let teapot = add_product(&conn, "TEA-POT", "Teapot, 1 l", 3490, 20).unwrap();
        let first = place_order(&mut conn, ada, &[(mug, 2), (teapot, 1)], 500).unwrap();
        let second = place_order(&mut conn, ada, &[(mug, 3), (teapot, 2)], 0).unwrap();
        let _graces = place_order(&mut conn, grace, &[(teapot, 1)], 0).unwrap();
        let third = place_order(&mut conn, ada, &[(teapot, 1)], 0).unwrap();
        let fourth = place_order(&mut conn, ada, &[(mug, 1)], 0).unwrap();
        Customers {
            ada,
            grace,
            adas_orders: [fourth, second, third, first],
        }
    };
    let [fourth, second, third, first] = customers.adas_orders;
    for (order, placed_at, status) in [
        (first, "2026-11-28T10:00:00Z", "paid"),
        (second, "2026-11-30T09:15:00Z", "shipped"),
        (third, "2026-11-29T18:30:00Z", "cancelled"),
        (fourth, "2026-11-30T09:15:00Z", "pending"),
    ] {
        execute(
            &db,
            "UPDATE orders SET created_at = ?2, status = ?3 WHERE id = ?1",
            rusqlite::params![order, placed_at, status],
        );
    }
    (db, customers)
}

/// The redactions of a list's snapshot. The times stay: the test set them.
const LIST: Redactions = &[(".customer.id", Redact::Id), (".orders[].id", Redact::Id)];

#[tokio::test]
async fn a_customers_orders_come_newest_first_with_their_item_counts() {
    let (db, customers) = shop_with_customers();
    let server = TestServer::spawn(app(db)).await;

    let reply = server
        .get(&format!("/customers/{}/orders", customers.ada))
        .send()
        .await;

    reply
        .assert_status(200)
        .assert_content_type("application/json");
    assert_matches_snapshot(
        &reply,
        &format!("GET /customers/{}/orders", customers.ada),
        "customer_orders",
        "GET /customers/{id}/orders: Ada's four orders, newest first",
        LIST,
    );
}

#[tokio::test]
async fn the_ids_in_a_customers_list_are_those_of_the_customer_and_their_orders() {
    let (db, customers) = shop_with_customers();
    let server = TestServer::spawn(app(db)).await;

    let reply = server
        .get(&format!("/customers/{}/orders", customers.ada))
        .send()
        .await;

    reply.assert_status(200);
    let body = reply.json();
    let customer_is = format!("Ada Lovelace's id is {}.", customers.ada);
    let customer_id = &body["customer"]["id"];
    assert_id(
        &reply,
        "customer.id",
        customer_id,
        customers.ada,
        &customer_is,
    );
    let ids: Vec<Value> = match body["orders"].as_array() {
        Some(orders) => orders.iter().map(|order| order["id"].clone()).collect(),
        None => reply.fail("expected `orders` to be an array of Ada's orders"),
    };
    let expected: Vec<Value> = customers.adas_orders.iter().map(|&id| id.into()).collect();
    if ids != expected {
        let (ids, expected) = (Value::from(ids), Value::from(expected));
        reply.fail_with_diagnosis(
            &format!("expected the orders' ids {expected}, got {ids}"),
            "Ada's orders, newest first: by `created_at`, newest first, and between two \
             orders placed in the same second, the greater id first. The snapshot shows \
             every id as [id]: this test checks the ids themselves.",
        );
    }
}

#[tokio::test]
async fn a_customer_without_orders_has_an_empty_list() {
    let db = new_db();
    let customer = {
        let conn = db.lock().expect("the database's lock is free in the test");
        add_customer(&conn, "alan@example.com", "Alan Turing").unwrap()
    };
    let server = TestServer::spawn(app(db)).await;

    let reply = server
        .get(&format!("/customers/{customer}/orders"))
        .send()
        .await;

    reply
        .assert_status(200)
        .assert_content_type("application/json");
    assert_matches_snapshot(
        &reply,
        &format!("GET /customers/{customer}/orders"),
        "customer_without_orders",
        "GET /customers/{id}/orders: a customer who has ordered nothing yet",
        LIST,
    );
}

#[tokio::test]
async fn an_unknown_customer_is_a_404_problem() {
    let (db, customers) = shop_with_customers();
    let server = TestServer::spawn(app(db)).await;
    let unknown = customers.ada.max(customers.grace) + 40;
    let path = format!("/customers/{unknown}/orders");
    assert!(
        path == "/customers/42/orders",
        "\nthe test's unknown customer is {path}, expected /customers/42/orders\nThe test's \
         shop changed: its snapshot names customer 42.\n"
    );

    let reply = server.get(&path).send().await;

    reply
        .assert_status(404)
        .assert_content_type("application/problem+json");
    assert_matches_snapshot(
        &reply,
        &path,
        "unknown_customer",
        "GET /customers/42/orders: no such customer",
        PROBLEM,
    );
}
