//! Tests for graphql/limits: the app on a real server on 127.0.0.1, over a
//! real SQLite database in memory whose every statement is recorded by a
//! trace hook, called as the shop's customers, an admin and an anonymous
//! caller would call it. Every test starts from a shop of its own:
//!
//! | customer | id | token         | role     | orders                                   |
//! | -------- | -- | ------------- | -------- | ---------------------------------------- |
//! | Root     | 1  | `root-token`  | admin    | 4: Tea × 1 (850); 5: Tea × 3, cancelled  |
//! | Ada      | 2  | `ada-token`   | customer | 3: Mug × 2, Tea × 1 (3350)               |
//! | Bob      | 3  | `bob-token`   | customer | 1: Kettle × 1, Mug × 1 (32665); 2: Teapot × 2 (54364) |
//!
//! Bob's order 2 has the id Ada has as a customer, and Ada's order 3 the id
//! Bob has: ownership compared on the wrong id shows up.

use std::sync::{Arc, Mutex};

use graphql_limits::{Db, add_customer, add_order, add_product, add_session, app, create_schema};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use testkit::{Reply, TestServer, Value, json};

const ADA: &str = "ada-token";
const BOB: &str = "bob-token";
const ROOT: &str = "root-token";

/// What no answer to Ada (or to an anonymous caller) may contain: Bob's
/// email and the totals of Bob's two orders.
const BOBS_SECRETS: [&str; 3] = ["bob@example.com", "32665", "54364"];

/// The text of async-graphql's refusals, which the book quotes.
const TOO_DEEP: &str = "Query is nested too deep.";
const TOO_COMPLEX: &str = "Query is too complex.";

/// The SQL statements the app's connection starts running.
#[derive(Clone, Default)]
struct StatementLog(Arc<Mutex<Vec<String>>>);

impl StatementLog {
    fn attach_to(db: &mut Connection) -> StatementLog {
        let log = StatementLog::default();
        let statements = Arc::clone(&log.0);
        let record = move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(_, sql) = event {
                statements.lock().unwrap().push(sql.to_string());
            }
        };
        db.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(record))
            .expect("the test could not install its trace hook");
        log
    }

    /// The statements recorded since the last call, which forgets them.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Shop {
    server: TestServer,
    log: StatementLog,
}

/// The shop of the table above, served.
async fn shop() -> Shop {
    let mut db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    if let Err(error) = create_schema(&db) {
        panic!("\ncreate_schema failed on an empty database: {error}\n");
    }
    let seeded = (|| -> rusqlite::Result<()> {
        let root = add_customer(&db, "Root", "root@example.com", "admin")?;
        let ada = add_customer(&db, "Ada", "ada@example.com", "customer")?;
        let bob = add_customer(&db, "Bob", "bob@example.com", "customer")?;
        add_session(&db, root, ROOT)?;
        add_session(&db, ada, ADA)?;
        add_session(&db, bob, BOB)?;
        let mug = add_product(&db, "MUG-RED", "Red mug", 1250, 12)?;
        let kettle = add_product(&db, "KET-1", "Kettle", 31415, 3)?;
        let teapot = add_product(&db, "POT-1", "Teapot", 27182, 5)?;
        let tea = add_product(&db, "TEA-1", "Thé vert", 850, 40)?;
        add_order(&db, bob, "paid", &[(kettle, 1), (mug, 1)])?;
        add_order(&db, bob, "shipped", &[(teapot, 2)])?;
        add_order(&db, ada, "pending", &[(mug, 2), (tea, 1)])?;
        add_order(&db, root, "paid", &[(tea, 1)])?;
        add_order(&db, root, "cancelled", &[(tea, 3)])?;
        Ok(())
    })();
    if let Err(error) = seeded {
        panic!("\nthe test could not seed the shop with the given helpers: {error}\n");
    }
    let log = StatementLog::attach_to(&mut db);
    let server = TestServer::spawn(app(Db::new(db))).await;
    Shop { server, log }
}

