//! Tests for database/upsert: your functions on a real SQLite database. The
//! tests check what each function returns and look at the rows with their
//! own SQL. One test watches the SQL text that reaches SQLite, and one lets
//! a second connection add to a cart line at the worst moment, between two
//! statements of your `add_to_cart`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use database_upsert::{Product, add_to_cart, create_schema, save_product};
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::{Connection, ErrorCode, params};

/// A fresh in-memory database with the exercise's tables.
fn database() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    db
}

/// Adds a product with the test's own SQL, with the id given.
fn add_product_directly(db: &Connection, id: i64, sku: &str, name: &str, price_cents: i64) {
    db.execute(
        "INSERT INTO products (id, sku, name, price_cents) VALUES (?1, ?2, ?3, ?4)",
        params![id, sku, name, price_cents],
    )
    .expect("the test could not add a product");
}

/// Adds a cart line with the test's own SQL.
fn add_line_directly(db: &Connection, cart_id: i64, product_id: i64, quantity: i64) {
    db.execute(
        "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?1, ?2, ?3)",
        params![cart_id, product_id, quantity],
    )
    .expect("the test could not add a cart line");
}

/// Every product, read with the test's own SQL, in id order.
#[track_caller]
fn all_products(db: &Connection) -> Vec<Product> {
    let read = |db: &Connection| -> rusqlite::Result<Vec<Product>> {
        let mut statement =
            db.prepare("SELECT id, sku, name, price_cents FROM products ORDER BY id")?;
        let rows = statement.query_map([], |row| {
            Ok(Product {
                id: row.get(0)?,
                sku: row.get(1)?,
                name: row.get(2)?,
                price_cents: row.get(3)?,
            })
        })?;
        rows.collect()
    };
    match read(db) {
        Ok(products) => products,
        Err(error) => panic!("\nthe test could not read the products back: {error}\n"),
    }
}

