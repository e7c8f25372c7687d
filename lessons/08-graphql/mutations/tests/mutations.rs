//! Tests for graphql/mutations: the app on a real server on 127.0.0.1, over a
//! real SQLite database in a temporary file, called with GraphQL requests as
//! any client would send them. Each test has a shop of its own; the test
//! opens its own connection to the same file to seed it, to look at what the
//! app stored, and to break it on purpose (a dropped table, a trigger that
//! fails every insert).

use std::path::PathBuf;

use graphql_mutations::{Db, NewProduct, app, create_schema, insert_customer, insert_product};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, Value, json};

/// The exact message of an internal error, as the exercise states it.
const INTERNAL_MESSAGE: &str = "internal error";

/// A shop: the app served over a database file, and that file, for the
/// test's own connection.
struct Shop {
    server: TestServer,
    path: PathBuf,
    /// The id of the one customer every shop starts with.
    customer: i64,
    _folder: TempDir,
}

/// A new shop with one customer (Ada) and no products.
async fn shop() -> Shop {
    let folder = testkit::tempfile::tempdir().expect("a temporary folder could not be made");
    let path = folder.path().join("shop.db");
    let db = Connection::open(&path).expect("SQLite could not open a database file");
    if let Err(error) = create_schema(&db) {
        panic!("\ncreate_schema failed on an empty database: {error}\n");
    }
    let customer = insert_customer(&db, "Ada Lovelace", "ada@example.com")
        .expect("insert_customer stores a customer");
    let server = TestServer::spawn(app(Db::new(db))).await;
    Shop {
        server,
        path,
        customer,
        _folder: folder,
    }
}

impl Shop {
    /// The test's own connection to the shop's database.
    fn db(&self) -> Connection {
        let db = Connection::open(&self.path).expect("the test could not open the shop's file");
        db.busy_timeout(std::time::Duration::from_secs(5))
            .expect("a busy timeout can be set");
        db
    }

    /// Stores a product straight in the database; returns its id.
    fn seed(&self, sku: &str, name: &str, price_cents: i32, stock: i32) -> i64 {
        let new = NewProduct {
            sku: sku.to_string(),
            name: name.to_string(),
            price_cents,
            stock,
        };
        let product = insert_product(&self.db(), &new).expect("the test could seed a product");
        product.id.parse().expect("a product's id is a number")
    }

    /// Posts a GraphQL request; checks that the answer is `200 OK` with a
    /// JSON body, as every GraphQL answer here is, refusals included.
    async fn graphql(&self, query: &str, variables: Value) -> Reply {
        let body = json!({ "query": query, "variables": variables });
        let reply = self.server.post("/graphql").json(&body).send().await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 200 OK, as GraphQL answers even a refused mutation, got {}",
                    testkit::status_text(reply.status())
                ),
                "The router is given: does `app()` still serve the schema at POST /graphql?",
            );
        }
        let _ = reply.json();
        reply
    }

    /// `createProduct` with these fields, asking for every field back.
    async fn create(&self, input: &Value) -> Reply {
        self.graphql(CREATE_PRODUCT, json!({ "input": input }))
            .await
    }

    /// `placeOrder` with this input, asking for the whole order back.
    async fn place(&self, input: &Value) -> Reply {
        self.graphql(PLACE_ORDER, json!({ "input": input })).await
    }

    /// How many rows `sql` (a `SELECT count(*) ...`) counts.
    fn count(&self, sql: &str) -> i64 {
        self.db()
            .query_row(sql, [], |row| row.get(0))
            .expect("the test's count runs")
    }

    /// A product's stock, as stored.
    fn stock(&self, id: i64) -> i64 {
        self.db()
            .query_row("SELECT stock FROM products WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .expect("the test reads a product's stock")
    }

    /// The `(id, stock)` of every product, and the number of orders and
    /// order items: what a refused or failed mutation must leave as it was.
    fn state(&self) -> (Vec<(i64, i64)>, i64, i64) {
        let db = self.db();
        let mut statement = db
            .prepare("SELECT id, stock FROM products ORDER BY id")
            .expect("the test reads the products");
        let stocks = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("the test reads the products")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("the test reads the products");
        let orders = db
            .query_row("SELECT count(*) FROM orders", [], |row| row.get(0))
            .unwrap_or(-1);
        let items = db
            .query_row("SELECT count(*) FROM order_items", [], |row| row.get(0))
            .unwrap_or(-1);
        (stocks, orders, items)
    }
}

const CREATE_PRODUCT: &str = "mutation Create($input: NewProduct!) {
  createProduct(input: $input) { id sku name priceCents stock }
}";

