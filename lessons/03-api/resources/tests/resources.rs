//! Tests for api/resources: the app on a real server on 127.0.0.1, over a
//! real SQLite database in memory, called as any client would call it.
//! Every test starts from an empty shop of its own.

use api_resources::{Db, app, create_schema};
use rusqlite::Connection;
use testkit::reqwest::Url;
use testkit::{Reply, TestServer, Value, json, status_text};

/// The app on an empty shop whose schema `create_schema` made.
async fn shop() -> TestServer {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    if let Err(error) = create_schema(&db) {
        panic!("\ncreate_schema failed on an empty database: {error}\n");
    }
    TestServer::spawn(app(Db::new(db))).await
}

/// A product's fields as `POST /products` and `PUT /products/{id}` take them.
fn fields(sku: &str, name: &str, price_cents: u32, stock: u32) -> Value {
    json!({ "sku": sku, "name": name, "price_cents": price_cents, "stock": stock })
}

/// `fields` with the id the product was given, as the API answers it.
fn with_id(id: i64, fields: &Value) -> Value {
    let mut product = json!({ "id": id });
    for (name, value) in fields.as_object().expect("the test's fields are an object") {
        product[name] = value.clone();
    }
    product
}

/// The id of the product a reply's body shows, or the test fails.
#[track_caller]
fn id_of(reply: &Reply) -> i64 {
    match reply.json()["id"].as_i64() {
        Some(id) => id,
        None => reply.fail(
            "expected a product with a whole-number `id` as the body\nA product reads \
             {\"id\": 1, \"sku\": \"MUG-RED\", \"name\": \"Red mug\", \"price_cents\": 1250, \
             \"stock\": 12}.",
        ),
    }
}

/// Creates a product through the API, checks the `201`, and returns it as
/// the API answered it.
#[track_caller]
fn create(server: &TestServer, fields: &Value) -> impl Future<Output = Value> + use<> {
    let sent = server.post("/products").json(fields).send();
    let fields = fields.clone();
    async move {
        let reply = sent.await;
        expect_status(
            &reply,
            201,
            "A POST that creates a product answers 201 Created, with the product as its body and its URL in a Location header.",
        );
        let product = with_id(id_of(&reply), &fields);
        reply.assert_json(&product);
        product
    }
}

/// Fails unless the reply's status is `expected`; the diagnosis says what
/// usually causes the difference. An empty `404` or `405` is axum's own
/// answer for a request no route takes: the diagnosis then says that instead.
#[track_caller]
fn expect_status(reply: &Reply, expected: u16, diagnosis: &str) {
    let actual = reply.status();
    if actual == expected {
        return;
    }
    let verdict = format!(
        "expected {}, got {}",
        status_text(expected),
        status_text(actual)
    );
    fail_status(reply, &verdict, diagnosis);
}

/// Fails with a verdict on the reply's status, and `diagnosis`, or the
/// routing diagnosis if the reply is axum's empty `404` or `405`.
#[track_caller]
fn fail_status(reply: &Reply, verdict: &str, diagnosis: &str) -> ! {
    let unrouted = reply.text().is_empty() && (reply.status() == 404 || reply.status() == 405);
    if unrouted {
        reply.fail_with_diagnosis(
            verdict,
            "An empty 404 (or 405) is axum's answer to a request that no route of the router \
             takes: does `app()` route this path, with this method, to a handler?",
        );
    }
    reply.fail_with_diagnosis(verdict, diagnosis)
}

/// Fails unless `GET /products` answers exactly `expected`, after `what`.
async fn assert_list(server: &TestServer, expected: &[&Value], what: &str) {
    let reply = server.get("/products").send().await;
    reply
        .assert_status(200)
        .assert_content_type("application/json");
    let expected = Value::Array(expected.iter().map(|product| (*product).clone()).collect());
    if reply.json() != expected {
        reply.fail(&format!(
            "the list of products is not what it should be after {what}\n  expected: {expected}"
        ));
    }
}

