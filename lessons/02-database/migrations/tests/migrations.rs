//! Tests for database/migrations: real SQLite databases, in memory or in a
//! temporary file, built by the tests at an old version with data in them,
//! then migrated. The tests read the version, the schema and the rows with
//! their own queries, and bring migrations of their own, broken ones too.

use std::path::Path;

use database_migrations::{MIGRATIONS, MigrationError, migrate};
use rusqlite::Connection;

/// The database's version, read with the test's own query.
fn version_of(db: &Connection) -> u32 {
    db.query_row("SELECT user_version FROM pragma_user_version", [], |row| {
        row.get(0)
    })
    .expect("the test reads PRAGMA user_version")
}

/// Every table and index, with the SQL that creates it now (an `ALTER
/// TABLE` rewrites a table's SQL) on one line: two databases with equal
/// schemas give equal lists.
fn schema_of(db: &Connection) -> Vec<String> {
    let mut statement = db
        .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")
        .expect("the test reads sqlite_schema");
    statement
        .query_map([], |row| {
            let kind: String = row.get(0)?;
            let name: String = row.get(1)?;
            let sql: Option<String> = row.get(2)?;
            let sql = sql.unwrap_or_default();
            let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            Ok(format!("{kind} {name}: {sql}"))
        })
        .and_then(Iterator::collect)
        .expect("the test reads sqlite_schema")
}

/// The customers' ids and names, in id order.
fn customers_of(db: &Connection) -> Vec<(i64, String)> {
    let mut statement = db
        .prepare("SELECT id, name FROM customers ORDER BY id")
        .expect("the test reads the customers table");
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(Iterator::collect)
        .expect("the test reads the customers table")
}

/// An in-memory database that has run the first `version` of `MIGRATIONS`,
/// built by the test itself, as an earlier release of the program would
/// have left it, with two customers in it when it has a customers table.
fn database_at_version(version: usize) -> Connection {
    let db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    for sql in &MIGRATIONS[..version] {
        db.execute_batch(sql)
            .expect("the test runs one of MIGRATIONS by hand");
    }
    db.pragma_update(None, "user_version", version as i64)
        .expect("the test sets the version");
    if version >= 1 {
        db.execute_batch("INSERT INTO customers (id, name) VALUES (1, 'Ada'), (2, 'Grace');")
            .expect("the test adds two customers");
    }
    db
}

// ANCHOR: broken
/// A migration whose first statement works and whose second fails: there
/// is no column `mobile`. Run outside a transaction, it would leave the new
/// `phone` column behind.
const BROKEN: &str = "ALTER TABLE customers ADD COLUMN phone TEXT;
     CREATE INDEX customers_by_phone ON customers (mobile);";
// ANCHOR_END: broken

/// What `BROKEN` was meant to be.
const FIXED: &str = "ALTER TABLE customers ADD COLUMN phone TEXT;
     CREATE INDEX customers_by_phone ON customers (phone);";

#[test]
fn a_new_database_runs_every_migration_and_ends_at_the_latest_version() {
    let mut db = Connection::open_in_memory().expect("SQLite opens an in-memory database");

    let result = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(result, Ok(3)),
        "\nmigrate(new database, MIGRATIONS) should run the 3 migrations and return Ok(3), \
         but returned {result:?}\n"
    );
    let version = version_of(&db);
    assert_eq!(
        version, 3,
        "\nAfter running the 3 migrations on a new database, PRAGMA user_version should \
         be 3 (migration n sets version n), but it is {version}\n"
    );
    let usable = db.execute_batch(
        "INSERT INTO customers (id, name, email) VALUES (1, 'Ada', 'ada@example.com');
         INSERT INTO orders (customer_id, total_cents) VALUES (1, 1250);",
    );
    assert!(
        usable.is_ok(),
        "\nAfter migrating a new database, the test could not store a customer with an \
         email and an order: {usable:?}\n"
    );
}

#[test]
fn migrating_an_up_to_date_database_again_runs_nothing() {
    let mut db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    let first = migrate(&mut db, MIGRATIONS);
    let schema = schema_of(&db);

    let second = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(second, Ok(0)),
        "\nmigrate(db, MIGRATIONS) on a database it has just brought to version 3 (the \
         first call returned {first:?}) should run nothing and return Ok(0), but \
         returned {second:?}\n"
    );
    let version = version_of(&db);
    assert_eq!(
        version, 3,
        "\nAfter migrating twice, PRAGMA user_version should still be 3, but it is {version}\n"
    );
    assert_eq!(
        schema_of(&db),
        schema,
        "\nMigrating an up-to-date database changed its schema (left: after the second \
         run, right: after the first)\n"
    );
}

