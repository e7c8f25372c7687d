//! Tests for api/problem-details: the products API on a real SQLite file in
//! a temporary folder, called over HTTP on 127.0.0.1. Every way a request
//! can fail is provoked for real (a missing product, a route or a method
//! that does not exist, a body that is not JSON, a dropped table) and its
//! answer must be an RFC 9457 problem: `content-type:
//! application/problem+json` exactly, and a JSON object with `type`,
//! `title`, `status` (the response's status, as a number), `detail` and
//! `instance` (the request's path).

use std::path::PathBuf;

use api_problem_details::{app, create_schema};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::trace::Recording;
use testkit::{Reply, TestServer, Value, json};

/// The products API on a new database file, served for one test.
struct Shop {
    folder: TempDir,
    path: PathBuf,
    server: TestServer,
}

impl Shop {
    async fn open() -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        create_schema(&db).expect("create_schema failed on an empty database");
        let server = TestServer::spawn(app(db)).await;
        Shop {
            folder,
            path,
            server,
        }
    }

    /// Creates a product through the API, and returns its id.
    async fn create(&self, sku: &str) -> i64 {
        let reply = self
            .server
            .post("/products")
            .json(&json!({"sku": sku, "name": "Red mug", "price_cents": 1250, "stock": 12}))
            .send()
            .await;
        reply.assert_status(201);
        match reply.json()["id"].as_i64() {
            Some(id) => id,
            None => reply.fail("expected the created product's `id`, a number, in the body"),
        }
    }

    /// Breaks the database under the app: the test drops the products table
    /// with a connection of its own, so that every query of the app fails in
    /// SQLite with `no such table: products`.
    fn drop_the_products_table(&self) {
        let db = Connection::open(&self.path).expect("the test could not open the database");
        db.execute_batch("DROP TABLE products")
            .expect("the test could not drop the products table");
    }
}

/// What a problem must say, member by member.
struct Expected<'a> {
    status: u16,
    type_uri: &'a str,
    title: &'a str,
    instance: &'a str,
}

/// The titles RFC 9110 and the `http` crate give these statuses: an
/// `about:blank` problem's title is its status's reason phrase, and two
/// were renamed by RFC 9110 (either name is fine).
fn reason_phrases(status: u16) -> &'static [&'static str] {
    match status {
        404 => &["Not Found"],
        405 => &["Method Not Allowed"],
        413 => &["Payload Too Large", "Content Too Large"],
        415 => &["Unsupported Media Type"],
        500 => &["Internal Server Error"],
        _ => &[],
    }
}