/// Fails unless `GET /products/{id}` answers `404 Not Found` with the
/// exercise's error body, after `what`.
async fn assert_gone(server: &TestServer, id: i64, what: &str) {
    let reply = server.get(&format!("/products/{id}")).send().await;
    if reply.status() != 404 {
        reply.fail(&format!(
            "expected 404 Not Found for product {id} after {what}, got {}",
            status_text(reply.status())
        ));
    }
    assert_error(&reply, &format!("no product with id {id}"));
}

/// Fails unless the reply's body is the JSON `{"error": message}`.
#[track_caller]
fn assert_error(reply: &Reply, message: &str) {
    reply.assert_content_type("application/json");
    let expected = json!({ "error": message });
    if reply.json() != expected {
        reply.fail(&format!(
            "expected the JSON body {expected}, got another body"
        ));
    }
}

#[tokio::test]
async fn creating_a_product_answers_201_with_the_product_and_a_location_that_serves_it() {
    let server = shop().await;
    let red = fields("MUG-RED", "Red mug", 1250, 12);

    let reply = server.post("/products").json(&red).send().await;

    expect_status(
        &reply,
        201,
        "A POST that creates a resource answers 201 Created (RFC 9110, 15.3.2), not \
         200 OK: the client learns that something new exists, and where.",
    );
    reply.assert_content_type("application/json");
    let id = id_of(&reply);
    reply.assert_json(&with_id(id, &red));
    let location = reply.expect_header("location");
    let base = Url::parse(&server.url("/products")).expect("the test server's URL parses");
    let resolved = match base.join(location) {
        Ok(url) => url,
        Err(error) => reply.fail(&format!(
            "the Location header `{location}` is not a URL ({error})"
        )),
    };
    let expected_path = format!("/products/{id}");
    if resolved.origin() != base.origin() || resolved.path() != expected_path {
        reply.fail_with_diagnosis(
            &format!("the Location header `{location}` does not name /products/{id}"),
            &format!(
                "A client resolves Location against the URL it posted to, {base}, which \
                 gives {resolved}. It should be the new product's own URL, made of its id: \
                 `Location: {expected_path}`."
            ),
        );
    }

    let read = server.get(resolved.path()).send().await;
    if read.status() != 200 {
        read.fail(&format!(
            "the URL in the Location header answers {}, expected 200 OK with the new product",
            status_text(read.status())
        ));
    }
    read.assert_content_type("application/json")
        .assert_json(&with_id(id, &red));
}

#[tokio::test]
async fn every_product_gets_an_id_and_a_location_of_its_own() {
    let server = shop().await;

    let mut seen: Vec<(i64, String)> = Vec::new();
    for (sku, name) in [
        ("MUG-RED", "Red mug"),
        ("MUG-BLUE", "Blue mug"),
        ("TEA-1", "Thé vert"),
    ] {
        let reply = server
            .post("/products")
            .json(&fields(sku, name, 990, 3))
            .send()
            .await;
        expect_status(
            &reply,
            201,
            "A POST that creates a product answers 201 Created, with the product as its body and its URL in a Location header.",
        );
        let id = id_of(&reply);
        let location = reply.expect_header("location").to_string();
        if let Some((other, _)) = seen.iter().find(|(other, _)| *other == id) {
            reply.fail(&format!(
                "two products were given the same id {other}\nEvery new product needs an id \
                 of its own."
            ));
        }
        if let Some((_, other)) = seen.iter().find(|(_, other)| *other == location) {
            reply.fail(&format!(
                "two products were given the same Location `{other}`\nEvery product has a URL \
                 of its own, made of its id."
            ));
        }
        seen.push((id, location));
    }
}

#[tokio::test]
async fn the_list_is_an_empty_array_at_first_then_every_product_in_id_order() {
    let server = shop().await;
    assert_list(&server, &[], "nothing was created").await;

    let tea = create(&server, &fields("TEA-GREEN", "Thé vert", 450, 40)).await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let cup = create(&server, &fields("CUP-CAFÉ", "Café crème cup", 0, 0)).await;

    assert_list(&server, &[&tea, &mug, &cup], "three products were created").await;
}

