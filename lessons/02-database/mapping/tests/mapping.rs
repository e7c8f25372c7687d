//! Tests for database/mapping: payments go into a real in-memory SQLite
//! database through your functions and come back out as structs. The tests
//! also read and write the columns with their own SQL, to check that money
//! is stored as integer cents, times as Unix seconds and "nothing" as NULL,
//! as the table's documentation says.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use database_mapping::{
    Cents, NewPayment, Payment, create_schema, find_payment, insert_payment, payments_since,
    total_paid,
};
use rusqlite::{Connection, params};

/// 2023-11-14 22:13:20 UTC, as Unix seconds.
const NOV_14: i64 = 1_700_000_000;

/// The time `seconds` after 1970-01-01 00:00:00 UTC.
fn at(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds.try_into().expect("the tests use times after 1970"))
}

/// A fresh in-memory database with the exercise's table.
fn database() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    create_schema(&db).expect("create_schema works on an empty database");
    db
}

fn new_payment(payer: &str, cents: i64, note: Option<&str>, paid_at: i64) -> NewPayment {
    NewPayment {
        payer: payer.to_string(),
        amount: Cents(cents),
        note: note.map(str::to_string),
        paid_at: at(paid_at),
    }
}

/// Stores `payment` with your `insert_payment`, or fails the test.
#[track_caller]
fn insert(db: &Connection, payment: &NewPayment) -> Payment {
    match insert_payment(db, payment) {
        Ok(stored) => stored,
        Err(error) => panic!(
            "\ninsert_payment(&db, &{payment:?})\nshould store the payment, but returned an error:\n  {error}\n"
        ),
    }
}

/// Finds a payment with your `find_payment`, or fails the test.
#[track_caller]
fn find(db: &Connection, id: i64) -> Option<Payment> {
    match find_payment(db, id) {
        Ok(found) => found,
        Err(error) => panic!(
            "\nfind_payment(&db, {id})\nshould read the payment, but returned an error:\n  {error}\n"
        ),
    }
}

/// Adds up the payments with your `total_paid`, or fails the test.
#[track_caller]
fn total(db: &Connection) -> Cents {
    match total_paid(db) {
        Ok(total) => total,
        Err(error) => panic!(
            "\ntotal_paid(&db)\nshould add up the payments, but returned an error:\n  {error}\n"
        ),
    }
}

/// What the table holds in `column` of payment `id`: SQLite's name for the
/// value's type (`integer`, `real`, `text` or `null`) and the value as SQL
/// would write it (`1999`, `'text'`, `NULL`).
fn stored(db: &Connection, id: i64, column: &str) -> (String, String) {
    let sql = match column {
        "amount_cents" => {
            "SELECT typeof(amount_cents), quote(amount_cents) FROM payments WHERE id = ?1"
        }
        "note" => "SELECT typeof(note), quote(note) FROM payments WHERE id = ?1",
        "paid_at" => "SELECT typeof(paid_at), quote(paid_at) FROM payments WHERE id = ?1",
        "refunded_at" => {
            "SELECT typeof(refunded_at), quote(refunded_at) FROM payments WHERE id = ?1"
        }
        _ => unreachable!("the tests look at these four columns only"),
    };
    match db.query_row(sql, [id], |row| Ok((row.get(0)?, row.get(1)?))) {
        Ok(stored) => stored,
        Err(error) => panic!(
            "\nThe test could not read payment {id}, whose id insert_payment returned:\n  {error}\n"
        ),
    }
}

/// Marks payment `id` refunded at `seconds`, with the test's own SQL.
fn refund_directly(db: &Connection, id: i64, seconds: i64) {
    db.execute(
        "UPDATE payments SET refunded_at = ?1 WHERE id = ?2",
        params![seconds, id],
    )
    .expect("the test marks the payment refunded");
}

#[test]
fn an_inserted_payment_comes_back_with_its_id_and_every_field() {
    let db = database();
    let new = new_payment("Ada Lovelace", 1999, Some("table for two"), NOV_14);

    let stored = insert(&db, &new);

    let expected = Payment {
        id: stored.id,
        payer: "Ada Lovelace".into(),
        amount: Cents(1999),
        note: Some("table for two".into()),
        paid_at: at(NOV_14),
        refunded_at: None,
    };
    assert_eq!(
        stored, expected,
        "insert_payment should return the payment as stored: its id, every field given, no refund"
    );
    let id: i64 = db
        .query_row("SELECT id FROM payments", [], |row| row.get(0))
        .expect("the test reads the id of the only payment");
    assert_eq!(
        stored.id, id,
        "insert_payment returned an id that is not the row's id"
    );
    assert_eq!(
        find(&db, id),
        Some(expected),
        "find_payment(&db, {id}) should give back the payment that was stored"
    );
}

