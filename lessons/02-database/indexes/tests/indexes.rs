//! Tests for database/indexes: a shop in an in-memory SQLite database, with
//! your indexes and a few thousand generated orders. The plan tests record
//! the statements a lookup runs (SQLite's trace hook) and read each one's
//! `EXPLAIN QUERY PLAN`; the row tests compare what the lookups return with
//! what the test computes from the data it generated. Nothing is timed.

use std::sync::{Arc, Mutex};

use database_indexes::{
    Customer, Order, create_indexes, create_schema, customer_by_email, orders_of_customer,
    revenue_between,
};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::types::Null;

/// Customers `1..=REGULARS` are "Customer n", `customer<n>@example.com`.
const REGULARS: i64 = 200;
/// More customers, with emails worth looking up.
const ADA: i64 = 201;
const MAIRE: i64 = 202;
/// A customer without any order.
const NOBODY: i64 = 203;
/// A customer without any order, whose email is stored with capitals.
const GRACE: i64 = 204;
/// Orders spread over the customers and the months of 2025.
const ORDERS: i64 = 3000;

/// The customers the test stores.
fn customers() -> Vec<Customer> {
    let customer = |id, name: &str, email: &str| Customer {
        id,
        name: name.to_string(),
        email: email.to_string(),
    };
    let mut customers: Vec<Customer> = (1..=REGULARS)
        .map(|n| {
            customer(
                n,
                &format!("Customer {n}"),
                &format!("customer{n}@example.com"),
            )
        })
        .collect();
    customers.push(customer(ADA, "Ada Lovelace", "ada.lovelace@example.com"));
    customers.push(customer(MAIRE, "Máire O'Brien", "maire.o'brien@example.ie"));
    customers.push(customer(NOBODY, "Nobody", "nobody@example.com"));
    customers.push(customer(GRACE, "Grace Hopper", "Grace.Hopper@Navy.MIL"));
    customers
}

/// The orders the test stores: a fixed, varied pattern, plus two of Ada's
/// orders placed in the same second.
fn orders() -> Vec<Order> {
    let mut orders: Vec<Order> = (1..=ORDERS)
        .map(|n| Order {
            id: n,
            customer_id: 1 + (n * 37) % (MAIRE),
            placed_at: format!(
                "2025-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                1 + n % 12,
                1 + (n * 7) % 28,
                (n * 5) % 24,
                (n * 11) % 60,
                (n * 13) % 60,
            ),
            total_cents: 100 + (n * 997) % 20_000,
        })
        .collect();
    for (id, cents) in [(ORDERS + 1, 4_200), (ORDERS + 2, 1_999)] {
        orders.push(Order {
            id,
            customer_id: ADA,
            placed_at: "2025-06-15T12:00:00Z".to_string(),
            total_cents: cents,
        });
    }
    orders
}

// ANCHOR: shop
/// A shop in memory: the schema, your indexes, then the data.
fn shop() -> Connection {
    let mut db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    create_indexes(&db).expect("create_indexes failed on a new schema");
    let tx = db
        .transaction()
        .expect("the test could not begin a transaction");
    for c in customers() {
        tx.execute(
            "INSERT INTO customers (id, name, email) VALUES (?1, ?2, ?3)",
            (c.id, &c.name, &c.email),
        )
        .expect("the test could not store a customer");
    }
    for o in orders() {
        tx.execute(
            "INSERT INTO orders (id, customer_id, placed_at, total_cents) VALUES (?1, ?2, ?3, ?4)",
            (o.id, o.customer_id, &o.placed_at, o.total_cents),
        )
        .expect("the test could not store an order");
    }
    tx.commit().expect("the test could not commit its data");
    db
}
// ANCHOR_END: shop

/// Runs `lookup` on `db` and returns its result with the SQL of every
/// SELECT it ran, as SQLite saw it: trace_v2 reports each statement as it
/// starts.
fn selects_run_by<T>(
    db: &mut Connection,
    lookup: impl FnOnce(&Connection) -> T,
) -> (T, Vec<String>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    db.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(statement, _) = event {
                sink.lock().unwrap().push(statement.sql().into_owned());
            }
        }),
    )
    .expect("the test could not trace the statements");
    let result = lookup(db);
    db.trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>)
        .expect("the test could not stop tracing");
    let mut selects: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|sql| {
            let start = sql.trim_start().to_ascii_uppercase();
            start.starts_with("SELECT") || start.starts_with("WITH")
        })
        .cloned()
        .collect();
    selects.dedup();
    (result, selects)
}