impl Shop {
    /// Posts `query` (with `variables`) to `/graphql`, as the caller whose
    /// token is `token` (anonymous with `None`); fails unless the answer is
    /// `200 OK` with a JSON body whose errors leak nothing internal.
    async fn ask(&self, token: Option<&str>, query: &str, variables: Value) -> (Reply, Value) {
        let authorization = token.map(|token| format!("Bearer {token}"));
        self.ask_with(authorization.as_deref(), query, variables)
            .await
    }

    /// [`Shop::ask`], with this `Authorization` header (none with `None`).
    async fn ask_with(
        &self,
        authorization: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (Reply, Value) {
        let mut call = self.server.post("/graphql");
        if let Some(authorization) = authorization {
            call = call.header("authorization", authorization);
        }
        let body = json!({ "query": query, "variables": variables });
        let reply = call.json(&body).send().await;
        if reply.status() != 200 {
            reply.fail(&format!(
                "expected 200 OK, got {}\nA GraphQL server answers 200 with `errors` in the body for \
                 every query it could read, even one it refuses.",
                testkit::status_text(reply.status())
            ));
        }
        let answer = reply.json();
        assert_leaks_nothing(&reply, &answer);
        (reply, answer)
    }
}

/// Fails if an error message shows the server's insides.
#[track_caller]
fn assert_leaks_nothing(reply: &Reply, answer: &Value) {
    const INSIDES: [&str; 9] = [
        "sql",
        "rusqlite",
        "select ",
        "from orders",
        "sessions",
        "panicked",
        ".rs:",
        "src/",
        "graphql_limits",
    ];
    for error in answer["errors"].as_array().into_iter().flatten() {
        let message = error["message"].as_str().unwrap_or_default().to_lowercase();
        if let Some(inside) = INSIDES.iter().find(|inside| message.contains(*inside)) {
            reply.fail_with_diagnosis(
                &format!("an error message shows the server's insides ({inside:?})"),
                "A client learns that something failed and what it may do about it, never a \
                 table, a statement or a file: log the cause, answer `internal error`.",
            );
        }
    }
}

/// Whether `data` answers `expected`. async-graphql leaves a nullable field
/// whose resolver failed out of `data` (and answers `"data": null` when no
/// field is left): a missing field counts as `null`.
fn same_data(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Null, Value::Object(fields)) => fields.values().all(Value::is_null),
        (Value::Object(actual), Value::Object(expected)) => {
            actual.keys().all(|key| expected.contains_key(key))
                && expected
                    .iter()
                    .all(|(key, value)| same_data(actual.get(key).unwrap_or(&Value::Null), value))
        }
        (Value::Array(actual), Value::Array(expected)) => {
            actual.len() == expected.len()
                && actual.iter().zip(expected).all(|(a, e)| same_data(a, e))
        }
        _ => actual == expected,
    }
}

/// The entries of `errors` (none if the answer has no `errors`).
fn errors(answer: &Value) -> Vec<Value> {
    answer["errors"].as_array().cloned().unwrap_or_default()
}

/// Where `actual` first differs from `expected`, in one line: the verdict.
fn first_difference(actual: &Value, expected: &Value, at: &str) -> String {
    if let (Value::Object(fields), Value::Object(_)) = (expected, actual) {
        for (key, value) in fields {
            let found = actual.get(key).unwrap_or(&Value::Null);
            if !same_data(found, value) {
                return first_difference(found, value, &format!("{at}.{key}"));
            }
        }
    }
    if let (Value::Array(items), Value::Array(found)) = (expected, actual)
        && items.len() == found.len()
    {
        for (index, (value, found)) in items.iter().zip(found).enumerate() {
            if !same_data(found, value) {
                return first_difference(found, value, &format!("{at}[{index}]"));
            }
        }
    }
    let shorten = |value: &Value| {
        let text = value.to_string();
        match text.char_indices().nth(70) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text,
        }
    };
    format!(
        "{at} is {}, expected {}",
        shorten(actual),
        shorten(expected)
    )
}

