//! Tests for api/openapi: a real server on 127.0.0.1 in front of an
//! in-memory SQLite database, and the OpenAPI document it serves at
//! `GET /openapi.json`.
//!
//! The tests read the document as any tool would, and hold it against the
//! app itself: every request below is sent to the real app, and what it
//! answers (its status, its media type) must be what the document says the
//! operation answers. A document that promises what the app does not do
//! fails, and so does an app that does what its document does not say.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use api_openapi::{Db, NewProduct, app, create_schema, insert_product};
use rusqlite::Connection;
use serde_json::Value;
use testkit::{Reply, TestServer, json, status_text};

/// A shop with two products: `MUG-RED` (id 1) and `TEA-POT` (id 2).
fn shop() -> Db {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    for (sku, name, price_cents, stock) in [
        ("MUG-RED", "Red mug", 1250, 12),
        ("TEA-POT", "Teapot, 1 l", 3490, 5),
    ] {
        let new = NewProduct {
            sku: sku.to_string(),
            name: name.to_string(),
            price_cents,
            stock,
        };
        insert_product(&db, &new).expect("the test could not add its products");
    }
    Arc::new(Mutex::new(db))
}

/// The operations the shop's API has, as `(method, path template)`: the
/// document describes each, and no other (but `GET /openapi.json`, which it
/// may describe or not).
const OPERATIONS: [(&str, &str); 4] = [
    ("get", "/products"),
    ("post", "/products"),
    ("get", "/products/{id}"),
    ("delete", "/products/{id}"),
];

/// The methods a path item of OpenAPI 3.1 may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document the app serves, checked to be JSON with the media type
/// `application/json`.
async fn document(server: &TestServer) -> Value {
    let reply = server.get("/openapi.json").send().await;
    if reply.status() != 200 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 200 OK for the OpenAPI document, got {}",
                status_text(reply.status())
            ),
            "The document is served by the app itself, at GET /openapi.json: the path tools \
             and people look for. Is the route there, at that path exactly?",
        );
    }
    reply.assert_content_type("application/json");
    let document = reply.json();
    if !document.is_object() {
        reply.fail("expected the document to be a JSON object");
    }
    document
}

/// A document's operation `method` on `path`, if it describes it.
fn operation<'d>(document: &'d Value, method: &str, path: &str) -> Option<&'d Value> {
    document["paths"].get(path)?.get(method)
}

/// Fails with `verdict`, the document's part in question, and `diagnosis`.
#[track_caller]
fn fail_document(verdict: &str, part: &str, shown: &Value, diagnosis: &str) -> ! {
    let pretty = serde_json::to_string_pretty(shown).unwrap_or_default();
    let mut lines: Vec<&str> = pretty.lines().take(40).collect();
    let cut = pretty.lines().count() > lines.len();
    if cut {
        lines.push("...");
    }
    panic!(
        "\n{verdict}\n  request:  GET /openapi.json\n  {part} in the document:\n            {}\n{diagnosis}\n",
        lines.join("\n            ")
    );
}

/// What `schema` is once its `$ref`s are followed (`#/components/...`).
fn resolve<'d>(document: &'d Value, schema: &'d Value) -> &'d Value {
    let mut schema = schema;
    for _ in 0..10 {
        let Some(reference) = schema["$ref"].as_str() else {
            return schema;
        };
        match reference
            .strip_prefix('#')
            .and_then(|pointer| document.pointer(pointer))
        {
            Some(target) => schema = target,
            None => return &Value::Null,
        }
    }
    schema
}