#[tokio::test]
async fn a_missing_product_is_404_with_an_error_body_naming_its_id() {
    let server = shop().await;

    let reply = server.get("/products/7").send().await;
    reply.assert_status(404);
    assert_error(&reply, "no product with id 7");

    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let id = mug["id"].as_i64().expect("created products have ids");
    let next = id + 1;
    let reply = server.get(&format!("/products/{next}")).send().await;
    reply.assert_status(404);
    assert_error(&reply, &format!("no product with id {next}"));
    let reply = server.get(&format!("/products/{id}")).send().await;
    reply.assert_status(200).assert_json(&mug);
}

#[tokio::test]
async fn put_replaces_every_field_and_answers_the_product_as_it_is_now() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let other = create(&server, &fields("MUG-BLUE", "Blue mug", 1300, 5)).await;
    let id = mug["id"].as_i64().expect("created products have ids");
    let path = format!("/products/{id}");
    let replacement = fields("MUG-CRIMSON", "Crimson mug — 35 cl", 0, 0);

    let reply = server.put(&path).json(&replacement).send().await;

    reply
        .assert_status(200)
        .assert_content_type("application/json");
    let expected = with_id(id, &replacement);
    if reply.json() != expected {
        reply.fail_with_diagnosis(
            &format!("expected the product as replaced, {expected}, got another body"),
            "PUT sends the whole new state of the resource: every field of the body replaces \
             the stored one (even a price and a stock of 0), and the answer shows the product \
             as it is now.",
        );
    }
    let read = server.get(&path).send().await;
    if read.json() != expected {
        read.fail(&format!(
            "the product read after the PUT is not the replacement\n  expected: {expected}"
        ));
    }
    assert_list(
        &server,
        &[&expected, &other],
        "one of two products was replaced",
    )
    .await;
}

#[tokio::test]
async fn put_with_the_products_own_sku_is_no_conflict() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let id = mug["id"].as_i64().expect("created products have ids");
    let cheaper = fields("MUG-RED", "Red mug", 990, 12);

    let reply = server
        .put(&format!("/products/{id}"))
        .json(&cheaper)
        .send()
        .await;

    if reply.status() != 200 {
        fail_status(
            &reply,
            &format!(
                "expected 200 OK for a PUT that keeps the product's own sku, got {}",
                status_text(reply.status())
            ),
            "Only a sku that another product has is a conflict. A product keeps its own sku \
             when a PUT changes only its price.",
        );
    }
    reply.assert_json(&with_id(id, &cheaper));
}

#[tokio::test]
async fn put_on_a_missing_product_is_404_and_creates_nothing() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let id = mug["id"].as_i64().expect("created products have ids");
    let missing = id + 41;

    let reply = server
        .put(&format!("/products/{missing}"))
        .json(&fields("MUG-BLUE", "Blue mug", 1300, 5))
        .send()
        .await;

    if reply.status() != 404 {
        fail_status(
            &reply,
            &format!(
                "expected 404 Not Found for a PUT to a product that does not exist, got {}",
                status_text(reply.status())
            ),
            "In this API a PUT replaces a product that exists and never creates one: products \
             get their ids from the server, through POST /products.",
        );
    }
    assert_error(&reply, &format!("no product with id {missing}"));
    assert_list(&server, &[&mug], "a PUT to a missing product").await;
    assert_gone(&server, missing, "a PUT to it that answered 404").await;
}

#[tokio::test]
async fn put_is_idempotent_sending_it_again_changes_nothing_more() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let id = mug["id"].as_i64().expect("created products have ids");
    let replacement = fields("MUG-RED", "Red mug, large", 1490, 7);
    let expected = with_id(id, &replacement);

    for attempt in ["first", "second", "third"] {
        let reply = server
            .put(&format!("/products/{id}"))
            .json(&replacement)
            .send()
            .await;
        if reply.status() != 200 || reply.json() != expected {
            reply.fail(&format!(
                "the {attempt} of three identical PUTs did not answer 200 OK with the \
                 replaced product\n  expected: {expected}\nPUT is idempotent: sending the \
                 same request again leaves the resource as one request did."
            ));
        }
    }
    assert_list(&server, &[&expected], "three identical PUTs").await;
}

