//! Tests for graphql/dataloader: the app on a real server on 127.0.0.1, over
//! a real SQLite database in memory, asked GraphQL queries as any client
//! would ask them. SQLite's trace hook on the app's connection records every
//! statement the app starts running, so each test knows how many statements
//! a query cost, and which.
//!
//! Why the counts are exact, not merely "small": each test's server runs on
//! the test's own single-threaded runtime (`#[tokio::test]`). async-graphql
//! resolves a list of up to 30 elements, and the fields of an object, by
//! polling every one of them in one pass, so the resolvers of one level of
//! the tree all ask their loader for their key in that one pass; the task
//! that runs the batch (spawned by the first of them, after a 1 ms timer)
//! cannot run before the pass ends, on one thread, however loaded the
//! machine is. Lists here stay at 30 orders or fewer: a longer list is
//! polled through `FuturesOrdered`, which gives the thread back every few
//! elements, and a slow machine could then let the timer split one level's
//! keys into two batches (right answers, one more statement).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use graphql_dataloader::{Db, add_customer, add_order, add_product, app, create_schema};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use testkit::{Reply, TestServer, Value, json};

/// The most statements a query for orders with their customers, items and
/// products may run: one for the orders, one for the items of all of them,
/// one for the products of all the items, one for all the customers.
const MOST_STATEMENTS: usize = 4;

/// Every field of every order: what the tests ask for unless they say
/// otherwise.
const EVERYTHING: &str = "{ orders { id status totalCents createdAt \
     customer { id name email } \
     items { quantity priceCents product { id sku name priceCents stock } } } }";

// ANCHOR: recording
/// One statement the app ran: its SQL as written (`?` for each parameter)
/// and as run (each parameter's value in its place).
#[derive(Clone, Debug)]
struct Statement {
    sql: String,
    expanded: String,
}

/// Every statement that starts running on a connection.
#[derive(Clone, Default)]
struct StatementLog {
    statements: Arc<Mutex<Vec<Statement>>>,
}

impl StatementLog {
    /// Records every statement `db` runs from now on, through SQLite's trace
    /// hook: `TraceEvent::Stmt` fires each time a statement starts running,
    /// also when a prepared statement runs again with new parameters.
    fn attach_to(db: &mut Connection) -> StatementLog {
        let log = StatementLog::default();
        let statements = Arc::clone(&log.statements);
        let record = move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(statement, sql) = event {
                let expanded = statement.expanded_sql().unwrap_or_else(|| sql.to_string());
                let sql = sql.to_string();
                statements.lock().unwrap().push(Statement { sql, expanded });
            }
        };
        db.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(record))
            .expect("the test could not install its trace hook");
        log
    }

    /// The statements recorded since the last call, and a fresh start.
    fn take(&self) -> Vec<Statement> {
        std::mem::take(&mut *self.statements.lock().unwrap())
    }
}
// ANCHOR_END: recording

/// SQL on one line, its runs of blanks made one space.
fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Each distinct statement with how many times it ran, one per line.
fn summarize(statements: &[Statement]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for statement in statements {
        *counts.entry(one_line(&statement.sql)).or_default() += 1;
    }
    let mut text = String::new();
    for (sql, count) in counts {
        let _ = writeln!(text, "  {count:>3} × {sql}");
    }
    if text.is_empty() {
        text.push_str("  (none)\n");
    }
    text
}

/// The app over a database the test filled, with the statement log on the
/// app's connection.
struct Shop {
    server: TestServer,
    db: Db,
    log: StatementLog,
}

/// What a query answered, and the statements it cost.
struct Answer {
    reply: Reply,
    data: Value,
    statements: Vec<Statement>,
}

