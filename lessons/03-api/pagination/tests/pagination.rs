//! Tests for api/pagination: the products API on a real SQLite file in a
//! temporary folder, called over HTTP on 127.0.0.1. The test fills the
//! products table with a connection of its own (with ids of its choosing,
//! gaps included, and names that sort in another order than the ids), then
//! walks the pages as a client does: it follows each page's `next` as it
//! is. Between two pages it may insert or delete products, the way other
//! clients would while this one pages.

use std::path::PathBuf;

use api_pagination::{app, create_schema};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json};

/// The products API on a database file the test can change under it.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
    server: TestServer,
}

impl Shop {
    /// A shop whose products have the given ids.
    async fn with_ids(ids: &[i64]) -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        let shop_db = Connection::open(&path).expect("the test could not open its database");
        let server = TestServer::spawn(app(shop_db)).await;
        let shop = Shop {
            _folder: folder,
            path,
            server,
        };
        shop.insert(ids);
        shop
    }

    /// A shop with products 1 to `count`.
    async fn with_products(count: i64) -> Shop {
        let ids: Vec<i64> = (1..=count).collect();
        Shop::with_ids(&ids).await
    }

    fn db(&self) -> Connection {
        Connection::open(&self.path).expect("the test could not open the database")
    }

    /// Inserts products with these ids. Their names sort in the reverse
    /// order of their ids, so an order by name shows.
    fn insert(&self, ids: &[i64]) {
        let mut db = self.db();
        let transaction = db
            .transaction()
            .expect("the test could not start a transaction");
        for id in ids {
            transaction
                .execute(
                    "INSERT INTO products (id, sku, name, price_cents, stock, created_at)
                     VALUES (?1, 'SKU-' || ?1, 'Ümbrella ' || (1000000 - ?1), 100 + ?1, ?1 % 7,
                             '2026-11-30T09:15:00Z')",
                    [id],
                )
                .expect("the test could not insert a product");
        }
        transaction
            .commit()
            .expect("the test could not commit its products");
    }

    fn delete(&self, ids: &[i64]) {
        let db = self.db();
        for id in ids {
            db.execute("DELETE FROM products WHERE id = ?1", [id])
                .expect("the test could not delete a product");
        }
    }

    /// Sends `GET path` and checks it is a page; returns its ids and `next`.
    async fn page(&self, path: &str) -> (Vec<i64>, Option<String>, Reply) {
        let reply = self.server.get(path).send().await;
        reply
            .assert_status(200)
            .assert_content_type("application/json");
        let body = reply.json();
        let Some(items) = body.get("items").and_then(Value::as_array) else {
            reply.fail("expected the page's products as an array in `items`")
        };
        let mut ids = Vec::new();
        for item in items {
            match item.get("id").and_then(Value::as_i64) {
                Some(id) => ids.push(id),
                None => reply.fail(&format!("expected every item to have an `id`, got {item}")),
            }
        }
        let next = match body.get("next") {
            Some(Value::Null) => None,
            Some(Value::String(next)) => Some(next.clone()),
            Some(other) => reply.fail(&format!(
                "expected `next` to be a relative URL or null, got {other}"
            )),
            None => reply.fail_with_diagnosis(
                "the page has no `next` member",
                "Every page says where the next one is, and `\"next\": null` on the last one: \
                 a client must not have to guess whether a missing member means the end.",
            ),
        };
        (ids, next, reply)
    }

    /// Follows `next` from `first` to the last page; returns each page's ids.
    async fn walk(&self, first: &str) -> Vec<Vec<i64>> {
        let mut pages = Vec::new();
        let mut path = first.to_string();
        loop {
            let (ids, next, reply) = self.page(&path).await;
            pages.push(ids);
            match next {
                Some(next) => {
                    check_next_url(&reply, &next);
                    path = next;
                }
                None => return pages,
            }
            if pages.len() > 200 {
                reply.fail("the walk went on for over 200 pages: does `next` ever become null?");
            }
        }
    }
}

/// Fails unless `next` is a path on this API a client can request as it is.
#[track_caller]
fn check_next_url(reply: &Reply, next: &str) {
    if !next.starts_with("/products?") {
        reply.fail_with_diagnosis(
            &format!("expected `next` to be a relative URL starting /products?, got {next:?}"),
            "A client requests `next` as it is, on the same server: a path and its query.",
        );
    }
}

