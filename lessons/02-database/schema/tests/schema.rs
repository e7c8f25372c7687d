//! Tests for database/schema: real SQLite databases, in memory and in
//! temporary files, opened with your `open`, `open_in_memory` and `set_up`.
//! For every rule, a row that keeps it must be accepted, and a row that
//! breaks it must be refused by the database itself, with the constraint
//! that rule names.
//!
//! A failure message says first what went wrong, then shows the statement
//! with its values written in, so you can paste it into `sqlite3` and try it
//! yourself; the tests run it with bound parameters.
//!
//! The SQLite bundled into this workbook is compiled with foreign keys on by
//! default; SQLite's own default, and that of most other builds, is off. So
//! some tests hand `set_up` a connection whose foreign keys are switched off
//! first: your code must not depend on how its SQLite was compiled.

use std::path::Path;

use database_schema::{open, open_in_memory, set_up};
use rusqlite::types::Value;
use rusqlite::{Connection, ffi, params_from_iter};
use testkit::tempfile::tempdir;

/// A database from `open_in_memory()`, or a failed test saying why not.
#[track_caller]
fn memory_database() -> Connection {
    match open_in_memory() {
        Ok(db) => db,
        Err(error) => {
            panic!("\nopening an in-memory database failed: {error}\n  call: open_in_memory()\n")
        }
    }
}

/// A database from `open(path)`, or a failed test saying why not.
#[track_caller]
fn file_database(path: &Path) -> Connection {
    match open(path) {
        Ok(db) => db,
        Err(error) => panic!(
            "\nopening a database file failed: {error}\n  call: open({})\n",
            path.display()
        ),
    }
}

/// `db`, opened directly with foreign keys switched off (SQLite's own
/// default), after your `set_up(&db)`; or a failed test saying why not.
#[track_caller]
fn set_up_from_the_default(db: Connection) -> Connection {
    db.execute_batch("PRAGMA foreign_keys = OFF")
        .expect("the test could not switch foreign keys off");
    match set_up(&db) {
        Ok(()) => db,
        Err(error) => {
            panic!("\nsetting the connection up failed: {error}\n  call: set_up(&db)\n")
        }
    }
}

fn text(value: &str) -> Value {
    Value::Text(value.to_string())
}

fn number(value: i64) -> Value {
    Value::Integer(value)
}

/// The kinds of rule a row can break. SQLite reports each with its own
/// extended result code (<https://sqlite.org/rescode.html>).
#[derive(Clone, Copy)]
enum Rule {
    NotNull,
    Unique,
    Check,
    ForeignKey,
    StrictType,
    /// A trigger's `RAISE(ABORT, ...)`: a trigger of your own that refuses
    /// the statement.
    Trigger,
}

impl Rule {
    fn code(self) -> i32 {
        match self {
            Rule::NotNull => ffi::SQLITE_CONSTRAINT_NOTNULL,
            Rule::Unique => ffi::SQLITE_CONSTRAINT_UNIQUE,
            Rule::Check => ffi::SQLITE_CONSTRAINT_CHECK,
            Rule::ForeignKey => ffi::SQLITE_CONSTRAINT_FOREIGNKEY,
            Rule::StrictType => ffi::SQLITE_CONSTRAINT_DATATYPE,
            Rule::Trigger => ffi::SQLITE_CONSTRAINT_TRIGGER,
        }
    }

    /// Whether `error` is this rule refusing a statement. A foreign key
    /// declared `ON DELETE RESTRICT` refuses a delete through a trigger
    /// SQLite makes for it: the trigger's code, with the foreign key's own
    /// message.
    fn refused(self, error: &rusqlite::Error) -> bool {
        let code = error.sqlite_extended_error_code();
        let restrict = code == Some(ffi::SQLITE_CONSTRAINT_TRIGGER)
            && error.to_string() == "FOREIGN KEY constraint failed";
        code == Some(self.code()) || (matches!(self, Rule::ForeignKey) && restrict)
    }

    fn name(self) -> &'static str {
        match self {
            Rule::NotNull => "NOT NULL",
            Rule::Unique => "UNIQUE",
            Rule::Check => "CHECK",
            Rule::ForeignKey => "FOREIGN KEY",
            Rule::StrictType => "STRICT column type",
            Rule::Trigger => "trigger",
        }
    }
}

/// A statement the test ran, and what the database answered.
struct Attempt {
    /// The statement with its values written in, for failure messages.
    shown: String,
    result: rusqlite::Result<usize>,
}

