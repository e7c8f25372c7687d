//! Tests for api/filtering: a real server on 127.0.0.1 in front of a real
//! SQLite file in a temporary folder, holding the same eleven products in
//! every test (see [`CATALOGUE`]). Each test asks `GET /products` for a
//! filter or an order and compares the ids that come back, in order, with
//! the ids worked out by hand.

use std::path::PathBuf;

use api_filtering::{Db, app, create_schema};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, json};

/// The shop's products in every test: id, sku, name, price_cents, stock,
/// created_at. The ids are 1 to 11 in this order. Prices and creation times
/// tie on purpose, names hold LIKE's wildcards and its escape character, and
/// created_at does not follow the ids (7 is the oldest).
// ANCHOR: catalogue
const CATALOGUE: [(i64, &str, &str, i64, i64, &str); 11] = [
    (1, "MUG-RED", "Red mug", 1250, 12, "2026-11-01T09:00:00Z"),
    (2, "MUG-BLUE", "Blue mug", 1250, 0, "2026-11-02T09:00:00Z"),
    (
        3,
        "TEE-COTTON",
        "100% cotton tee",
        1999,
        5,
        "2026-11-02T09:00:00Z",
    ),
    (
        4,
        "PUZZLE-1000",
        "1000 piece puzzle",
        2000,
        7,
        "2026-11-03T10:30:00Z",
    ),
    (
        5,
        "MUG-SNAKE",
        "snake_case mug",
        1500,
        3,
        "2026-11-03T10:30:00Z",
    ),
    (
        6,
        "MUG-KEBAB",
        "snake-case mug",
        1500,
        0,
        "2026-11-04T08:00:00Z",
    ),
    (
        7,
        "POSTER-PATH",
        "Back\\slash poster",
        800,
        2,
        "2026-10-30T12:00:00Z",
    ),
    (
        8,
        "TORCH-CREME",
        "Crème brûlée torch",
        3400,
        1,
        "2026-11-05T16:45:00Z",
    ),
    (
        9,
        "TOWEL-OBRIEN",
        "O'Brien's tea towel",
        650,
        0,
        "2026-11-05T16:45:00Z",
    ),
    (10, "MUG-RACK", "Cup rack", 2000, 4, "2026-11-01T09:00:00Z"),
    (11, "TREE-MUG", "Mug tree", 2000, 0, "2026-11-06T07:00:00Z"),
];
// ANCHOR_END: catalogue

/// Query parameters: names and values, as the server decodes them.
type Params<'a> = &'a [(&'a str, &'a str)];

/// The shop's database file, with the catalogue, in a folder removed when
/// dropped.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
}

impl Shop {
    fn new() -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        for (id, sku, name, price_cents, stock, created_at) in CATALOGUE {
            db.execute(
                "INSERT INTO products (id, sku, name, price_cents, stock, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (id, sku, name, price_cents, stock, created_at),
            )
            .expect("the test could not store its products");
        }
        Shop {
            _folder: folder,
            path,
        }
    }

    /// The app under test, on its own connection to the file.
    async fn serve(&self) -> TestServer {
        let db = Connection::open(&self.path).expect("the test could not open its database");
        TestServer::spawn(app(Db::new(db))).await
    }

    /// How many products the file holds, read with a connection of the
    /// test's own; `None` if the products table is gone.
    fn count_products(&self) -> Option<i64> {
        let db = Connection::open(&self.path).expect("the test could not open its database");
        db.query_row("SELECT count(*) FROM products", [], |row| row.get(0))
            .ok()
    }
}

/// `GET /products` with these query parameters, each value percent-encoded
/// as a browser or `curl --data-urlencode` would.
async fn list(server: &TestServer, params: &[(&str, &str)]) -> Reply {
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    let path = if query.is_empty() {
        "/products".to_string()
    } else {
        format!("/products?{}", query.join("&"))
    };
    server.get(&path).send().await
}

/// `text` with every byte outside the URL's unreserved characters written
/// as `%XX`.
fn encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The parameters as the server reads them, for failure messages.
fn decoded(params: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name} = {value:?}"))
        .collect();
    pairs.join(", ")
}