/// Fails unless `data` is `expected` and there is no error at all.
#[track_caller]
fn expect_data(reply: &Reply, answer: &Value, expected: Value, diagnosis: &str) {
    if !same_data(&answer["data"], &expected) {
        reply.fail_with_diagnosis(
            &format!(
                "{}\nexpected the data {expected}",
                first_difference(&answer["data"], &expected, "data")
            ),
            diagnosis,
        );
    }
    if !errors(answer).is_empty() {
        reply.fail_with_diagnosis(
            &format!("expected no errors, got {}", Value::Array(errors(answer))),
            diagnosis,
        );
    }
}

/// Fails unless an entry of `errors` has this `path` and this
/// `extensions.code`.
#[track_caller]
fn expect_error(reply: &Reply, answer: &Value, path: Value, code: &str, diagnosis: &str) {
    let found = errors(answer)
        .iter()
        .any(|error| error["path"] == path && error["extensions"]["code"] == code);
    if !found {
        reply.fail_with_diagnosis(
            &format!(
                "expected an error with \"path\": {path} and \"extensions\": {{\"code\": \
                 \"{code}\"}}, found none"
            ),
            diagnosis,
        );
    }
}

/// Fails if the answer's text holds one of Bob's secrets.
#[track_caller]
fn expect_none_of_bobs_secrets(reply: &Reply, who: &str) {
    if let Some(secret) = BOBS_SECRETS
        .iter()
        .find(|secret| reply.text().contains(*secret))
    {
        reply.fail_with_diagnosis(
            &format!("{who} was shown {secret:?}, which is Bob's (his email or an order total)"),
            "Every field that leads to another customer's data checks the caller itself: \
             `Customer.email` and `Customer.orders` (the customer herself or an admin), \
             `Product.orders` (admins only), `Query.order` (the order's customer or an admin). \
             A check in one resolver protects that path only.",
        );
    }
}

/// Fails unless the query was refused by a limit with `message` (one of
/// `messages`), with no data and before any statement ran.
#[track_caller]
fn expect_refused(shop: &Shop, reply: &Reply, answer: &Value, messages: &[&str], what: &str) {
    let statements = shop.log.take();
    let refused = errors(answer).iter().any(|error| {
        messages
            .iter()
            .any(|message| error["message"].as_str() == Some(message))
    });
    if !refused {
        reply.fail_with_diagnosis(
            &format!(
                "{what} was not refused: expected the error {}",
                messages.join(" or ")
            ),
            "The schema's builder takes the limits (`MAX_DEPTH`, `MAX_COMPLEXITY`); the cost of \
             a list multiplies the cost of its selection by its length (`first`, or \
             `ASSUMED_LIST_LENGTH` for a list that takes no `first`).",
        );
    }
    if !answer["data"].is_null() {
        reply.fail(&format!(
            "{what} was refused but came with data: expected `data` null or absent"
        ));
    }
    if !statements.is_empty() {
        reply.fail_with_diagnosis(
            &format!(
                "{what} ran {} SQL statement{} before it was refused, expected none",
                statements.len(),
                if statements.len() == 1 { "" } else { "s" }
            ),
            &format!(
                "A limit is only a defence if it refuses the query before the first resolver \
                 runs: async-graphql checks the schema's limits while it validates the query. \
                 Checking the depth or the cost inside a resolver comes too late. \
                 The first statement: {}",
                statements[0]
            ),
        );
    }
}

/// Fails unless the query ran: no limit refused it, and it has data.
#[track_caller]
fn expect_ran(shop: &Shop, reply: &Reply, answer: &Value, what: &str, diagnosis: &str) {
    let statements = shop.log.take();
    let refusal = errors(answer).into_iter().find(|error| {
        [TOO_DEEP, TOO_COMPLEX].contains(&error["message"].as_str().unwrap_or_default())
    });
    if let Some(refusal) = refusal {
        reply.fail_with_diagnosis(
            &format!(
                "{what} was refused ({}), expected it to run",
                refusal["message"]
            ),
            diagnosis,
        );
    }
    if answer["data"].is_null() || statements.is_empty() {
        reply.fail_with_diagnosis(
            &format!(
                "{what} did not run: data {}, {} statements",
                answer["data"],
                statements.len()
            ),
            diagnosis,
        );
    }
}