#[test]
fn find_returns_none_for_a_payment_that_does_not_exist() {
    let db = database();
    insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));

    assert_eq!(
        find(&db, 2),
        None,
        "no payment has id 2, so find_payment(&db, 2) should return Ok(None)"
    );
}

#[test]
fn amounts_are_stored_as_integer_cents() {
    let db = database();
    let stored = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));

    assert_eq!(
        self::stored(&db, stored.id, "amount_cents"),
        ("integer".to_string(), "1999".to_string()),
        "Cents(1999) should be stored in amount_cents as the integer 1999 (typeof, value)"
    );
}

// ANCHOR: unix_seconds
#[test]
fn times_are_stored_as_unix_seconds() {
    let db = database();
    let stored = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));

    assert_eq!(
        self::stored(&db, stored.id, "paid_at"),
        ("integer".to_string(), NOV_14.to_string()),
        "a payment made at 2023-11-14 22:13:20 UTC should have paid_at stored as the integer \
         {NOV_14}: whole seconds since 1970-01-01 00:00:00 UTC (typeof, value)"
    );
    assert_eq!(
        self::stored(&db, stored.id, "refunded_at"),
        ("null".to_string(), "NULL".to_string()),
        "a new payment is not refunded: refunded_at should be NULL (typeof, value)"
    );
}
// ANCHOR_END: unix_seconds

#[test]
fn a_time_is_stored_in_whole_seconds_dropping_the_fraction() {
    let db = database();
    let mut new = new_payment("Ada Lovelace", 1999, None, NOV_14);
    // Like every time from `SystemTime::now()`, this one has a fraction.
    new.paid_at += Duration::from_millis(750);

    let stored = insert(&db, &new);

    assert_eq!(
        self::stored(&db, stored.id, "paid_at"),
        ("integer".to_string(), NOV_14.to_string()),
        "a payment made at {NOV_14}.75 seconds should have paid_at stored as the integer \
         {NOV_14}: whole seconds, the fraction dropped (typeof, value)"
    );
    assert_eq!(
        stored.paid_at,
        at(NOV_14),
        "insert_payment should return the payment as stored, with paid_at in whole seconds"
    );
}

// ANCHOR: null
#[test]
fn a_missing_note_is_null_and_an_empty_note_is_not() {
    let db = database();
    let without = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));
    let empty = insert(&db, &new_payment("Grace Hopper", 500, Some(""), NOV_14));

    assert_eq!(
        stored(&db, without.id, "note"),
        ("null".to_string(), "NULL".to_string()),
        "a payment with `note: None` should store NULL in note, not an empty text (typeof, value)"
    );
    assert_eq!(
        stored(&db, empty.id, "note"),
        ("text".to_string(), "''".to_string()),
        "a payment with `note: Some(\"\")` should store an empty text, not NULL (typeof, value)"
    );
    assert_eq!(
        find(&db, without.id).map(|payment| payment.note),
        Some(None),
        "a NULL note should be read back as `note: None`"
    );
    assert_eq!(
        find(&db, empty.id).map(|payment| payment.note),
        Some(Some(String::new())),
        "an empty note should be read back as `note: Some(\"\")`: empty is not missing"
    );
}
// ANCHOR_END: null

#[test]
fn rows_written_by_other_code_are_read_back_field_by_field() {
    let db = database();
    db.execute(
        "INSERT INTO payments (id, payer, amount_cents, note, paid_at, refunded_at)
         VALUES (7, 'Grace Hopper', 250, NULL, ?1, ?2)",
        params![NOV_14, NOV_14 + 86_400],
    )
    .expect("the test writes a refunded payment directly");

    let expected = Payment {
        id: 7,
        payer: "Grace Hopper".into(),
        amount: Cents(250),
        note: None,
        paid_at: at(NOV_14),
        refunded_at: Some(at(NOV_14 + 86_400)),
    };
    assert_eq!(
        find(&db, 7),
        Some(expected),
        "the test stored, with its own SQL: amount_cents 250, note NULL, paid_at {NOV_14} and \
         refunded_at {} (Unix seconds); find_payment(&db, 7) should read each field back",
        NOV_14 + 86_400
    );
}