/// Every cart line as `(cart_id, product_id, quantity)`, read with the
/// test's own SQL, in order.
#[track_caller]
fn all_lines(db: &Connection) -> Vec<(i64, i64, i64)> {
    let read = |db: &Connection| -> rusqlite::Result<Vec<(i64, i64, i64)>> {
        let mut statement = db.prepare(
            "SELECT cart_id, product_id, quantity FROM cart_items ORDER BY cart_id, product_id",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        rows.collect()
    };
    match read(db) {
        Ok(lines) => lines,
        Err(error) => panic!("\nthe test could not read the cart lines back: {error}\n"),
    }
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

fn product(id: i64, sku: &str, name: &str, price_cents: i64) -> Product {
    Product {
        id,
        sku: sku.into(),
        name: name.into(),
        price_cents,
    }
}

#[test]
fn saving_a_new_sku_adds_the_product_and_returns_its_id() {
    let db = database();
    add_product_directly(&db, 41, "TEA-1", "Green tea", 450);

    let call = r#"save_product(&db, "TEA-2", "Black tea", 390)"#;
    let id = ok(save_product(&db, "TEA-2", "Black tea", 390), call);

    let stored = all_products(&db);
    let expected = vec![
        product(41, "TEA-1", "Green tea", 450),
        product(42, "TEA-2", "Black tea", 390),
    ];
    assert!(
        stored == expected,
        "\nthe products after saving a new sku are not the two expected\n  call:     {call}\n  \
         expected: {expected:?}\n  actual:   {stored:?}\n"
    );
    assert!(
        id == 42,
        "\nthe id returned for a new product is {id}, expected 42\n  call: {call}\nThe table's \
         only row had id 41, so SQLite gave the new row id 42.\n"
    );
}

// ANCHOR: in_place
#[test]
fn saving_a_known_sku_updates_that_product_in_place() {
    let db = database();
    add_product_directly(&db, 7, "TEA-1", "Green tea", 450);
    add_product_directly(&db, 8, "TEA-2", "Black tea", 390);

    let call = r#"save_product(&db, "TEA-1", "Green tea, loose leaf", 520)"#;
    let id = ok(
        save_product(&db, "TEA-1", "Green tea, loose leaf", 520),
        call,
    );

    let stored = all_products(&db);
    let expected = vec![
        product(7, "TEA-1", "Green tea, loose leaf", 520),
        product(8, "TEA-2", "Black tea", 390),
    ];
    assert!(
        stored == expected,
        "\nsaving a known sku did not update that product where it stands\n  call:     {call}\n  \
         expected: {expected:?}\n  actual:   {stored:?}\nThe product with sku TEA-1 keeps its id \
         7 and gets the new name and price; no row is added, and the other product is left \
         alone. (INSERT OR REPLACE deletes the old row and inserts a new one, with a new id.)\n"
    );
    assert!(
        id == 7,
        "\nthe id returned for a known sku is {id}, expected 7, the id of the product updated\n  \
         call: {call}\n"
    );
}
// ANCHOR_END: in_place

#[test]
fn saving_a_known_sku_keeps_the_cart_lines_that_point_at_it() {
    let db = database();
    add_product_directly(&db, 7, "TEA-1", "Green tea", 450);
    add_line_directly(&db, 1, 7, 2);

    let call = r#"save_product(&db, "TEA-1", "Green tea", 480)"#;
    ok(save_product(&db, "TEA-1", "Green tea", 480), call);

    let lines = all_lines(&db);
    assert!(
        lines == [(1, 7, 2)],
        "\nsaving a known sku lost the cart line that points at it\n  call:     {call}\n  \
         expected: cart lines [(cart 1, product 7, quantity 2)]\n  actual:   {lines:?}\nThe \
         line's product is deleted with ON DELETE CASCADE, so the product was deleted, not \
         updated in place.\n"
    );
}

// ANCHOR: stale_id
#[test]
fn saving_a_known_sku_returns_its_own_id_even_after_another_insert() {
    let db = database();
    let green = ok(
        save_product(&db, "TEA-1", "Green tea", 450),
        r#"save_product(&db, "TEA-1", "Green tea", 450)"#,
    );
    let black = ok(
        save_product(&db, "TEA-2", "Black tea", 390),
        r#"save_product(&db, "TEA-2", "Black tea", 390)"#,
    );

    let call = r#"save_product(&db, "TEA-1", "Green tea", 480)"#;
    let id = ok(save_product(&db, "TEA-1", "Green tea", 480), call);

    assert!(
        id == green,
        "\nsaving TEA-1 again returned the id {id}, expected {green}, TEA-1's own id\n  call: \
         {call}\n  before: TEA-1 was saved with id {green}, then TEA-2 with id {black}\nAn update \
         inserts nothing, so last_insert_rowid() still holds the id of the last insert \
         ({black}); ask the statement for the id of the row it wrote.\n"
    );
}
// ANCHOR_END: stale_id

#[test]
fn a_price_the_table_refuses_is_an_error_and_changes_nothing() {
    let db = database();
    add_product_directly(&db, 7, "TEA-1", "Green tea", 450);

    for (call, result) in [
        (
            r#"save_product(&db, "TEA-9", "Free money", -1)"#,
            save_product(&db, "TEA-9", "Free money", -1),
        ),
        (
            r#"save_product(&db, "TEA-1", "Green tea", -1)"#,
            save_product(&db, "TEA-1", "Green tea", -1),
        ),
    ] {
        match result {
            Err(error) => assert!(
                error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation),
                "\nthe error returned for a negative price is not SQLite's constraint \
                 violation\n  call:     {call}\n  expected: Some(ConstraintViolation)\n  actual:   \
                 {:?} ({error})\n",
                error.sqlite_error_code()
            ),
            Ok(id) => panic!(
                "\na negative price was not refused: the call returned Ok({id})\n  call:     \
                 {call}\n  expected: Err(..), SQLite's CHECK (price_cents >= 0) violation\n  \
                 actual:   Ok({id})\nINSERT OR IGNORE, or ON CONFLICT ... DO NOTHING followed by \
                 a lookup, hides a refusal.\n"
            ),
        }
    }
    let stored = all_products(&db);
    let expected = vec![product(7, "TEA-1", "Green tea", 450)];
    assert!(
        stored == expected,
        "\nrefused saves changed the products\n  calls:    save_product(&db, \"TEA-9\", \
         \"Free money\", -1), save_product(&db, \"TEA-1\", \"Green tea\", -1)\n  expected: \
         {expected:?}\n  actual:   {stored:?}\n"
    );
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

#[test]
fn quotes_round_trip_and_every_value_is_bound_not_pasted() {
    let mut db = database();
    add_product_directly(&db, 7, "TEA-1", "Green tea", 450);
    let statements = record_statements(&mut db);

    let name = "D'Artagnan's \"finest\" -- blend";
    let call = format!("save_product(&db, \"O'SKU-77\", {name:?}, 61234)");
    let new = ok(save_product(&db, "O'SKU-77", name, 61234), &call);
    let update = format!("save_product(&db, \"TEA-1\", {name:?}, 48213)");
    ok(save_product(&db, "TEA-1", name, 48213), &update);
    let add = format!("add_to_cart(&db, 90210, {new}, 73)");
    ok(add_to_cart(&db, 90210, new, 73), &add);

    let stored = all_products(&db);
    let expected = vec![
        product(7, "TEA-1", name, 48213),
        product(new, "O'SKU-77", name, 61234),
    ];
    assert!(
        stored == expected,
        "\nthe products saved are not stored exactly as given\n  calls:    {call}, {update}\n  \
         expected: {expected:?}\n  actual:   {stored:?}\n"
    );
    let run: Vec<String> = statements.lock().unwrap().drain(..).collect();
    for sql in &run {
        for value in ["SKU-77", "Artagnan", "61234", "48213", "90210", "73"] {
            if sql.contains(value) {
                panic!(
                    "\nthe value {value:?} is written into the SQL text\n  calls: {call}, \
                     {update}, {add}\n  SQL:   {sql}\nWrite a placeholder (?1, ?2, ...) in the \
                     SQL instead and pass the value as a parameter, so SQLite never reads it as \
                     SQL.\n"
                );
            }
        }
    }
}

#[test]
fn adding_a_product_to_a_cart_makes_a_line_with_that_quantity() {
    let db = database();
    add_product_directly(&db, 7, "TEA-1", "Green tea", 450);

    let call = "add_to_cart(&db, 1, 7, 2)";
    let quantity = ok(add_to_cart(&db, 1, 7, 2), call);

    let lines = all_lines(&db);
    assert!(
        lines == [(1, 7, 2)],
        "\nadding a product to an empty cart did not make one line of quantity 2\n  call:     \
         {call}\n  expected: cart lines [(cart 1, product 7, quantity 2)]\n  actual:   {lines:?}\n"
    );
    assert!(
        quantity == 2,
        "\nthe quantity returned is {quantity}, expected 2, the new line's\n  call: {call}\n"
    );
}

// ANCHOR: adds_up
#[test]
fn adding_a_product_already_in_the_cart_adds_to_its_line() {
    let db = database();
    add_product_directly(&db, 7, "TEA-1", "Green tea", 450);
    add_line_directly(&db, 1, 7, 2);

    let call = "add_to_cart(&db, 1, 7, 3)";
    let quantity = ok(add_to_cart(&db, 1, 7, 3), call);

    let lines = all_lines(&db);
    assert!(
        lines == [(1, 7, 5)],
        "\nadding 3 to a cart line of 2 did not make it 5\n  call:     {call}\n  before:   \
         cart lines [(cart 1, product 7, quantity 2)]\n  expected: [(1, 7, 5)]\n  actual:   \
         {lines:?}\nThe quantity given is added to the line's, not put in its place.\n"
    );
    assert!(
        quantity == 5,
        "\nthe quantity returned is {quantity}, expected 5, the line's after the addition\n  \
         call: {call}\n"
    );
}
// ANCHOR_END: adds_up

#[test]
fn each_cart_has_its_own_line_for_a_product() {
    let db = database();
    add_product_directly(&db, 7, "TEA-1", "Green tea", 450);
    add_product_directly(&db, 8, "TEA-2", "Black tea", 390);
    add_line_directly(&db, 1, 7, 2);

    ok(add_to_cart(&db, 2, 7, 3), "add_to_cart(&db, 2, 7, 3)");
    ok(add_to_cart(&db, 1, 8, 4), "add_to_cart(&db, 1, 8, 4)");

    let lines = all_lines(&db);
    let expected = [(1, 7, 2), (1, 8, 4), (2, 7, 3)];
    assert!(
        lines == expected,
        "\nthe cart lines are not one per cart and product\n  calls:    add_to_cart(&db, 2, 7, \
         3), add_to_cart(&db, 1, 8, 4)\n  before:   [(cart 1, product 7, quantity 2)]\n  \
         expected: {expected:?}\n  actual:   {lines:?}\nA line belongs to one cart and one \
         product: the pair is the key.\n"
    );
}

/// What a second connection did while one of your functions ran.
#[derive(Debug, Default)]
struct Interference {
    /// The statements your function started, in order.
    statements: Vec<String>,
    /// Whether the second connection made its change in the middle.
    in_the_middle: bool,
}

impl Interference {
    /// When the second connection made its change, in words.
    fn moment(&self) -> &'static str {
        if self.in_the_middle {
            "in the middle of the call, just as it started its second statement"
        } else {
            "after the call (it ran one statement, or held a lock throughout)"
        }
    }

    /// The statements the call ran, one a line, for a failure message.
    fn statements(&self) -> String {
        self.statements.join("\n              ")
    }
}

/// Runs `call` on a database file prepared by `setup`, while a second
/// connection to the same file runs `other` at the worst moment: just as
/// `call` starts its second statement, after a first one that may have
/// read the row. (A single statement gives no such moment; then `other`
/// runs afterwards, and so it does when `call` holds a lock that keeps it
/// out.) Returns the call's result, the database, and what happened.
fn with_another_connection_in_the_middle<T>(
    setup: impl FnOnce(&Connection),
    other: &'static str,
    call: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> (rusqlite::Result<T>, Shop, Interference) {
    let folder = testkit::tempfile::tempdir().expect("the test could not make a folder");
    let path = folder.path().join("shop.db");
    let mut db = Connection::open(&path).expect("SQLite could not open the database file");
    create_schema(&db).expect("create_schema failed on an empty database");
    setup(&db);
    let second = Connection::open(&path).expect("SQLite could not open a second connection");
    // rusqlite waits up to 5 s for a lock by default; this connection must
    // not wait at all (see below).
    second
        .busy_timeout(Duration::ZERO)
        .expect("the test could not set a busy timeout");

    let interference = Arc::new(Mutex::new(Interference::default()));
    let seen = Arc::clone(&interference);
    db.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(move |event: TraceEvent<'_>| {
            let TraceEvent::Stmt(_, sql) = event else {
                return;
            };
            let mut seen = seen.lock().unwrap();
            seen.statements.push(sql.to_string());
            // No busy timeout: a lock the call holds is reported at once
            // instead of waited for (it could never be freed while this
            // callback runs), and `other` then runs after the call.
            if seen.statements.len() == 2 && second.execute(other, []).is_ok() {
                seen.in_the_middle = true;
            }
        }),
    )
    .expect("the test could not watch the statements");

    let result = call(&db);

    db.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        None::<fn(TraceEvent<'_>)>,
    )
    .expect("the test could not stop watching the statements");
    let interference = std::mem::take(&mut *interference.lock().unwrap());
    if !interference.in_the_middle {
        // May be refused: a product the call has just added is there.
        let _ = db.execute(other, []);
    }
    (
        result,
        Shop {
            db,
            _folder: folder,
        },
        interference,
    )
}