const PLACE_ORDER: &str = "mutation Place($input: PlaceOrder!) {
  placeOrder(input: $input) {
    id status totalCents createdAt
    customer { id name }
    items { product { id sku stock } quantity priceCents }
  }
}";

/// `createProduct`'s input.
fn product(sku: &str, name: &str, price_cents: i64, stock: i64) -> Value {
    json!({ "sku": sku, "name": name, "priceCents": price_cents, "stock": stock })
}

/// `placeOrder`'s input: the customer, and `(product id, quantity)` lines.
fn order(customer: &str, lines: &[(&str, i64)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|(product, quantity)| json!({ "productId": product, "quantity": quantity }))
        .collect();
    json!({ "customerId": customer, "items": items })
}

/// The `data` of an answer that must have succeeded, or the test fails.
#[track_caller]
fn expect_data(reply: &Reply, what: &str) -> Value {
    let body = reply.json();
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        let first = errors
            .first()
            .and_then(|error| error.get("message"))
            .cloned()
            .unwrap_or(Value::Null);
        reply.fail(&format!(
            "expected {what} to succeed, got {} error(s), the first: {first}",
            errors.len()
        ));
    }
    match body.get("data") {
        Some(data) if data.is_object() => data.clone(),
        _ => reply.fail(&format!(
            "expected {what} to succeed with a `data` object, got none"
        )),
    }
}

/// One error an answer must have: its code and field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Expected<'a> {
    code: &'a str,
    field: &'a str,
}

fn bad(field: &str) -> Expected<'_> {
    Expected {
        code: "BAD_USER_INPUT",
        field,
    }
}

