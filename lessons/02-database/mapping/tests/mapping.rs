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
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
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
            "\nstoring a payment returned an error: {error}\n  call: insert_payment(&db, &{payment:?})\n"
        ),
    }
}

/// Finds a payment with your `find_payment`, or fails the test.
#[track_caller]
fn find(db: &Connection, id: i64) -> Option<Payment> {
    match find_payment(db, id) {
        Ok(found) => found,
        Err(error) => panic!(
            "\nreading a payment returned an error: {error}\n  call: find_payment(&db, {id})\n"
        ),
    }
}

/// Adds up the payments with your `total_paid`, or fails the test.
#[track_caller]
fn total(db: &Connection) -> Cents {
    match total_paid(db) {
        Ok(total) => total,
        Err(error) => {
            panic!("\nadding up the payments returned an error: {error}\n  call: total_paid(&db)\n")
        }
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
            "\nthe test could not read payment {id}, whose id insert_payment returned: {error}\n"
        ),
    }
}

/// A stored value as a failure message says it: `the integer 1999`, `NULL`.
fn shown((kind, value): (&str, &str)) -> String {
    if kind == "null" {
        value.to_string()
    } else {
        format!("the {kind} {value}")
    }
}

/// Fails unless `column` of payment `id` holds a value of SQLite's type
/// `expected.0` written `expected.1`, saying which payment it is.
#[track_caller]
fn assert_stored(db: &Connection, id: i64, column: &str, expected: (&str, &str), payment: &str) {
    let (kind, value) = stored(db, id, column);
    if (kind.as_str(), value.as_str()) != expected {
        panic!(
            "\n{column} holds {}, expected {}\n  payment: {payment}\n",
            shown((&kind, &value)),
            shown(expected)
        );
    }
}

/// A time as a failure message says it: seconds since 1970-01-01 UTC.
fn unix(time: SystemTime) -> String {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => format!("{since:?} after 1970-01-01 00:00:00 UTC"),
        Err(_) => format!("{time:?}"),
    }
}

/// Fails unless `cents` displays as `expected`. These tests show amounts
/// with `Cents`'s `Display`, which this exercise gives as you wrote it in
/// `database/money`.
#[track_caller]
fn assert_displays(cents: Cents, expected: &str) {
    let shown = cents.to_string();
    assert!(
        shown == expected,
        "\n{cents:?} displays as {shown:?}, expected {expected:?}\n`Cents` and its `Display` \
         are given in this exercise, as you wrote them in database/money: were they changed?\n"
    );
}

/// Marks payment `id` refunded at `seconds`, with the test's own SQL.
fn refund_directly(db: &Connection, id: i64, seconds: i64) {
    db.execute(
        "UPDATE payments SET refunded_at = ?1 WHERE id = ?2",
        params![seconds, id],
    )
    .expect("the test could not mark the payment refunded");
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
    assert!(
        stored == expected,
        "\nthe payment returned is not the payment as stored: its id, every field given, no \
         refund\n  call:     insert_payment(&db, &{new:?})\n  expected: {expected:?}\n  got:      \
         {stored:?}\n"
    );
    let id: i64 = db
        .query_row("SELECT id FROM payments", [], |row| row.get(0))
        .expect("the test could not read the id of the only payment");
    assert!(
        stored.id == id,
        "\nthe id returned is {}, but the row's id is {id}\n  call: insert_payment(&db, &{new:?})\n",
        stored.id
    );
    let found = find(&db, id);
    assert!(
        found.as_ref() == Some(&expected),
        "\nthe payment read back is not the one stored\n  call:     find_payment(&db, {id})\n  \
         expected: Some({expected:?})\n  got:      {found:?}\n"
    );
}

#[test]
fn find_returns_none_for_a_payment_that_does_not_exist() {
    let db = database();
    insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));

    let found = find(&db, 2);
    assert!(
        found.is_none(),
        "\na payment came back for an id no payment has\n  call:     find_payment(&db, 2)\n  \
         expected: None\n  got:      {found:?}\n"
    );
}

#[test]
fn amounts_are_stored_as_integer_cents() {
    let db = database();
    let stored = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));

    assert_stored(
        &db,
        stored.id,
        "amount_cents",
        ("integer", "1999"),
        "one of Cents(1999)",
    );
}

