//! Tests for database/queries: your functions on a real in-memory SQLite
//! database. The tests check what each function returns, look at the rows
//! with their own queries, and, for one test, watch the SQL text that
//! reaches SQLite, where a value must never appear.

use std::sync::{Arc, Mutex};

use database_queries::{
    Customer, create_schema, delete_customer, find_customer, find_customer_by_email,
    insert_customer, rename_customer,
};
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, ErrorCode, params};

/// Names (and emails made from them) that break SQL built by pasting text
/// into it: quotes end a string literal early, and the rest is read as SQL.
const AWKWARD_NAMES: [&str; 8] = [
    "Conan O'Brien",
    "D'Artagnan's horse",
    "Dwayne \"The Rock\" Johnson",
    "C:\\Users\\ada\\",
    "100% _sure_",
    "-- not a comment",
    "/* nor this */",
    "Zoë Ñandú 🦀",
];

/// A fresh in-memory database with the exercise's table.
fn database() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    db
}

/// Adds a customer with the test's own SQL, with the id given.
fn add_customer_directly(db: &Connection, id: i64, name: &str, email: &str) {
    db.execute(
        "INSERT INTO customers (id, name, email) VALUES (?1, ?2, ?3)",
        params![id, name, email],
    )
    .expect("the test could not add a customer");
}

/// Every customer, read with the test's own SQL, in id order.
#[track_caller]
fn all_customers(db: &Connection) -> Vec<Customer> {
    let read = |db: &Connection| -> rusqlite::Result<Vec<Customer>> {
        let mut statement = db.prepare("SELECT id, name, email FROM customers ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok(Customer {
                id: row.get(0)?,
                name: row.get(1)?,
                email: row.get(2)?,
            })
        })?;
        rows.collect()
    };
    match read(db) {
        Ok(customers) => customers,
        Err(error) => panic!(
            "\nthe test could not read the customers back: {error}\nIs the table still there? \
             A value that was run as SQL may have dropped it.\n"
        ),
    }
}

/// Three customers with ids 1, 2 and 3.
fn three_customers(db: &Connection) -> Vec<Customer> {
    add_customer_directly(db, 1, "Ada Lovelace", "ada@example.com");
    add_customer_directly(db, 2, "Grace Hopper", "grace@example.com");
    add_customer_directly(db, 3, "Alan Turing", "alan@example.com");
    all_customers(db)
}

/// Unwraps a result of one of your functions, or fails the test saying
/// which call returned an error.
#[track_caller]
fn ok<T>(result: rusqlite::Result<T>, call: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            panic!("\na call that should succeed returned an error: {error}\n  call: {call}\n")
        }
    }
}

/// An email made from a name: `Conan O'Brien` gives `conan-o'brien@example.com`.
fn email_for(name: &str) -> String {
    format!("{}@example.com", name.to_lowercase().replace(' ', "-"))
}

#[test]
fn insert_returns_the_id_sqlite_gave_the_new_row() {
    let db = database();
    add_customer_directly(&db, 41, "Ada Lovelace", "ada@example.com");

    let call = r#"insert_customer(&db, "Grace Hopper", "grace@example.com")"#;
    let id = ok(
        insert_customer(&db, "Grace Hopper", "grace@example.com"),
        call,
    );

    assert!(
        id == 42,
        "\nthe id returned is {id}, expected 42\n  call: {call}\nThe table's only row had id 41, \
         so SQLite gave the new row id 42 (`db.last_insert_rowid()` says so).\n"
    );
    let stored = all_customers(&db);
    let grace = Customer {
        id: 42,
        name: "Grace Hopper".into(),
        email: "grace@example.com".into(),
    };
    assert!(
        stored.get(1) == Some(&grace),
        "\nthe row added is not the one expected\n  call:     {call}\n  expected: {grace:?} after \
         customer 41\n  got:      {stored:?}\n"
    );
}

#[test]
fn find_returns_the_customer_with_that_id() {
    let db = database();
    let customers = three_customers(&db);

    let found = ok(find_customer(&db, 2), "find_customer(&db, 2)");

    assert!(
        found.as_ref() == Some(&customers[1]),
        "\nthe customer found is not customer 2\n  call:     find_customer(&db, 2)\n  expected: \
         Some({:?})\n  got:      {found:?}\n",
        customers[1]
    );
}

