//! Tests for graphql/schema: the app on a real server on 127.0.0.1, over a
//! real SQLite database in memory, sent GraphQL queries as any client would
//! send them (a `POST /graphql` with a JSON body, or a `GET` with `?query=`).
//! Every test starts from a shop of its own.

use graphql_schema::{Db, add_customer, add_order, add_product, app, create_schema};
use rusqlite::Connection;
use testkit::reqwest::Url;
use testkit::{Reply, TestServer, Value, json};

/// The app on a new shop that `seed` fills; returns what `seed` returns too.
async fn shop_with<T>(seed: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> (TestServer, T) {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("the given create_schema failed on an empty database");
    let seeded = seed(&db).expect("the test could not fill the shop with the given helpers");
    (TestServer::spawn(app(Db::new(db))).await, seeded)
}

/// The shop most tests use:
///
/// | product | sku       | name     | price | stock |
/// | ------- | --------- | -------- | ----- | ----- |
/// | 1       | MUG-RED   | Red mug  | 1490 (1250 when ordered) | 12 |
/// | 2       | MUG-BLUE  | Blue mug | 1300  | 5     |
/// | 3       | TEA-GREEN | Thé vert | 450   | 40    |
///
/// Customers 1 Ada (`ada@example.com`) and 2 Grace (`grace@example.com`);
/// orders 1 (Ada, paid: 2 × product 3, then 1 × product 1, then 3 × product
/// 2), 2 (Grace, pending: 1 × product 1), 3 (Ada, shipped: 1 × product 2).
/// After the orders, product 1's price went up from 1250 to 1490.
async fn standard_shop() -> TestServer {
    let (server, ()) = shop_with(|db| {
        add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
        add_product(db, "MUG-BLUE", "Blue mug", 1300, 5)?;
        add_product(db, "TEA-GREEN", "Thé vert", 450, 40)?;
        let ada = add_customer(db, "Ada", "ada@example.com")?;
        let grace = add_customer(db, "Grace", "grace@example.com")?;
        add_order(db, ada, "paid", &[(3, 2), (1, 1), (2, 3)])?;
        add_order(db, grace, "pending", &[(1, 1)])?;
        add_order(db, ada, "shipped", &[(2, 1)])?;
        db.execute("UPDATE products SET price_cents = 1490 WHERE id = 1", [])?;
        Ok(())
    })
    .await;
    server
}

/// A shop with these products' names (skus `P1`, `P2`...), in this order,
/// so product n has id n.
async fn shop_of(names: &[&str]) -> TestServer {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let (server, ()) = shop_with(move |db| {
        for (index, name) in names.iter().enumerate() {
            add_product(db, &format!("P{}", index + 1), name, 100, 1)?;
        }
        Ok(())
    })
    .await;
    server
}

/// Sends `query` (and `variables`, if not null) as `POST /graphql`.
async fn post(server: &TestServer, query: &str, variables: Value) -> Reply {
    let mut body = json!({ "query": query });
    if !variables.is_null() {
        body["variables"] = variables;
    }
    server.post("/graphql").json(&body).send().await
}

/// Fails unless the reply is a GraphQL response at all: `200 OK` with a JSON
/// object body. Returns the body.
#[track_caller]
fn response_of(reply: &Reply) -> Value {
    if reply.status() != 200 {
        let verdict = format!(
            "expected 200 OK with a GraphQL response, got {}",
            testkit::status_text(reply.status())
        );
        if reply.status() == 404 || reply.status() == 405 {
            reply.fail_with_diagnosis(
                &verdict,
                "An empty 404 (or 405) is axum's answer to a request no route takes: does \
                 `app()` serve the schema at /graphql, for POST and for GET?",
            );
        }
        reply.fail_with_diagnosis(
            &verdict,
            "GraphQL over HTTP answers 200 OK for every request it could parse, errors \
             included: they go in the body's `errors`.",
        );
    }
    let body = reply.json();
    if !body.is_object() {
        reply.fail("expected a JSON object {\"data\": ...} as the body, got another JSON value");
    }
    body
}

/// Fails unless the reply has `data` and no `errors`; returns `data`.
#[track_caller]
fn data_of(reply: &Reply) -> Value {
    let body = response_of(reply);
    if let Some(errors) = body.get("errors") {
        let first = errors[0]["message"].as_str().unwrap_or("(no message)");
        reply.fail(&format!(
            "expected an answer without errors, got the error \"{first}\""
        ));
    }
    match body.get("data") {
        Some(data) if data.is_object() => data.clone(),
        _ => reply.fail("expected a `data` object in the response, got none"),
    }
}

/// Fails unless `actual` is `expected`, with `verdict` and the first
/// difference as the first line.
#[track_caller]
fn expect_value(reply: &Reply, actual: &Value, expected: &Value, verdict: &str, diagnosis: &str) {
    if actual != expected {
        let difference = first_difference("", expected, actual)
            .map(|(at, wanted, got)| format!(": at `{at}` expected {wanted}, got {got}"))
            .unwrap_or_default();
        reply.fail_with_diagnosis(
            &format!("{verdict}{difference}\n  expected: {expected}\n  got:      {actual}"),
            diagnosis,
        );
    }
}

/// Where `actual` first differs from `expected` (`order.items.0.quantity`),
/// and the two values there; a key `actual` lacks shows as `(nothing)`.
fn first_difference(
    at: &str,
    expected: &Value,
    actual: &Value,
) -> Option<(String, String, String)> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    let shown = |value: Option<&Value>| value.map_or("(nothing)".to_string(), Value::to_string);
    match (expected, actual) {
        (Value::Object(wanted), Value::Object(got)) => {
            for (key, value) in wanted {
                match got.get(key) {
                    Some(other) => {
                        if let Some(found) = first_difference(&join(key), value, other) {
                            return Some(found);
                        }
                    }
                    None => return Some((join(key), value.to_string(), shown(None))),
                }
            }
            got.iter()
                .find(|(key, _)| !wanted.contains_key(*key))
                .map(|(key, value)| (join(key), shown(None), value.to_string()))
        }
        (Value::Array(wanted), Value::Array(got)) if wanted.len() == got.len() => wanted
            .iter()
            .zip(got)
            .enumerate()
            .find_map(|(index, (value, other))| {
                first_difference(&join(&index.to_string()), value, other)
            }),
        (Value::Array(wanted), Value::Array(got)) => Some((
            format!("{at} (a list)"),
            format!("{} entries", wanted.len()),
            format!("{}", got.len()),
        )),
        _ if expected != actual => Some((
            if at.is_empty() {
                "data".to_string()
            } else {
                at.to_string()
            },
            expected.to_string(),
            actual.to_string(),
        )),
        _ => None,
    }
}