/// "3 (100% cotton tee), 4 (1000 piece puzzle)".
fn named(ids: &[i64]) -> String {
    let names: Vec<String> = ids
        .iter()
        .map(
            |id| match CATALOGUE.iter().find(|product| product.0 == *id) {
                Some(product) => format!("{id} ({})", product.2),
                None => format!("{id} (not a product of the test)"),
            },
        )
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Fails unless `reply` is `200 OK` with a JSON array of products whose ids
/// are `expected`, in that order.
#[track_caller]
fn assert_ids(reply: &Reply, params: &[(&str, &str)], expected: &[i64], diagnosis: &str) {
    reply.assert_status(200);
    let body = reply.json();
    let Some(products) = body.as_array() else {
        reply.fail("expected a JSON array of products, got another kind of JSON value");
    };
    let ids: Vec<i64> = products
        .iter()
        .map(|product| match product["id"].as_i64() {
            Some(id) => id,
            None => reply.fail("expected every product of the list to have a numeric `id`"),
        })
        .collect();
    if ids != expected {
        reply.fail_with_diagnosis(
            &format!(
                "expected the products {expected:?}, in this order, got {ids:?}\n  parameters: \
                 {}\n  expected:   {}\n  got:        {}",
                decoded(params),
                named(expected),
                named(&ids),
            ),
            diagnosis,
        );
    }
}

/// Fails unless `reply` is `400 Bad Request` with a problem details body
/// whose `detail` contains every text of `named`.
#[track_caller]
fn assert_bad_request(reply: &Reply, params: &[(&str, &str)], named: &[&str], diagnosis: &str) {
    if reply.status() != 400 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 400 Bad Request, got {}\n  parameters: {}",
                testkit::status_text(reply.status()),
                decoded(params)
            ),
            diagnosis,
        );
    }
    reply.assert_content_type("application/problem+json");
    let body = reply.json();
    if body["status"] != json!(400) {
        reply.fail("expected the problem details body to say \"status\": 400");
    }
    let Some(detail) = body["detail"].as_str() else {
        reply.fail("expected the problem details body to have a `detail` text");
    };
    for text in named {
        if !detail.contains(text) {
            reply.fail_with_diagnosis(
                &format!("expected the problem's detail to name `{text}`, got {detail:?}"),
                &format!(
                    "The detail tells the client what to fix: here, `{text}`.\n  parameters: {}",
                    decoded(params)
                ),
            );
        }
    }
}

#[tokio::test]
async fn without_parameters_every_product_is_listed_by_id() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let reply = list(&server, &[]).await;

    assert_ids(
        &reply,
        &[],
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        "Without parameters the list holds every product, in ascending id order.",
    );
    let first = &reply.json()[0];
    let expected = json!({
        "id": 1, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12
    });
    if first != &expected {
        reply.fail(&format!(
            "expected the first product to be {expected}, got {first}"
        ));
    }
}

// ANCHOR: q_case
#[tokio::test]
async fn q_finds_the_text_anywhere_in_the_name_whatever_the_ascii_case() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for q in ["mug", "MUG", "mUg"] {
        let params = [("q", q)];
        assert_ids(
            &list(&server, &params).await,
            &params,
            &[1, 2, 5, 6, 11],
            "`q` keeps the products whose name contains it, with ASCII letters compared \
             without regard to case. It searches the name only: `Cup rack` has the sku \
             MUG-RACK, and is not a match.",
        );
    }
    let params = [("q", "")];
    assert_ids(
        &list(&server, &params).await,
        &params,
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
        "An empty `q` is contained in every name: it keeps every product.",
    );
}
// ANCHOR_END: q_case

// ANCHOR: q_wildcards
#[tokio::test]
async fn q_matches_percent_underscore_and_backslash_literally() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases: [(&str, &[i64]); 6] = [
        ("100%", &[3]),
        ("%", &[3]),
        ("snake_case", &[5]),
        ("_", &[5]),
        ("\\", &[7]),
        ("k\\s", &[7]),
    ];
    for (q, expected) in cases {
        let params = [("q", q)];
        assert_ids(
            &list(&server, &params).await,
            &params,
            expected,
            "In a LIKE pattern `%` stands for any text and `_` for any one character, so a \
             `q` pasted into the pattern as it is finds too much (`100%` finds `1000 piece \
             puzzle`, `snake_case` finds `snake-case mug`). Escape them, and the escape \
             character itself, and say which it is with the ESCAPE clause.",
        );
    }
}
// ANCHOR_END: q_wildcards

#[tokio::test]
async fn q_matches_other_characters_exactly_as_written() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases: [(&str, &[i64]); 5] = [
        ("crème", &[8]),
        ("brûlée TORCH", &[8]),
        ("creme", &[]),
        ("O'Brien", &[9]),
        ("' OR '1'='1", &[]),
    ];
    for (q, expected) in cases {
        let params = [("q", q)];
        assert_ids(
            &list(&server, &params).await,
            &params,
            expected,
            "Letters outside ASCII match themselves (`è` finds `è`, and `e` does not), and a \
             quote is a character like any other. A quote that breaks the query, or changes \
             it, means `q` was written into the SQL: bind it as a parameter.",
        );
    }
}