#[test]
fn find_returns_none_when_no_customer_has_that_id() {
    let db = database();
    three_customers(&db);

    let found = ok(find_customer(&db, 4), "find_customer(&db, 4)");

    assert!(
        found.is_none(),
        "\na customer came back for an id no customer has\n  call:     find_customer(&db, 4)\n  \
         expected: None\n  got:      {found:?}\n"
    );
}

#[test]
fn find_by_email_returns_the_customer_with_that_email() {
    let db = database();
    let customers = three_customers(&db);

    let call = r#"find_customer_by_email(&db, "alan@example.com")"#;
    let found = ok(find_customer_by_email(&db, "alan@example.com"), call);

    assert!(
        found.as_ref() == Some(&customers[2]),
        "\nthe customer found is not customer 3\n  call:     {call}\n  expected: Some({:?})\n  \
         got:      {found:?}\n",
        customers[2]
    );
}

#[test]
fn find_by_email_returns_none_when_no_customer_has_that_email() {
    let db = database();
    three_customers(&db);

    let call = r#"find_customer_by_email(&db, "nobody@example.com")"#;
    let found = ok(find_customer_by_email(&db, "nobody@example.com"), call);

    assert!(
        found.is_none(),
        "\na customer came back for an email no customer has\n  call:     {call}\n  \
         expected: None\n  got:      {found:?}\n"
    );
}

#[test]
fn find_by_email_matches_the_whole_email_exactly() {
    let db = database();
    three_customers(&db);

    // Each is close to alan@example.com, but none is exactly an email of
    // the table: another letter case, spaces around it, or LIKE wildcards.
    for email in [
        "ALAN@EXAMPLE.COM",
        "Alan@example.com",
        " alan@example.com",
        "alan@example.com\n",
        "%",
        "%@example.com",
        "alan@example.co_",
    ] {
        let call = format!("find_customer_by_email(&db, {email:?})");
        let found = ok(find_customer_by_email(&db, email), &call);
        if let Some(customer) = found {
            panic!(
                "\na customer came back for {email:?}, which is not exactly any customer's \
                 email\n  call:     {call}\n  expected: None\n  got:      Some({customer:?})\n\
                 The email must equal the stored one character for character: `=` compares \
                 exactly, while LIKE treats `%` and `_` as wildcards and ignores letter case, \
                 and COLLATE NOCASE or lower() ignore letter case too.\n"
            );
        }
    }
}

// ANCHOR: quotes
#[test]
fn names_with_quotes_and_other_special_characters_round_trip() {
    let db = database();

    for name in AWKWARD_NAMES {
        let email = email_for(name);
        let insert = format!("insert_customer(&db, {name:?}, {email:?})");
        let id = ok(insert_customer(&db, name, &email), &insert);

        let expected = Customer {
            id,
            name: name.to_string(),
            email: email.clone(),
        };
        let find = format!("find_customer(&db, {id})");
        let by_id = ok(find_customer(&db, id), &find);
        assert!(
            by_id.as_ref() == Some(&expected),
            "\nthe customer read back is not exactly the one stored\n  calls:    {insert}, then \
             {find}\n  expected: Some({expected:?})\n  got:      {by_id:?}\n"
        );
        let find = format!("find_customer_by_email(&db, {email:?})");
        let by_email = ok(find_customer_by_email(&db, &email), &find);
        assert!(
            by_email.as_ref() == Some(&expected),
            "\nthe customer found by email is not exactly the one stored\n  calls:    {insert}, \
             then {find}\n  expected: Some({expected:?})\n  got:      {by_email:?}\n"
        );
    }
}
// ANCHOR_END: quotes