/// The database of a test with two connections, and the folder of its file.
struct Shop {
    db: Connection,
    _folder: testkit::tempfile::TempDir,
}

/// The second connection's add: two of product 7 into cart 1.
const OTHER_ADD: &str = "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 7, 2)
     ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = quantity + 2";

/// Runs `add_to_cart(&db, 1, 7, 3)` while a second connection adds 2 of
/// product 7 to cart 1 at the worst moment, and fails unless the line ends
/// at `expected`. `before` is the line's quantity before, if there is one.
#[track_caller]
fn assert_no_add_lost(before: Option<i64>, expected: i64) {
    let (result, shop, interference) = with_another_connection_in_the_middle(
        |db| {
            add_product_directly(db, 7, "TEA-1", "Green tea", 450);
            if let Some(quantity) = before {
                add_line_directly(db, 1, 7, quantity);
            }
        },
        OTHER_ADD,
        |db| add_to_cart(db, 1, 7, 3),
    );
    let before = match before {
        Some(quantity) => format!("cart lines [(cart 1, product 7, quantity {quantity})]"),
        None => "no cart lines".to_string(),
    };
    let moment = interference.moment();
    let statements = interference.statements();
    if let Err(error) = result {
        panic!(
            "\nadd_to_cart failed because another connection added to the same line: {error}\n  \
             call:       add_to_cart(&db, 1, 7, 3)\n  before:     {before}\n  meanwhile:  \
             another connection added 2 of product 7 to cart 1, {moment}\n  expected:   Ok(..), \
             and a line of {expected}\n  actual:     Err({error})\n  statements: \
             {statements}\nLooking first and inserting afterwards fails when someone inserts in \
             between: make the line, or add to it, in one statement.\n"
        );
    }
    let lines = all_lines(&shop.db);
    if lines != [(1, 7, expected)] {
        panic!(
            "\nan add to the cart was lost: the line holds {lines:?}, expected quantity \
             {expected}\n  call:       add_to_cart(&db, 1, 7, 3)\n  before:     {before}\n  \
             meanwhile:  another connection added 2 of product 7 to cart 1, {moment}\n  \
             expected:   [(1, 7, {expected})]\n  actual:     {lines:?}\n  statements: \
             {statements}\nA quantity read by one statement and written back by the next \
             overwrites what another connection added in between: add to the line in the same \
             statement that writes it.\n"
        );
    }
}