// ANCHOR: unix_seconds
#[test]
fn times_are_stored_as_unix_seconds() {
    let db = database();
    let stored = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));

    assert_stored(
        &db,
        stored.id,
        "paid_at",
        ("integer", &NOV_14.to_string()),
        "one made at 2023-11-14 22:13:20 UTC; times are whole seconds since 1970-01-01 00:00:00 UTC",
    );
    assert_stored(
        &db,
        stored.id,
        "refunded_at",
        ("null", "NULL"),
        "a new one, not refunded",
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

    assert_stored(
        &db,
        stored.id,
        "paid_at",
        ("integer", &NOV_14.to_string()),
        &format!("one made at {NOV_14}.75 seconds; times are whole seconds, the fraction dropped"),
    );
    assert!(
        stored.paid_at == at(NOV_14),
        "\nthe payment returned has paid_at {}, expected {}\ninsert_payment should return the \
         payment as stored, with paid_at in whole seconds.\n",
        unix(stored.paid_at),
        unix(at(NOV_14))
    );
}

// ANCHOR: null
#[test]
fn a_missing_note_is_null_and_an_empty_note_is_not() {
    let db = database();
    let without = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));
    let empty = insert(&db, &new_payment("Grace Hopper", 500, Some(""), NOV_14));

    assert_stored(
        &db,
        without.id,
        "note",
        ("null", "NULL"),
        "one with `note: None`, which stores NULL, not an empty text",
    );
    assert_stored(
        &db,
        empty.id,
        "note",
        ("text", "''"),
        "one with `note: Some(\"\")`, which stores an empty text, not NULL",
    );
    let note = find(&db, without.id).map(|payment| payment.note);
    assert!(
        note == Some(None),
        "\na NULL note was not read back as `note: None`\n  call: find_payment(&db, {})\n  got:  \
         {}\n",
        without.id,
        note.map_or("no payment".to_string(), |note| format!("note: {note:?}"))
    );
    let note = find(&db, empty.id).map(|payment| payment.note);
    assert!(
        note == Some(Some(String::new())),
        "\nan empty note was not read back as `note: Some(\"\")`: empty is not missing\n  call: \
         find_payment(&db, {})\n  got:  {}\n",
        empty.id,
        note.map_or("no payment".to_string(), |note| format!("note: {note:?}"))
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
    .expect("the test could not write a refunded payment directly");

    let expected = Payment {
        id: 7,
        payer: "Grace Hopper".into(),
        amount: Cents(250),
        note: None,
        paid_at: at(NOV_14),
        refunded_at: Some(at(NOV_14 + 86_400)),
    };
    let found = find(&db, 7);
    assert!(
        found.as_ref() == Some(&expected),
        "\nthe payment read back is not the one the test stored\n  call:     find_payment(&db, 7)\n  \
         expected: Some({expected:?})\n  got:      {found:?}\nThe test stored, with its own SQL: \
         amount_cents 250, note NULL, paid_at {NOV_14} and refunded_at {} (Unix seconds).\n",
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
        Err(error) => panic!(
            "\nlisting the payments returned an error: {error}\n  call: payments_since(&db, 2023-11-14 22:13:20 UTC)\n"
        ),
    };

    let payers: Vec<&str> = listed
        .iter()
        .map(|payment| payment.payer.as_str())
        .collect();
    let expected = ["first, on the dot", "second", "third", "fourth"];
    assert!(
        payers == expected,
        "\nthe payments listed are not those made at 2023-11-14 22:13:20 UTC or later, oldest \
         first\n  call:     payments_since(&db, 2023-11-14 22:13:20 UTC)\n  expected: payers \
         {expected:?}\n  got:      payers {payers:?}\nRefunded payments are listed too.\n"
    );
    assert!(
        listed[3].refunded_at == Some(at(NOV_14 + 400)),
        "\nthe listed payment of \"fourth\" has refunded_at {}, expected {}\nEach listed payment \
         should carry every field, its refund time too.\n",
        listed[3].refunded_at.map_or("None".to_string(), unix),
        unix(at(NOV_14 + 400))
    );
}

#[test]
fn total_paid_adds_up_the_payments_that_were_not_refunded() {
    let db = database();
    insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));
    let refunded = insert(&db, &new_payment("Grace Hopper", 5000, None, NOV_14 + 1));
    insert(&db, &new_payment("Alan Turing", 1, None, NOV_14 + 2));
    refund_directly(&db, refunded.id, NOV_14 + 3);

    let paid = total(&db);
    assert!(
        paid == Cents(2000),
        "\nthe total paid is {paid}, expected 20.00\n  payments: 19.99, 50.00 (refunded), 0.01\n\
         A refunded payment has a refunded_at that is not NULL: leave it out.\n"
    );
    assert_displays(paid, "20.00");
}