impl Attempt {
    /// Runs `sql` with `values` bound to `?1`, `?2`, ...
    fn run(db: &Connection, sql: &str, values: Vec<Value>) -> Attempt {
        let result = db.execute(sql, params_from_iter(&values));
        let mut shown = sql.to_string();
        // From the last placeholder down, so that `?1` never eats `?10`.
        for (index, value) in values.iter().enumerate().rev() {
            shown = shown.replace(&format!("?{}", index + 1), &literal(value));
        }
        Attempt { shown, result }
    }

    /// "an insert", "a delete": what the statement does, for a verdict.
    fn kind(&self) -> &'static str {
        match self.shown.split_whitespace().next() {
            Some("INSERT") => "an insert",
            Some("DELETE") => "a delete",
            Some("UPDATE") => "an update",
            _ => "a statement",
        }
    }

    /// Fails unless the database accepted the statement.
    #[track_caller]
    fn expect_accepted(self, why: &str) {
        if let Err(error) = &self.result {
            let diagnosis = match error.sqlite_extended_error_code() {
                Some(ffi::SQLITE_CONSTRAINT_CHECK) => {
                    "A CHECK refused it: is its condition stricter than the rule it enforces?\n"
                }
                Some(ffi::SQLITE_CONSTRAINT_NOTNULL) => {
                    "A NOT NULL refused it: a column the statement leaves out gets its DEFAULT, \
                     or NULL if it has none.\n"
                }
                _ => "",
            };
            panic!(
                "\nthe database refused {} it should accept ({why})\n  statement: {}\n  error:     {error}\n{diagnosis}",
                self.kind(),
                self.shown
            );
        }
    }

    /// Fails unless the database refused the statement because of one of
    /// `rules`.
    #[track_caller]
    fn expect_refused_by(self, rules: &[Rule], why: &str) {
        let names: Vec<&str> = rules.iter().map(|rule| rule.name()).collect();
        let expected = names.join(" or ");
        match &self.result {
            Ok(_) => panic!(
                "\nthe database accepted {} that a {expected} constraint should refuse ({why})\n  statement: {}\n",
                self.kind(),
                self.shown
            ),
            Err(error) => {
                if !rules.iter().any(|rule| rule.refused(error)) {
                    panic!(
                        "\nthe database refused {}, but not with a {expected} constraint ({why})\n  \
                         statement: {}\n  error:     {error}\n",
                        self.kind(),
                        self.shown
                    );
                }
            }
        }
    }
}

/// A value as SQL text, as you would type it into `sqlite3`.
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Integer(number) => number.to_string(),
        Value::Real(number) => format!("{number:?}"),
        Value::Text(text) => format!("'{}'", text.replace('\'', "''")),
        Value::Blob(bytes) => format!("<{} bytes>", bytes.len()),
    }
}

fn insert_customer(db: &Connection, email: Value, name: Value) -> Attempt {
    Attempt::run(
        db,
        "INSERT INTO customers (email, name) VALUES (?1, ?2)",
        vec![email, name],
    )
}

fn insert_order(db: &Connection, customer_id: Value, status: Value, total_cents: Value) -> Attempt {
    Attempt::run(
        db,
        "INSERT INTO orders (customer_id, status, total_cents) VALUES (?1, ?2, ?3)",
        vec![customer_id, status, total_cents],
    )
}

/// Adds a valid customer and returns its id, or fails the test.
#[track_caller]
fn add_customer(db: &Connection, email: &str, name: &str) -> i64 {
    insert_customer(db, text(email), text(name)).expect_accepted("a valid customer");
    db.last_insert_rowid()
}

/// Adds a valid order for `customer` and returns its id, or fails the test.
#[track_caller]
fn add_order(db: &Connection, customer: i64, status: &str, total_cents: i64) -> i64 {
    insert_order(db, number(customer), text(status), number(total_cents))
        .expect_accepted("a valid order");
    db.last_insert_rowid()
}

/// The number a `SELECT count(*) ...` query answers, or a failed test.
#[track_caller]
fn count(db: &Connection, sql: &str) -> i64 {
    match db.query_row(sql, [], |row| row.get(0)) {
        Ok(count) => count,
        Err(error) => panic!(
            "\nthe test could not count the rows\n  statement: {sql}\n  error:     {error}\n"
        ),
    }
}

#[test]
fn a_valid_customer_and_a_valid_order_are_accepted() {
    let db = memory_database();

    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");
    insert_order(&db, number(ada), text("paid"), number(1999))
        .expect_accepted("a paid order of 19.99 for an existing customer");

    let customers = count(&db, "SELECT count(*) FROM customers");
    assert!(
        customers == 1,
        "\nthe customers table holds {customers} rows after one customer was added, expected 1\n"
    );
    let orders = count(&db, "SELECT count(*) FROM orders");
    assert!(
        orders == 1,
        "\nthe orders table holds {orders} rows after one order was added, expected 1\n"
    );
}