// ANCHOR: injection
#[test]
fn an_injection_shaped_name_is_stored_literally_and_runs_nothing() {
    let db = database();
    three_customers(&db);
    let name = "Robert', 'bobby@example.com'); DROP TABLE customers; --";

    let call = format!("insert_customer(&db, {name:?}, \"bobby@example.com\")");
    let id = ok(insert_customer(&db, name, "bobby@example.com"), &call);

    let stored = all_customers(&db);
    assert!(
        stored.len() == 4,
        "\nthe table holds {} customers after one insert into three, expected 4\n  call:      \
         {call}\n  customers: {stored:?}\nPart of the name was run as SQL.\n",
        stored.len()
    );
    let bobby = ok(find_customer(&db, id), &format!("find_customer(&db, {id})"));
    let stored_name = bobby.map(|customer| customer.name);
    assert!(
        stored_name.as_deref() == Some(name),
        "\nthe name was not stored as it is, letter for letter\n  call:     {call}\n  expected: \
         Some({name:?})\n  got:      {stored_name:?} (read with find_customer(&db, {id}))\n"
    );
}
// ANCHOR_END: injection

#[test]
fn an_injection_shaped_email_finds_nothing() {
    let db = database();
    three_customers(&db);

    for email in ["nobody@example.com' OR '1'='1", "' OR 1=1 --"] {
        let call = format!("find_customer_by_email(&db, {email:?})");
        let found = ok(find_customer_by_email(&db, email), &call);
        assert!(
            found.is_none(),
            "\na customer came back for an email no customer has\n  call:     {call}\n  \
             expected: None\n  got:      {found:?}\nThe email is a strange one, but only an \
             email: part of the value was run as SQL.\n"
        );
    }
}

#[test]
fn an_injection_shaped_name_renames_only_that_customer() {
    let db = database();
    let before = three_customers(&db);
    let name = "Mallory' WHERE 1=1; --";

    let call = format!("rename_customer(&db, 2, {name:?})");
    let changed = ok(rename_customer(&db, 2, name), &call);

    let after = all_customers(&db);
    let expected = vec![
        before[0].clone(),
        Customer {
            name: name.to_string(),
            ..before[1].clone()
        },
        before[2].clone(),
    ];
    assert!(
        after == expected,
        "\nthe rename did not give customer 2 exactly this name and leave the others alone\n  \
         call:     {call}\n  expected: {expected:?}\n  got:      {after:?}\n"
    );
    assert!(
        changed == 1,
        "\nthe rename returned {changed}, expected 1, the number of rows it changed\n  call: \
         {call}\n"
    );
}

#[test]
fn rename_changes_only_that_customer_and_reports_one_row() {
    let db = database();
    let before = three_customers(&db);

    let call = r#"rename_customer(&db, 1, "Ada King")"#;
    let changed = ok(rename_customer(&db, 1, "Ada King"), call);

    let after = all_customers(&db);
    let expected = vec![
        Customer {
            name: "Ada King".into(),
            ..before[0].clone()
        },
        before[1].clone(),
        before[2].clone(),
    ];
    assert!(
        after == expected,
        "\nthe rename did not rename customer 1 and no one else\n  call:     {call}\n  \
         expected: {expected:?}\n  got:      {after:?}\nIs there a WHERE?\n"
    );
    assert!(
        changed == 1,
        "\nthe rename returned {changed}, expected 1, the number of rows it changed\n  call: \
         {call}\n"
    );
}

#[test]
fn rename_of_a_missing_customer_reports_zero_rows() {
    let db = database();
    let before = three_customers(&db);

    let call = r#"rename_customer(&db, 4, "Nobody")"#;
    let changed = ok(rename_customer(&db, 4, "Nobody"), call);

    assert!(
        changed == 0,
        "\nthe rename of a missing customer returned {changed}, expected 0\n  call: {call}\nNo \
         customer has id 4, so no row changed.\n"
    );
    let after = all_customers(&db);
    assert!(
        after == before,
        "\nthe rename of a missing customer changed the table\n  call:     {call}\n  \
         expected: {before:?}\n  got:      {after:?}\n"
    );
}

#[test]
fn delete_removes_only_that_customer_and_reports_one_row() {
    let db = database();
    let before = three_customers(&db);

    let deleted = ok(delete_customer(&db, 2), "delete_customer(&db, 2)");

    let expected = vec![before[0].clone(), before[2].clone()];
    let after = all_customers(&db);
    assert!(
        after == expected,
        "\nthe delete did not remove customer 2 and no one else\n  call:     \
         delete_customer(&db, 2)\n  expected: {expected:?}\n  got:      {after:?}\n"
    );
    assert!(
        deleted == 1,
        "\nthe delete returned {deleted}, expected 1, the number of rows it deleted\n  call: \
         delete_customer(&db, 2)\n"
    );
}