#[test]
fn total_paid_is_zero_when_nothing_was_paid() {
    let db = database();

    let paid = total(&db);
    assert!(
        paid == Cents(0),
        "\nthe total paid is {paid} with no payments, expected 0.00\nIn SQL, the sum of no rows \
         is NULL.\n"
    );
    assert_displays(paid, "0.00");
    let refunded = insert(&db, &new_payment("Ada Lovelace", 1999, None, NOV_14));
    refund_directly(&db, refunded.id, NOV_14 + 1);
    let paid = total(&db);
    assert!(
        paid == Cents(0),
        "\nthe total paid is {paid} with only a refunded payment, expected 0.00\n"
    );
}

// ANCHOR: ten_cents
#[test]
fn ten_payments_of_ten_cents_add_up_to_exactly_one_dollar() {
    let db = database();

    for second in 0..10 {
        insert(&db, &new_payment("Ada Lovelace", 10, None, NOV_14 + second));
    }

    let sum = total(&db);
    assert!(
        sum == Cents(100),
        "\nten payments of 0.10 add up to {sum}, expected exactly 1.00, Cents(100)\nIn floating \
         point, 0.1 added ten times is 0.9999999999999999.\n"
    );
}
// ANCHOR_END: ten_cents

/// 2040-01-01 00:00:00 UTC, as Unix seconds: after 2038-01-19, when Unix
/// time no longer fits an i32.
const JAN_1_2040: i64 = 2_208_988_800;

#[test]
fn times_after_2038_and_amounts_over_an_i32_round_trip() {
    let db = database();
    // 50 million: 5_000_000_000 cents, more than an i32 holds.
    let new = new_payment("Grace Hopper", 5_000_000_000, None, JAN_1_2040);

    let stored = insert(&db, &new);

    assert_stored(
        &db,
        stored.id,
        "paid_at",
        ("integer", &JAN_1_2040.to_string()),
        "one made at 2040-01-01 00:00:00 UTC, after Unix time outgrew an i32",
    );
    assert_stored(
        &db,
        stored.id,
        "amount_cents",
        ("integer", "5000000000"),
        "one of Cents(5000000000), 50 million",
    );
    refund_directly(&db, stored.id, JAN_1_2040 + 86_400);
    let expected = Payment {
        id: stored.id,
        payer: "Grace Hopper".into(),
        amount: Cents(5_000_000_000),
        note: None,
        paid_at: at(JAN_1_2040),
        refunded_at: Some(at(JAN_1_2040 + 86_400)),
    };
    let found = find(&db, stored.id);
    assert!(
        found.as_ref() == Some(&expected),
        "\nthe payment read back is not the one stored\n  call:     find_payment(&db, {})\n  \
         expected: Some({expected:?})\n  got:      {found:?}\nTimes after 2038 and amounts \
         over 21474836.47 need 64 bits: an i32 cannot hold them.\n",
        stored.id
    );
}

#[test]
fn payments_since_compares_whole_seconds_and_keeps_the_order_they_were_stored_in() {
    let db = database();
    for (payer, paid_at) in [
        ("too early", NOV_14 - 1),
        ("Zoe, stored first", NOV_14),
        ("Abe, stored second", NOV_14),
        ("Max, a second later", NOV_14 + 1),
    ] {
        insert(&db, &new_payment(payer, 100, None, paid_at));
    }
    // Like every time from `SystemTime::now()`, this one has a fraction.
    let since = at(NOV_14) + Duration::from_millis(750);

    let listed = match payments_since(&db, since) {
        Ok(payments) => payments,
        Err(error) => panic!(
            "\nlisting the payments returned an error: {error}\n  call: payments_since(&db, \
             2023-11-14 22:13:20.75 UTC)\n"
        ),
    };

    let payers: Vec<&str> = listed
        .iter()
        .map(|payment| payment.payer.as_str())
        .collect();
    let expected = [
        "Zoe, stored first",
        "Abe, stored second",
        "Max, a second later",
    ];
    assert!(
        payers == expected,
        "\nthe payments listed are not those made in the second of 2023-11-14 22:13:20.75 UTC or \
         later, oldest first, those of the same second in the order they were stored\n  call:     \
         payments_since(&db, 2023-11-14 22:13:20.75 UTC)\n  expected: payers {expected:?}\n  \
         got:      payers {payers:?}\nTimes are compared to the second, as they are stored: the \
         fraction of `since` is dropped too.\n"
    );
}