impl Shop {
    /// A shop whose rows `fill` adds; returns what `fill` returns with it.
    async fn open<T>(fill: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> (Shop, T) {
        let mut connection =
            Connection::open_in_memory().expect("SQLite could not open an in-memory database");
        if let Err(error) = create_schema(&connection) {
            panic!("\ncreate_schema failed on an empty database: {error}\n");
        }
        let filled = fill(&connection).expect("the test could not fill the shop");
        let log = StatementLog::attach_to(&mut connection);
        let db = Db::new(connection);
        let server = TestServer::spawn(app(db.clone())).await;
        (Shop { server, db, log }, filled)
    }

    /// Posts `query` to `/graphql` and returns its `data`, failing the test
    /// if the answer is not a success.
    async fn ask(&self, query: &str) -> Answer {
        let (reply, statements) = self.send(query).await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 200 OK, got {}",
                    testkit::status_text(reply.status())
                ),
                "A GraphQL query that the schema accepts answers 200 OK with a JSON body.",
            );
        }
        let body = reply.json();
        if let Some(errors) = body.get("errors") {
            let first = errors[0]["message"].as_str().unwrap_or("(no message)");
            reply.fail_with_diagnosis(
                &format!("the query answered with errors; the first one: {first}"),
                "Every order, item, product and customer the query asks for exists: the \
                 answer should have `data` and no `errors`. A loader that fails, or a \
                 resolver that finds no value for its key, shows up here.",
            );
        }
        let data = body["data"].clone();
        Answer {
            reply,
            data,
            statements,
        }
    }
}

impl Shop {
    /// Posts `query` to `/graphql`; returns the reply, whatever it is, and
    /// the statements it cost.
    async fn send(&self, query: &str) -> (Reply, Vec<Statement>) {
        self.log.take();
        let reply = self
            .server
            .post("/graphql")
            .json(&json!({ "query": query }))
            .send()
            .await;
        (reply, self.log.take())
    }
}

/// A product as the schema shows it.
fn product_json(db: &Connection, id: i64) -> Value {
    db.query_row(
        "SELECT sku, name, price_cents, stock FROM products WHERE id = ?1",
        [id],
        |row| {
            Ok(json!({
                "id": id.to_string(),
                "sku": row.get::<_, String>(0)?,
                "name": row.get::<_, String>(1)?,
                "priceCents": row.get::<_, i64>(2)?,
                "stock": row.get::<_, i64>(3)?,
            }))
        },
    )
    .expect("the test could not read back a product it added")
}

/// An order, with its customer and its items, as the schema shows it when
/// [`EVERYTHING`] asks for it; `items` are `(product_id, quantity)` in the
/// order they were added.
fn order_json(db: &Connection, order_id: i64, items: &[(i64, i64)]) -> Value {
    let (status, total_cents, created_at, customer): (String, i64, String, Value) = db
        .query_row(
            "SELECT orders.status, orders.total_cents, orders.created_at,
                    customers.id, customers.name, customers.email
             FROM orders JOIN customers ON customers.id = orders.customer_id
             WHERE orders.id = ?1",
            [order_id],
            |row| {
                let customer = json!({
                    "id": row.get::<_, i64>(3)?.to_string(),
                    "name": row.get::<_, String>(4)?,
                    "email": row.get::<_, String>(5)?,
                });
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, customer))
            },
        )
        .expect("the test could not read back an order it added");
    let items: Vec<Value> = items
        .iter()
        .map(|&(product_id, quantity)| {
            let product = product_json(db, product_id);
            json!({
                "quantity": quantity,
                "priceCents": product["priceCents"],
                "product": product,
            })
        })
        .collect();
    json!({
        "id": order_id.to_string(),
        "status": status.to_uppercase(),
        "totalCents": total_cents,
        "createdAt": created_at,
        "customer": customer,
        "items": items,
    })
}