/// The one error of a reply, which must say `code` in its extensions and
/// have `path`; fails otherwise.
#[track_caller]
fn expect_error(reply: &Reply, path: &Value, code: &str, what: &str) -> Value {
    let body = response_of(reply);
    let error = match body.get("errors").and_then(Value::as_array) {
        Some(errors) if errors.len() == 1 => errors[0].clone(),
        Some(errors) => reply.fail(&format!(
            "expected one error for {what}, got {}",
            errors.len()
        )),
        None => reply.fail_with_diagnosis(
            &format!("expected an error for {what}, got an answer without `errors`"),
            "A resolver reports what is wrong with its arguments by returning an `Err`: it \
             becomes an entry of `errors`, with the path of the field.",
        ),
    };
    let actual_code = error["extensions"]["code"].as_str().unwrap_or_default();
    if actual_code != code {
        reply.fail_with_diagnosis(
            &format!(
                "expected the error code {code} for {what}, got {}",
                if actual_code.is_empty() {
                    "no `extensions.code`".to_string()
                } else {
                    actual_code.to_string()
                }
            ),
            "A client branches on `extensions.code`, not on the message. An error made from \
             another error's message (a `?` on a ParseIntError) has no code: give it one.",
        );
    }
    if &error["path"] != path {
        reply.fail(&format!(
            "expected the error's `path` to be {path} for {what}, got {}",
            error["path"]
        ));
    }
    if error["message"].as_str().is_none_or(str::is_empty) {
        reply.fail(&format!(
            "expected a `message` that says what is wrong with {what}, got none"
        ));
    }
    error
}