// ANCHOR: plan
/// The lines of `EXPLAIN QUERY PLAN` for `sql`, such as
/// `SEARCH orders USING INDEX orders_by_customer (customer_id=?)`.
/// Parameters are left NULL: the plan does not depend on their values.
fn plan_of(db: &Connection, sql: &str) -> Vec<String> {
    // Prefixing a statement's own text is no injection: no value is pasted.
    let mut statement = db
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|error| panic!("the test could not explain {sql}: {error}"));
    let nulls = vec![Null; statement.parameter_count()];
    statement
        .query_map(rusqlite::params_from_iter(nulls), |row| row.get(3))
        .and_then(Iterator::collect)
        .unwrap_or_else(|error| panic!("the test could not explain {sql}: {error}"))
}
// ANCHOR_END: plan

/// The plans of the SELECTs `lookup` ran, each with its SQL. Fails if it ran
/// none.
fn plans_of<T: std::fmt::Debug>(
    db: &mut Connection,
    what: &str,
    lookup: impl FnOnce(&Connection) -> T,
) -> Vec<(String, Vec<String>)> {
    let (result, selects) = selects_run_by(db, lookup);
    assert!(
        !selects.is_empty(),
        "\nthe lookup ran no SELECT statement on the connection it was given\n  call:     \
         {what}\n  returned: {result:?}\n"
    );
    selects
        .into_iter()
        .map(|sql| {
            let plan = plan_of(db, &sql);
            (sql, plan)
        })
        .collect()
}

/// Shows a statement and its plan (`EXPLAIN QUERY PLAN`), one line of the
/// plan per line.
fn describe(sql: &str, plan: &[String]) -> String {
    let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    format!(
        "  query:    {sql}\n  plan:     {}",
        plan.join("\n            ")
    )
}

/// Fails unless every SELECT that `lookup` ran searches an index and scans
/// nothing.
#[track_caller]
fn assert_searches_an_index<T: std::fmt::Debug>(
    db: &mut Connection,
    what: &str,
    lookup: impl FnOnce(&Connection) -> T,
) {
    for (sql, plan) in plans_of(db, what, lookup) {
        let scans = plan
            .iter()
            .any(|line| line.starts_with("SCAN ") && line != "SCAN CONSTANT ROW");
        let searches = plan.iter().any(|line| {
            line.starts_with("SEARCH ")
                && ["USING INDEX", "USING COVERING INDEX", "USING PRIMARY KEY"]
                    .iter()
                    .any(|using| line.contains(using))
        });
        let verdict = if scans {
            "the lookup's query SCANs: it reads a whole table or index instead of searching one"
        } else {
            "the lookup's query does not SEARCH an index"
        };
        assert!(
            searches && !scans,
            "\n{verdict}\n  call:     {what}\n{}\nExpected a SEARCH ... USING INDEX (or USING \
             COVERING INDEX) and no SCAN: a SCAN reads every row of the table, or every entry \
             of an index. Add an index whose first columns are the ones the WHERE compares, \
             exactly as it compares them.\n",
            describe(&sql, &plan)
        );
    }
}

// ANCHOR: plan_tests
#[test]
fn orders_of_a_customer_are_searched_through_an_index_not_scanned() {
    let mut db = shop();

    assert_searches_an_index(&mut db, "orders_of_customer(7)", |db| {
        orders_of_customer(db, 7)
    });
}

#[test]
fn orders_of_a_customer_come_out_of_the_index_in_order_without_a_sort() {
    let mut db = shop();

    for (sql, plan) in plans_of(&mut db, "orders_of_customer(7)", |db| {
        orders_of_customer(db, 7)
    }) {
        assert!(
            !plan.iter().any(|line| line.contains("USE TEMP B-TREE")),
            "\nthe lookup's query sorts the rows it found (USE TEMP B-TREE) instead of reading \
             them in order from an index\n  call:     orders_of_customer(7)\n{}\nSQLite sorts \
             the rows it found in a temporary b-tree. An index whose entries, for one \
             customer, are already in the ORDER BY's order makes the sort unnecessary.\n",
            describe(&sql, &plan)
        );
    }
}
// ANCHOR_END: plan_tests