/// What differs between the orders that came back and the ones expected,
/// in one line (the verdict), then in detail.
fn what_differs(actual: &Value, expected: &Value) -> String {
    let empty = Vec::new();
    let actual = actual.as_array().unwrap_or(&empty);
    let expected = expected.as_array().unwrap_or(&empty);
    if actual.len() != expected.len() {
        return format!(
            "{} orders came back, expected {}",
            actual.len(),
            expected.len()
        );
    }
    let Some((found, wanted)) = actual.iter().zip(expected).find(|(a, e)| a != e) else {
        return "the orders are not the ones expected".to_string();
    };
    let id = wanted["id"].as_str().unwrap_or_default();
    if found["id"] != wanted["id"] {
        return format!(
            "order {} came back where order {id} should be\nOrders come in id order.",
            found["id"]
        );
    }
    for field in ["status", "totalCents", "createdAt", "customer"] {
        if found[field] != wanted[field] {
            return format!(
                "order {id} came back with another {field} than expected\n  expected: {}\n  got:      {}",
                wanted[field], found[field]
            );
        }
    }
    let found_items = found["items"].as_array().unwrap_or(&empty);
    let wanted_items = wanted["items"].as_array().unwrap_or(&empty);
    let diagnosis = if found_items.is_empty() {
        "None came back: does the items loader answer every order id it is given, and does \
         the resolver read its own order's entry?"
            .to_string()
    } else if found_items.len() < wanted_items.len() {
        "Some are missing: do all of an order's items reach it, or does each new row replace \
         the one before?"
            .to_string()
    } else if found_items.len() > wanted_items.len() {
        "Some belong to another order: is each row filed under its own order id?".to_string()
    } else {
        let mut found_sorted = found_items.clone();
        let mut wanted_sorted = wanted_items.clone();
        found_sorted.sort_by_key(Value::to_string);
        wanted_sorted.sort_by_key(Value::to_string);
        if found_sorted == wanted_sorted {
            "They are the right items in another order: an order's items come in the order \
             they were added to it, and SQLite promises no order without ORDER BY."
                .to_string()
        } else {
            "Each item shows its own product: is each product matched to its item by id, \
             not by its place in a list?"
                .to_string()
        }
    };
    format!(
        "order {id} came back with other items than expected\n{diagnosis}\n  expected: {}\n  got:      {}",
        Value::Array(wanted_items.clone()),
        Value::Array(found_items.clone())
    )
}

/// Fails unless the orders in `answer` are `expected`.
#[track_caller]
fn assert_orders(answer: &Answer, expected: &Value, situation: &str) {
    let orders = &answer.data["orders"];
    if orders != expected {
        let differs = what_differs(orders, expected);
        let (verdict, detail) = differs.split_once('\n').unwrap_or((&differs, ""));
        answer
            .reply
            .fail_with_diagnosis(verdict, &format!("{situation}.\n{detail}"));
    }
}

/// Fails if the query ran more than `most` statements.
#[track_caller]
fn assert_at_most(answer: &Answer, most: usize, what: &str) {
    let count = answer.statements.len();
    if count > most {
        answer.reply.fail_with_diagnosis(
            &format!("the query ran {count} statements, expected at most {most}"),
            &format!(
                "{what}\nA statement per order, per item or per customer is the N+1 problem: \
                 each resolver reads its own rows. Resolvers that ask a loader for their key \
                 let it read every key of one level in one statement.\nThe statements it ran \
                 (how many times, and which):\n{}",
                summarize(&answer.statements)
            ),
        );
    }
}

/// A shop of `count` orders (at most 30), and the orders [`EVERYTHING`]
/// should answer for it. Three customers share the orders (order `k` is
/// customer `k % 3`'s), five products share the items, every fourth order
/// has no items, and items are added in an order that is not their
/// products' id order.
fn orders_of(db: &Connection, count: i64) -> rusqlite::Result<Value> {
    let statuses = ["pending", "paid", "shipped", "cancelled"];
    let customers = [
        add_customer(db, "Ada Lovelace", "ada@example.com")?,
        add_customer(db, "Grace Hopper", "grace@example.com")?,
        add_customer(db, "Zoë Ünal", "zoe@example.com")?,
    ];
    let products = [
        add_product(db, "MUG-RED", "Red mug", 1250, 12)?,
        add_product(db, "MUG-BLUE", "Blue mug", 1300, 0)?,
        add_product(db, "TEA-GREEN", "Green tea, 100 g", 799, 40)?,
        add_product(db, "POT-CAST", "Cast-iron teapot", 4500, 3)?,
        add_product(db, "SPOON", "Spoon", 150, 500)?,
    ];
    let mut expected = Vec::new();
    for k in 0..count {
        let k = k as usize;
        let items: Vec<(i64, i64)> = if k % 4 == 3 {
            Vec::new()
        } else {
            // Highest product first, so id order is not the answer.
            vec![
                (products[3 + k % 2], 1 + (k % 3) as i64),
                (products[k % 3], 2),
            ]
        };
        let order = add_order(db, customers[k % 3], statuses[k % 4], &items)?;
        expected.push(order_json(db, order, &items));
    }
    Ok(Value::Array(expected))
}

