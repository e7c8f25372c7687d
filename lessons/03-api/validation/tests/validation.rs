//! Tests for api/validation: the app on a real server on 127.0.0.1, over a
//! real SQLite file in a temporary folder. After each refused request the
//! test reads the products table with a connection of its own: a refused
//! product must not be there.

use std::path::PathBuf;

use api_validation::{Db, app, create_schema};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json, status_text};

const REQUIRED: &str = "is required";
const NOT_A_STRING: &str = "must be a string";
const NOT_A_WHOLE_NUMBER: &str = "must be a whole number";
const UNKNOWN_FIELD: &str = "is not a known field";
const NOT_AN_OBJECT: &str = "must be a JSON object";
const SKU_RULE: &str =
    "must be 1 to 32 characters: A to Z, 0 to 9 and -, not starting or ending with -";
const NAME_RULE: &str = "must be 1 to 100 characters long, not counting spaces at either end";
const PRICE_RULE: &str = "must be between 0 and 10000000";
const STOCK_RULE: &str = "must be between 0 and 1000000";

/// The app on an empty shop in a SQLite file, which the test reads too.
struct Shop {
    server: TestServer,
    path: PathBuf,
    _folder: TempDir,
}

impl Shop {
    async fn new() -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        if let Err(error) = create_schema(&db) {
            panic!("\ncreate_schema failed on an empty database: {error}\n");
        }
        let server = TestServer::spawn(app(Db::new(db))).await;
        Shop {
            server,
            path,
            _folder: folder,
        }
    }

    /// `POST /products` with `body` as JSON.
    async fn post(&self, body: &Value) -> Reply {
        self.server.post("/products").json(body).send().await
    }

    /// `POST /products` with `text` as the body, as `application/json`.
    async fn post_text(&self, text: &str) -> Reply {
        let call = self.server.post("/products");
        call.header("content-type", "application/json")
            .body(text)
            .send()
            .await
    }

    /// Every row of the products table, as `[sku, name, price_cents, stock]`,
    /// read with a connection of the test's own.
    fn stored(&self) -> Vec<Value> {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        let mut statement = db
            .prepare("SELECT sku, name, price_cents, stock FROM products ORDER BY id")
            .expect("the test could not read the products table");
        statement
            .query_map([], |row| {
                Ok(json!([
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?
                ]))
            })
            .expect("the test could not read the products table")
            .collect::<rusqlite::Result<_>>()
            .expect("the test could not read the products table")
    }

    /// Fails unless the table holds nothing, after `reply` refused a product.
    #[track_caller]
    fn assert_nothing_stored(&self, reply: &Reply) {
        let stored = self.stored();
        if !stored.is_empty() {
            reply.fail(&format!(
                "a refused product was stored: the products table holds {}\nNothing may be \
                 written when the answer is not 201 Created: validate the whole body first, \
                 then store.",
                Value::Array(stored)
            ));
        }
    }
}