#[tokio::test]
async fn price_bounds_include_the_prices_equal_to_them() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases: [(Params, &[i64]); 4] = [
        (&[("min_price", "1500")], &[3, 4, 5, 6, 8, 10, 11]),
        (&[("max_price", "1250")], &[1, 2, 7, 9]),
        (
            &[("min_price", "2000"), ("max_price", "2000")],
            &[4, 10, 11],
        ),
        (&[("min_price", "651"), ("max_price", "1249")], &[7]),
    ];
    for (params, expected) in cases {
        assert_ids(
            &list(&server, params).await,
            params,
            expected,
            "Both bounds are inclusive: a product that costs exactly `min_price` or exactly \
             `max_price` is kept (>= and <=, not > and <).",
        );
    }
}

#[tokio::test]
async fn in_stock_true_and_false_keep_opposite_halves() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases: [(&str, &[i64]); 2] = [("true", &[1, 3, 4, 5, 7, 8, 10]), ("false", &[2, 6, 9, 11])];
    for (value, expected) in cases {
        let params = [("in_stock", value)];
        assert_ids(
            &list(&server, &params).await,
            &params,
            expected,
            "`in_stock=true` keeps the products with a stock above zero, `in_stock=false` \
             those with a stock of zero.",
        );
    }
}

#[tokio::test]
async fn filters_given_together_must_all_hold() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases: [(Params, &[i64]); 3] = [
        (
            &[("q", "mug"), ("in_stock", "true"), ("max_price", "1500")],
            &[1, 5],
        ),
        (
            &[("q", "e"), ("min_price", "1000"), ("in_stock", "false")],
            &[2, 6, 11],
        ),
        (
            &[
                ("q", "c"),
                ("min_price", "1500"),
                ("max_price", "2000"),
                ("in_stock", "true"),
                ("sort", "-price_cents"),
            ],
            &[4, 10, 3, 5],
        ),
    ];
    for (params, expected) in cases {
        assert_ids(
            &list(&server, params).await,
            params,
            expected,
            "A product is listed only if it passes every filter given: the conditions join \
             with AND.",
        );
    }
}

// ANCHOR: sort_one_key
#[tokio::test]
async fn a_descending_sort_still_breaks_ties_by_ascending_id() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases: [(&str, &[i64]); 4] = [
        ("price_cents", &[9, 7, 1, 2, 5, 6, 3, 4, 10, 11, 8]),
        ("-price_cents", &[8, 4, 10, 11, 3, 5, 6, 1, 2, 7, 9]),
        ("created_at", &[7, 1, 10, 2, 3, 4, 5, 6, 8, 9, 11]),
        ("-created_at", &[11, 8, 9, 6, 4, 5, 2, 3, 1, 10, 7]),
    ];
    for (sort, expected) in cases {
        let params = [("sort", sort)];
        assert_ids(
            &list(&server, &params).await,
            &params,
            expected,
            "Products that tie on every sort key (the same price, the same creation time) \
             come in ascending id order, also when the key itself is descending. Without \
             the id as the last key the order of ties is whatever the query plan gives: \
             read backwards through the index on price_cents, they come in descending id \
             order.",
        );
    }
}
// ANCHOR_END: sort_one_key

// ANCHOR: sort_keys
#[tokio::test]
async fn several_sort_keys_each_have_their_own_direction() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases: [(&str, &[i64]); 5] = [
        ("-stock,name", &[1, 4, 3, 10, 5, 7, 8, 2, 11, 9, 6]),
        ("price_cents,-name", &[9, 7, 1, 2, 5, 6, 3, 11, 10, 4, 8]),
        ("price_cents,name", &[9, 7, 2, 1, 6, 5, 3, 4, 10, 11, 8]),
        ("-id", &[11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
        ("name", &[3, 4, 7, 2, 8, 10, 11, 9, 1, 6, 5]),
    ];
    for (sort, expected) in cases {
        let params = [("sort", sort)];
        assert_ids(
            &list(&server, &params).await,
            &params,
            expected,
            "The keys apply in the order given: the second decides only between products \
             that tie on the first. Each key has its own direction: a `-` before any key \
             (not only the first) makes that key descending.",
        );
    }
}
// ANCHOR_END: sort_keys

// ANCHOR: injection
#[tokio::test]
async fn a_sort_key_outside_the_whitelist_is_400_and_changes_nothing() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let keys = [
        "name;DROP TABLE products",
        "price_cents DESC--",
        "(SELECT 1)",
        "1",
        "name COLLATE NOCASE",
        "colour",
        "Name",
    ];
    for key in keys {
        let params = [("sort", key)];
        let reply = list(&server, &params).await;
        assert_bad_request(
            &reply,
            &params,
            &[key],
            "A sort key must be one of the column names of the whitelist, written exactly. \
             Anything else is refused before any SQL is built: a column name cannot be a \
             bound parameter, so the only safe ORDER BY is one made of names the code \
             itself holds.",
        );
    }

    let left = shop.count_products();
    if left != Some(11) {
        panic!(
            "\nafter the refused sort keys, the products table {}, expected its 11 products\n  \
             keys sent: {keys:?}\nA sort key written into the SQL as it came is an injection.\n",
            match left {
                Some(count) => format!("holds {count} products"),
                None => "is gone".to_string(),
            }
        );
    }
    let params = [("sort", "-price_cents")];
    assert_ids(
        &list(&server, &params).await,
        &params,
        &[8, 4, 10, 11, 3, 5, 6, 1, 2, 7, 9],
        "After refusing bad sort keys the app still lists and sorts as before.",
    );
}
// ANCHOR_END: injection