/// Whether a schema's `type` is `name` (a string, or a list holding it).
fn has_type(schema: &Value, name: &str) -> bool {
    match &schema["type"] {
        Value::String(kind) => kind == name,
        Value::Array(kinds) => kinds.iter().any(|kind| kind == name),
        _ => false,
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_json_served_at_openapi_json() {
    let server = TestServer::spawn(app(shop())).await;

    let document = document(&server).await;

    let version = document["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.") {
        fail_document(
            &format!(
                "expected `openapi` to be an OpenAPI 3 version, got {}",
                document["openapi"]
            ),
            "`openapi`",
            &document["openapi"],
            "The document's first member says which version of OpenAPI it follows: `3.1.0`.",
        );
    }
    let info = &document["info"];
    if info["title"] != "Shop API" || info["version"].as_str().is_none_or(str::is_empty) {
        fail_document(
            "expected `info` to hold the title \"Shop API\" and a version",
            "`info`",
            info,
            "`info.title` names the API, `info.version` is the version of its document.",
        );
    }
    let license = &info["license"];
    if !license.is_null() && license["name"].as_str().is_none_or(str::is_empty) {
        fail_document(
            "expected `info.license` to have a name, or no `info.license` at all",
            "`info`",
            info,
            "OpenAPI requires a license's name. (utoipa fills `info` from the crate's \
             Cargo.toml unless `#[openapi(info(...))]` says otherwise.)",
        );
    }
    let Some(paths) = document["paths"].as_object() else {
        fail_document(
            "expected `paths` to be an object of the API's paths",
            "`paths`",
            &document["paths"],
            "",
        );
    };
    if paths.is_empty() {
        fail_document(
            "expected `paths` to describe the API, it is empty",
            "`paths`",
            &document["paths"],
            "",
        );
    }
}

#[tokio::test]
async fn every_path_is_a_template_and_every_operation_has_responses() {
    let server = TestServer::spawn(app(shop())).await;

    let document = document(&server).await;

    let empty = serde_json::Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    if paths.is_empty() {
        fail_document(
            "expected `paths` to describe the API, it is empty",
            "`paths`",
            &document["paths"],
            "",
        );
    }
    for (path, item) in paths {
        if !path.starts_with('/') || path.contains(':') {
            fail_document(
                &format!(
                    "expected every path to start with / and name its parameters {{like_this}}, got `{path}`"
                ),
                &format!("`paths.{path}`"),
                item,
                "OpenAPI paths are templates such as /products/{id}, whatever syntax the \
                 router uses.",
            );
        }
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let responses = operation["responses"].as_object();
            if responses.is_none_or(|responses| responses.is_empty()) {
                fail_document(
                    &format!(
                        "expected `{} {path}` to list its responses, it lists none",
                        method.to_uppercase()
                    ),
                    &format!("`paths.{path}.{method}`"),
                    operation,
                    "Every operation says which statuses it answers, under `responses`.",
                );
            }
        }
    }
}

/// Every `$ref` in `value`, with where it is.
fn references(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    if let Some(reference) = inner.as_str() {
                        found.push((at.to_string(), reference.to_string()));
                    }
                } else {
                    references(inner, &format!("{at}.{key}"), found);
                }
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                references(inner, &format!("{at}[{index}]"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_resolves_and_every_path_parameter_is_declared() {
    let server = TestServer::spawn(app(shop())).await;

    let document = document(&server).await;

    let mut found = Vec::new();
    references(&document, "", &mut found);
    for (at, reference) in &found {
        let target = reference
            .strip_prefix("#/components/")
            .and_then(|_| document.pointer(&reference[1..]));
        if target.is_none() {
            fail_document(
                &format!("the reference `{reference}` at `{at}` leads nowhere"),
                "`components`",
                &document["components"],
                "Every `$ref` names a part of this document's `components` (such as \
                 #/components/schemas/Product): is the type registered as a schema?",
            );
        }
    }
    for (method, path) in OPERATIONS {
        let Some(operation) = operation(&document, method, path) else {
            continue; // The next test says which operations are missing.
        };
        let item = &document["paths"][path];
        let declared: Vec<&Value> = [&item["parameters"], &operation["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .filter(|parameter| parameter["in"] == "path")
            .collect();
        let named: BTreeSet<&str> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for name in &named {
            let parameter = declared.iter().find(|parameter| parameter["name"] == *name);
            let shown = operation["parameters"].clone();
            let what = format!("`paths.{path}.{method}.parameters`");
            let Some(parameter) = parameter else {
                fail_document(
                    &format!(
                        "expected `{} {path}` to declare its path parameter `{name}`, it does not",
                        method.to_uppercase()
                    ),
                    &what,
                    &shown,
                    "Each {name} of a path is a parameter `in: path` of every operation on \
                     it, with its type: the handler's `params(...)`.",
                );
            };
            let schema = resolve(&document, &parameter["schema"]);
            if parameter["required"] != true || !has_type(schema, "integer") {
                fail_document(
                    &format!(
                        "expected the path parameter `{name}` of `{} {path}` to be a required integer",
                        method.to_uppercase()
                    ),
                    &what,
                    &shown,
                    "A path parameter is always required, and the handler reads the id as an \
                     i64: its schema's type is integer (GET /products/abc is a 400).",
                );
            }
        }
        for parameter in declared {
            let name = parameter["name"].as_str().unwrap_or_default();
            if !named.contains(name) {
                fail_document(
                    &format!(
                        "`{} {path}` declares a path parameter `{name}` its path does not have",
                        method.to_uppercase()
                    ),
                    &format!("`paths.{path}.{method}.parameters`"),
                    &operation["parameters"],
                    "",
                );
            }
        }
    }
}

#[tokio::test]
async fn the_document_describes_every_operation_of_the_shop_and_no_other() {
    let server = TestServer::spawn(app(shop())).await;

    let document = document(&server).await;

    let empty = serde_json::Map::new();
    let paths = document["paths"].as_object().unwrap_or(&empty);
    let described: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let shown = Value::from(
        described
            .iter()
            .map(|(method, path)| format!("{method} {path}"))
            .collect::<Vec<_>>(),
    );
    for (method, path) in OPERATIONS {
        if operation(&document, method, path).is_none() {
            let method = method.to_uppercase();
            fail_document(
                &format!("expected the document to describe `{method} {path}`, it does not"),
                "the operations",
                &shown,
                "A route the app serves that the document does not describe is one no client \
                 knows of. A route added to the router on its own (not through the documented \
                 routes) serves requests and stays out of the document.",
            );
        }
    }
    let known: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(method, path)| (method.to_uppercase(), path.to_string()))
        .chain([("GET".to_string(), "/openapi.json".to_string())])
        .collect();
    if let Some((method, path)) = described.difference(&known).next() {
        fail_document(
            &format!("the document describes `{method} {path}`, which the shop does not have"),
            "the operations",
            &shown,
            "The shop's API has GET and POST /products, and GET and DELETE /products/{id}.",
        );
    }
}

/// One request to the app, and the operation of the document it is for.
struct Probe {
    method: &'static str,
    path: &'static str,
    /// The operation's path template.
    template: &'static str,
    /// A JSON body to send, if any, with `content-type: application/json`.
    body: Option<&'static str>,
    /// A body to send without a content type, if any.
    bare_body: Option<&'static str>,
    /// Why it is sent.
    case: &'static str,
}

const fn probe(
    method: &'static str,
    path: &'static str,
    template: &'static str,
    case: &'static str,
) -> Probe {
    Probe {
        method,
        path,
        template,
        body: None,
        bare_body: None,
        case,
    }
}

/// Sends `probe` to the app, and fails unless the document lists the status
/// it answered for its operation, with the media type it answered.
async fn check_probe(server: &TestServer, document: &Value, probe: &Probe) -> Reply {
    let method = testkit::Method::from_bytes(probe.method.as_bytes()).expect("a method");
    let mut call = server.request(method, probe.path);
    if let Some(body) = probe.body {
        call = call.header("content-type", "application/json").body(body);
    }
    if let Some(body) = probe.bare_body {
        call = call.body(body);
    }
    let reply = call.send().await;
    let operation_name = format!("{} {}", probe.method, probe.template);
    let key = probe.method.to_lowercase();
    let Some(operation) = operation(document, &key, probe.template) else {
        reply.fail_with_diagnosis(
            &format!("the document does not describe `{operation_name}`, which this request used"),
            "Every route the app serves is in the document.",
        );
    };
    let status = reply.status().to_string();
    let empty = serde_json::Map::new();
    let responses = operation["responses"].as_object().unwrap_or(&empty);
    let listed: Vec<&str> = responses.keys().map(String::as_str).collect();
    let Some(response) = responses.get(&status) else {
        let routed = if reply.status() == 405 {
            " The app does not route this method on this path at all: a documented operation \
             must also be served."
        } else {
            ""
        };
        reply.fail_with_diagnosis(
            &format!(
                "`{operation_name}` answered {}, but the document lists only {} for it",
                status_text(reply.status()),
                listed.join(", ")
            ),
            &format!(
                "This request: {}. The document lists every status the operation really \
                 answers, errors included, each in the operation's `responses`.{routed}",
                probe.case
            ),
        );
    };
    if let Some(actual) = reply
        .header("content-type")
        .filter(|_| !reply.text().is_empty())
    {
        let media_type = actual.split(';').next().unwrap_or_default().trim();
        let content = response["content"].as_object();
        if content.is_none_or(|content| !content.contains_key(media_type)) {
            let documented: Vec<&str> = content
                .map(|content| content.keys().map(String::as_str).collect())
                .unwrap_or_default();
            reply.fail_with_diagnosis(
                &format!(
                    "`{operation_name}` answered {} with `{media_type}`, but the document gives \
                     that response {}",
                    status_text(reply.status()),
                    if documented.is_empty() {
                        "no content".to_string()
                    } else {
                        format!("only {}", documented.join(", "))
                    }
                ),
                &format!(
                    "This request: {}. A documented response names the media type of its \
                     body, and its schema: errors are `application/problem+json`.",
                    probe.case
                ),
            );
        }
    }
    reply
}

#[tokio::test]
async fn listing_the_products_answers_what_the_document_says() {
    let server = TestServer::spawn(app(shop())).await;
    let document = document(&server).await;

    let reply = check_probe(
        &server,
        &document,
        &probe("GET", "/products", "/products", "every product"),
    )
    .await;

    reply.assert_status(200);
}

#[tokio::test]
async fn reading_a_product_answers_only_statuses_the_document_lists() {
    let server = TestServer::spawn(app(shop())).await;
    let document = document(&server).await;

    for (path, case, expected) in [
        ("/products/1", "a product that exists", 200),
        ("/products/999", "no product has this id", 404),
        ("/products/abc", "an id that is not an integer", 400),
    ] {
        let probe = probe("GET", path, "/products/{id}", case);
        check_probe(&server, &document, &probe)
            .await
            .assert_status(expected);
    }
}

#[tokio::test]
async fn creating_a_product_answers_only_statuses_the_document_lists() {
    let server = TestServer::spawn(app(shop())).await;
    let document = document(&server).await;

    let created = Probe {
        body: Some(
            r#"{"sku": "CUP-ESP", "name": "Espresso cup", "price_cents": 790, "stock": 40}"#,
        ),
        ..probe("POST", "/products", "/products", "a new product")
    };
    check_probe(&server, &document, &created)
        .await
        .assert_status(201);
    let free = Probe {
        body: Some(r#"{"sku": "SAMPLE", "name": "Free sample", "price_cents": 0, "stock": 0}"#),
        ..probe(
            "POST",
            "/products",
            "/products",
            "a free sample, none in stock: 0 is a price and a stock",
        )
    };
    check_probe(&server, &document, &free)
        .await
        .assert_status(201);
    for (body, case, expected) in [
        (
            r#"{"sku": "CUP-ESP", "name": "Espresso cup""#,
            "a body that is not JSON",
            400,
        ),
        (
            r#"{"sku": "MUG-RED", "name": "Another mug", "price_cents": 990, "stock": 3}"#,
            "a SKU another product has",
            409,
        ),
        (
            r#"{"sku": "BOWL", "name": "Bowl", "price_cents": -1, "stock": 3}"#,
            "a negative price",
            422,
        ),
        (
            r#"{"sku": "BOWL", "name": "Bowl", "price_cents": 900, "stock": -1}"#,
            "a negative stock",
            422,
        ),
        (r#"{"sku": "BOWL", "name": "Bowl"}"#, "missing fields", 422),
    ] {
        let probe = Probe {
            body: Some(body),
            ..probe("POST", "/products", "/products", case)
        };
        check_probe(&server, &document, &probe)
            .await
            .assert_status(expected);
    }
    let bare = Probe {
        bare_body: Some(r#"{"sku": "BOWL", "name": "Bowl", "price_cents": 900, "stock": 3}"#),
        ..probe(
            "POST",
            "/products",
            "/products",
            "a JSON body sent without its content type",
        )
    };
    check_probe(&server, &document, &bare)
        .await
        .assert_status(415);
}

#[tokio::test]
async fn deleting_a_product_answers_only_statuses_the_document_lists() {
    let server = TestServer::spawn(app(shop())).await;
    let document = document(&server).await;

    for (path, case, expected) in [
        ("/products/2", "a product that exists", 204),
        (
            "/products/2",
            "the same product again, already deleted",
            404,
        ),
        ("/products/abc", "an id that is not an integer", 400),
    ] {
        let probe = probe("DELETE", path, "/products/{id}", case);
        check_probe(&server, &document, &probe)
            .await
            .assert_status(expected);
    }
}

#[tokio::test]
async fn deleting_a_product_answers_204_and_removes_it() {
    let server = TestServer::spawn(app(shop())).await;

    let deleted = server.delete("/products/2").send().await;
    deleted.assert_status(204).assert_text("");
    let read = server.get("/products/2").send().await;
    read.assert_status(404)
        .assert_content_type("application/problem+json");
    let listed = server.get("/products").send().await;
    listed.assert_status(200);
    let skus: Vec<Value> = listed
        .json()
        .as_array()
        .map(|products| {
            products
                .iter()
                .map(|product| product["sku"].clone())
                .collect()
        })
        .unwrap_or_default();
    if skus != [json!("MUG-RED")] {
        listed.fail("expected only MUG-RED to be left after DELETE /products/2 removed TEA-POT");
    }
    let again = server.delete("/products/2").send().await;
    again
        .assert_status(404)
        .assert_content_type("application/problem+json");
    let detail = &again.json()["detail"];
    if detail != "product 2 does not exist" {
        again.fail(&format!(
            "expected the problem's detail \"product 2 does not exist\", got {detail}"
        ));
    }
}

/// The schema of the JSON body of `status` for `method path`, resolved.
fn response_schema<'d>(document: &'d Value, method: &str, path: &str, status: &str) -> &'d Value {
    let response = &document["paths"][path][method]["responses"][status];
    let schema = &response["content"]["application/json"]["schema"];
    resolve(document, schema)
}

/// Fails unless `schema` is an object with each of `fields` among its
/// properties and `required`, the integer ones of type `integer`.
#[track_caller]
fn assert_object_schema(document: &Value, schema: &Value, part: &str, fields: &[(&str, &str)]) {
    if !has_type(schema, "object") {
        fail_document(
            &format!(
                "expected {part} to be an object schema, got type {}",
                schema["type"]
            ),
            part,
            schema,
            "Is the type derived as a schema, and named as the body?",
        );
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for &(field, kind) in fields {
        let property = resolve(document, &schema["properties"][field]);
        if property.is_null() {
            fail_document(
                &format!("expected {part} to have the property `{field}`, it has none"),
                part,
                schema,
                "",
            );
        }
        if !has_type(property, kind) {
            fail_document(
                &format!(
                    "expected the property `{field}` of {part} to be of type {kind}, got {}",
                    property["type"]
                ),
                part,
                schema,
                "Money is an integer number of cents, never a float: a `number` tells clients \
                 to expect 12.5.",
            );
        }
        if !required.contains(&field) {
            fail_document(
                &format!("expected {part} to list `{field}` as required, it does not"),
                part,
                schema,
                "A field that is always there (or that the handler cannot do without) is \
                 required: clients generated from the document rely on it.",
            );
        }
    }
}

/// The fields of a product, and their JSON types.
const PRODUCT: [(&str, &str); 5] = [
    ("id", "integer"),
    ("sku", "string"),
    ("name", "string"),
    ("price_cents", "integer"),
    ("stock", "integer"),
];

#[tokio::test]
async fn a_product_is_documented_with_integer_cents_and_its_required_fields() {
    let server = TestServer::spawn(app(shop())).await;
    let document = document(&server).await;

    let one = response_schema(&document, "get", "/products/{id}", "200");
    assert_object_schema(
        &document,
        one,
        "the 200 response of GET /products/{id}",
        &PRODUCT,
    );
    let created = response_schema(&document, "post", "/products", "201");
    assert_object_schema(
        &document,
        created,
        "the 201 response of POST /products",
        &PRODUCT,
    );
    let list = response_schema(&document, "get", "/products", "200");
    if !has_type(list, "array") {
        fail_document(
            "expected the 200 response of GET /products to be an array of products",
            "the 200 response of GET /products",
            list,
            "",
        );
    }
    let item = resolve(&document, &list["items"]);
    assert_object_schema(&document, item, "an item of GET /products", &PRODUCT);
}

#[tokio::test]
async fn the_body_of_a_new_product_is_documented_with_its_required_fields() {
    let server = TestServer::spawn(app(shop())).await;
    let document = document(&server).await;

    let body = &document["paths"]["/products"]["post"]["requestBody"];
    let schema = resolve(&document, &body["content"]["application/json"]["schema"]);
    if schema.is_null() {
        fail_document(
            "expected POST /products to document its request body as application/json",
            "`paths./products.post`",
            &document["paths"]["/products"]["post"],
            "The handler reads a JSON body: its `requestBody` names the schema it accepts.",
        );
    }
    let fields = &PRODUCT[1..];
    assert_object_schema(
        &document,
        schema,
        "the request body of POST /products",
        fields,
    );
    if schema["properties"].get("id").is_some() {
        fail_document(
            "expected the request body of POST /products to have no `id`, it has one",
            "the request body of POST /products",
            schema,
            "The shop gives a new product its id; a client does not send one.",
        );
    }
}

#[tokio::test]
async fn errors_are_documented_as_problem_details() {
    let server = TestServer::spawn(app(shop())).await;
    let document = document(&server).await;

    let response = &document["paths"]["/products/{id}"]["get"]["responses"]["404"];
    let schema = resolve(
        &document,
        &response["content"]["application/problem+json"]["schema"],
    );
    let part = "the 404 response of GET /products/{id}";
    if schema.is_null() {
        fail_document(
            &format!("expected {part} to have an application/problem+json body"),
            part,
            response,
            "The app answers errors as RFC 9457 problems: say so, with their schema.",
        );
    }
    let fields = [
        ("type", "string"),
        ("title", "string"),
        ("status", "integer"),
        ("detail", "string"),
    ];
    assert_object_schema(&document, schema, part, &fields);
}