fn list(expected: &[Expected<'_>]) -> String {
    let shown: Vec<String> = expected
        .iter()
        .map(|error| format!("{} at {}", error.code, error.field))
        .collect();
    format!("[{}]", shown.join(", "))
}

/// Fails unless the answer is a refusal of the mutation (or query) field
/// `field`: `data` is one of `expected_data`, and `errors` holds exactly
/// the expected errors, in any order, each with a human message, the path
/// `[field]`, and `extensions` with the expected `code` and `field`.
/// `diagnosis` says what usually causes a difference.
#[track_caller]
fn expect_errors(
    reply: &Reply,
    field: &str,
    expected_data: &[Value],
    expected: &[Expected<'_>],
    diagnosis: &str,
) {
    let body = reply.json();
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        reply.fail_with_diagnosis(
            &format!(
                "expected the errors {}, got no `errors` at all: `{field}` succeeded",
                list(expected)
            ),
            diagnosis,
        );
    };
    let mut actual = Vec::new();
    let mut without_extensions = false;
    for (index, error) in errors.iter().enumerate() {
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        if message.trim().is_empty() {
            reply.fail_with_diagnosis(
                &format!("error {index} has no message for a human"),
                "Every error has a `message`, a sentence that says what is wrong.",
            );
        }
        let path = error.get("path").cloned().unwrap_or(Value::Null);
        if path != json!([field]) {
            reply.fail_with_diagnosis(
                &format!("error {index} has the path {path}, expected [\"{field}\"]"),
                "An error's `path` names the field of the response it concerns: the \
                 mutation's field, which async-graphql sets for an error the resolver \
                 returns (or `all_of` reports).",
            );
        }
        let code = error.pointer("/extensions/code").and_then(Value::as_str);
        let at = error.pointer("/extensions/field").and_then(Value::as_str);
        actual.push(match (code, at) {
            (Some(code), Some(at)) => format!("{code} at {at}"),
            (Some(code), None) => {
                without_extensions = true;
                format!("{code} with no extensions.field")
            }
            _ => {
                without_extensions = true;
                format!("{message:?} with no extensions.code")
            }
        });
    }
    actual.sort();
    let mut wanted: Vec<String> = expected
        .iter()
        .map(|error| format!("{} at {}", error.code, error.field))
        .collect();
    wanted.sort();
    if actual != wanted {
        let diagnosis = if without_extensions {
            "A client reads `extensions.code` to know what went wrong and \
             `extensions.field` to show the message beside the right input: each error \
             needs both, as `{\"code\": \"BAD_USER_INPUT\", \"field\": \"input.sku\"}`."
        } else {
            diagnosis
        };
        reply.fail_with_diagnosis(
            &format!(
                "expected the errors [{}], got [{}]",
                wanted.join(", "),
                actual.join(", ")
            ),
            diagnosis,
        );
    }
    let data = body.get("data");
    if !expected_data.iter().any(|expected| data == Some(expected)) {
        let shown: Vec<String> = expected_data.iter().map(Value::to_string).collect();
        reply.fail_with_diagnosis(
            &format!(
                "expected `data` to be {} beside the errors, got {}",
                shown.join(" or "),
                data.map_or("nothing".to_string(), Value::to_string)
            ),
            "A field whose resolver fails gives no value: its resolver returns `Err`, and \
             async-graphql answers the errors and `data: null` when no root field is left.",
        );
    }
}

/// Fails unless the answer is the internal error of `field`, exactly:
/// `{"message": "internal error", "path": [field], "extensions": {"code":
/// "INTERNAL_SERVER_ERROR"}}` (and `locations`), with `data` null and not a
/// word of what failed anywhere in the body.
#[track_caller]
fn expect_internal_error(reply: &Reply, field: &str, canary: &str) {
    let body = reply.json();
    let text = reply.text().to_lowercase();
    let leaks = [
        canary,
        "/var/lib",
        "sqlite",
        "constraint",
        "no such table",
        "order_items",
        "products",
        "rusqlite",
        "failure",
        "error {",
        "code:",
        "panicked",
    ];
    if let Some(leak) = leaks
        .iter()
        .find(|leak| text.contains(&leak.to_lowercase()))
    {
        reply.fail_with_diagnosis(
            &format!("the answer to a failed `{field}` tells the client `{leak}`"),
            "The database's own message (SQL, table names, file paths, SQLite's codes) is for \
             the server's log, never for the client: it helps an attacker map the system and \
             helps a user not at all. async-graphql turns `?` on any error that implements \
             Display into an error with that text, so `?` on a rusqlite error sends it all: \
             map the error to the stated internal error instead.",
        );
    }
    let errors = body
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let [error] = errors.as_slice() else {
        reply.fail(&format!(
            "expected exactly 1 error when the database fails during `{field}`, got {}",
            errors.len()
        ));
    };
    let mut shown = error.clone();
    if let Some(object) = shown.as_object_mut() {
        object.remove("locations");
    }
    let expected = json!({
        "message": INTERNAL_MESSAGE,
        "path": [field],
        "extensions": { "code": "INTERNAL_SERVER_ERROR" },
    });
    if shown != expected {
        reply.fail_with_diagnosis(
            &format!("expected the internal error {expected}, got {shown}"),
            "When the database fails, the client learns that it is not its fault and nothing \
             more: the message \"internal error\" and the code INTERNAL_SERVER_ERROR, no \
             `field`. The cause goes to the log.",
        );
    }
    if body.get("data") != Some(&Value::Null) {
        reply.fail(&format!(
            "expected `data` to be null after `{field}` failed, got {}",
            body.get("data")
                .map_or("nothing".to_string(), Value::to_string)
        ));
    }
}

/// Fails unless the shop's products, orders and order items are as they
/// were (`before`), after `what`.
#[track_caller]
fn expect_unchanged(shop: &Shop, reply: &Reply, before: &(Vec<(i64, i64)>, i64, i64), what: &str) {
    let after = shop.state();
    if &after != before {
        reply.fail_with_diagnosis(
            &format!(
                "{what} changed the shop: (product id, stock), orders, order items were \
                 {before:?}, are {after:?}"
            ),
            "A refused or failed order changes nothing: every check and every change of \
             `placeOrder` happens in one transaction, and any failure rolls it all back \
             (a transaction dropped without `commit` rolls back). Checking each line's stock \
             and taking it line by line outside a transaction leaves the earlier lines' \
             stock taken when a later line fails.",
        );
    }
}

/// Whether `text` is an RFC 3339 UTC timestamp as SQLite makes them:
/// `2026-11-30T09:15:00Z`.
fn is_utc_timestamp(text: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:ddZ";
    text.len() == shape.len()
        && text
            .bytes()
            .zip(shape.bytes())
            .all(|(byte, expected)| match expected {
                b'd' => byte.is_ascii_digit(),
                _ => byte == expected,
            })
}

#[tokio::test]
async fn create_product_stores_the_product_and_answers_it() {
    let shop = shop().await;
    let input = product("TEA-GREEN", "Thé vert, 100 g", 450, 30);

    let reply = shop.create(&input).await;

    let data = expect_data(&reply, "createProduct with a valid input");
    let created = &data["createProduct"];
    let Some(id) = created["id"]
        .as_str()
        .filter(|id| id.parse::<i64>().is_ok())
    else {
        reply.fail(&format!(
            "expected the new product's `id` to be an ID string such as \"1\", got {}",
            created["id"]
        ));
    };
    let expected = json!({
        "id": id, "sku": "TEA-GREEN", "name": "Thé vert, 100 g", "priceCents": 450, "stock": 30,
    });
    if created != &expected {
        reply.fail(&format!(
            "expected createProduct to answer the product {expected}, got {created}"
        ));
    }
    let stored = shop.count(
        "SELECT count(*) FROM products WHERE sku = 'TEA-GREEN' AND name = 'Thé vert, 100 g'
         AND price_cents = 450 AND stock = 30",
    );
    if stored != 1 {
        reply.fail(&format!(
            "expected the product in the database once, found it {stored} times"
        ));
    }

    let read = shop
        .graphql(
            "query Read($id: ID!) { product(id: $id) { id sku name priceCents stock } }",
            json!({ "id": id }),
        )
        .await;
    let data = expect_data(&read, "reading the product just created");
    if data["product"] != expected {
        read.fail(&format!(
            "expected product(id: {id}) to be the product created, {expected}, got {}",
            data["product"]
        ));
    }
}

#[tokio::test]
async fn each_broken_rule_is_one_bad_user_input_error_at_its_field() {
    let shop = shop().await;
    let valid = ("MUG-RED", "Red mug", 1250, 12);
    let long_ascii = "m".repeat(101);
    let long_accents = "é".repeat(101);
    let sku_33 = "ABCDEFGH-".repeat(3) + "ABCDEF";
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            product("", valid.1, valid.2, valid.3),
            "input.sku",
            "an empty sku",
        ),
        (
            product("mug-red", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku in small letters",
        ),
        (
            product("MUG--RED", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku with two hyphens in a row",
        ),
        (
            product("-MUG", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku that starts with a hyphen",
        ),
        (
            product("MUG-", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku that ends with a hyphen",
        ),
        (
            product("MUG RED", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku with a space",
        ),
        (
            product("MUG_RED", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku with an underscore",
        ),
        (
            product("MÜG", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku with a capital outside ASCII",
        ),
        (
            product("MUG-RED\n", valid.1, valid.2, valid.3),
            "input.sku",
            "a sku that ends with a newline",
        ),
        (
            product(&sku_33, valid.1, valid.2, valid.3),
            "input.sku",
            "a sku of 33 characters",
        ),
        (
            product(valid.0, "", valid.2, valid.3),
            "input.name",
            "an empty name",
        ),
        (
            product(valid.0, "   ", valid.2, valid.3),
            "input.name",
            "a name of spaces",
        ),
        (
            product(valid.0, "\t\n", valid.2, valid.3),
            "input.name",
            "a name of a tab and a newline",
        ),
        (
            product(valid.0, &long_ascii, valid.2, valid.3),
            "input.name",
            "a name of 101 characters",
        ),
        (
            product(valid.0, &long_accents, valid.2, valid.3),
            "input.name",
            "a name of 101 characters outside ASCII",
        ),
        (
            product(valid.0, valid.1, -1, valid.3),
            "input.priceCents",
            "a price of -1",
        ),
        (
            product(valid.0, valid.1, 1_000_001, valid.3),
            "input.priceCents",
            "a price of 1000001",
        ),
        (
            product(valid.0, valid.1, i64::from(i32::MIN), valid.3),
            "input.priceCents",
            "a price of -2147483648",
        ),
        (
            product(valid.0, valid.1, valid.2, -1),
            "input.stock",
            "a stock of -1",
        ),
        (
            product(valid.0, valid.1, valid.2, 100_001),
            "input.stock",
            "a stock of 100001",
        ),
    ];
    for (input, field, what) in &cases {
        let reply = shop.create(input).await;
        let diagnosis = format!(
            "The input has one broken rule, {what}: the answer is one error with the code \
             BAD_USER_INPUT (Apollo's code for a value the client must change; not \
             BAD_REQUEST, not VALIDATION_ERROR) and the field {field}. Lengths count \
             characters, not bytes (`chars().count()`, not `len()`); a sku is capital letters \
             A to Z and digits only, in groups joined by single hyphens."
        );
        expect_errors(
            &reply,
            "createProduct",
            &[Value::Null],
            &[bad(field)],
            &diagnosis,
        );
        let stored = shop.count("SELECT count(*) FROM products");
        if stored != 0 {
            reply.fail_with_diagnosis(
                &format!("a refused createProduct ({what}) stored the product anyway"),
                "Validate first, and store only an input that breaks no rule.",
            );
        }
    }
}

#[tokio::test]
async fn values_at_every_limit_are_accepted() {
    let shop = shop().await;
    let sku_32 = "ABCDEFGH-".repeat(3) + "ABCDE";
    let name_100 = "é".repeat(100);
    let cases: Vec<(Value, &str)> = vec![
        (product(&sku_32, "Mug", 1, 1), "a sku of 32 characters"),
        (product("A", "Mug", 1, 1), "a sku of one capital"),
        (
            product("0-9-Z", "Mug", 1, 1),
            "a sku of single characters joined by hyphens",
        ),
        (
            product("NAME-100", &name_100, 1, 1),
            "a name of 100 characters outside ASCII (200 bytes)",
        ),
        (product("NAME-1", "x", 1, 1), "a name of one character"),
        (
            product("NAME-PADDED", "  Mug  ", 1, 1),
            "a name with spaces around it",
        ),
        (product("FREE", "Sticker", 0, 1), "a price of 0"),
        (
            product("DEAR", "Gold mug", 1_000_000, 1),
            "a price of 1000000",
        ),
        (product("GONE", "Old mug", 1, 0), "a stock of 0"),
        (product("LOTS", "Pencil", 1, 100_000), "a stock of 100000"),
    ];
    for (input, what) in &cases {
        let reply = shop.create(input).await;
        let body = reply.json();
        if let Some(errors) = body.get("errors").and_then(Value::as_array) {
            let messages: Vec<&str> = errors
                .iter()
                .map(|error| error["message"].as_str().unwrap_or_default())
                .collect();
            reply.fail_with_diagnosis(
                &format!("createProduct refused {what}, which every rule allows: {messages:?}"),
                "Each limit is inclusive: 1 to 32 characters of sku, 1 to 100 characters of \
                 name counted as characters (\"é\" is one character and two bytes), price 0 to \
                 1000000, stock 0 to 100000. A name only has to be more than whitespace: it \
                 is stored as given.",
            );
        }
        let created = &expect_data(&reply, "createProduct at a limit")["createProduct"];
        for key in ["sku", "name", "priceCents", "stock"] {
            if created[key] != input[key] {
                reply.fail(&format!(
                    "expected createProduct ({what}) to store and answer {key} {}, got {}",
                    input[key], created[key]
                ));
            }
        }
    }

    // The given `products` query lists them, in the order they were made.
    let listed = shop
        .graphql("{ products(first: 3) { sku } }", json!({}))
        .await;
    let data = expect_data(&listed, "listing the first 3 products");
    let expected =
        json!({ "products": [{ "sku": cases[0].0["sku"] }, { "sku": "A" }, { "sku": "0-9-Z" }] });
    if data != expected {
        listed.fail(&format!(
            "expected products(first: 3) to be {expected}, got {data}"
        ));
    }
    let refused = shop
        .graphql("{ products(first: 101) { sku } }", json!({}))
        .await;
    expect_errors(
        &refused,
        "products",
        &[json!({ "products": null }), Value::Null],
        &[bad("first")],
        "The given `products` query refuses more than 100 products with a Problem at `first`, \
         turned into an error by your `From<Problem>`.",
    );
}

#[tokio::test]
async fn every_broken_rule_of_one_input_is_reported() {
    let shop = shop().await;
    let diagnosis = "Every broken rule of the input is its own error, so that a form can show \
                     each message beside its field at once: collect the problems, then report \
                     them all (the given `all_of` turns a list into the field's errors), not \
                     only the first.";

    let reply = shop.create(&product("mug red", " ", -5, 100_001)).await;
    let all = [
        bad("input.sku"),
        bad("input.name"),
        bad("input.priceCents"),
        bad("input.stock"),
    ];
    expect_errors(&reply, "createProduct", &[Value::Null], &all, diagnosis);

    let reply = shop.create(&product("MUG-RED", "", 1250, -1)).await;
    let two = [bad("input.name"), bad("input.stock")];
    expect_errors(&reply, "createProduct", &[Value::Null], &two, diagnosis);

    let stored = shop.count("SELECT count(*) FROM products");
    if stored != 0 {
        reply.fail(&format!(
            "refused createProduct calls stored {stored} product(s) anyway"
        ));
    }
}

#[tokio::test]
async fn a_taken_sku_is_a_conflict_at_input_sku_and_changes_nothing() {
    let shop = shop().await;
    shop.seed("MUG-RED", "Red mug", 1250, 12);

    let reply = shop
        .create(&product("MUG-RED", "Another red mug", 990, 1))
        .await;

    expect_errors(
        &reply,
        "createProduct",
        &[Value::Null],
        &[Expected {
            code: "CONFLICT",
            field: "input.sku",
        }],
        "A sku another product has is a conflict with what is stored: the code CONFLICT at \
         input.sku. The database tells it with a UNIQUE constraint error (the given \
         `is_unique_violation` recognises it); any other database error is internal.",
    );
    let text = reply.text().to_lowercase();
    for leak in ["unique", "constraint", "sqlite", "products.sku"] {
        if text.contains(leak) {
            reply.fail_with_diagnosis(
                &format!("the conflict's answer tells the client `{leak}`"),
                "The conflict's message is your own sentence (\"a product with sku MUG-RED \
                 already exists\"), not the database's.",
            );
        }
    }
    let kept = shop.count(
        "SELECT count(*) FROM products WHERE sku = 'MUG-RED' AND name = 'Red mug' AND stock = 12",
    );
    let all = shop.count("SELECT count(*) FROM products");
    if kept != 1 || all != 1 {
        reply.fail(&format!(
            "expected the shop to hold the first MUG-RED and nothing else, found {all} product(s)"
        ));
    }
}

#[tokio::test]
async fn a_failing_database_is_an_internal_error_that_tells_nothing() {
    let shop = shop().await;
    let canary = "canary-4711";
    shop.db()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON products
             BEGIN SELECT RAISE(ABORT, '{canary}: disk full at /var/lib/shop/shop.db'); END;"
        ))
        .expect("the test could add its trigger");

    let reply = shop.create(&product("MUG-RED", "Red mug", 1250, 12)).await;

    expect_internal_error(&reply, "createProduct", canary);

    shop.db()
        .execute_batch("DROP TRIGGER refuse; DROP TABLE products;")
        .expect("the test could drop the products table");
    let reply = shop
        .create(&product("MUG-BLUE", "Blue mug", 1250, 12))
        .await;
    expect_internal_error(&reply, "createProduct", canary);
}

#[tokio::test]
async fn two_mutations_run_one_after_the_other_and_a_failed_one_nulls_data() {
    let shop = shop().await;
    let query = "mutation Twice($input: NewProduct!) {
      first: createProduct(input: $input) { sku }
      second: createProduct(input: $input) { sku }
    }";
    let input = product("MUG-RED", "Red mug", 1250, 12);

    let reply = shop.graphql(query, json!({ "input": input })).await;

    expect_errors(
        &reply,
        "second",
        // The spec's answer (the non-null `second` nulls `data`), and
        // async-graphql 7.2's, which leaves the failed field out.
        &[Value::Null, json!({ "first": { "sku": "MUG-RED" } })],
        &[Expected {
            code: "CONFLICT",
            field: "input.sku",
        }],
        "The fields of a mutation run one after the other (GraphQL spec, 6.3.1: \"executed \
         serially\"): the second createProduct finds the sku the first one stored, a \
         CONFLICT; its path is its alias. The first one's product stays stored.",
    );
    let stored = shop.count("SELECT count(*) FROM products WHERE sku = 'MUG-RED'");
    if stored != 1 {
        reply.fail(&format!(
            "expected the first createProduct's product to be stored once, found {stored}"
        ));
    }
}

#[tokio::test]
async fn an_id_that_is_not_a_number_is_bad_user_input_and_a_nullable_field_is_null() {
    let shop = shop().await;

    let reply = shop
        .graphql(
            "query Read($id: ID!) { product(id: $id) { sku } }",
            json!({ "id": "MUG-RED" }),
        )
        .await;

    expect_errors(
        &reply,
        "product",
        // The spec's answer, and async-graphql 7.2's, which leaves a failed
        // field out and makes an empty `data` null.
        &[json!({ "product": null }), Value::Null],
        &[bad("id")],
        "The given `product` resolver turns an id that is not a number into a Problem \
         (BAD_USER_INPUT at `id`) and returns it with `?`: that takes `From<Problem> for \
         Error`, which must carry the problem's message, code and field.",
    );
}

#[tokio::test]
async fn place_order_takes_the_stock_and_answers_the_order() {
    let shop = shop().await;
    let mug = shop.seed("MUG-RED", "Red mug", 1250, 12);
    let tea = shop.seed("TEA-GREEN", "Thé vert", 450, 3);
    let customer = shop.customer.to_string();

    let reply = shop
        .place(&order(
            &customer,
            &[(&tea.to_string(), 3), (&mug.to_string(), 2)],
        ))
        .await;

    let data = expect_data(&reply, "placeOrder with enough stock");
    let placed = &data["placeOrder"];
    let id = placed["id"].as_str().unwrap_or_default().to_string();
    let created_at = placed["createdAt"].as_str().unwrap_or_default().to_string();
    let expected = json!({
        "id": id,
        "status": "PENDING",
        "totalCents": 3 * 450 + 2 * 1250,
        "createdAt": created_at,
        "customer": { "id": customer, "name": "Ada Lovelace" },
        "items": [
            {
                "product": { "id": mug.to_string(), "sku": "MUG-RED", "stock": 10 },
                "quantity": 2,
                "priceCents": 1250,
            },
            {
                "product": { "id": tea.to_string(), "sku": "TEA-GREEN", "stock": 0 },
                "quantity": 3,
                "priceCents": 450,
            },
        ],
    });
    if !is_utc_timestamp(&created_at) {
        reply.fail(&format!(
            "expected the order's createdAt to be a UTC time such as 2026-11-30T09:15:00Z, \
             got {}",
            placed["createdAt"]
        ));
    }
    if id.parse::<i64>().is_err() || placed != &expected {
        reply.fail_with_diagnosis(
            &format!("expected placeOrder to answer the order {expected}, got {placed}"),
            "The order is `pending`, each line at the product's price now, `totalCents` the \
             sum of quantity times price, and each product's stock less the quantity ordered (the \
             given `Order` type reads it back once it is stored).",
        );
    }
    let (stocks, orders, items) = shop.state();
    if stocks != vec![(mug, 10), (tea, 0)] || orders != 1 || items != 2 {
        reply.fail(&format!(
            "expected stocks [({mug}, 10), ({tea}, 0)], 1 order and 2 order items in the \
             database, found {stocks:?}, {orders} order(s), {items} item(s)"
        ));
    }

    // The order, read back by the given `order` query, in every status the
    // table allows (the shop's staff move it on; no mutation here does).
    for (column, shown) in [
        ("paid", "PAID"),
        ("shipped", "SHIPPED"),
        ("cancelled", "CANCELLED"),
    ] {
        shop.db()
            .execute("UPDATE orders SET status = ?1", [column])
            .expect("the test could change the order's status");
        let read = shop
            .graphql(
                "query Read($id: ID!) { order(id: $id) { id status totalCents } }",
                json!({ "id": id }),
            )
            .await;
        let expected =
            json!({ "order": { "id": id, "status": shown, "totalCents": 3 * 450 + 2 * 1250 } });
        if expect_data(&read, "reading the order back") != expected {
            read.fail(&format!(
                "expected order(id: {id}) to read {expected} once its status is '{column}'"
            ));
        }
    }
}

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_out_of_stock_and_changes_nothing() {
    let shop = shop().await;
    let mug = shop.seed("MUG-RED", "Red mug", 1250, 12);
    let tea = shop.seed("TEA-GREEN", "Thé vert", 450, 3);
    let customer = shop.customer.to_string();
    let before = shop.state();

    let reply = shop
        .place(&order(
            &customer,
            &[(&mug.to_string(), 2), (&tea.to_string(), 4)],
        ))
        .await;

    expect_errors(
        &reply,
        "placeOrder",
        &[Value::Null],
        &[Expected {
            code: "OUT_OF_STOCK",
            field: "input.items.1.quantity",
        }],
        "The second line asks for 4 of a product with 3 in stock: OUT_OF_STOCK at that \
         line's quantity (lines count from 0). Check the stock before taking it: taking \
         more than there is breaks the table's CHECK (stock >= 0), a database error that \
         is no answer for the client.",
    );
    expect_unchanged(&shop, &reply, &before, "an order refused as out of stock");

    let reply = shop
        .place(&order(&customer, &[(&tea.to_string(), 3)]))
        .await;
    expect_data(&reply, "placeOrder for exactly the stock there is");
    if shop.stock(tea) != 0 {
        reply.fail(&format!(
            "expected an order for all 3 in stock to leave 0, the stock is {}",
            shop.stock(tea)
        ));
    }
}

#[tokio::test]
async fn each_broken_rule_of_an_order_is_an_error_at_its_field() {
    let shop = shop().await;
    let mug = shop.seed("MUG-RED", "Red mug", 1250, 500).to_string();
    let tea = shop.seed("TEA-GREEN", "Thé vert", 450, 500).to_string();
    let customer = shop.customer.to_string();
    let ids: Vec<String> = (1..=21).map(|id| id.to_string()).collect();
    let many: Vec<(&str, i64)> = ids.iter().map(|id| (id.as_str(), 1)).collect();
    let cases: Vec<(Value, Vec<Expected<'_>>, &str)> = vec![
        (
            order(&customer, &[]),
            vec![bad("input.items")],
            "an order with no lines",
        ),
        (
            order(&customer, &many),
            vec![bad("input.items")],
            "an order with 21 lines",
        ),
        (
            order(&customer, &[(&mug, 0)]),
            vec![bad("input.items.0.quantity")],
            "a quantity of 0",
        ),
        (
            order(&customer, &[(&tea, 1), (&mug, -1)]),
            vec![bad("input.items.1.quantity")],
            "a quantity of -1 on the second line",
        ),
        (
            order(&customer, &[(&mug, 101)]),
            vec![bad("input.items.0.quantity")],
            "a quantity of 101",
        ),
        (
            order(&customer, &[(&mug, 1), ("MUG-RED", 1)]),
            vec![bad("input.items.1.productId")],
            "a product id that is not a number",
        ),
        (
            order("ada", &[(&mug, 1)]),
            vec![bad("input.customerId")],
            "a customer id that is not a number",
        ),
        (
            order(&customer, &[(&mug, 1), (&tea, 1), (&mug, 2)]),
            vec![bad("input.items.2.productId")],
            "the same product on two lines",
        ),
        (
            order("", &[(&mug, 0), ("x", 5)]),
            vec![
                bad("input.customerId"),
                bad("input.items.0.quantity"),
                bad("input.items.1.productId"),
            ],
            "three broken rules",
        ),
    ];
    let before = shop.state();
    for (input, expected, what) in &cases {
        let reply = shop.place(input).await;
        let diagnosis = format!(
            "The input has {what}: each broken rule is an error with the code BAD_USER_INPUT \
             at its field (lines count from 0: `input.items.1.quantity` is the second line's \
             quantity). An order has 1 to 20 lines, each of a different product, each for 1 \
             to 100; ids are whole numbers. Every broken rule is reported, not only the first."
        );
        expect_errors(&reply, "placeOrder", &[Value::Null], expected, &diagnosis);
        expect_unchanged(
            &shop,
            &reply,
            &before,
            &format!("an order refused for {what}"),
        );
    }

    let mut lines: Vec<(String, i64)> = vec![(mug.clone(), 100)];
    for index in 0..19 {
        let id = shop.seed(&format!("PEN-{index}"), "Pencil", 100, 1);
        lines.push((id.to_string(), 1));
    }
    let lines: Vec<(&str, i64)> = lines.iter().map(|(id, n)| (id.as_str(), *n)).collect();
    let reply = shop.place(&order(&customer, &lines)).await;
    let data = expect_data(&reply, "placeOrder with 20 lines, the first for 100");
    let total = &data["placeOrder"]["totalCents"];
    if total != &json!(100 * 1250 + 19 * 100) {
        reply.fail(&format!(
            "expected the order of 20 lines to total {} cents, got {total}",
            100 * 1250 + 19 * 100
        ));
    }
}

#[tokio::test]
async fn an_unknown_customer_or_product_is_not_found_and_changes_nothing() {
    let shop = shop().await;
    let mug = shop.seed("MUG-RED", "Red mug", 1250, 12).to_string();
    let customer = shop.customer.to_string();
    let before = shop.state();
    let diagnosis = "An id that is a number but names nothing is NOT_FOUND at the field that \
                     holds it; it is found in the database, inside the order's transaction, \
                     and the order changes nothing.";

    let reply = shop.place(&order("999", &[(&mug, 1)])).await;
    let at_customer = [Expected {
        code: "NOT_FOUND",
        field: "input.customerId",
    }];
    expect_errors(
        &reply,
        "placeOrder",
        &[Value::Null],
        &at_customer,
        diagnosis,
    );
    expect_unchanged(&shop, &reply, &before, "an order for an unknown customer");

    let reply = shop
        .place(&order(&customer, &[(&mug, 1), ("999", 1)]))
        .await;
    let at_product = [Expected {
        code: "NOT_FOUND",
        field: "input.items.1.productId",
    }];
    expect_errors(&reply, "placeOrder", &[Value::Null], &at_product, diagnosis);
    expect_unchanged(&shop, &reply, &before, "an order with an unknown product");
}

#[tokio::test]
async fn an_order_the_database_fails_to_store_is_an_internal_error_and_takes_no_stock() {
    let shop = shop().await;
    let mug = shop.seed("MUG-RED", "Red mug", 1250, 12);
    let tea = shop.seed("TEA-GREEN", "Thé vert", 450, 3);
    let customer = shop.customer.to_string();
    shop.db()
        .execute_batch("DROP TABLE order_items;")
        .expect("the test could drop order_items");
    let before = shop.state();

    let reply = shop
        .place(&order(
            &customer,
            &[(&mug.to_string(), 2), (&tea.to_string(), 1)],
        ))
        .await;

    expect_internal_error(&reply, "placeOrder", "canary-4711");
    expect_unchanged(
        &shop,
        &reply,
        &before,
        "an order whose items could not be stored",
    );
    if shop.stock(mug) != 12 {
        reply.fail("the failed order took stock");
    }
}