#[tokio::test]
async fn a_second_sort_key_outside_the_whitelist_is_400_too() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for sort in [
        "name,colour",
        "-stock,-colour",
        "price_cents,id;DROP TABLE products",
    ] {
        let params = [("sort", sort)];
        let reply = list(&server, &params).await;
        let Some((_, bad)) = sort.split_once(',') else {
            unreachable!("every case has two keys");
        };
        let bad = bad.trim_start_matches('-');
        assert_bad_request(
            &reply,
            &params,
            &[bad],
            "Every key of the list is checked, not only the first.",
        );
    }
    assert!(
        shop.count_products() == Some(11),
        "\nthe products table lost its products after a refused sort key\n"
    );
}

#[tokio::test]
async fn an_empty_or_doubled_sort_key_is_400() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases = [
        (
            "",
            "",
            "An empty `sort` names no key: it is refused, like any unknown key.",
        ),
        (
            "name,",
            "",
            "A trailing comma leaves an empty key: it is refused, like any unknown key.",
        ),
        ("-", "", "A lone `-` names no key: it is refused."),
        ("--name", "-name", "Only one `-` may prefix a key."),
        (
            "+name",
            "+name",
            "Only `-` may prefix a key (`+` is not a direction).",
        ),
        (
            "name,name",
            "name",
            "A column named twice in `sort` is refused: the second would never decide \
             anything, and a client that sends it is confused.",
        ),
        (
            "price_cents,-price_cents",
            "price_cents",
            "A column named twice in `sort`, in either direction, is refused.",
        ),
    ];
    for (sort, named, diagnosis) in cases {
        let params = [("sort", sort)];
        let reply = list(&server, &params).await;
        assert_bad_request(&reply, &params, &[named], diagnosis);
    }
}

#[tokio::test]
async fn a_price_bound_that_is_not_a_whole_number_is_400_naming_it() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases = [
        ("min_price", "abc"),
        ("max_price", "12.50"),
        ("min_price", "1e3"),
        ("max_price", ""),
        ("min_price", "99999999999999999999"),
        ("max_price", "0 OR 1=1"),
    ];
    for (name, value) in cases {
        let params = [(name, value)];
        let reply = list(&server, &params).await;
        assert_bad_request(
            &reply,
            &params,
            &[name],
            "A price bound is a whole number of cents that fits an i64: anything else is \
             refused, and the detail names the parameter.",
        );
    }
}

#[tokio::test]
async fn in_stock_other_than_true_or_false_is_400_naming_it() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for value in ["yes", "1", "TRUE", ""] {
        let params = [("in_stock", value)];
        let reply = list(&server, &params).await;
        assert_bad_request(
            &reply,
            &params,
            &["in_stock"],
            "`in_stock` is exactly `true` or `false`.",
        );
    }
}

#[tokio::test]
async fn a_min_price_above_the_max_price_is_400_naming_both() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let params = [("min_price", "2001"), ("max_price", "2000")];
    let reply = list(&server, &params).await;
    assert_bad_request(
        &reply,
        &params,
        &["min_price", "max_price"],
        "No price can be at least 2001 and at most 2000: the request is refused (rather \
         than answered with an empty list), and the detail names both bounds.",
    );
    let params = [("min_price", "-5"), ("max_price", "650")];
    assert_ids(
        &list(&server, &params).await,
        &params,
        &[9],
        "A negative bound is a whole number too: min_price=-5 keeps every price.",
    );
}