/// The names of `products` in a reply's `data`, in order.
#[track_caller]
fn names(reply: &Reply, data: &Value) -> Vec<String> {
    match data["products"].as_array() {
        Some(products) => products
            .iter()
            .map(|product| product["name"].as_str().unwrap_or("(no name)").to_string())
            .collect(),
        None => reply.fail("expected `products` to be a list in `data`, got something else"),
    }
}

#[tokio::test]
async fn a_query_answers_exactly_the_fields_it_asks_for() {
    let server = standard_shop().await;

    let reply = post(&server, r#"{ product(id: "1") { name } }"#, Value::Null).await;
    response_of(&reply);
    expect_value(
        &reply,
        &reply.json(),
        &json!({ "data": { "product": { "name": "Red mug" } } }),
        "expected the body to hold exactly the one field asked for",
        "The client chooses the fields: a query for `name` gets `name`, and nothing else, \
         under `data`.",
    );

    let reply = post(
        &server,
        r#"{ product(id: "3") { stock priceCents id name sku } }"#,
        Value::Null,
    )
    .await;
    let data = data_of(&reply);
    expect_value(
        &reply,
        &data,
        &json!({ "product": { "stock": 40, "priceCents": 450, "id": "3", "name": "Thé vert", "sku": "TEA-GREEN" } }),
        "expected product 3 with every field asked for",
        "An `ID` is a string on the wire (\"3\"), a price is a whole number of cents (450), \
         and field names are camelCase (`priceCents`).",
    );
}

#[tokio::test]
async fn products_are_listed_in_id_order_twenty_unless_first_says_otherwise() {
    let all: Vec<String> = (1..=25).map(|n| format!("Mug no. {n}")).collect();
    let server = shop_of(&all.iter().map(String::as_str).collect::<Vec<_>>()).await;

    let reply = post(&server, "{ products { name } }", Value::Null).await;
    let data = data_of(&reply);
    let got = names(&reply, &data);
    if got != all[..20] {
        reply.fail_with_diagnosis(
            &format!(
                "expected the first 20 of 25 products in id order, got {} products",
                got.len()
            ),
            "`first` is optional and 20 when not given (`first: Int! = 20`); the list is in \
             id order.",
        );
    }

    for first in [1, 3, 25] {
        let reply = post(
            &server,
            "query($first: Int!) { products(first: $first) { name } }",
            json!({ "first": first }),
        )
        .await;
        let data = data_of(&reply);
        let got = names(&reply, &data);
        if got != all[..first] {
            reply.fail(&format!(
                "expected the first {first} products in id order, got {} products: {got:?}",
                got.len()
            ));
        }
    }

    let reply = post(&server, "{ products(first: 0) { name } }", Value::Null).await;
    let data = data_of(&reply);
    expect_value(
        &reply,
        &data,
        &json!({ "products": [] }),
        "expected an empty list for `first: 0`",
        "Zero products is a valid request, answered with an empty list, not an error.",
    );
}

#[tokio::test]
async fn first_may_be_100_but_not_101_nor_negative() {
    let all: Vec<String> = (1..=102).map(|n| format!("Cup no. {n}")).collect();
    let server = shop_of(&all.iter().map(String::as_str).collect::<Vec<_>>()).await;

    let reply = post(&server, "{ products(first: 100) { name } }", Value::Null).await;
    let data = data_of(&reply);
    let got = names(&reply, &data);
    if got != all[..100] {
        reply.fail_with_diagnosis(
            &format!("expected 100 products for `first: 100`, got {}", got.len()),
            "100 is the largest `first` allowed, and allowed: `0..=100`.",
        );
    }

    for first in [101, 1000, -1] {
        let reply = post(
            &server,
            &format!("{{ products(first: {first}) {{ name }} }}"),
            Value::Null,
        )
        .await;
        expect_error(
            &reply,
            &json!(["products"]),
            "BAD_USER_INPUT",
            &format!("`first: {first}` (it must be 0 to 100)"),
        );
        let body = reply.json();
        expect_value(
            &reply,
            &body["data"],
            &Value::Null,
            &format!("expected `data` to be null when `first: {first}` is refused"),
            "`products` is `[Product!]!`, never null: when it fails, the null goes up to \
             `data`. A list (even an empty one) says that the request was fine.",
        );
    }
}

#[tokio::test]
async fn search_ignores_ascii_case_and_finds_names_beyond_ascii() {
    let server = shop_of(&[
        "Red MUG",
        "Teapot",
        "Thé vert",
        "Blue mug",
        "Iced thé",
        "Mugwort tea",
        "Crème brûlée bowl",
    ])
    .await;

    for (search, expected) in [
        ("mug", vec!["Red MUG", "Blue mug", "Mugwort tea"]),
        ("MUG", vec!["Red MUG", "Blue mug", "Mugwort tea"]),
        ("thé", vec!["Thé vert", "Iced thé"]),
        ("the", vec![]),
        ("rûl", vec!["Crème brûlée bowl"]),
        ("e b", vec!["Crème brûlée bowl"]),
        (
            "",
            vec![
                "Red MUG",
                "Teapot",
                "Thé vert",
                "Blue mug",
                "Iced thé",
                "Mugwort tea",
                "Crème brûlée bowl",
            ],
        ),
        ("kettle", vec![]),
    ] {
        let reply = post(
            &server,
            "query($search: String) { products(search: $search) { name } }",
            json!({ "search": search }),
        )
        .await;
        let data = data_of(&reply);
        let got = names(&reply, &data);
        if got != expected {
            reply.fail_with_diagnosis(
                &format!("expected search \"{search}\" to find {expected:?}, got {got:?}"),
                "`search` keeps the products whose name contains it anywhere, ignoring the \
                 case of ASCII letters (as SQLite's LIKE does), in id order. Other characters \
                 match as written: \"thé\" is not \"the\".",
            );
        }
    }

    let reply = post(
        &server,
        r#"{ products(search: "mug", first: 2) { name } }"#,
        Value::Null,
    )
    .await;
    let data = data_of(&reply);
    let got = names(&reply, &data);
    if got != ["Red MUG", "Blue mug"] {
        reply.fail(&format!(
            "expected the first 2 products that match \"mug\", [\"Red MUG\", \"Blue mug\"], got {got:?}"
        ));
    }
}

#[tokio::test]
async fn search_matches_percent_underscore_and_escape_characters_as_written() {
    let server = shop_of(&[
        "Mug 500 ml",
        "Mug, 50% off",
        "Tea bag",
        "tea_bag refill",
        "Wow! Mug",
        r"Mug \ stand",
        "Cup|saucer",
    ])
    .await;

    for (search, expected) in [
        ("50%", vec!["Mug, 50% off"]),
        ("%", vec!["Mug, 50% off"]),
        ("a_b", vec!["tea_bag refill"]),
        ("_", vec!["tea_bag refill"]),
        ("!", vec!["Wow! Mug"]),
        (r"\", vec![r"Mug \ stand"]),
        (r"\ s", vec![r"Mug \ stand"]),
        ("|", vec!["Cup|saucer"]),
        ("%%", vec![]),
        ("__", vec![]),
    ] {
        let reply = post(
            &server,
            "query($search: String) { products(search: $search) { name } }",
            json!({ "search": search }),
        )
        .await;
        let data = data_of(&reply);
        let got = names(&reply, &data);
        if got != expected {
            reply.fail_with_diagnosis(
                &format!("expected search \"{search}\" to find {expected:?}, got {got:?}"),
                "In a LIKE pattern `%` matches any text and `_` any one character: a search \
                 put in a pattern as it is turns the client's `%` into a wildcard. Escape `%`, \
                 `_` and the escape character itself, and say which it is (`ESCAPE '\\'`).",
            );
        }
    }
}

#[tokio::test]
async fn a_variable_carries_the_id() {
    let server = standard_shop().await;

    for (id, name) in [("2", "Blue mug"), ("3", "Thé vert")] {
        let reply = post(
            &server,
            "query Named($id: ID!) { product(id: $id) { name } }",
            json!({ "id": id }),
        )
        .await;
        let data = data_of(&reply);
        expect_value(
            &reply,
            &data,
            &json!({ "product": { "name": name } }),
            &format!("expected product {id} for the variable `$id: \"{id}\"`"),
            "A variable is an argument's value sent beside the query: the resolver sees it \
             as it sees a literal.",
        );
    }
}

#[tokio::test]
async fn aliases_ask_for_the_same_field_twice() {
    let server = standard_shop().await;

    let reply = post(
        &server,
        r#"{ red: product(id: "1") { name priceCents } blue: product(id: "2") { name sku } nothing: product(id: "77") { name } }"#,
        Value::Null,
    )
    .await;
    let data = data_of(&reply);
    expect_value(
        &reply,
        &data,
        &json!({
            "red": { "name": "Red mug", "priceCents": 1490 },
            "blue": { "name": "Blue mug", "sku": "MUG-BLUE" },
            "nothing": null
        }),
        "expected the three aliased products, each under its alias",
        "An alias names a field's answer; each `product` is resolved with its own arguments.",
    );
}

#[tokio::test]
async fn a_missing_product_or_order_is_null_without_an_error() {
    let server = standard_shop().await;

    let reply = post(&server, r#"{ product(id: "3") { name } }"#, Value::Null).await;
    expect_value(
        &reply,
        &data_of(&reply),
        &json!({ "product": { "name": "Thé vert" } }),
        "expected product 3, which exists",
        "`product(id:)` reads the product with this id from the database.",
    );

    for query in [
        r#"{ product(id: "4") { name } }"#,
        r#"{ product(id: "-1") { name } }"#,
        r#"{ order(id: "4") { id } }"#,
        r#"{ order(id: "0") { id } }"#,
    ] {
        let reply = post(&server, query, Value::Null).await;
        let field = if query.contains("product") {
            "product"
        } else {
            "order"
        };
        response_of(&reply);
        expect_value(
            &reply,
            &reply.json(),
            &json!({ "data": { field: null } }),
            &format!("expected `{field}: null` and no error for an id that names nothing"),
            "`product(id:)` and `order(id:)` are nullable: null is the answer \"there is \
             none\", and it is not an error. Errors are for requests that are wrong.",
        );
    }
}

#[tokio::test]
async fn an_id_that_is_not_a_number_is_bad_user_input() {
    let server = standard_shop().await;

    let reply = post(&server, r#"{ order(id: "2") { id } }"#, Value::Null).await;
    expect_value(
        &reply,
        &data_of(&reply),
        &json!({ "order": { "id": "2" } }),
        "expected order 2, which exists",
        "`order(id:)` reads the order with this id from the database.",
    );

    for (field, id) in [
        ("product", "abc"),
        ("product", "1.5"),
        ("product", "99999999999999999999"),
        ("order", "seven"),
        ("order", ""),
    ] {
        let reply = post(
            &server,
            &format!("query($id: ID!) {{ {field}(id: $id) {{ id }} }}"),
            json!({ "id": id }),
        )
        .await;
        expect_error(
            &reply,
            &json!([field]),
            "BAD_USER_INPUT",
            &format!("`{field}(id: \"{id}\")`, an id that is no number"),
        );
        // The spec makes the failed field null; async-graphql leaves it out
        // (and `data` is null when nothing else was asked): both read null.
        expect_value(
            &reply,
            &reply.json()["data"][field],
            &Value::Null,
            &format!("expected no `{field}` beside the error"),
            "A field whose resolver failed has no value: the error says why.",
        );
    }
}

#[tokio::test]
async fn an_order_shows_its_status_as_an_upper_case_enum_its_total_and_when() {
    let (server, stored) = shop_with(|db| {
        let ada = add_customer(db, "Ada", "ada@example.com")?;
        let mug = add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
        let tea = add_product(db, "TEA-GREEN", "Thé vert", 450, 40)?;
        let mut stored = Vec::new();
        for status in ["pending", "paid", "shipped", "cancelled"] {
            let id = add_order(db, ada, status, &[(mug, 2), (tea, 1)])?;
            let created_at: String =
                db.query_row("SELECT created_at FROM orders WHERE id = ?1", [id], |row| {
                    row.get(0)
                })?;
            stored.push((id, status.to_uppercase(), created_at));
        }
        Ok(stored)
    })
    .await;

    for (id, status, created_at) in stored {
        let reply = post(
            &server,
            "query($id: ID!) { order(id: $id) { id status totalCents createdAt } }",
            json!({ "id": id.to_string() }),
        )
        .await;
        let data = data_of(&reply);
        expect_value(
            &reply,
            &data,
            &json!({ "order": { "id": id.to_string(), "status": status, "totalCents": 2950, "createdAt": created_at } }),
            &format!("expected order {id} as stored, its status {status}"),
            "`status` is the enum `OrderStatus`, whose values are upper case on the wire \
             (PENDING, PAID, SHIPPED, CANCELLED); `createdAt` is the RFC 3339 text the \
             database holds, as it is; `totalCents` whole cents.",
        );
    }
}

#[tokio::test]
async fn an_order_nests_its_items_in_the_order_they_were_added_with_their_products() {
    let server = standard_shop().await;

    let reply = post(
        &server,
        r#"{ order(id: "1") { items { quantity priceCents product { id name priceCents } } } }"#,
        Value::Null,
    )
    .await;
    let data = data_of(&reply);
    expect_value(
        &reply,
        &data,
        &json!({ "order": { "items": [
            { "quantity": 2, "priceCents": 450, "product": { "id": "3", "name": "Thé vert", "priceCents": 450 } },
            { "quantity": 1, "priceCents": 1250, "product": { "id": "1", "name": "Red mug", "priceCents": 1490 } },
            { "quantity": 3, "priceCents": 1300, "product": { "id": "2", "name": "Blue mug", "priceCents": 1300 } }
        ] } }),
        "expected order 1's three items, in the order they were added, each with its product",
        "Items come in the order they were added to the order (products 3, 1, 2), not by \
         product id: without an ORDER BY, SQLite reads them through the primary key \
         (order_id, product_id). An item's `priceCents` is the price when ordered (1250), \
         its product's `priceCents` the price now (1490).",
    );

    let reply = post(
        &server,
        r#"{ order(id: "2") { items { product { sku } quantity } } }"#,
        Value::Null,
    )
    .await;
    let data = data_of(&reply);
    expect_value(
        &reply,
        &data,
        &json!({ "order": { "items": [ { "product": { "sku": "MUG-RED" }, "quantity": 1 } ] } }),
        "expected order 2's one item, and only its own",
        "An order's items are the rows of order_items with its id.",
    );
}

#[tokio::test]
async fn an_order_reaches_its_customer_and_the_customer_their_orders() {
    let server = standard_shop().await;

    for (order, customer, orders) in [
        (
            "1",
            json!({ "id": "1", "name": "Ada", "email": "ada@example.com" }),
            json!([{ "id": "1", "status": "PAID" }, { "id": "3", "status": "SHIPPED" }]),
        ),
        (
            "2",
            json!({ "id": "2", "name": "Grace", "email": "grace@example.com" }),
            json!([{ "id": "2", "status": "PENDING" }]),
        ),
    ] {
        let reply = post(
            &server,
            "query($id: ID!) { order(id: $id) { customer { id name email orders { id status } } } }",
            json!({ "id": order }),
        )
        .await;
        let data = data_of(&reply);
        let mut expected = customer.clone();
        expected["orders"] = orders;
        expect_value(
            &reply,
            &data,
            &json!({ "order": { "customer": expected } }),
            &format!("expected order {order}'s customer, with their orders in id order"),
            "`Order.customer` is the customer whose id the order's customer_id holds; \
             `Customer.orders` are that customer's orders, in id order, and no one else's.",
        );
    }
}

#[tokio::test]
async fn typename_names_each_objects_type() {
    let server = standard_shop().await;

    let reply = post(
        &server,
        r#"{ __typename product(id: "1") { __typename } order(id: "1") { __typename status customer { __typename } items { __typename product { __typename } } } }"#,
        Value::Null,
    )
    .await;
    let data = data_of(&reply);
    let root = data["__typename"].clone();
    let item = json!({ "__typename": "OrderItem", "product": { "__typename": "Product" } });
    expect_value(
        &reply,
        &data,
        &json!({
            "__typename": root,
            "product": { "__typename": "Product" },
            "order": {
                "__typename": "Order",
                "status": "PAID",
                "customer": { "__typename": "Customer" },
                "items": [item.clone(), item.clone(), item]
            }
        }),
        "expected each object to name its type as the schema does",
        "The types are named Product, Order, OrderItem and Customer, as the schema above the \
         starter says.",
    );
}

#[tokio::test]
async fn a_get_request_with_the_query_in_its_url_answers_too() {
    let server = standard_shop().await;

    let query = "query($id: ID!) { product(id: $id) { name sku } }";
    let url = Url::parse_with_params(
        &server.url("/graphql"),
        &[("query", query), ("variables", r#"{"id": "2"}"#)],
    )
    .expect("the test's URL parses");
    let target = format!("/graphql?{}", url.query().unwrap_or_default());
    let reply = server.get(&target).send().await;
    let data = data_of(&reply);
    expect_value(
        &reply,
        &data,
        &json!({ "product": { "name": "Blue mug", "sku": "MUG-BLUE" } }),
        "expected product 2 for a GET with the query and its variables in the URL",
        "GraphQL over HTTP takes a query as a GET too, with `?query=` and `&variables=` \
         (JSON) in the URL: serve /graphql for GET as well as POST.",
    );
}

#[tokio::test]
async fn an_unknown_field_is_a_validation_error_that_names_it_and_nothing_runs() {
    let server = standard_shop().await;

    let reply = post(&server, "{ products { name colour } }", Value::Null).await;
    let body = response_of(&reply);
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    if !message.contains("\"colour\"") || !message.contains("\"Product\"") {
        reply.fail_with_diagnosis(
            "expected an error naming the unknown field \"colour\" of \"Product\"",
            "A query is checked against the schema before anything runs: a field the type \
             does not have is a validation error.",
        );
    }
    expect_value(
        &reply,
        &body["data"],
        &Value::Null,
        "expected `data` to be null for a query that does not validate",
        "Nothing of a query that fails validation runs.",
    );

    let reply = post(&server, "{ products { name } }", Value::Null).await;
    let data = data_of(&reply);
    let got = names(&reply, &data);
    if got != ["Red mug", "Blue mug", "Thé vert"] {
        reply.fail(&format!(
            "expected the three products without the unknown field, got {got:?}"
        ));
    }
}

/// How `__type` shows a field's type, as SDL writes it: `[Product!]!`.
fn type_text(ty: &Value) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_text(&ty["ofType"])),
        Some("LIST") => format!("[{}]", type_text(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap_or("?").to_string(),
    }
}

const TYPE_REF: &str =
    "type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The fields of a `__type` answer as `name: Type` lines, sorted.
fn fields_text(ty: &Value) -> Vec<String> {
    let mut fields: Vec<String> = ty["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|field| {
                    let args: Vec<String> = field["args"]
                        .as_array()
                        .map(|args| {
                            args.iter()
                                .map(|arg| {
                                    let default = match arg["defaultValue"].as_str() {
                                        Some(value) => format!(" = {value}"),
                                        None => String::new(),
                                    };
                                    format!(
                                        "{}: {}{default}",
                                        arg["name"].as_str().unwrap_or("?"),
                                        type_text(&arg["type"])
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let args = if args.is_empty() {
                        String::new()
                    } else {
                        format!("({})", args.join(", "))
                    };
                    format!(
                        "{}{args}: {}",
                        field["name"].as_str().unwrap_or("?"),
                        type_text(&field["type"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    fields
}

#[tokio::test]
async fn introspection_shows_exactly_the_schemas_types_and_fields() {
    let server = standard_shop().await;

    let fields = format!("fields {{ name args {{ name defaultValue {TYPE_REF} }} {TYPE_REF} }}");
    let query = format!(
        "{{ __schema {{ queryType {{ {fields} }} }} \
         product: __type(name: \"Product\") {{ kind {fields} }} \
         order: __type(name: \"Order\") {{ kind {fields} }} \
         item: __type(name: \"OrderItem\") {{ kind {fields} }} \
         customer: __type(name: \"Customer\") {{ kind {fields} }} \
         status: __type(name: \"OrderStatus\") {{ kind enumValues {{ name }} }} }}"
    );
    let reply = post(&server, &query, Value::Null).await;
    let data = data_of(&reply);

    let expected: [(&str, Value, &[&str]); 5] = [
        (
            "the query type",
            data["__schema"]["queryType"].clone(),
            &[
                "order(id: ID!): Order",
                "product(id: ID!): Product",
                "products(search: String, first: Int! = 20): [Product!]!",
            ],
        ),
        (
            "Product",
            data["product"].clone(),
            &[
                "id: ID!",
                "name: String!",
                "priceCents: Int!",
                "sku: String!",
                "stock: Int!",
            ],
        ),
        (
            "Order",
            data["order"].clone(),
            &[
                "createdAt: String!",
                "customer: Customer!",
                "id: ID!",
                "items: [OrderItem!]!",
                "status: OrderStatus!",
                "totalCents: Int!",
            ],
        ),
        (
            "OrderItem",
            data["item"].clone(),
            &["priceCents: Int!", "product: Product!", "quantity: Int!"],
        ),
        (
            "Customer",
            data["customer"].clone(),
            &[
                "email: String!",
                "id: ID!",
                "name: String!",
                "orders: [Order!]!",
            ],
        ),
    ];
    for (what, ty, wanted) in expected {
        let mut got = fields_text(&ty);
        let mut wanted: Vec<String> = wanted.iter().map(|field| field.to_string()).collect();
        // Sorting ignores the argument list's order; its own order is kept.
        got.sort();
        wanted.sort();
        if got != wanted {
            let missing: Vec<&String> =
                wanted.iter().filter(|field| !got.contains(field)).collect();
            let extra: Vec<&String> = got.iter().filter(|field| !wanted.contains(field)).collect();
            reply.fail_with_diagnosis(
                &format!(
                    "expected {what} to have exactly the schema's fields: missing {missing:?}, not in the schema {extra:?}"
                ),
                "Introspection shows the schema as Rust made it. An `i64` id is `Int!`, not \
                 `ID!`; a price as `f64` is `Float!`; an `Option` makes a field nullable; a \
                 `Vec<T>` is `[T!]!`. Fields are camelCase; `first` needs its default of 20.",
            );
        }
    }

    let mut values: Vec<&str> = data["status"]["enumValues"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(|value| value["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    values.sort_unstable();
    if data["status"]["kind"] != "ENUM" || values != ["CANCELLED", "PAID", "PENDING", "SHIPPED"] {
        reply.fail_with_diagnosis(
            &format!(
                "expected OrderStatus to be an enum of PENDING, PAID, SHIPPED, CANCELLED, got {} {values:?}",
                data["status"]["kind"]
            ),
            "`status` is an enum type, not a String: a client then knows every value it can \
             get, and its values are upper case.",
        );
    }
}