#[test]
fn a_migration_that_inserts_rows_runs_only_once() {
    let migrations = [
        "CREATE TABLE settings (name TEXT NOT NULL, value TEXT NOT NULL);",
        "INSERT INTO settings (name, value) VALUES ('currency', 'EUR');",
    ];
    let mut db = Connection::open_in_memory().expect("SQLite opens an in-memory database");

    let first = migrate(&mut db, &migrations);
    let second = migrate(&mut db, &migrations);

    let rows: i64 = db
        .query_row("SELECT count(*) FROM settings", [], |row| row.get(0))
        .expect("the test counts the settings");
    assert!(
        matches!((&first, &second, rows), (Ok(2), Ok(0), 1)),
        "\nWith the migrations\n  1: {}\n  2: {}\nrunning migrate twice should return \
         Ok(2), then Ok(0), and leave 1 row in settings; it returned {first:?}, then \
         {second:?}, and left {rows} rows\n",
        migrations[0],
        migrations[1],
    );
}

#[test]
fn new_migrations_run_on_top_of_the_ones_already_applied() {
    let mut db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    let first = migrate(&mut db, &MIGRATIONS[..1]);
    db.execute("INSERT INTO customers (id, name) VALUES (1, 'Ada')", [])
        .unwrap_or_else(|error| {
            panic!(
                "\nAfter migrate(new database, the first migration) returned {first:?}, \
                 the test could not add a customer: {error}\n"
            )
        });

    let result = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(result, Ok(2)),
        "\nmigrate(db, MIGRATIONS) on a database at version 1 should run migrations 2 \
         and 3 only and return Ok(2), but returned {result:?}\n"
    );
    let version = version_of(&db);
    assert_eq!(
        version, 3,
        "\nAfter migrating from version 1, PRAGMA user_version should be 3, but it is {version}\n"
    );
    assert_eq!(
        customers_of(&db),
        [(1, "Ada".to_string())],
        "\nThe customer stored at version 1 did not survive the migrations\n"
    );
}

// ANCHOR: old_file
/// Creates, at `path`, the database that release 1 of the shop made: its
/// customers table, two customers, version 1.
fn create_release_1_database(path: &Path) {
    let db = Connection::open(path).expect("the test creates the database file");
    db.execute_batch(
        "CREATE TABLE customers (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL
        );
        INSERT INTO customers (id, name) VALUES (1, 'Ada'), (2, 'Grace');
        PRAGMA user_version = 1;",
    )
    .expect("the test fills the release 1 database");
}

#[test]
fn an_old_database_file_is_brought_up_to_date_and_keeps_its_data() {
    let dir = testkit::tempfile::tempdir().expect("the test creates a temporary directory");
    let path = dir.path().join("shop.db");
    create_release_1_database(&path);

    let result = {
        let mut db = Connection::open(&path).expect("the test opens the database file");
        migrate(&mut db, MIGRATIONS)
    };

    // A new connection sees only what was committed to the file.
    let db = Connection::open(&path).expect("the test opens the database file again");
    assert!(
        matches!(result, Ok(2)),
        "\nmigrate(release 1 database, MIGRATIONS) should run migrations 2 and 3 and \
         return Ok(2), but returned {result:?}\n"
    );
    let version = version_of(&db);
    assert_eq!(
        version, 3,
        "\nAfter migrating a version 1 file and closing it, a new connection finds \
         PRAGMA user_version = {version}, not 3: was every migration committed?\n"
    );
    let expected = [(1, "Ada".to_string()), (2, "Grace".to_string())];
    assert_eq!(
        customers_of(&db),
        expected,
        "\nThe customers stored by release 1 did not survive the migrations\n"
    );
    let emails: Vec<Option<String>> = db
        .prepare("SELECT email FROM customers ORDER BY id")
        .and_then(|mut rows| rows.query_map([], |row| row.get(0))?.collect())
        .expect("after migrating, customers have an email column");
    assert_eq!(
        emails,
        [None, None],
        "\nCustomers who existed before migration 2 should have no email (NULL)\n"
    );
}
// ANCHOR_END: old_file