#[test]
fn an_order_is_pending_when_no_status_is_given() {
    let db = memory_database();
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");

    Attempt::run(
        &db,
        "INSERT INTO orders (customer_id, total_cents) VALUES (?1, ?2)",
        vec![number(ada), number(500)],
    )
    .expect_accepted("an order without a status takes the default status");

    let status: Option<String> = db
        .query_row("SELECT status FROM orders", [], |row| row.get(0))
        .expect("the test could not read the order back");
    assert!(
        status.as_deref() == Some("pending"),
        "\nan order inserted without a status got the status {status:?}, expected \
         Some(\"pending\") (None means NULL)\n  statement: INSERT INTO orders (customer_id, \
         total_cents) VALUES ({ada}, 500)\nA column left out of an insert gets its DEFAULT.\n"
    );
}

// ANCHOR: not_null
#[test]
fn a_customer_without_an_email_or_a_name_is_refused() {
    let db = memory_database();

    insert_customer(&db, Value::Null, text("Ada Lovelace"))
        .expect_refused_by(&[Rule::NotNull], "every customer needs an email");
    insert_customer(&db, text("ada@example.com"), Value::Null)
        .expect_refused_by(&[Rule::NotNull], "every customer needs a name");
    insert_customer(&db, text("ada@example.com"), text("Ada Lovelace"))
        .expect_accepted("this customer has both");
}
// ANCHOR_END: not_null

#[test]
fn a_second_customer_with_the_same_email_is_refused() {
    let db = memory_database();
    add_customer(&db, "ada@example.com", "Ada Lovelace");

    insert_customer(&db, text("ada@example.com"), text("Ada King")).expect_refused_by(
        &[Rule::Unique],
        "ada@example.com is already a customer's email",
    );
    insert_customer(&db, text("grace@example.com"), text("Grace Hopper"))
        .expect_accepted("a different email");
}

#[test]
fn emails_that_differ_only_in_letter_case_are_the_same_email() {
    let db = memory_database();
    add_customer(&db, "ada@example.com", "Ada Lovelace");

    insert_customer(&db, text("Ada@Example.COM"), text("Ada King")).expect_refused_by(
        &[Rule::Unique],
        "Ada@Example.COM is the same address as ada@example.com: emails are unique ignoring case",
    );
}

#[test]
fn an_order_with_an_unknown_status_is_refused() {
    let db = memory_database();
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");

    for status in ["pending", "paid", "shipped"] {
        insert_order(&db, number(ada), text(status), number(100))
            .expect_accepted("one of the three statuses");
    }
    // Letter case and spaces count: only these three exact words are statuses.
    for status in ["refunded", "", "PAID", "Paid", "paid "] {
        insert_order(&db, number(ada), text(status), number(100)).expect_refused_by(
            &[Rule::Check],
            "the status must be exactly 'pending', 'paid' or 'shipped', in lower case",
        );
    }
}

#[test]
fn an_order_with_a_negative_total_is_refused() {
    let db = memory_database();
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");

    insert_order(&db, number(ada), text("paid"), number(-1))
        .expect_refused_by(&[Rule::Check], "a total is zero or more");
    insert_order(&db, number(ada), text("paid"), number(0))
        .expect_accepted("a total of zero is allowed: a free order");
}

#[test]
fn an_order_total_that_is_not_a_whole_number_of_cents_is_refused() {
    let db = memory_database();
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");

    for total in [text("ten"), Value::Real(12.5)] {
        insert_order(&db, number(ada), text("paid"), total).expect_refused_by(
            &[Rule::StrictType, Rule::Check],
            "total_cents holds whole numbers only; without STRICT, SQLite would store this as it is",
        );
    }
}

#[test]
fn an_order_without_a_customer_is_refused() {
    let db = memory_database();

    insert_order(&db, Value::Null, text("paid"), number(100)).expect_refused_by(
        &[Rule::NotNull],
        "every order belongs to a customer; a FOREIGN KEY alone lets NULL through",
    );
}

#[test]
fn an_order_for_a_customer_who_does_not_exist_is_refused_in_memory() {
    let db = memory_database();
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");

    insert_order(&db, number(ada + 1), text("paid"), number(100)).expect_refused_by(
        &[Rule::ForeignKey],
        "no customer has this id; is `PRAGMA foreign_keys = ON` run on this connection?",
    );
}