#[tokio::test]
async fn every_order_comes_back_with_its_customer_and_its_items_in_order() {
    let (shop, expected) = Shop::open(|db| {
        let ada = add_customer(db, "Ada Lovelace", "ada@example.com")?;
        let grace = add_customer(db, "Grace Hopper", "grace@example.com")?;
        let red = add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
        let tea = add_product(db, "TEA-GREEN", "Green tea, 100 g", 799, 40)?;
        let pot = add_product(db, "POT-CAST", "Cast-iron teapot", 4500, 3)?;
        let mut expected = Vec::new();
        for (customer, status, items) in [
            (ada, "paid", vec![(pot, 1), (red, 2)]),
            (grace, "pending", vec![]),
            (ada, "shipped", vec![(red, 5)]),
            (ada, "cancelled", vec![(tea, 1), (pot, 3), (red, 1)]),
        ] {
            let order = add_order(db, customer, status, &items)?;
            expected.push(order_json(db, order, &items));
        }
        Ok(Value::Array(expected))
    })
    .await;

    let answer = shop.ask(EVERYTHING).await;

    assert_orders(
        &answer,
        &expected,
        "Four orders: Ada has three, Grace one without items; the red mug is on three \
         orders, and items were added in an order that is not their products' id order",
    );
    assert_at_most(
        &answer,
        MOST_STATEMENTS,
        "Four orders with their customers, items and products need one statement for the \
         orders, one for all their items, one for those items' products, one for the \
         customers.",
    );
}

// ANCHOR: count
#[tokio::test]
async fn the_number_of_statements_does_not_grow_with_the_number_of_orders() {
    let mut runs = Vec::new();
    for count in [1, 10, 30] {
        let (shop, expected) = Shop::open(|db| orders_of(db, count)).await;

        let answer = shop.ask(EVERYTHING).await;

        assert_orders(
            &answer,
            &expected,
            &format!(
                "{count} orders of three customers, with items that share five products; \
                 every fourth order has no items"
            ),
        );
        assert_at_most(
            &answer,
            MOST_STATEMENTS,
            &format!("{count} orders, with their customers, items and products."),
        );
        runs.push((count, answer));
    }

    let (_, one) = &runs[0];
    for (count, answer) in &runs[1..] {
        if answer.statements.len() != one.statements.len() {
            answer.reply.fail_with_diagnosis(
                &format!(
                    "the number of statements grows with the number of orders: {} for 1 \
                     order, {} for {count} orders",
                    one.statements.len(),
                    answer.statements.len()
                ),
                &format!(
                    "The same query must cost the same statements for 1 order as for \
                     {count}: one per level of the tree, each reading the keys of every \
                     parent at once.\nFor 1 order it ran:\n{}For {count} orders it ran:\n{}",
                    summarize(&one.statements),
                    summarize(&answer.statements)
                ),
            );
        }
    }
}
// ANCHOR_END: count

/// How many times `id` is sent to the database in `statements`: as a bound
/// parameter, or written into the SQL text.
fn times_sent(statements: &[Statement], id: i64) -> usize {
    let id = id.to_string();
    statements
        .iter()
        .flat_map(|statement| {
            statement
                .expanded
                .split(|c: char| !c.is_ascii_alphanumeric())
        })
        .filter(|word| *word == id)
        .count()
}