// ANCHOR: failing
#[test]
fn a_failing_migration_leaves_the_version_the_schema_and_the_data_as_they_were() {
    let mut db = database_at_version(3);
    let schema = schema_of(&db);
    let customers = customers_of(&db);
    let migrations = [MIGRATIONS[0], MIGRATIONS[1], MIGRATIONS[2], BROKEN];

    let result = migrate(&mut db, &migrations);

    assert!(
        matches!(result, Err(MigrationError::Failed { version: 4, .. })),
        "\nMigration 4 is\n  {BROKEN}\nand its second statement fails (no column \
         `mobile`), so migrate(database at version 3, [the 3 migrations, this one]) \
         should return Err(MigrationError::Failed {{ version: 4, .. }}), but returned \
         {result:?}\n"
    );
    let version = version_of(&db);
    assert_eq!(
        version, 3,
        "\nMigration 4 failed, so PRAGMA user_version should still be 3, but it is \
         {version}: was the version set before the migration had succeeded, or outside \
         its transaction?\n"
    );
    assert_eq!(
        schema_of(&db),
        schema,
        "\nMigration 4 failed on its second statement, but the schema changed (left: \
         after, right: before; look for a `phone` column): the first statement was \
         kept. Run each migration in a transaction, and commit only if all of it worked.\n"
    );
    assert_eq!(
        customers_of(&db),
        customers,
        "\nThe failed migration changed the customers\n"
    );
}
// ANCHOR_END: failing

#[test]
fn the_migrations_before_a_failing_one_stay_applied() {
    let mut db = database_at_version(1);
    let reference = database_at_version(2);
    let migrations = [MIGRATIONS[0], MIGRATIONS[1], BROKEN];

    let result = migrate(&mut db, &migrations);

    assert!(
        matches!(result, Err(MigrationError::Failed { version: 3, .. })),
        "\nmigrate(database at version 1, [migration 1, migration 2, a migration that \
         fails]) should run migration 2, then stop on the broken one with \
         Err(MigrationError::Failed {{ version: 3, .. }}), but returned {result:?}\n"
    );
    let version = version_of(&db);
    assert_eq!(
        version, 2,
        "\nMigration 2 worked and migration 3 failed, so the database should be at \
         version 2, with migration 2 kept; PRAGMA user_version is {version}. Each \
         migration is committed on its own, with its version.\n"
    );
    assert_eq!(
        schema_of(&db),
        schema_of(&reference),
        "\nThe schema should be exactly version 2's (left: after migrating, right: a \
         database at version 2); nothing of the failed migration 3 may remain\n"
    );
    assert_eq!(
        customers_of(&db),
        customers_of(&reference),
        "\nThe customers did not survive the migrations\n"
    );
}

#[test]
fn a_failed_migration_once_fixed_runs_on_the_same_connection() {
    let mut db = database_at_version(3);
    let broken = [MIGRATIONS[0], MIGRATIONS[1], MIGRATIONS[2], BROKEN];
    let fixed = [MIGRATIONS[0], MIGRATIONS[1], MIGRATIONS[2], FIXED];
    let failed = migrate(&mut db, &broken);

    let result = migrate(&mut db, &fixed);

    assert!(
        matches!(result, Ok(1)),
        "\nAfter migration 4 failed (migrate returned {failed:?}), running migrate again \
         on the same connection with migration 4 fixed should run it and return Ok(1), \
         but returned {result:?}\n(a transaction left open by the failed run, never \
         committed nor rolled back, makes the next one fail)\n"
    );
    let version = version_of(&db);
    assert_eq!(
        version, 4,
        "\nAfter the fixed migration 4 ran, PRAGMA user_version should be 4, but it is \
         {version}\n"
    );
}

#[test]
fn a_database_from_a_newer_release_is_refused_and_left_untouched() {
    let mut db = Connection::open_in_memory().expect("SQLite opens an in-memory database");
    db.execute_batch(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL);
         PRAGMA user_version = 7;",
    )
    .expect("the test builds a version 7 database");
    let schema = schema_of(&db);

    let result = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(result, Err(MigrationError::TooNew { found: 7, known: 3 })),
        "\nThe database is at version 7 and MIGRATIONS knows 3: a newer release of the \
         program has migrated it. migrate should return \
         Err(MigrationError::TooNew {{ found: 7, known: 3 }}), but returned {result:?}\n"
    );
    let version = version_of(&db);
    assert_eq!(
        (version, schema_of(&db)),
        (7, schema),
        "\nA refused database must be left untouched: its version and schema changed \
         (left: after, right: before)\n"
    );
}