#[tokio::test]
async fn a_put_body_without_every_field_is_refused_and_changes_nothing() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let id = mug["id"].as_i64().expect("created products have ids");

    let reply = server
        .put(&format!("/products/{id}"))
        .json(&json!({ "price_cents": 990 }))
        .send()
        .await;

    if reply.status() != 400 && reply.status() != 422 {
        fail_status(
            &reply,
            &format!(
                "expected a PUT without sku, name and stock to be refused (422 or 400), got {}",
                status_text(reply.status())
            ),
            "PUT replaces the whole product, so its body has every field. A partial change is \
             what PATCH is for; this API has none. Keep the body of PUT the same `NewProduct` \
             as POST's, whose fields are all required.",
        );
    }
    assert_list(&server, &[&mug], "a refused PUT").await;
}

#[tokio::test]
async fn delete_answers_204_with_an_empty_body_and_the_product_is_gone() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let tea = create(&server, &fields("TEA-GREEN", "Thé vert", 450, 40)).await;
    let id = mug["id"].as_i64().expect("created products have ids");

    let reply = server.delete(&format!("/products/{id}")).send().await;

    if reply.status() != 204 {
        fail_status(
            &reply,
            &format!(
                "expected 204 No Content, got {}",
                status_text(reply.status())
            ),
            "A DELETE that succeeded has nothing more to say: 204 No Content, with no body.",
        );
    }
    if !reply.text().is_empty() {
        reply.fail("expected an empty body with 204 No Content, got a body");
    }
    assert_gone(&server, id, "a DELETE of it").await;
    assert_list(&server, &[&tea], "one of two products was deleted").await;
}

#[tokio::test]
async fn deleting_again_is_404_and_leaves_the_rest_as_it_was() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let tea = create(&server, &fields("TEA-GREEN", "Thé vert", 450, 40)).await;
    let id = mug["id"].as_i64().expect("created products have ids");
    let path = format!("/products/{id}");
    let first = server.delete(&path).send().await;
    expect_status(
        &first,
        204,
        "A DELETE that succeeded has nothing more to say: 204 No Content, with no body.",
    );

    let again = server.delete(&path).send().await;

    if again.status() != 404 {
        fail_status(
            &again,
            &format!(
                "expected 404 Not Found for a second DELETE of a product, got {}",
                status_text(again.status())
            ),
            "The product is gone after the first DELETE, so there is nothing to delete. \
             DELETE is idempotent in its effect (the state is the same after two as after one), \
             not in its answer.",
        );
    }
    assert_error(&again, &format!("no product with id {id}"));
    assert_list(&server, &[&tea], "a product was deleted twice").await;
}

#[tokio::test]
async fn a_deleted_products_id_is_never_given_to_a_new_one() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let tea = create(&server, &fields("TEA-GREEN", "Thé vert", 450, 40)).await;
    let tea_id = tea["id"].as_i64().expect("created products have ids");
    let tea_path = format!("/products/{tea_id}");
    let deleted = server.delete(&tea_path).send().await;
    expect_status(
        &deleted,
        204,
        "A DELETE that succeeded has nothing more to say: 204 No Content, with no body.",
    );

    let reply = server
        .post("/products")
        .json(&fields("CUP-CAFÉ", "Café crème cup", 300, 9))
        .send()
        .await;

    expect_status(
        &reply,
        201,
        "A POST that creates a product answers 201 Created, with the product as its body and its URL in a Location header.",
    );
    let id = id_of(&reply);
    if id == tea_id {
        reply.fail_with_diagnosis(
            &format!("the new product got id {id}, the id of the product deleted just before"),
            &format!(
                "A client that kept {tea_path} would now read another product there. SQLite \
                 gives a new row of an INTEGER PRIMARY KEY the largest id in the table plus \
                 one, so deleting the newest row frees its id; the schema's comment says what \
                 must hold instead."
            ),
        );
    }
    if id < tea_id {
        reply.fail(&format!(
            "the new product got id {id}, lower than the id {tea_id} given before it"
        ));
    }
    assert_gone(
        &server,
        tea_id,
        "it was deleted and another product created",
    )
    .await;
    let cup = with_id(id, &fields("CUP-CAFÉ", "Café crème cup", 300, 9));
    assert_list(&server, &[&mug, &cup], "a delete and a create").await;
}