// ---------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_customer_reads_herself_and_her_own_order_through_every_path() {
    let shop = shop().await;

    let query = "{ me { id name email orders { id totalCents } }
                   order(id: \"3\") { id status totalCents customer { name email orders { id } }
                                      items { quantity priceCents product { name } } } }";
    let (reply, answer) = shop.ask(Some(ADA), query, json!({})).await;
    expect_data(
        &reply,
        &answer,
        json!({
            "me": {
                "id": "2", "name": "Ada", "email": "ada@example.com",
                "orders": [{ "id": "3", "totalCents": 3350 }]
            },
            "order": {
                "id": "3", "status": "PENDING", "totalCents": 3350,
                "customer": { "name": "Ada", "email": "ada@example.com", "orders": [{ "id": "3" }] },
                "items": [
                    { "quantity": 2, "priceCents": 1250, "product": { "name": "Red mug" } },
                    { "quantity": 1, "priceCents": 850, "product": { "name": "Thé vert" } }
                ]
            }
        }),
        "`me` is the customer the token's session names (`caller(ctx)`), and a customer sees \
         all of her own order: its customer is herself, so her email and orders are hers to see. \
         Ownership compares the order's `customer_id` with the caller's `customer_id`: Ada is \
         customer 2, her order is order 3.",
    );

    let (reply, answer) = shop
        .ask(
            Some(ADA),
            "{ customer(id: \"2\") { name email } }",
            json!({}),
        )
        .await;
    expect_data(
        &reply,
        &answer,
        json!({ "customer": { "name": "Ada", "email": "ada@example.com" } }),
        "`customer(id:)` with the caller's own id shows her email: the check is \"the \
         customer herself, or an admin\".",
    );
}

#[tokio::test]
async fn another_customers_order_answers_exactly_like_a_missing_one() {
    let shop = shop().await;

    let (missing_reply, missing) = shop
        .ask(
            Some(ADA),
            "{ order(id: \"999\") { id totalCents } }",
            json!({}),
        )
        .await;
    expect_data(
        &missing_reply,
        &missing,
        json!({ "order": null }),
        "An order that does not exist is null, with no error.",
    );
    for bobs in ["1", "2"] {
        let query = format!("{{ order(id: \"{bobs}\") {{ id totalCents }} }}");
        let (reply, _) = shop.ask(Some(ADA), &query, json!({})).await;
        expect_none_of_bobs_secrets(&reply, "Ada");
        if reply.text() != missing_reply.text() {
            reply.fail_with_diagnosis(
                &format!(
                    "Bob's order {bobs} answers Ada differently from a missing order: she can \
                     tell that it exists\nthe missing order 999 answers {}",
                    missing_reply.text()
                ),
                "Answer another customer's order exactly as a missing one (null, no error): a \
                 FORBIDDEN there tells an attacker which ids exist. Compare the order's \
                 `customer_id` (not its `id`) with the caller's.",
            );
        }
    }

    let (reply, answer) = shop
        .ask(Some(ADA), "{ order(id: \"three\") { id } }", json!({}))
        .await;
    expect_error(
        &reply,
        &answer,
        json!(["order"]),
        "BAD_USER_INPUT",
        "An id that is not a number is the client's mistake: BAD_USER_INPUT (`parse_id`).",
    );
}