/// Checks that `reply` is the problem `expected` describes, member by
/// member, and returns its members for the test's own checks.
#[track_caller]
fn assert_problem(reply: &Reply, expected: &Expected) -> serde_json::Map<String, Value> {
    reply.assert_status(expected.status);
    match reply.header("content-type") {
        Some("application/problem+json") => {}
        Some(other) => reply.fail_with_diagnosis(
            &format!("expected content type `application/problem+json`, got `{other}`"),
            "Every error answers an RFC 9457 problem, whose media type is \
             `application/problem+json`, exactly, without parameters (JSON is always UTF-8: \
             there is no charset to give). A client chooses how to read an error by it. \
             `Json(...)` sets `application/json`: the problem's content type must replace it.",
        ),
        None => reply.fail_with_diagnosis(
            "expected content type `application/problem+json`, but the response has none",
            "Every error answers an RFC 9457 problem: a JSON body sent as \
             `application/problem+json`.",
        ),
    }
    let body = reply.json();
    let Some(members) = body.as_object() else {
        reply.fail("expected a JSON object as the problem, got another JSON value")
    };
    match members.get("status") {
        Some(Value::Number(number)) if number.as_u64() == Some(u64::from(expected.status)) => {}
        Some(Value::Number(number)) => reply.fail_with_diagnosis(
            &format!(
                "the problem's `status` member is {number}, but the response's status is {}",
                expected.status
            ),
            "The `status` member repeats the response's status code, so that the problem \
             still says it when a proxy or a log keeps only the body.",
        ),
        Some(Value::String(text)) => reply.fail_with_diagnosis(
            &format!(
                "the problem's `status` member is the string {text:?}, expected the number {}",
                expected.status
            ),
            "RFC 9457 makes `status` a JSON number: 404, not \"404\".",
        ),
        Some(other) => reply.fail(&format!(
            "the problem's `status` member is {other}, expected the number {}",
            expected.status
        )),
        None => reply.fail_with_diagnosis(
            "the problem has no `status` member",
            "Every problem carries `type`, `title`, `status`, `detail` and `instance`.",
        ),
    }
    for (member, value) in [
        ("type", expected.type_uri),
        ("title", expected.title),
        ("instance", expected.instance),
    ] {
        match members.get(member) {
            Some(Value::String(actual)) if actual == value => {}
            Some(actual) => reply.fail_with_diagnosis(
                &format!("the problem's `{member}` member is {actual}, expected {value:?}"),
                match member {
                    "type" => {
                        "`type` names the kind of problem: the URI the exercise gives for this \
                         error, or \"about:blank\" for one that says no more than its status."
                    }
                    "title" => {
                        "`title` is the same for every problem of a type: the text the exercise \
                         gives for it, or the status's reason phrase for \"about:blank\"."
                    }
                    _ => {
                        "`instance` is the path of the request that failed, as the request \
                         sent it, without its query string."
                    }
                },
            ),
            None => reply.fail_with_diagnosis(
                &format!("the problem has no `{member}` member, expected {value:?}"),
                "Every problem carries `type`, `title`, `status`, `detail` and `instance`.",
            ),
        }
    }
    match members.get("detail") {
        Some(Value::String(detail)) if !detail.trim().is_empty() => {}
        Some(other) => reply.fail(&format!(
            "the problem's `detail` member is {other}, expected a sentence saying what went \
             wrong"
        )),
        None => reply.fail_with_diagnosis(
            "the problem has no `detail` member",
            "`detail` tells a person what went wrong this time.",
        ),
    }
    members.clone()
}

/// The problem's `detail`, which [`assert_problem`] found to be text.
fn detail(members: &serde_json::Map<String, Value>) -> &str {
    members["detail"].as_str().unwrap_or_default()
}

/// An `about:blank` problem for `status` at `instance`.
#[track_caller]
fn assert_about_blank(
    reply: &Reply,
    status: u16,
    instance: &str,
) -> serde_json::Map<String, Value> {
    let titles = reason_phrases(status);
    // Not yet a check: `assert_problem` says what is wrong with the body.
    let body: Value = serde_json::from_str(reply.text()).unwrap_or_default();
    // RFC 9110 renamed some statuses: take whichever phrase the answer uses.
    let title = titles
        .iter()
        .find(|title| body["title"] == **title)
        .or(titles.first())
        .copied()
        .unwrap_or_default();
    let expected = Expected {
        status,
        type_uri: "about:blank",
        title,
        instance,
    };
    assert_problem(reply, &expected)
}

// ANCHOR: created
#[tokio::test]
async fn a_new_product_is_created_and_read_back_as_plain_json() {
    let shop = Shop::open().await;
    let new =
        json!({"sku": "TASSE-É", "name": "Tasse à café", "price_cents": 0, "stock": 4294967295u32});

    let created = shop.server.post("/products").json(&new).send().await;
    created
        .assert_status(201)
        .assert_content_type("application/json");
    let body = created.json();
    let Some(id) = body["id"].as_i64() else {
        created.fail("expected the created product with its `id`, a number")
    };
    let product = json!({"id": id, "sku": "TASSE-É", "name": "Tasse à café", "price_cents": 0, "stock": 4294967295u32});
    created
        .assert_json(&product)
        .assert_header("location", &format!("/products/{id}"));

    let read = shop.server.get(&format!("/products/{id}")).send().await;
    read.assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&product);
}
// ANCHOR_END: created