#[tokio::test]
async fn a_product_on_thirty_items_and_a_customer_of_thirty_orders_are_each_read_once() {
    // Ids no other row has, so that the test can find them in the SQL.
    const MUG: i64 = 770_001;
    const ADA: i64 = 880_001;
    let (shop, expected) = Shop::open(|db| {
        db.execute(
            "INSERT INTO customers (id, name, email) VALUES (?1, 'Ada Lovelace', 'ada@example.com')",
            [ADA],
        )?;
        db.execute(
            "INSERT INTO products (id, sku, name, price_cents, stock, created_at)
             VALUES (?1, 'MUG-RED', 'Red mug', 1250, 12, '2026-11-30T09:15:00Z')",
            [MUG],
        )?;
        let spoon = add_product(db, "SPOON", "Spoon", 150, 500)?;
        let mut expected = Vec::new();
        for k in 0..30 {
            let items = if k % 2 == 0 {
                vec![(MUG, 1 + k)]
            } else {
                vec![(spoon, 2), (MUG, 1)]
            };
            let order = add_order(db, ADA, "paid", &items)?;
            expected.push(order_json(db, order, &items));
        }
        Ok(Value::Array(expected))
    })
    .await;

    let answer = shop.ask(EVERYTHING).await;

    assert_orders(
        &answer,
        &expected,
        "Thirty orders, all of one customer, each with the red mug on it",
    );
    for (what, id) in [("the red mug's id", MUG), ("the customer's id", ADA)] {
        let sent = times_sent(&answer.statements, id);
        if sent > 1 {
            answer.reply.fail_with_diagnosis(
                &format!("{what} ({id}) was sent to the database {sent} times in one query; once is enough"),
                &format!(
                    "Thirty orders of one customer, each with the red mug on it: a batch \
                     should hold each key once, however many parents ask for it. A loader \
                     keyed by something else than the id it reads (the item, the order) \
                     asks for the same row again and again.\nThe statements, as they ran:\n{}",
                    answer
                        .statements
                        .iter()
                        .map(|statement| format!("  {}\n", one_line(&statement.expanded)))
                        .collect::<String>()
                ),
            );
        }
    }
    assert_at_most(
        &answer,
        MOST_STATEMENTS,
        "Thirty orders of one customer with their items and products.",
    );
}

#[tokio::test]
async fn orders_without_items_come_back_with_an_empty_list() {
    let (shop, expected) = Shop::open(|db| {
        let grace = add_customer(db, "Grace Hopper", "grace@example.com")?;
        let tea = add_product(db, "TEA-GREEN", "Green tea, 100 g", 799, 40)?;
        let mut expected = Vec::new();
        for k in 0..6 {
            let items = if k == 4 { vec![(tea, 3)] } else { vec![] };
            let order = add_order(db, grace, "pending", &items)?;
            expected.push(order_json(db, order, &items));
        }
        Ok(Value::Array(expected))
    })
    .await;

    let answer = shop.ask(EVERYTHING).await;

    assert_orders(
        &answer,
        &expected,
        "Six orders, of which only the fifth has an item: the others have `items: []`, \
         neither an error nor null",
    );
    assert_at_most(
        &answer,
        MOST_STATEMENTS,
        "Six orders with their customer, items and products.",
    );
}