/// A valid product's fields, to spoil one at a time.
fn valid() -> Value {
    json!({ "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12 })
}

/// `valid()` with `field` set to `value`.
fn valid_but(field: &str, value: Value) -> Value {
    let mut body = valid();
    body[field] = value;
    body
}

/// The problem document for these `(field, message)` errors.
fn problem(errors: &[(&str, &str)]) -> Value {
    let errors: Vec<Value> = errors
        .iter()
        .map(|(field, message)| json!({ "field": field, "message": message }))
        .collect();
    json!({
        "type": "https://shop.example/problems/validation",
        "title": "Your request is not valid",
        "status": 422,
        "errors": errors,
    })
}

/// Fails unless `reply` is the `422` problem with exactly these errors, in
/// this order.
#[track_caller]
fn assert_problem(reply: &Reply, errors: &[(&str, &str)]) {
    let expected = problem(errors);
    if reply.status() != 422 {
        let diagnosis = match reply.status() {
            201 => "The body is not a valid product, so it must be refused.",
            500 => {
                "A 500 for a client's mistake: was the body deserialised into a typed struct \
                 and the error turned into a 500, or stored and refused by the database?"
            }
            400 => {
                "400 is for a body that is not JSON at all. This one is JSON, with values that \
                 break the rules: 422 Unprocessable Content, with every error listed."
            }
            _ => "",
        };
        reply.fail_with_diagnosis(
            &format!(
                "expected 422 Unprocessable Content, got {}",
                status_text(reply.status())
            ),
            &format!("  expected: {expected}\n{diagnosis}"),
        );
    }
    reply.assert_content_type("application/problem+json");
    let actual = reply.json();
    if actual == expected {
        return;
    }
    let listed = |problem: &Value| -> Vec<Value> {
        problem["errors"].as_array().cloned().unwrap_or_default()
    };
    let (expected_errors, actual_errors) = (listed(&expected), listed(&actual));
    let verdict = if actual_errors.len() < expected_errors.len() && !actual_errors.is_empty() {
        format!(
            "expected {} field errors, got {}: every invalid field is reported at once",
            expected_errors.len(),
            actual_errors.len()
        )
    } else if actual_errors.len() == expected_errors.len()
        && expected_errors
            .iter()
            .all(|error| actual_errors.contains(error))
    {
        "the field errors are right but not in the stated order".to_string()
    } else if let Some((expected_error, actual_error)) = expected_errors
        .iter()
        .zip(&actual_errors)
        .find(|(expected, actual)| expected != actual)
    {
        format!("expected the field error {expected_error}, got {actual_error}")
    } else if actual_errors.len() != expected_errors.len() {
        format!(
            "expected {} field errors, got {}",
            expected_errors.len(),
            actual_errors.len()
        )
    } else {
        "the problem document's type, title or status is not the stated one".to_string()
    };
    reply.fail(&format!(
        "{verdict}\n  expected: {expected}\nErrors are listed sku, name, price_cents, stock, \
         then unknown fields in the order the body has them; each field has one error at most."
    ));
}

/// Fails unless `reply` is `201 Created` with `expected` (and an id) as its
/// body and `Location: /products/{id}`; returns the id.
#[track_caller]
fn assert_created(reply: &Reply, expected: &Value) -> i64 {
    if reply.status() != 201 {
        reply.fail_with_diagnosis(
            &format!("expected 201 Created, got {}", status_text(reply.status())),
            "The body is a valid product: it is stored, and the answer is 201 Created with \
             the product and its Location.",
        );
    }
    reply.assert_content_type("application/json");
    let Some(id) = reply.json()["id"].as_i64() else {
        reply.fail("expected the stored product, with a whole-number `id`, as the body");
    };
    let mut product = json!({ "id": id });
    for (name, value) in expected
        .as_object()
        .expect("the test's product is an object")
    {
        product[name] = value.clone();
    }
    reply.assert_json(&product);
    reply.assert_header("location", &format!("/products/{id}"));
    id
}

#[tokio::test]
async fn a_valid_product_is_201_and_stored_with_its_name_trimmed() {
    let shop = Shop::new().await;
    let body =
        json!({ "sku": "MUG-RED", "name": " \t Red mug\n ", "price_cents": 1250, "stock": 12 });

    let reply = shop.post(&body).await;

    let trimmed = json!({ "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12 });
    let id = assert_created(&reply, &trimmed);
    let stored = shop.stored();
    if stored != [json!(["MUG-RED", "Red mug", 1250, 12])] {
        reply.fail(&format!(
            "the products table holds {}, expected [[\"MUG-RED\",\"Red mug\",1250,12]]\nA \
             name is stored without the spaces, tabs and newlines at either end.",
            Value::Array(stored)
        ));
    }
    let list = shop.server.get("/products").send().await;
    list.assert_status(200);
    let mut product = trimmed;
    product["id"] = json!(id);
    if list.json() != json!([product]) {
        list.fail(&format!(
            "the list of products is not the one product created\n  expected: [{product}]"
        ));
    }
}

#[tokio::test]
async fn values_at_the_limits_of_every_rule_are_accepted() {
    let shop = Shop::new().await;
    let products = [
        json!({ "sku": "ABCDEFGHIJKLMNOPQRSTUVWXYZ-01234", "name": "X", "price_cents": 0, "stock": 0 }),
        json!({ "sku": "7", "name": "é".repeat(100), "price_cents": 10_000_000, "stock": 1_000_000 }),
        json!({ "sku": "A--B", "name": "Café crème — 25 cl", "price_cents": 1, "stock": 999_999 }),
        json!({ "sku": "0-0", "name": format!("  {}  ", "m".repeat(100)), "price_cents": 9_999_999, "stock": 1 }),
    ];

    for body in &products {
        let reply = shop.post(body).await;
        if reply.status() != 201 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 201 Created for a product at the limits of the rules, got {}",
                    status_text(reply.status())
                ),
                "Every value of this body is inside its rule, at its very edge: a sku of 32 \
                 characters or of 1, inner dashes, a price of 0 or 10000000, a stock of 0 or \
                 1000000, a name of exactly 100 characters (100 times `é` is 200 bytes; \
                 spaces at either end do not count).",
            );
        }
    }
    let stored = shop.stored();
    if stored.len() != products.len() {
        panic!(
            "\nthe products table holds {} products, expected the {} accepted ones\n",
            stored.len(),
            products.len()
        );
    }
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once_in_the_stated_order() {
    let shop = Shop::new().await;
    let body = json!({ "stock": 1_000_001, "price_cents": -1, "name": "   ", "sku": "mug-red" });

    let reply = shop.post(&body).await;

    assert_problem(
        &reply,
        &[
            ("sku", SKU_RULE),
            ("name", NAME_RULE),
            ("price_cents", PRICE_RULE),
            ("stock", STOCK_RULE),
        ],
    );
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn a_wrong_json_type_is_a_field_error_alongside_the_others() {
    let shop = Shop::new().await;
    let body = json!({ "sku": 42, "name": ["Red mug"], "price_cents": "1250", "stock": 12.5 });

    let reply = shop.post(&body).await;

    assert_problem(
        &reply,
        &[
            ("sku", NOT_A_STRING),
            ("name", NOT_A_STRING),
            ("price_cents", NOT_A_WHOLE_NUMBER),
            ("stock", NOT_A_WHOLE_NUMBER),
        ],
    );
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn null_is_a_value_of_the_wrong_type_for_every_field() {
    let shop = Shop::new().await;
    let body = json!({ "sku": null, "name": null, "price_cents": null, "stock": null });

    let reply = shop.post(&body).await;

    assert_problem(
        &reply,
        &[
            ("sku", NOT_A_STRING),
            ("name", NOT_A_STRING),
            ("price_cents", NOT_A_WHOLE_NUMBER),
            ("stock", NOT_A_WHOLE_NUMBER),
        ],
    );
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn missing_fields_are_named() {
    let shop = Shop::new().await;

    let reply = shop.post(&json!({})).await;
    assert_problem(
        &reply,
        &[
            ("sku", REQUIRED),
            ("name", REQUIRED),
            ("price_cents", REQUIRED),
            ("stock", REQUIRED),
        ],
    );

    let reply = shop.post(&json!({ "name": "Red mug", "stock": 3 })).await;
    assert_problem(&reply, &[("sku", REQUIRED), ("price_cents", REQUIRED)]);
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn unknown_fields_are_named_after_the_known_ones_in_the_bodys_order() {
    let shop = Shop::new().await;
    let body = r#"{"role": "admin", "sku": "MUG-RED", "Price_cents": 1, "name": "Red mug",
        "price_cents": -5, "stock": 1, "id": 99, "nämé": "x"}"#;

    let reply = shop.post_text(body).await;

    assert_problem(
        &reply,
        &[
            ("price_cents", PRICE_RULE),
            ("role", UNKNOWN_FIELD),
            ("Price_cents", UNKNOWN_FIELD),
            ("id", UNKNOWN_FIELD),
            ("nämé", UNKNOWN_FIELD),
        ],
    );
    shop.assert_nothing_stored(&reply);

    let reply = shop
        .post(&json!({ "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12, "id": 1 }))
        .await;
    assert_problem(&reply, &[("id", UNKNOWN_FIELD)]);
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn a_sku_is_capitals_digits_and_inner_dashes_up_to_32() {
    let shop = Shop::new().await;
    let too_long = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-012345";
    for sku in [
        "", "mug-red", "Mug-Red", "MUG_RED", "MUG RED", " MUG-RED", "MUG-RED ", "-MUG", "MUG-",
        "-", "ÉTÉ-1", "MUG-Ⅻ", "MUG-٣", too_long,
    ] {
        let reply = shop.post(&valid_but("sku", json!(sku))).await;
        assert_problem(&reply, &[("sku", SKU_RULE)]);
    }
    let reply = shop.post(&valid_but("sku", json!(too_long))).await;
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn a_name_is_counted_in_characters_after_trimming() {
    let shop = Shop::new().await;
    for name in [
        String::new(),
        " \t\n ".to_string(),
        "é".repeat(101),
        "m".repeat(101),
        format!(" {} ", "m".repeat(101)),
    ] {
        let reply = shop.post(&valid_but("name", json!(name))).await;
        assert_problem(&reply, &[("name", NAME_RULE)]);
        shop.assert_nothing_stored(&reply);
    }

    let reply = shop.post(&valid_but("name", json!("é".repeat(100)))).await;
    if reply.status() != 201 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 201 Created for a name of 100 characters, got {}",
                status_text(reply.status())
            ),
            "The name is `é` 100 times: 100 characters, 200 bytes in UTF-8. The rule counts \
             characters: a string's len() counts bytes.",
        );
    }
}

#[tokio::test]
async fn a_price_and_a_stock_are_whole_numbers_in_their_range() {
    let shop = Shop::new().await;
    let cases = [
        ("price_cents", "12.5", NOT_A_WHOLE_NUMBER),
        ("price_cents", "1250.0", NOT_A_WHOLE_NUMBER),
        ("price_cents", "1.25e3", NOT_A_WHOLE_NUMBER),
        ("price_cents", "\"1250\"", NOT_A_WHOLE_NUMBER),
        ("price_cents", "true", NOT_A_WHOLE_NUMBER),
        ("price_cents", "-1", PRICE_RULE),
        ("price_cents", "10000001", PRICE_RULE),
        ("price_cents", "4294967296", PRICE_RULE),
        ("price_cents", "18446744073709551615", PRICE_RULE),
        ("stock", "0.5", NOT_A_WHOLE_NUMBER),
        ("stock", "\"12\"", NOT_A_WHOLE_NUMBER),
        ("stock", "-1", STOCK_RULE),
        ("stock", "1000001", STOCK_RULE),
        ("stock", "-9223372036854775808", STOCK_RULE),
    ];
    for (field, value, message) in cases {
        let mut fields: Vec<String> = Vec::new();
        for (name, valid) in [
            ("sku", "\"MUG-RED\""),
            ("name", "\"Red mug\""),
            ("price_cents", "1250"),
            ("stock", "12"),
        ] {
            let value = if name == field { value } else { valid };
            fields.push(format!("\"{name}\": {value}"));
        }
        let body = format!("{{{}}}", fields.join(", "));
        let reply = shop.post_text(&body).await;
        assert_problem(&reply, &[(field, message)]);
    }
    let reply = shop.post(&valid_but("stock", json!(-1))).await;
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_one_error_for_the_whole_body() {
    let shop = Shop::new().await;
    for body in ["[]", "\"MUG-RED\"", "42", "null", r#"[{"sku": "MUG-RED"}]"#] {
        let reply = shop.post_text(body).await;
        assert_problem(&reply, &[("", NOT_AN_OBJECT)]);
        shop.assert_nothing_stored(&reply);
    }
}

#[tokio::test]
async fn the_media_type_is_checked_first_then_the_syntax_then_the_content() {
    let shop = Shop::new().await;
    let invalid = r#"{"sku": "mug"}"#;

    let reply = shop
        .server
        .post("/products")
        .header("content-type", "text/plain")
        .body(invalid)
        .send()
        .await;
    if reply.status() != 415 {
        reply.fail(&format!(
            "expected 415 Unsupported Media Type for a body sent as text/plain, got {}\nThe \
             body is read as JSON only when the request says it is JSON.",
            status_text(reply.status())
        ));
    }
    shop.assert_nothing_stored(&reply);

    let reply = shop
        .post_text(r#"{"sku": "MUG-RED", "name": "Red mug", "#)
        .await;
    if reply.status() != 400 {
        reply.fail(&format!(
            "expected 400 Bad Request for a body that is not JSON at all, got {}\nA syntax \
             error is no field's fault: it stays axum's 400.",
            status_text(reply.status())
        ));
    }
    shop.assert_nothing_stored(&reply);

    let reply = shop.post_text(invalid).await;
    assert_problem(
        &reply,
        &[
            ("sku", SKU_RULE),
            ("name", REQUIRED),
            ("price_cents", REQUIRED),
            ("stock", REQUIRED),
        ],
    );
    shop.assert_nothing_stored(&reply);
}

#[tokio::test]
async fn a_valid_product_with_a_taken_sku_is_409_and_stored_once() {
    let shop = Shop::new().await;
    let first = shop.post(&valid()).await;
    assert_created(&first, &valid());

    let reply = shop
        .post(&valid_but("name", json!("Another red mug")))
        .await;

    if reply.status() != 409 {
        reply.fail(&format!(
            "expected 409 Conflict for a valid product whose sku another product has, got {}\n\
             The body is valid; only the shop's state refuses it.",
            status_text(reply.status())
        ));
    }
    reply
        .assert_content_type("application/json")
        .assert_json(&json!({ "error": "a product with sku MUG-RED already exists" }));
    let stored = shop.stored();
    if stored != [json!(["MUG-RED", "Red mug", 1250, 12])] {
        reply.fail(&format!(
            "the products table holds {}, expected only the first MUG-RED",
            Value::Array(stored)
        ));
    }
}

#[tokio::test]
async fn a_database_error_is_500_with_a_body_that_tells_nothing() {
    // No schema: every query fails in SQLite with `no such table: products`.
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    let server = TestServer::spawn(app(Db::new(db))).await;

    let created = server.post("/products").json(&valid()).send().await;
    let listed = server.get("/products").send().await;

    for reply in [created, listed] {
        if reply.status() != 500 {
            reply.fail(&format!(
                "expected 500 Internal Server Error when the database fails, got {}\nThe \
                 database has no products table: the server's fault, not a conflict.",
                status_text(reply.status())
            ));
        }
        reply
            .assert_content_type("application/json")
            .assert_json(&json!({ "error": "internal" }));
    }
}