/// The `limit` a `next` URL carries, if it is `/products?limit=N&cursor=...`.
fn limit_in(next: &str) -> Option<&str> {
    let query = next.strip_prefix("/products?")?;
    let mut parameters = query.split('&');
    let limit = parameters.next()?.strip_prefix("limit=")?;
    let cursor = parameters.next()?.strip_prefix("cursor=")?;
    (parameters.next().is_none() && !cursor.is_empty()).then_some(limit)
}

/// Fails unless `next` is `/products?limit={limit}&cursor=...`.
#[track_caller]
fn assert_next_limit(reply: &Reply, next: &str, limit: u32) {
    match limit_in(next) {
        Some(found) if found == limit.to_string() => {}
        Some(found) => reply.fail_with_diagnosis(
            &format!("expected `next` to carry limit={limit}, it carries limit={found}"),
            "`next` keeps the page size this page was made with (after the default or the \
             clamp), so every page of a walk has the same size.",
        ),
        None => reply.fail(&format!(
            "expected `next` to be /products?limit={limit}&cursor=..., got {next:?}"
        )),
    }
}

/// Describes the pages of a walk for a failure message.
fn show(pages: &[Vec<i64>]) -> String {
    pages
        .iter()
        .map(|page| format!("{page:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ANCHOR: walk
#[tokio::test]
async fn walking_the_pages_yields_every_product_once_in_order_with_no_empty_page() {
    for (count, limit) in [(0, 3), (1, 3), (6, 3), (7, 3), (5, 1), (3, 5), (3, 3)] {
        let shop = Shop::with_products(count).await;
        let pages = shop.walk(&format!("/products?limit={limit}")).await;

        let all: Vec<i64> = pages.iter().flatten().copied().collect();
        let expected: Vec<i64> = (1..=count).collect();
        let pages_expected = ((count + limit - 1) / limit).max(1) as usize;
        let sizes_right = pages.iter().enumerate().all(|(index, page)| {
            let is_last = index + 1 == pages.len();
            page.len() as i64 == limit || (is_last && page.len() as i64 <= limit)
        });
        if all != expected || pages.len() != pages_expected || !sizes_right {
            panic!(
                "\nwalking {count} products {limit} at a time gave the pages {}, expected {} \
                 page(s) holding the ids {expected:?} in order\nThe test followed each page's \
                 `next` from GET /products?limit={limit} until it was null. Every page but the \
                 last holds `limit` products; the last one holds the rest, and its `next` is \
                 null. When the products end exactly at a page's end, that page is the last: \
                 there is no empty page after it (fetch one product more than the page to \
                 know whether another page exists).\n",
                show(&pages),
                pages_expected
            );
        }
    }
}
// ANCHOR_END: walk

#[tokio::test]
async fn products_come_in_the_order_of_their_ids_across_gaps() {
    let ids = [3, 10, 11, 250, 4096, 9_007_199_254_740_993];
    let shop = Shop::with_ids(&ids).await;

    let pages = shop.walk("/products?limit=4").await;

    if pages != [vec![3, 10, 11, 250], vec![4096, 9_007_199_254_740_993]] {
        panic!(
            "\nthe pages hold {}, expected [3, 10, 11, 250] [4096, 9007199254740993]\nThe \
             products have the ids {ids:?}, and names that sort in the opposite order. Pages \
             follow the order of the ids, the one order that never changes, and a cursor \
             remembers the last id it gave.\n",
            show(&pages)
        );
    }
}

#[tokio::test]
async fn a_page_lists_each_product_whole() {
    let shop = Shop::with_ids(&[7]).await;

    let reply = shop.server.get("/products").send().await;

    reply.assert_status(200).assert_json(&json!({
        "items": [{"id": 7, "sku": "SKU-7", "name": "Ümbrella 999993", "price_cents": 107, "stock": 0}],
        "next": null,
    }));
}

// ANCHOR: next
#[tokio::test]
async fn next_keeps_the_limit_and_a_link_header_says_the_same() {
    let shop = Shop::with_products(5).await;

    let (ids, next, reply) = shop.page("/products?limit=2").await;
    let Some(next) = next else {
        reply.fail("expected a `next` URL: 5 products at 2 a page make 3 pages")
    };
    assert_next_limit(&reply, &next, 2);
    if ids != [1, 2] {
        reply.fail(&format!(
            "expected the first page to hold [1, 2], got {ids:?}"
        ));
    }
    reply.assert_header("link", &format!("<{next}>; rel=\"next\""));

    let (ids, next, reply) = shop.page(&next).await;
    let Some(next) = next else {
        reply.fail("expected a `next` URL on the second of 3 pages")
    };
    assert_next_limit(&reply, &next, 2);
    if ids != [3, 4] {
        reply.fail(&format!(
            "expected the second page to hold [3, 4], got {ids:?}"
        ));
    }
    reply.assert_header("link", &format!("<{next}>; rel=\"next\""));

    let (ids, next, reply) = shop.page(&next).await;
    if ids != [5] || next.is_some() {
        reply.fail("expected the last page to hold [5] with `\"next\": null`");
    }
    reply.assert_no_header("link");
}
// ANCHOR_END: next

#[tokio::test]
async fn without_a_limit_a_page_holds_twenty() {
    let shop = Shop::with_products(45).await;

    let (ids, next, reply) = shop.page("/products").await;

    if ids != (1..=20).collect::<Vec<i64>>() {
        reply.fail(&format!(
            "expected the products 1 to 20 without a limit, got {} products: {ids:?}",
            ids.len()
        ));
    }
    let Some(next) = next else {
        reply.fail("expected a `next` URL: 45 products make 3 pages of 20")
    };
    assert_next_limit(&reply, &next, 20);
    let pages = shop.walk("/products").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    if sizes != [20, 20, 5] {
        panic!(
            "\nwalking 45 products with no limit gave pages of {sizes:?}, expected [20, 20, 5]\n"
        );
    }
}

// ANCHOR: clamp
#[tokio::test]
async fn a_limit_above_a_hundred_is_clamped_to_a_hundred() {
    let shop = Shop::with_products(205).await;

    for limit in [
        "100",
        "101",
        "1000",
        "4294967296",
        "18446744073709551616",
        "000000000000000000000000000000000000000000050",
    ] {
        let path = format!("/products?limit={limit}");
        let (ids, next, reply) = shop.page(&path).await;
        let expected = if limit.ends_with("50") { 50 } else { 100 };
        if ids.len() != expected {
            reply.fail_with_diagnosis(
                &format!(
                    "expected {expected} products for limit={limit}, got {}",
                    ids.len()
                ),
                "A limit above 100, however large, means 100: it is clamped, not refused (a \
                 whole number too large for an integer type is still a whole number). \
                 Leading zeros do not change a number.",
            );
        }
        let Some(next) = next else {
            reply.fail("expected a `next` URL: 205 products make more than one page")
        };
        assert_next_limit(&reply, &next, expected as u32);
    }
    let pages = shop.walk("/products?limit=1000").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    if sizes != [100, 100, 5] {
        panic!(
            "\nwalking 205 products with limit=1000 gave pages of {sizes:?}, expected [100, \
             100, 5]\nThe clamp holds on every page, the ones `next` leads to included.\n"
        );
    }
}
// ANCHOR_END: clamp

/// Fails unless `reply` is the 400 problem for `parameter`.
#[track_caller]
fn assert_refused(reply: &Reply, parameter: &str) {
    reply.assert_status(400);
    match reply.header("content-type") {
        Some("application/problem+json") => {}
        _ => reply.fail("expected the problem+json that `invalid_parameter` makes"),
    }
    let body: Value = serde_json::from_str(reply.text()).unwrap_or_default();
    if body["parameter"] != parameter {
        reply.fail(&format!(
            "expected the problem to name the parameter {parameter:?}, got {}",
            body["parameter"]
        ));
    }
}

#[tokio::test]
async fn a_limit_that_is_not_a_whole_number_of_at_least_one_is_a_400_problem() {
    let shop = Shop::with_products(3).await;

    for limit in [
        "0",
        "000",
        "-1",
        "-0",
        "abc",
        "",
        "2.5",
        "1e2",
        "%EF%BC%95",
        "10abc",
        "%2B5",
    ] {
        let reply = shop
            .server
            .get(&format!("/products?limit={limit}"))
            .send()
            .await;
        if reply.status() == 200 {
            reply.fail_with_diagnosis(
                &format!("expected 400 Bad Request for limit={limit}, got 200 OK"),
                "A page of zero products, a negative limit or a limit that is not a whole \
                 number (`5` written in full-width digits, `+5`, `1e2` included) is refused \
                 with the problem `invalid_parameter` makes, naming \"limit\". Only a limit \
                 above 100 is clamped.",
            );
        }
        assert_refused(&reply, "limit");
    }
}

// ANCHOR: tampered
#[tokio::test]
async fn a_cursor_the_api_did_not_give_out_is_a_400_problem() {
    let shop = Shop::with_products(5).await;
    let (_, next, reply) = shop.page("/products?limit=2").await;
    let Some(next) = next else {
        reply.fail("expected a `next` URL: 5 products at 2 a page make 3 pages")
    };
    let Some((_, cursor)) = next.split_once("cursor=") else {
        reply.fail(&format!("expected `next` to carry a cursor, got {next:?}"))
    };
    let mut changed_last = cursor.to_string();
    let last = changed_last.pop().unwrap_or('0');
    changed_last.push(if last == 'x' { 'y' } else { 'x' });

    for bad in [
        String::new(),
        "not-a-cursor".to_string(),
        "%F0%9F%A6%80".to_string(),
        cursor[..cursor.len() - 1].to_string(),
        format!("{cursor}0"),
        changed_last,
        cursor.to_uppercase(),
    ] {
        if bad == cursor {
            continue;
        }
        let reply = shop
            .server
            .get(&format!("/products?limit=2&cursor={bad}"))
            .send()
            .await;
        if reply.status() == 200 {
            reply.fail_with_diagnosis(
                "expected 400 Bad Request for a cursor the API never gave out, got 200 OK",
                &format!(
                    "The API gave out the cursor {cursor:?}. A cursor that is not one the API \
                     makes (empty, garbage, cut short, lengthened, changed) is refused with \
                     the problem `invalid_parameter` makes, naming \"cursor\": never read as \
                     the first page."
                ),
            );
        }
        assert_refused(&reply, "cursor");
    }
}
// ANCHOR_END: tampered

// ANCHOR: anomaly
#[tokio::test]
async fn products_added_and_deleted_during_a_walk_neither_repeat_nor_hide_others() {
    let ids: Vec<i64> = (1..=9).map(|n| n * 10).collect();
    let shop = Shop::with_ids(&ids).await;

    let (first, next, reply) = shop.page("/products?limit=3").await;
    let Some(next) = next else {
        reply.fail("expected a `next` URL: 9 products at 3 a page make 3 pages")
    };
    // While the client reads page 1, others delete two products it has seen
    // and add one before them.
    shop.delete(&[10, 20]);
    shop.insert(&[5]);
    let (second, next, reply) = shop.page(&next).await;
    let Some(next) = next else {
        reply.fail("expected a `next` URL after the second page: 50 to 90 are still there")
    };
    // And again: one seen deleted, one unseen added before the cursor.
    shop.delete(&[40]);
    shop.insert(&[15]);
    let pages = [vec![first, second], shop.walk(&next).await].concat();

    let all: Vec<i64> = pages.iter().flatten().copied().collect();
    let expected: Vec<i64> = (1..=9).map(|n| n * 10).collect();
    if all != expected {
        panic!(
            "\nthe walk gave {}, expected the products 10 to 90 once each, in order\nProducts \
             10 to 90 existed when the walk began. After page 1 the test deleted 10 and 20 and \
             added 5; after page 2 it deleted 40 and added 15. A page that starts at a count \
             of rows (OFFSET) shifts when rows before it come and go: it repeats or skips \
             products. A cursor that remembers the last id given (WHERE id > ?) does not.\n",
            show(&pages)
        );
    }
}
// ANCHOR_END: anomaly

#[tokio::test]
async fn a_cursor_still_works_after_its_product_is_deleted() {
    let shop = Shop::with_products(6).await;

    let (_, next, reply) = shop.page("/products?limit=3").await;
    let Some(next) = next else {
        reply.fail("expected a `next` URL: 6 products at 3 a page make 2 pages")
    };
    shop.delete(&[3]);
    let (ids, _, reply) = shop.page(&next).await;

    if ids != [4, 5, 6] {
        reply.fail_with_diagnosis(
            &format!("expected the page after product 3 to hold [4, 5, 6], got {ids:?}"),
            "The cursor points after product 3, which was deleted after the first page: the \
             next page starts after its id all the same, without looking the product up.",
        );
    }
}