#[test]
fn an_order_for_a_customer_who_does_not_exist_is_refused_in_a_file() {
    let dir = tempdir().expect("the test could not create a temporary directory");
    let db = file_database(&dir.path().join("shop.db"));
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");

    insert_order(&db, number(ada + 1), text("paid"), number(100)).expect_refused_by(
        &[Rule::ForeignKey],
        "no customer has this id; is `PRAGMA foreign_keys = ON` run on this connection?",
    );
}

#[test]
fn a_customer_who_has_orders_cannot_be_deleted() {
    let db = memory_database();
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");
    let grace = add_customer(&db, "grace@example.com", "Grace Hopper");
    add_order(&db, ada, "paid", 1999);

    let delete = "DELETE FROM customers WHERE id = ?1";
    Attempt::run(&db, delete, vec![number(ada)]).expect_refused_by(
        &[Rule::ForeignKey, Rule::Trigger],
        "an order still belongs to this customer; deleting her would leave it pointing nowhere",
    );
    Attempt::run(&db, delete, vec![number(grace)]).expect_accepted("this customer has no orders");
}

#[test]
fn a_reopened_file_keeps_its_rows_and_still_enforces_foreign_keys() {
    let dir = tempdir().expect("the test could not create a temporary directory");
    let path = dir.path().join("shop.db");
    let first = file_database(&path);
    let ada = add_customer(&first, "ada@example.com", "Ada Lovelace");
    add_order(&first, ada, "paid", 1999);
    drop(first);

    // A new connection to the same file, as after a restart of the server.
    let again = file_database(&path);

    let rows = (
        count(&again, "SELECT count(*) FROM customers"),
        count(&again, "SELECT count(*) FROM orders"),
    );
    assert!(
        rows == (1, 1),
        "\nthe file opened again holds {} customers and {} orders, expected 1 and 1\nThe \
         customer and the order added before should still be there (and open must not fail \
         because the tables already exist).\n",
        rows.0,
        rows.1
    );
    insert_order(&again, number(ada + 1), text("paid"), number(100)).expect_refused_by(
        &[Rule::ForeignKey],
        "no customer has this id; foreign keys are a setting of each connection, not of the file",
    );
    add_order(&again, ada, "shipped", 500);
}

#[test]
fn an_empty_file_that_already_exists_gets_the_tables() {
    let dir = tempdir().expect("the test could not create a temporary directory");
    let path = dir.path().join("shop.db");
    // An empty file is a valid SQLite database with no tables: what `touch`
    // leaves, or a program that created the file and stopped.
    std::fs::File::create(&path).expect("the test could not create an empty file");
    let db = file_database(&path);

    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");
    add_order(&db, ada, "paid", 1999);
    insert_order(&db, number(ada + 1), text("paid"), number(100)).expect_refused_by(
        &[Rule::ForeignKey],
        "no customer has this id; the file existed before open, empty: it still needs the \
         tables and their rules, so decide by what the database holds, not by whether the \
         file exists",
    );
}

// ANCHOR: set_up
#[test]
fn set_up_switches_foreign_keys_on_for_a_connection_that_starts_with_them_off() {
    let db = Connection::open_in_memory().expect("the test could not open an in-memory database");
    let db = set_up_from_the_default(db);
    let ada = add_customer(&db, "ada@example.com", "Ada Lovelace");

    insert_order(&db, number(ada + 1), text("paid"), number(100)).expect_refused_by(
        &[Rule::ForeignKey],
        "no customer has this id; this connection started with foreign keys off, as SQLite's \
         own default is, so set_up must run `PRAGMA foreign_keys = ON` (outside any transaction)",
    );
}
// ANCHOR_END: set_up

#[test]
fn set_up_on_an_existing_file_keeps_its_rows_and_switches_foreign_keys_on() {
    let dir = tempdir().expect("the test could not create a temporary directory");
    let path = dir.path().join("shop.db");
    let first = file_database(&path);
    let ada = add_customer(&first, "ada@example.com", "Ada Lovelace");
    drop(first);

    let db = Connection::open(&path).expect("the test could not open the file again");
    let db = set_up_from_the_default(db);

    let customers = count(&db, "SELECT count(*) FROM customers");
    assert!(
        customers == 1,
        "\nthe customers table holds {customers} rows after set_up, expected 1\nset_up ran on \
         a database that already had its tables and a customer: the customer should still be \
         there.\n"
    );
    insert_order(&db, number(ada + 1), text("paid"), number(100)).expect_refused_by(
        &[Rule::ForeignKey],
        "no customer has this id; this connection started with foreign keys off, as SQLite's \
         own default is, so set_up must run `PRAGMA foreign_keys = ON`",
    );
}