#[tokio::test]
async fn a_query_that_asks_for_no_items_reads_no_items() {
    let (shop, expected) = Shop::open(|db| {
        let orders = orders_of(db, 10)?;
        let slim: Vec<Value> = orders
            .as_array()
            .unwrap()
            .iter()
            .map(|order| json!({ "id": order["id"], "customer": { "name": order["customer"]["name"] } }))
            .collect();
        Ok(Value::Array(slim))
    })
    .await;

    let answer = shop.ask("{ orders { id customer { name } } }").await;

    let orders = &answer.data["orders"];
    if *orders != expected {
        answer.reply.fail(&format!(
            "the orders and their customers' names are not the ones expected\n  expected: {expected}"
        ));
    }
    let reads_items: Vec<&Statement> = answer
        .statements
        .iter()
        .filter(|statement| statement.sql.to_lowercase().contains("order_items"))
        .collect();
    if !reads_items.is_empty() {
        answer.reply.fail_with_diagnosis(
            &format!(
                "the query asked for no items, yet {} of its statements read order_items",
                reads_items.len()
            ),
            &format!(
                "Each field costs only when a query selects it: the items are read by the \
                 `items` field's resolver, not up front with the orders.\nThe statements it \
                 ran:\n{}",
                summarize(&answer.statements)
            ),
        );
    }
    assert_at_most(
        &answer,
        2,
        "Ten orders and their customers' names need one statement for the orders and one \
         for the customers.",
    );
}

#[tokio::test]
async fn a_product_renamed_between_two_requests_shows_its_new_name() {
    let (shop, (mug, expected)) = Shop::open(|db| {
        let ada = add_customer(db, "Ada Lovelace", "ada@example.com")?;
        let mug = add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
        let spoon = add_product(db, "SPOON", "Spoon", 150, 500)?;
        let mut expected = Vec::new();
        for items in [vec![(mug, 1)], vec![(spoon, 4), (mug, 2)], vec![(mug, 3)]] {
            let order = add_order(db, ada, "paid", &items)?;
            expected.push(order_json(db, order, &items));
        }
        Ok((mug, Value::Array(expected)))
    })
    .await;

    let before = shop.ask(EVERYTHING).await;
    assert_orders(
        &before,
        &expected,
        "Three orders, each with the red mug on it",
    );
    assert_at_most(
        &before,
        MOST_STATEMENTS,
        "Three orders with their customer, items and products.",
    );

    let renamed = shop
        .db
        .call(move |db| {
            db.execute(
                "UPDATE products SET name = 'Crimson mug', version = version + 1 WHERE id = ?1",
                [mug],
            )
        })
        .await;
    if renamed.is_err() || renamed.as_ref().is_ok_and(|rows| *rows != 1) {
        panic!("\nthe test could not rename the red mug\n");
    }
    let after = shop.ask(EVERYTHING).await;

    let mut names = Vec::new();
    for order in after.data["orders"].as_array().into_iter().flatten() {
        for item in order["items"].as_array().into_iter().flatten() {
            if item["product"]["id"] == json!(mug.to_string()) {
                names.push(item["product"]["name"].clone());
            }
        }
    }
    if names.len() != 3 || names.iter().any(|name| name != "Crimson mug") {
        after.reply.fail_with_diagnosis(
            &format!(
                "after the red mug was renamed \"Crimson mug\", the next request showed it as {}",
                Value::Array(names)
            ),
            "The first request read the mug as \"Red mug\"; then its name changed in the \
             database; the second request must read it as it is now, on each of its three \
             items. A loader whose cache outlives its request (one made once, in `app`, and \
             shared by every request) answers what an earlier request saw.",
        );
    }
    assert_at_most(
        &after,
        MOST_STATEMENTS,
        "Three orders with their customer, items and products, asked again.",
    );
}