/// A path from Ada to Bob: the query, the data it must answer, and the
/// errors (path and code) it must carry.
struct PathToBob {
    query: &'static str,
    data: Value,
    errors: Vec<(Value, &'static str)>,
}

/// Every path from Ada to Bob through the graph.
fn paths_to_bob() -> Vec<PathToBob> {
    vec![
        PathToBob {
            query: "{ customer(id: \"3\") { name email } }",
            data: json!({ "customer": { "name": "Bob", "email": null } }),
            errors: vec![(json!(["customer", "email"]), "FORBIDDEN")],
        },
        PathToBob {
            query: "{ customer(id: \"3\") { name orders { id totalCents } } }",
            data: json!({ "customer": { "name": "Bob", "orders": null } }),
            errors: vec![(json!(["customer", "orders"]), "FORBIDDEN")],
        },
        PathToBob {
            query: "{ product(id: \"2\") { name orders { id totalCents customer { email } } } }",
            data: json!({ "product": { "name": "Kettle", "orders": null } }),
            errors: vec![(json!(["product", "orders"]), "FORBIDDEN")],
        },
        PathToBob {
            query: "{ products(first: 2) { name orders { id totalCents } } }",
            data: json!({ "products": [
                { "name": "Red mug", "orders": null },
                { "name": "Kettle", "orders": null }
            ] }),
            errors: vec![
                (json!(["products", 0, "orders"]), "FORBIDDEN"),
                (json!(["products", 1, "orders"]), "FORBIDDEN"),
            ],
        },
        PathToBob {
            query: "{ me { orders { items { product { orders { id totalCents } } } } } }",
            data: json!({ "me": { "orders": [{ "items": [
                { "product": { "orders": null } },
                { "product": { "orders": null } }
            ] }] } }),
            errors: vec![
                (
                    json!(["me", "orders", 0, "items", 0, "product", "orders"]),
                    "FORBIDDEN",
                ),
                (
                    json!(["me", "orders", 0, "items", 1, "product", "orders"]),
                    "FORBIDDEN",
                ),
            ],
        },
        PathToBob {
            query: "{ order(id: \"3\") { items { product { orders { customer { email } } } } } }",
            data: json!({ "order": { "items": [
                { "product": { "orders": null } },
                { "product": { "orders": null } }
            ] } }),
            errors: vec![
                (
                    json!(["order", "items", 0, "product", "orders"]),
                    "FORBIDDEN",
                ),
                (
                    json!(["order", "items", 1, "product", "orders"]),
                    "FORBIDDEN",
                ),
            ],
        },
    ]
}

#[tokio::test]
async fn no_path_through_the_graph_takes_a_customer_to_another_customers_orders_or_email() {
    let shop = shop().await;

    for PathToBob {
        query,
        data,
        errors: expected_errors,
    } in paths_to_bob()
    {
        let (reply, answer) = shop.ask(Some(ADA), query, json!({})).await;
        expect_none_of_bobs_secrets(&reply, "Ada");
        if !same_data(&answer["data"], &data) {
            reply.fail_with_diagnosis(
                &format!(
                    "{}\nexpected the data {data}",
                    first_difference(&answer["data"], &data, "data")
                ),
                "A refused field is null and has its error; the fields around it still answer \
                 (`email`, `orders` and `Product.orders` are nullable for that reason). A \
                 customer's name is public.",
            );
        }
        for (path, code) in expected_errors {
            expect_error(
                &reply,
                &answer,
                path,
                code,
                "A signed-in customer who asks for what is not hers gets FORBIDDEN on the field \
                 she may not see, with that field's path.",
            );
        }
    }
}

#[tokio::test]
async fn an_anonymous_caller_sees_products_and_names_and_nothing_that_needs_a_caller() {
    let shop = shop().await;

    let callers = [
        (None, "an anonymous caller"),
        (
            Some("Bearer no-such-token"),
            "a caller with a token no session has",
        ),
        (
            Some("Basic ada-token"),
            "a caller who sent Ada's token as Basic, not Bearer",
        ),
    ];
    for (token, who) in callers {
        let (reply, answer) = shop
            .ask_with(
                token,
                "{ me { name } products(first: 1) { id sku name priceCents stock } }",
                json!({}),
            )
            .await;
        expect_data(
            &reply,
            &answer,
            json!({
                "me": null,
                "products": [{ "id": "1", "sku": "MUG-RED", "name": "Red mug", "priceCents": 1250, "stock": 12 }]
            }),
            "Without a caller `me` is null, with no error; products are public. Only \
             `Authorization: Bearer <token>` names a caller, with a token a session has.",
        );

        let (existing, answer) = shop
            .ask_with(token, "{ order(id: \"1\") { id } }", json!({}))
            .await;
        expect_none_of_bobs_secrets(&existing, who);
        if !same_data(&answer["data"], &json!({ "order": null })) {
            existing.fail(&format!("{who} was shown an order: expected `order` null"));
        }
        expect_error(
            &existing,
            &answer,
            json!(["order"]),
            "UNAUTHENTICATED",
            "`order(id:)` needs a caller: without one it answers UNAUTHENTICATED, for every id.",
        );
        let (missing, _) = shop
            .ask_with(token, "{ order(id: \"999\") { id } }", json!({}))
            .await;
        if missing.text() != existing.text() {
            missing.fail(&format!(
                "{who} gets different answers for an order that exists and one that does not\n\
                 order 1 answered {}",
                existing.text()
            ));
        }

        for PathToBob {
            query,
            data,
            errors: expected_errors,
        } in paths_to_bob()
        {
            let (reply, answer) = shop.ask_with(token, query, json!({})).await;
            expect_none_of_bobs_secrets(&reply, who);
            if query.starts_with("{ me") || query.starts_with("{ order") {
                continue;
            }
            if !same_data(&answer["data"], &data) {
                reply.fail(&format!(
                    "{} for {who}\nexpected the data {data}",
                    first_difference(&answer["data"], &data, "data")
                ));
            }
            for (path, _) in expected_errors {
                expect_error(
                    &reply,
                    &answer,
                    path,
                    "UNAUTHENTICATED",
                    "A field that needs a caller answers UNAUTHENTICATED when there is none \
                     (FORBIDDEN is for a caller who is known but may not see it).",
                );
            }
        }
    }
}

#[tokio::test]
async fn an_admin_sees_every_customers_orders_and_emails() {
    let shop = shop().await;

    let query = "{ me { name email }
                   order(id: \"1\") { totalCents customer { name email } }
                   customer(id: \"2\") { email orders { id } }
                   product(id: \"1\") { orders { id customer { name email orders { id } } } } }";
    let (reply, answer) = shop.ask(Some(ROOT), query, json!({})).await;
    expect_data(
        &reply,
        &answer,
        json!({
            "me": { "name": "Root", "email": "root@example.com" },
            "order": { "totalCents": 32665, "customer": { "name": "Bob", "email": "bob@example.com" } },
            "customer": { "email": "ada@example.com", "orders": [{ "id": "3" }] },
            "product": { "orders": [
                { "id": "1", "customer": { "name": "Bob", "email": "bob@example.com", "orders": [{ "id": "1" }, { "id": "2" }] } },
                { "id": "3", "customer": { "name": "Ada", "email": "ada@example.com", "orders": [{ "id": "3" }] } }
            ] }
        }),
        "An admin (the role of the caller's customer row, never something the query says) sees \
         every order and every email, on every path; `Product.orders` lists the orders that hold \
         the product, in id order.",
    );

    let query = "{ a: order(id: \"1\") { status } b: order(id: \"2\") { status }
                   c: order(id: \"3\") { status } d: order(id: \"5\") { status createdAt } }";
    let (reply, answer) = shop.ask(Some(ROOT), query, json!({})).await;
    let created_at = answer["data"]["d"]["createdAt"]
        .as_str()
        .unwrap_or_default();
    let rfc_3339_utc = created_at.len() == 20
        && created_at.bytes().enumerate().all(|(at, byte)| match at {
            4 | 7 => byte == b'-',
            10 => byte == b'T',
            13 | 16 => byte == b':',
            19 => byte == b'Z',
            _ => byte.is_ascii_digit(),
        });
    if !rfc_3339_utc {
        reply.fail(&format!(
            "order 5's createdAt is {created_at:?}, expected RFC 3339 UTC text such as \"2026-11-30T09:15:00Z\""
        ));
    }
    expect_data(
        &reply,
        &answer,
        json!({
            "a": { "status": "PAID" }, "b": { "status": "SHIPPED" },
            "c": { "status": "PENDING" }, "d": { "status": "CANCELLED", "createdAt": created_at }
        }),
        "Each stored status ('pending', 'paid', 'shipped', 'cancelled') is its enum value.",
    );

    let (reply, answer) = shop
        .ask(
            Some(BOB),
            "{ product(id: \"1\") { orders { id } } }",
            json!({}),
        )
        .await;
    expect_error(
        &reply,
        &answer,
        json!(["product", "orders"]),
        "FORBIDDEN",
        "`Product.orders` is for admins only, even when some of the orders are the caller's.",
    );
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_query_as_deep_as_the_limit_runs_and_one_level_deeper_is_refused_before_it_runs() {
    let shop = shop().await;

    // 6 levels: order, customer, orders, items, product, name.
    let at_limit = "{ order(id: \"1\") { customer { orders { items { product { name } } } } } }";
    let (reply, answer) = shop.ask(Some(ROOT), at_limit, json!({})).await;
    expect_ran(
        &shop,
        &reply,
        &answer,
        "a query 6 levels deep (the limit)",
        "MAX_DEPTH is 6: a query exactly 6 levels deep runs; only a deeper one is refused.",
    );

    // 7 levels, and costing 183: under the cost limit.
    let too_deep =
        "{ order(id: \"1\") { customer { orders { items { product { orders { id } } } } } } }";
    let (reply, answer) = shop.ask(Some(ROOT), too_deep, json!({})).await;
    expect_refused(
        &shop,
        &reply,
        &answer,
        &[TOO_DEEP],
        "a query 7 levels deep (one over the limit)",
    );
}

#[tokio::test]
async fn a_malicious_nested_query_is_refused_before_any_statement_runs() {
    let shop = shop().await;

    let mut query = String::from("{ order(id: \"3\") { id ");
    for _ in 0..6 {
        query.push_str("customer { orders { items { product { orders { ");
    }
    query.push_str("id");
    query.push_str(&" } } } } }".repeat(6));
    query.push_str(" } }");
    for token in [Some(ADA), Some(ROOT), None] {
        let (reply, answer) = shop.ask(token, &query, json!({})).await;
        expect_refused(
            &shop,
            &reply,
            &answer,
            &[TOO_COMPLEX, TOO_DEEP],
            "a query nested 32 levels deep through the graph's cycles",
        );
    }
}

/// `n` aliased `products(first: 100)` with every field of a product: each
/// costs 1 + 100 × 5 = 501.
fn alias_flood(n: usize) -> String {
    let aliases: Vec<String> = (0..n)
        .map(|k| format!("a{k}: products(first: 100) {{ id sku name priceCents stock }}"))
        .collect();
    format!("{{ {} }}", aliases.join(" "))
}

#[tokio::test]
async fn a_query_as_costly_as_the_limit_runs_and_one_more_is_refused() {
    let shop = shop().await;

    // 501 + (1 + 99 × 5 = 496) + (1 + 2 = 3) = 1000
    let at_limit = "{ a: products(first: 100) { id sku name priceCents stock }
                      b: products(first: 99) { id sku name priceCents stock }
                      c: product(id: \"1\") { id name } }";
    let (reply, answer) = shop.ask(None, at_limit, json!({})).await;
    expect_ran(
        &shop,
        &reply,
        &answer,
        "a query costing 1000 (the limit)",
        "MAX_COMPLEXITY is 1000 and a query costing exactly 1000 runs. `products(first: n)` \
         costs 1 + n × the cost of its selection (5 scalar fields: 5).",
    );

    // The same, with one field more under `c`: 1001.
    let over = at_limit.replace("{ id name }", "{ id name sku }");
    let (reply, answer) = shop.ask(None, &over, json!({})).await;
    expect_refused(
        &shop,
        &reply,
        &answer,
        &[TOO_COMPLEX],
        "a query costing 1001",
    );
}

#[tokio::test]
async fn lists_with_no_first_cost_their_assumed_length() {
    let shop = shop().await;

    // customer: 1 + 3 fields + orders; orders: 1 + 5 × (4 fields + items);
    // items: 1 + 5 × (2 fields + product); product: 1 + 5 fields + orders;
    // product's orders: 1 + 5 × 4 fields = 21. So product 27, items 146,
    // orders 751, customer 755; with 241 (products(first: 48), 5 fields) and
    // 4 (product, 3 fields): 1000.
    let at_limit = "{ customer(id: \"1\") { id name email
                           orders { id status totalCents createdAt
                                    items { quantity priceCents
                                            product { id sku name priceCents stock
                                                      orders { id status totalCents createdAt } } } } }
                      products(first: 48) { id sku name priceCents stock }
                      product(id: \"1\") { id name sku } }";
    let (reply, answer) = shop.ask(Some(ROOT), at_limit, json!({})).await;
    expect_ran(
        &shop,
        &reply,
        &answer,
        "a query costing 1000 through `Customer.orders`, `Order.items` and `Product.orders`",
        "A list with no `first` (`Customer.orders`, `Order.items`, `Product.orders`) costs 1 + \
         ASSUMED_LIST_LENGTH (5) × the cost of its selection; every other field 1 + its \
         selection's cost.",
    );

    let over = at_limit.replace("{ id name sku }", "{ id name sku stock }");
    let (reply, answer) = shop.ask(Some(ROOT), &over, json!({})).await;
    expect_refused(
        &shop,
        &reply,
        &answer,
        &[TOO_COMPLEX],
        "a query costing 1001 through nested lists",
    );
}

#[tokio::test]
async fn an_alias_flood_is_refused_before_it_runs_with_literals_variables_or_in_a_batch() {
    let shop = shop().await;

    let (reply, answer) = shop.ask(Some(ADA), &alias_flood(20), json!({})).await;
    expect_refused(
        &shop,
        &reply,
        &answer,
        &[TOO_COMPLEX],
        "a query of 20 aliases of `products(first: 100)` (cost 10020)",
    );

    let aliases: Vec<String> = (0..20)
        .map(|k| format!("a{k}: products(first: $n) {{ id sku name priceCents stock }}"))
        .collect();
    let with_variables = format!("query Flood($n: Int!) {{ {} }}", aliases.join(" "));
    let (reply, answer) = shop
        .ask(Some(ADA), &with_variables, json!({ "n": 100 }))
        .await;
    expect_refused(
        &shop,
        &reply,
        &answer,
        &[TOO_COMPLEX],
        "a query of 20 aliases of `products(first: $n)` with $n = 100",
    );

    // The same flood, split into a batch of small queries: refused whole.
    let batch: Vec<Value> = (0..20)
        .map(|_| json!({ "query": alias_flood(1) }))
        .collect();
    let reply = shop
        .server
        .post("/graphql")
        .header("authorization", &format!("Bearer {ADA}"))
        .json(&Value::Array(batch))
        .send()
        .await;
    let statements = shop.log.take();
    if reply.status() != 400 || !statements.is_empty() {
        reply.fail(&format!(
            "a batch of 20 queries was not refused: expected 400 Bad Request and no statement, \
             got {} and {} statements\nEach query of a batch is checked alone: a batch of \
             queries just under the limit would cost the limit many times over.",
            testkit::status_text(reply.status()),
            statements.len()
        ));
    }
}

#[tokio::test]
async fn introspection_is_off_and_typename_still_answers() {
    let shop = shop().await;

    let (reply, answer) = shop
        .ask(None, "{ __schema { types { name } } }", json!({}))
        .await;
    if reply.text().contains("\"Customer\"") || !answer["data"]["__schema"].is_null() {
        reply.fail_with_diagnosis(
            "the schema answered an introspection query: expected introspection to be off",
            "This shop's clients are its own: they get the schema as a file, and the endpoint \
             does not describe itself to strangers. The schema's builder turns introspection \
             off.",
        );
    }

    let (reply, answer) = shop
        .ask(
            None,
            "{ __type(name: \"Customer\") { fields { name } } }",
            json!({}),
        )
        .await;
    if reply.text().contains("email") {
        reply.fail(&format!(
            "the schema described the type Customer through `__type`: expected introspection \
             to be off\ngot {}",
            answer["data"]
        ));
    }

    let (reply, answer) = shop
        .ask(
            None,
            "{ products(first: 1) { __typename name } }",
            json!({}),
        )
        .await;
    expect_data(
        &reply,
        &answer,
        json!({ "products": [{ "__typename": "Product", "name": "Red mug" }] }),
        "`__typename` is not introspection: clients such as Apollo's cache add it to every \
         selection, and it must keep working.",
    );
    let _ = shop.log.take();
}