#[tokio::test]
async fn a_duplicate_sku_is_409_conflict_and_stores_nothing() {
    let server = shop().await;
    let cup = create(&server, &fields("CUP-CAFÉ", "Café crème cup", 300, 9)).await;

    let reply = server
        .post("/products")
        .json(&fields("CUP-CAFÉ", "Another cup", 350, 1))
        .send()
        .await;

    if reply.status() != 409 {
        fail_status(
            &reply,
            &format!(
                "expected 409 Conflict for a sku another product has, got {}",
                status_text(reply.status())
            ),
            "The request is well formed, but it conflicts with the state of the shop: \
             409 Conflict. SQLite refuses the row with a UNIQUE constraint error, which is \
             the client's doing, not the server's: no 500.",
        );
    }
    assert_error(&reply, "a product with sku CUP-CAFÉ already exists");
    assert_list(&server, &[&cup], "a refused duplicate").await;
}

#[tokio::test]
async fn put_with_another_products_sku_is_409_and_changes_nothing() {
    let server = shop().await;
    let mug = create(&server, &fields("MUG-RED", "Red mug", 1250, 12)).await;
    let tea = create(&server, &fields("TEA-GREEN", "Thé vert", 450, 40)).await;
    let tea_id = tea["id"].as_i64().expect("created products have ids");

    let reply = server
        .put(&format!("/products/{tea_id}"))
        .json(&fields("MUG-RED", "Green tea", 450, 40))
        .send()
        .await;

    if reply.status() != 409 {
        reply.fail(&format!(
            "expected 409 Conflict for a PUT that takes another product's sku, got {}",
            status_text(reply.status())
        ));
    }
    assert_error(&reply, "a product with sku MUG-RED already exists");
    assert_list(&server, &[&mug, &tea], "a refused PUT").await;
}

#[tokio::test]
async fn an_id_that_is_not_a_whole_number_is_400_for_every_method() {
    let server = shop().await;
    let mug = fields("MUG-RED", "Red mug", 1250, 12);

    for path in ["/products/abc", "/products/1.5"] {
        let replies = [
            server.get(path).send().await,
            server.put(path).json(&mug).send().await,
            server.delete(path).send().await,
        ];
        for reply in replies {
            if reply.status() != 400 {
                fail_status(
                    &reply,
                    &format!(
                        "expected 400 Bad Request for an id that is not a number, got {}",
                        status_text(reply.status())
                    ),
                    "Ids are whole numbers: the path parameter is an i64, and a path that \
                     does not parse is the client's mistake.",
                );
            }
        }
    }
    assert_list(&server, &[], "requests with ids that are not numbers").await;
}

#[tokio::test]
async fn a_database_error_is_500_with_a_body_that_tells_nothing() {
    // No schema: every query fails in SQLite with `no such table: products`.
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    let server = TestServer::spawn(app(Db::new(db))).await;

    let replies = [
        server.get("/products").send().await,
        server
            .post("/products")
            .json(&fields("MUG-RED", "Red mug", 1250, 12))
            .send()
            .await,
        server.get("/products/1").send().await,
        server
            .put("/products/1")
            .json(&fields("MUG-RED", "Red mug", 1250, 12))
            .send()
            .await,
        server.delete("/products/1").send().await,
    ];

    for reply in replies {
        if reply.status() != 500 {
            fail_status(
                &reply,
                &format!(
                    "expected 500 Internal Server Error when the database fails, got {}",
                    status_text(reply.status())
                ),
                "The database has no products table, so every query fails. That is the \
                 server's fault, whatever the request: 500, not 404 or 409.",
            );
        }
        reply.assert_content_type("application/json");
        if reply.json() != json!({ "error": "internal" }) {
            reply.fail(
                "expected the JSON body {\"error\":\"internal\"} for a database error\nSQLite's \
                 own message (table names, SQL) belongs in the server's log, not in the answer.",
            );
        }
    }
}