#[test]
fn delete_of_a_missing_customer_reports_zero_rows() {
    let db = database();
    let before = three_customers(&db);

    let deleted = ok(delete_customer(&db, 4), "delete_customer(&db, 4)");

    assert!(
        deleted == 0,
        "\nthe delete of a missing customer returned {deleted}, expected 0\n  call: \
         delete_customer(&db, 4)\nNo customer has id 4, so nothing was deleted.\n"
    );
    let after = all_customers(&db);
    assert!(
        after == before,
        "\nthe delete of a missing customer changed the table\n  call:     \
         delete_customer(&db, 4)\n  expected: {before:?}\n  got:      {after:?}\n"
    );
}

#[test]
fn an_insert_the_table_refuses_returns_the_error() {
    let db = database();
    three_customers(&db);

    let call = r#"insert_customer(&db, "Ada King", "ada@example.com")"#;
    match insert_customer(&db, "Ada King", "ada@example.com") {
        Ok(id) => panic!(
            "\nan insert the table refuses returned Ok({id}), expected an error\n  call: {call}\n\
             ada@example.com is already customer 1's email, and emails are UNIQUE.\n"
        ),
        Err(error) => assert!(
            error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation),
            "\nthe error returned is not SQLite's own constraint violation\n  call:     {call}\n  \
             expected: Some(ConstraintViolation)\n  got:      {:?} ({error})\n",
            error.sqlite_error_code()
        ),
    }
}

/// Records the SQL text of every statement `db` runs from now on, as SQLite
/// receives it: a bound parameter shows as `?1`, a value pasted into the
/// text shows as itself.
fn record_statements(db: &mut Connection) -> Arc<Mutex<Vec<String>>> {
    let statements = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&statements);
    db.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(_, sql) = event {
                recorder.lock().unwrap().push(sql.to_string());
            }
        }),
    )
    .expect("the test could not watch the statements");
    statements
}

/// Fails if a statement run since the last check contains one of `values`.
#[track_caller]
fn assert_values_not_in_sql(statements: &Mutex<Vec<String>>, call: &str, values: &[&str]) {
    let run: Vec<String> = statements.lock().unwrap().drain(..).collect();
    for sql in &run {
        for value in values {
            if sql.contains(value) {
                panic!(
                    "\nthe value {value:?} is written into the SQL text\n  call: {call}\n  SQL:  \
                     {sql}\nWrite a placeholder (?1, ?2, ...) in the SQL instead and pass the value \
                     as a parameter, so SQLite never reads it as SQL.\n"
                );
            }
        }
    }
}

// ANCHOR: bound
#[test]
fn values_are_bound_as_parameters_never_pasted_into_the_sql() {
    let mut db = database();
    add_customer_directly(&db, 73105, "Ada Lovelace", "ada@example.com");
    let statements = record_statements(&mut db);

    let call = r#"insert_customer(&db, "Zaphod Beeblebrox", "zaphod@example.com")"#;
    ok(
        insert_customer(&db, "Zaphod Beeblebrox", "zaphod@example.com"),
        call,
    );
    assert_values_not_in_sql(&statements, call, &["Zaphod", "zaphod@example.com"]);

    ok(find_customer(&db, 73105), "find_customer(&db, 73105)");
    assert_values_not_in_sql(&statements, "find_customer(&db, 73105)", &["73105"]);

    let call = r#"find_customer_by_email(&db, "ada@example.com")"#;
    ok(find_customer_by_email(&db, "ada@example.com"), call);
    assert_values_not_in_sql(&statements, call, &["ada@example.com"]);

    let call = r#"rename_customer(&db, 73105, "Ada King")"#;
    ok(rename_customer(&db, 73105, "Ada King"), call);
    assert_values_not_in_sql(&statements, call, &["73105", "Ada King"]);

    ok(delete_customer(&db, 73105), "delete_customer(&db, 73105)");
    assert_values_not_in_sql(&statements, "delete_customer(&db, 73105)", &["73105"]);
}
// ANCHOR_END: bound