#[test]
fn orders_of_a_customer_are_all_theirs_newest_first() {
    let db = shop();
    let all_orders = orders();

    for customer_id in [7, ADA, NOBODY] {
        let mut expected: Vec<Order> = all_orders
            .iter()
            .filter(|order| order.customer_id == customer_id)
            .cloned()
            .collect();
        expected.sort_by(|a, b| (&b.placed_at, b.id).cmp(&(&a.placed_at, a.id)));

        let found = orders_of_customer(&db, customer_id);

        let found = found.unwrap_or_else(|error| {
            panic!(
                "\nthe lookup returned an error: {error}\n  call: orders_of_customer(&db, {customer_id})\n"
            )
        });
        let ids = |orders: &[Order]| orders.iter().map(|o| o.id).collect::<Vec<_>>();
        let first_difference = found
            .iter()
            .zip(&expected)
            .find(|(found, expected)| found != expected)
            .map(|(found, expected)| {
                format!("\n  first difference: {found:?}, expected {expected:?}")
            })
            .unwrap_or_default();
        assert!(
            found == expected,
            "\nthe orders returned are not the customer's {} orders, newest first, ties highest \
             id first\n  call:     orders_of_customer(&db, {customer_id})\n  expected: ids \
             {:?}\n  got:      ids {:?}{first_difference}\n",
            expected.len(),
            ids(&expected),
            ids(&found),
        );
    }
}

#[test]
fn a_customer_is_searched_by_email_through_an_index_not_scanned() {
    let mut db = shop();

    assert_searches_an_index(
        &mut db,
        "customer_by_email(\"Ada.Lovelace@Example.COM\")",
        |db| customer_by_email(db, "Ada.Lovelace@Example.COM"),
    );
}

// ANCHOR: email_rows
#[test]
fn a_customer_is_found_by_email_in_any_letter_case_and_only_by_its_email() {
    let db = shop();
    let everyone = customers();
    let customer = |id: i64| everyone.iter().find(|c| c.id == id).cloned();
    let lookups = [
        ("ada.lovelace@example.com", customer(ADA)),
        ("Ada.Lovelace@Example.COM", customer(ADA)),
        ("maire.o'brien@example.ie", customer(MAIRE)),
        ("MAIRE.O'BRIEN@EXAMPLE.IE", customer(MAIRE)),
        ("customer7@example.com", customer(7)),
        // Stored with capitals: the case is ignored on both sides.
        ("grace.hopper@navy.mil", customer(GRACE)),
        ("Grace.Hopper@Navy.MIL", customer(GRACE)),
        ("nobody@example.org", None),
        // Shaped like an injection, and like LIKE patterns: no email is this.
        ("' OR '1'='1", None),
        ("%@example.com", None),
        ("customer_@example.com", None),
    ];

    for (email, expected) in lookups {
        let found = customer_by_email(&db, email);

        let found = found.unwrap_or_else(|error| {
            panic!(
                "\nthe lookup returned an error: {error}\n  call: customer_by_email(&db, {email:?})\n"
            )
        });
        let verdict = match (&expected, &found) {
            (None, Some(_)) => format!("a customer came back for {email:?}, nobody's email"),
            (Some(_), None) => format!("no customer came back for {email:?}"),
            _ => format!("the wrong customer came back for {email:?}"),
        };
        assert!(
            found == expected,
            "\n{verdict}\n  call:     customer_by_email(&db, {email:?})\n  expected: \
             {expected:?}\n  got:      {found:?}\nIt should find the customer whose email is \
             that one, ignoring letter case on both sides (a stored email may have capitals \
             too), and nobody else.\n"
        );
    }
}
// ANCHOR_END: email_rows

#[test]
fn revenue_over_a_period_is_searched_through_an_index_not_scanned() {
    let mut db = shop();

    assert_searches_an_index(
        &mut db,
        "revenue_between(\"2025-03-01T00:00:00Z\", \"2025-04-01T00:00:00Z\")",
        |db| revenue_between(db, "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
    );
}

#[test]
fn revenue_over_a_period_sums_exactly_the_orders_placed_in_it() {
    let db = shop();
    let all_orders = orders();
    let periods = [
        ("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
        ("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        // From Ada's two orders in the same second (included) to a time
        // that is an order's own (excluded).
        ("2025-06-15T12:00:00Z", &all_orders[5].placed_at),
        ("2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"),
    ];

    for (from, until) in periods {
        let expected: i64 = all_orders
            .iter()
            .filter(|order| from <= order.placed_at.as_str() && order.placed_at.as_str() < until)
            .map(|order| order.total_cents)
            .sum();

        let found = revenue_between(&db, from, until);

        assert!(
            matches!(found, Ok(cents) if cents == expected),
            "\nthe revenue returned is {found:?}, expected Ok({expected}) cents\n  call: \
             revenue_between(&db, {from:?}, {until:?})\nIt is the sum of the orders placed from \
             {from} (included) until {until} (excluded).\n"
        );
    }
}