// ANCHOR: not_found
#[tokio::test]
async fn an_unknown_product_is_a_404_problem_that_names_its_id() {
    let shop = Shop::open().await;
    shop.create("MUG-RED").await;

    // An id beyond what 32 bits hold: ids are i64.
    let reply = shop.server.get("/products/4294967296").send().await;

    let expected = Expected {
        status: 404,
        type_uri: "https://shop.example/problems/product-not-found",
        title: "Product not found",
        instance: "/products/4294967296",
    };
    let problem = assert_problem(&reply, &expected);
    if !detail(&problem).contains("4294967296") {
        reply.fail("expected the problem's `detail` to name the id 4294967296");
    }
    if problem.get("product_id") != Some(&json!(4294967296i64)) {
        reply.fail_with_diagnosis(
            "expected the extension member \"product_id\": 4294967296 in the problem",
            "A client program reads the id from an extension member, a number, rather than \
             from the `detail` sentence meant for people.",
        );
    }
}
// ANCHOR_END: not_found

#[tokio::test]
async fn instance_is_the_path_of_the_request_without_its_query() {
    let shop = Shop::open().await;

    let reply = shop.server.get("/products/77?expand=all").send().await;

    let expected = Expected {
        status: 404,
        type_uri: "https://shop.example/problems/product-not-found",
        title: "Product not found",
        instance: "/products/77",
    };
    assert_problem(&reply, &expected);
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem_about_blank() {
    let shop = Shop::open().await;

    for (path, instance) in [
        ("/nope", "/nope"),
        ("/products/7/reviews?page=2", "/products/7/reviews"),
        ("/", "/"),
    ] {
        let reply = shop.server.get(path).send().await;
        if reply.status() == 404 && reply.text().is_empty() {
            reply.fail_with_diagnosis(
                "expected a 404 problem for a path no route has, got a 404 with an empty body",
                "A request that matches no route gets the router's fallback, which answers an \
                 empty 404 unless the app gives it a fallback of its own.",
            );
        }
        assert_about_blank(&reply, 404, instance);
    }
    let posted = shop.server.post("/nope").body("{}").send().await;
    assert_about_blank(&posted, 404, "/nope");
}

// ANCHOR: method_not_allowed
#[tokio::test]
async fn a_method_the_route_does_not_have_is_a_405_problem_that_keeps_allow() {
    let shop = Shop::open().await;

    for (method, path, allowed) in [
        (testkit::Method::DELETE, "/products/1", "GET"),
        (testkit::Method::PUT, "/products", "POST"),
    ] {
        let reply = shop.server.request(method.clone(), path).send().await;
        reply.assert_status(405);
        let Some(allow) = reply.header("allow") else {
            reply.fail_with_diagnosis(
                &format!("expected an `Allow` header listing {allowed}, got none"),
                "A 405 must say which methods the resource has (RFC 9110, section 15.5.6). \
                 axum's router adds `Allow` to every 405 it answers: a problem made by \
                 replacing the router's response, instead of changing its body, loses it.",
            );
        };
        let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        let unexpected = methods
            .iter()
            .any(|listed| *listed != allowed && *listed != "HEAD");
        if !methods.contains(&allowed) || unexpected {
            reply.fail(&format!(
                "expected `Allow` to list {allowed} (and HEAD, if you like), got `{allow}`"
            ));
        }
        let problem = assert_about_blank(&reply, 405, path);
        if !detail(&problem).contains(method.as_str()) {
            reply.fail(&format!(
                "expected the problem's `detail` to name the method {method} that was refused"
            ));
        }
    }
}
// ANCHOR_END: method_not_allowed

#[tokio::test]
async fn a_body_not_sent_as_json_is_a_415_problem() {
    let shop = Shop::open().await;
    let product = r#"{"sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12}"#;

    let cases = [
        shop.server
            .post("/products")
            .header("content-type", "text/plain")
            .body(product),
        shop.server.post("/products").body(product),
        shop.server
            .post("/products")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("sku=MUG-RED&name=Red+mug&price_cents=1250&stock=12"),
    ];
    for call in cases {
        let reply = call.send().await;
        assert_about_blank(&reply, 415, "/products");
    }
}

#[tokio::test]
async fn a_body_that_does_not_parse_as_json_is_a_400_problem_saying_where() {
    let shop = Shop::open().await;

    for body in [
        r#"{"sku": "MUG-RED", "name": "Red mug", "price_cents": 1250,"#,
        "{'sku': 'MUG-RED'}",
        r#"{"sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12,}"#,
    ] {
        let reply = shop
            .server
            .post("/products")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let expected = Expected {
            status: 400,
            type_uri: "https://shop.example/problems/malformed-json",
            title: "Malformed JSON",
            instance: "/products",
        };
        let problem = assert_problem(&reply, &expected);
        if !detail(&problem).contains("line 1 column") {
            reply.fail_with_diagnosis(
                "expected the problem's `detail` to say where the JSON breaks (\"line 1 column \
                 ...\")",
                "The JSON parser's own message says what it found and where: pass it on as \
                 the detail.",
            );
        }
    }
}

// ANCHOR: invalid_product
#[tokio::test]
async fn a_body_of_the_wrong_shape_is_a_422_problem_naming_the_field() {
    let shop = Shop::open().await;

    for (body, field) in [
        (
            json!({"sku": "MUG-RED", "name": "Red mug", "stock": 12}),
            "price_cents",
        ),
        (
            json!({"sku": "MUG-RED", "name": "Red mug", "price_cents": "12.50", "stock": 12}),
            "price_cents",
        ),
        (
            json!({"sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": -1}),
            "stock",
        ),
        (
            json!({"sku": "MUG-RED", "name": "Red mug", "price_cents": 4294967296u64, "stock": 1}),
            "price_cents",
        ),
        (
            json!({"sku": 7, "name": "Red mug", "price_cents": 1250, "stock": 1}),
            "sku",
        ),
    ] {
        let reply = shop.server.post("/products").json(&body).send().await;
        let expected = Expected {
            status: 422,
            type_uri: "https://shop.example/problems/invalid-product",
            title: "Invalid product",
            instance: "/products",
        };
        let problem = assert_problem(&reply, &expected);
        if !detail(&problem).contains(field) {
            reply.fail_with_diagnosis(
                &format!("expected the problem's `detail` to name the field `{field}`"),
                "The JSON extractor's own message names the field that is missing or of the \
                 wrong type: pass it on as the detail.",
            );
        }
    }
}
// ANCHOR_END: invalid_product

#[tokio::test]
async fn a_product_id_that_is_not_a_whole_number_is_a_400_problem() {
    let shop = Shop::open().await;

    for (path, shown) in [
        ("/products/abc", "abc"),
        ("/products/%C3%A9t%C3%A9", "été"),
        ("/products/1.5", "1.5"),
        ("/products/9223372036854775808", "9223372036854775808"),
    ] {
        let reply = shop.server.get(path).send().await;
        let expected = Expected {
            status: 400,
            type_uri: "https://shop.example/problems/invalid-product-id",
            title: "Invalid product id",
            instance: path,
        };
        let problem = assert_problem(&reply, &expected);
        if !detail(&problem).contains(shown) {
            reply.fail(&format!(
                "expected the problem's `detail` to quote what was sent as the id, {shown:?}"
            ));
        }
    }
}

// ANCHOR: duplicate
#[tokio::test]
async fn a_duplicate_sku_is_a_409_problem_that_names_the_sku() {
    let shop = Shop::open().await;

    for sku in ["TASSE-É", r#"BOX-"XL"\2"#] {
        shop.create(sku).await;
        let again = json!({"sku": sku, "name": "Another", "price_cents": 1, "stock": 1});
        let reply = shop.server.post("/products").json(&again).send().await;

        let expected = Expected {
            status: 409,
            type_uri: "https://shop.example/problems/duplicate-sku",
            title: "SKU already in use",
            instance: "/products",
        };
        let problem = assert_problem(&reply, &expected);
        if !detail(&problem).contains(sku) {
            reply.fail(&format!(
                "expected the problem's `detail` to name the sku {sku:?}"
            ));
        }
        if problem.get("sku") != Some(&json!(sku)) {
            reply.fail(&format!(
                "expected the extension member \"sku\": {} in the problem",
                json!(sku)
            ));
        }
    }
}
// ANCHOR_END: duplicate

// ANCHOR: internal
#[tokio::test]
async fn a_database_failure_is_a_500_problem_that_gives_nothing_away() {
    let shop = Shop::open().await;
    let id = shop.create("MUG-RED").await;
    shop.drop_the_products_table();

    let read = shop.server.get(&format!("/products/{id}")).send().await;
    let new = json!({"sku": "MUG-BLUE", "name": "Blue mug", "price_cents": 1250, "stock": 1});
    let created = shop.server.post("/products").json(&new).send().await;

    let folder = shop.folder.path().display().to_string();
    for (reply, instance) in [
        (read, format!("/products/{id}")),
        (created, "/products".into()),
    ] {
        let text = reply.text().to_lowercase();
        let leaks = [
            "no such table",
            "sqlite",
            "table",
            "shop.db",
            &folder.to_lowercase(),
        ];
        if let Some(leak) = leaks.iter().find(|leak| text.contains(**leak)) {
            reply.fail_with_diagnosis(
                &format!("the 500's body gives the database's error away (it says {leak:?})"),
                "SQLite's message names tables, columns and files: it belongs in the server's \
                 log. The client learns only that something failed on the server's side.",
            );
        }
        assert_about_blank(&reply, 500, &instance);
        let expected = json!({
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "something went wrong on our side; it has been logged",
            "instance": instance,
        });
        if reply.json() != expected {
            reply.fail_with_diagnosis(
                &format!("expected exactly the problem {expected}"),
                "A 500 says no more than the given INTERNAL_DETAIL, and has no extension \
                 members: anything else may tell a stranger how the server is built.",
            );
        }
    }
}
// ANCHOR_END: internal

#[tokio::test] // one thread: the recording sees what the server logs
async fn a_database_failure_is_logged_with_its_cause() {
    let recording = Recording::start();
    let shop = Shop::open().await;
    shop.drop_the_products_table();

    let reply = shop.server.get("/products/1").send().await;

    reply.assert_status(500);
    let errors = recording.events_at(tracing::Level::ERROR);
    if !errors.iter().any(|event| event.contains("no such table")) {
        reply.fail_with_diagnosis(
            "the database's error was not logged at ERROR level",
            &format!(
                "The client learns nothing of the cause of a 500; the people running the \
                 server must: log SQLite's error (it says `no such table: products` here) \
                 with tracing's error!. Errors logged: {}",
                testkit::trace::list(&errors)
            ),
        );
    }
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_a_413_problem() {
    let shop = Shop::open().await;
    // Two megabytes is axum's default limit for a body it reads whole.
    let name = "x".repeat(2 * 1024 * 1024 + 1);
    let body = json!({"sku": "LONG", "name": name, "price_cents": 1, "stock": 1}).to_string();

    let reply = shop
        .server
        .post("/products")
        .header("content-type", "application/json")
        .body(&body)
        .send()
        .await;

    assert_about_blank(&reply, 413, "/products");
}