// ANCHOR: no_lost_add
#[test]
fn an_add_from_another_connection_to_the_same_line_is_never_lost() {
    assert_no_add_lost(Some(1), 1 + 3 + 2);
}
// ANCHOR_END: no_lost_add

#[test]
fn a_line_another_connection_makes_at_the_same_moment_is_added_to() {
    assert_no_add_lost(None, 3 + 2);
}

#[test]
fn a_product_another_connection_adds_at_the_same_moment_is_updated() {
    let (result, shop, interference) = with_another_connection_in_the_middle(
        |_| {},
        "INSERT INTO products (id, sku, name, price_cents) VALUES (7, 'TEA-1', 'Green tea', 450)",
        |db| save_product(db, "TEA-1", "Green tea, loose leaf", 520),
    );
    let call = r#"save_product(&db, "TEA-1", "Green tea, loose leaf", 520)"#;
    let moment = interference.moment();
    let statements = interference.statements();
    let stored = all_products(&shop.db);
    match result {
        Err(error) => panic!(
            "\nsave_product failed because another connection added the same sku: {error}\n  \
             call:       {call}\n  before:     no products\n  meanwhile:  another connection \
             added product 7 with sku TEA-1, {moment}\n  expected:   Ok(..)\n  actual:     \
             Err({error})\n  statements: {statements}\nLooking first and inserting afterwards \
             fails when someone inserts in between: add or update in one statement.\n"
        ),
        Ok(id) if interference.in_the_middle => {
            let expected = vec![product(7, "TEA-1", "Green tea, loose leaf", 520)];
            assert!(
                stored == expected && id == 7,
                "\nsaving a sku another connection had just added did not update that product\n  \
                 call:       {call} returned Ok({id})\n  meanwhile:  another connection added \
                 product 7 with sku TEA-1, {moment}\n  expected:   Ok(7), and {expected:?}\n  \
                 actual:     Ok({id}), and {stored:?}\n  statements: {statements}\n"
            );
        }
        // The other connection's insert came after, and failed on the sku
        // the call had saved: one product, the call's.
        Ok(id) => {
            let expected = vec![product(id, "TEA-1", "Green tea, loose leaf", 520)];
            assert!(
                stored == expected,
                "\nsaving a new sku did not add exactly that product\n  call:     {call} \
                 returned Ok({id})\n  expected: {expected:?}\n  actual:   {stored:?}\n"
            );
        }
    }
}