#[tokio::test]
async fn an_order_asked_by_its_id_reads_through_the_same_loaders() {
    let (shop, (order, expected)) = Shop::open(|db| {
        let grace = add_customer(db, "Grace Hopper", "grace@example.com")?;
        let red = add_product(db, "MUG-RED", "Red mug", 1250, 12)?;
        let tea = add_product(db, "TEA-GREEN", "Green tea, 100 g", 799, 40)?;
        let pot = add_product(db, "POT-CAST", "Cast-iron teapot", 4500, 3)?;
        add_order(db, grace, "paid", &[(red, 1)])?;
        let items = [(pot, 1), (tea, 2), (red, 3)];
        let order = add_order(db, grace, "shipped", &items)?;
        Ok((order, order_json(db, order, &items)))
    })
    .await;

    let query = format!(
        "{{ order(id: \"{order}\") {{ id status totalCents createdAt \
         customer {{ id name email }} \
         items {{ quantity priceCents product {{ id sku name priceCents stock }} }} }} }}"
    );
    let answer = shop.ask(&query).await;
    let found = Value::Array(vec![answer.data["order"].clone()]);
    let wanted = Value::Array(vec![expected]);
    if found != wanted {
        let differs = what_differs(&found, &wanted);
        let (verdict, detail) = differs.split_once('\n').unwrap_or((&differs, ""));
        answer.reply.fail_with_diagnosis(
            verdict,
            &format!("One order asked by its id, with three items added in no id order.\n{detail}"),
        );
    }
    assert_at_most(
        &answer,
        MOST_STATEMENTS,
        "One order with its customer, its three items and their products.",
    );

    let (reply, _) = shop.send("{ order(id: \"9999\") { id } }").await;
    if reply.status() != 200 || reply.json() != json!({ "data": { "order": null } }) {
        reply.fail(
            "expected {\"data\": {\"order\": null}} for an id that names no order\n\
             `order(id:)` is null when there is no such order: not an error.",
        );
    }

    let (reply, _) = shop.send("{ order(id: \"two\") { id } }").await;
    let body = reply.json();
    let error = &body["errors"][0];
    if error["extensions"]["code"] != "BAD_USER_INPUT" || error["path"] != json!(["order"]) {
        reply.fail(
            "expected an error with the code BAD_USER_INPUT at the path [\"order\"] for the id \"two\"\n\
             An id that is not a number is the client's mistake, reported on the field that took it.",
        );
    }
}

#[tokio::test]
async fn a_database_failure_in_a_batch_tells_the_client_nothing_of_the_database() {
    let (shop, expected) = Shop::open(|db| orders_of(db, 6)).await;
    let answer = shop.ask(EVERYTHING).await;
    assert_orders(&answer, &expected, "Six orders, before anything breaks");
    assert_at_most(
        &answer,
        MOST_STATEMENTS,
        "Six orders with their customers, items and products.",
    );

    // Every statement that reads a product's stock now fails.
    let broken = shop
        .db
        .call(|db| db.execute_batch("ALTER TABLE products RENAME COLUMN stock TO units"))
        .await;
    if broken.is_err() {
        panic!("\nthe test could not rename the products' stock column\n");
    }
    let (reply, _) = shop.send(EVERYTHING).await;

    let body = reply.json();
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    if errors.is_empty() {
        reply.fail(
            "expected errors when the products cannot be read, got none\n\
             The products' `stock` column is gone: the products' batch fails, and each \
             product that could not be loaded is an error in the answer.",
        );
    }
    let text = reply.text().to_lowercase();
    for word in [
        "units", "stock", "no such", "sqlite", "products", "select", "rusqlite",
    ] {
        if text.contains(word) {
            reply.fail_with_diagnosis(
                &format!("the answer to a failed batch shows {word:?}: it tells the client about the database"),
                "A database error goes to the server's log; the client gets `internal error` \
                 with the code INTERNAL_SERVER_ERROR, as `Db::call` makes it. A loader whose \
                 error carries the database's own message (or a resolver that turns it into \
                 the GraphQL error's text) hands the client the SQL, the table and the column.",
            );
        }
    }
    for error in &errors {
        let path_ends_in_product = error["path"]
            .as_array()
            .and_then(|path| path.last())
            .is_some_and(|last| last == "product");
        if error["message"] != "internal error"
            || error["extensions"]["code"] != "INTERNAL_SERVER_ERROR"
            || !path_ends_in_product
        {
            reply.fail(&format!(
                "expected each error to be \"internal error\" with the code INTERNAL_SERVER_ERROR on a `product` field, got {error}\n\
                 The products' batch failed: every item's `product` fails with it, and nothing else."
            ));
        }
    }
}