#[test]
fn payments_since_lists_the_payments_at_or_after_that_time_oldest_first() {
    let db = database();
    let mut stored = Vec::new();
    for (payer, paid_at) in [
        ("third", NOV_14 + 200),
        ("too early", NOV_14 - 1),
        ("fourth", NOV_14 + 300),
        ("first, on the dot", NOV_14),
        ("second", NOV_14 + 100),
    ] {
        stored.push(insert(&db, &new_payment(payer, 100, None, paid_at)));
    }
    refund_directly(&db, stored[2].id, NOV_14 + 400);

    let listed = match payments_since(&db, at(NOV_14)) {
        Ok(payments) => payments,
        Err(error) => panic!("\npayments_since(&db, ..)\nreturned an error:\n  {error}\n"),
    };

    let payers: Vec<&str> = listed
        .iter()
        .map(|payment| payment.payer.as_str())
        .collect();
    assert_eq!(
        payers,
        ["first, on the dot", "second", "third", "fourth"],
        "payments_since(2023-11-14 22:13:20 UTC) should list the payments made at that second \
         or later, refunded or not, oldest first (payers shown)"
    );
    assert_eq!(
        listed[3].refunded_at,
        Some(at(NOV_14 + 400)),
        "each listed payment should carry every field, its refund time too"
    );
}

#[test]
fn total_paid_adds_up_the_payments_that_were_not_refunded() {
    let db = database();
    insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));
    let refunded = insert(&db, &new_payment("Grace Hopper", 5000, None, NOV_14 + 1));
    insert(&db, &new_payment("Alan Turing", 1, None, NOV_14 + 2));
    refund_directly(&db, refunded.id, NOV_14 + 3);

    assert_eq!(
        total(&db),
        Cents(2000),
        "19.99 + 0.01 were paid, and the 50.00 payment was refunded: total_paid should be 20.00 \
         (a refunded payment has a refunded_at that is not NULL)"
    );
}

#[test]
fn total_paid_is_zero_when_nothing_was_paid() {
    let db = database();

    assert_eq!(
        total(&db),
        Cents(0),
        "with no payments, total_paid should be Cents(0) (in SQL, the sum of no rows is NULL)"
    );
    let refunded = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));
    refund_directly(&db, refunded.id, NOV_14 + 1);
    assert_eq!(
        total(&db),
        Cents(0),
        "with only a refunded payment, total_paid should be Cents(0)"
    );
}

// ANCHOR: ten_cents
#[test]
fn ten_payments_of_ten_cents_add_up_to_exactly_one_dollar() {
    let db = database();
    let ten_cents = Cents::parse("0.10");
    assert_eq!(
        ten_cents,
        Some(Cents(10)),
        "Cents::parse(\"0.10\") should be 10 cents"
    );

    for second in 0..10 {
        insert(&db, &new_payment("Ada Lovelace", 10, None, NOV_14 + second));
    }

    let sum = total(&db);
    assert_eq!(
        sum,
        Cents(100),
        "ten payments of 0.10 add up to exactly 1.00, which is Cents(100); total_paid said {sum} \
         (in floating point, 0.1 added ten times is 0.9999999999999999)"
    );
}
// ANCHOR_END: ten_cents

#[test]
fn amounts_are_read_from_decimal_text_exactly() {
    let cases = [
        ("19.99", 1999),
        ("0.10", 10),
        ("0.1", 10),
        ("0.29", 29),
        ("1.15", 115),
        ("4.35", 435),
        ("12", 1200),
        ("0", 0),
        ("007.50", 750),
        ("-0.05", -5),
        ("-12.34", -1234),
        // 2^53 + 1 cents: the first whole number a 64-bit float cannot hold.
        ("90071992547409.93", 9_007_199_254_740_993),
    ];
    for (text, cents) in cases {
        assert_eq!(
            Cents::parse(text),
            Some(Cents(cents)),
            "Cents::parse({text:?}) should be Some(Cents({cents})), exactly: parse the digits \
             as integers (an f64 cannot hold every amount)"
        );
    }
}

#[test]
fn text_that_is_not_an_amount_is_refused() {
    let cases = [
        "",
        "abc",
        "12.345",
        ".5",
        "5.",
        "1,50",
        "1.5.0",
        " 1.00",
        "1.00 ",
        "+1.00",
        "1e3",
        "NaN",
        "inf",
        "-",
        "--1",
        "1.-5",
        "€5",
        "99999999999999999999",
    ];
    for text in cases {
        assert_eq!(
            Cents::parse(text),
            None,
            "Cents::parse({text:?}) should be None: it is not an amount of the form 12.34"
        );
    }
}
