//! Tests for database/migrations: real SQLite databases, in memory or in a
//! temporary file, built by the tests at an old version with data in them,
//! then migrated. The tests read the version, the schema and the rows with
//! their own queries, and bring migrations of their own, broken ones too.

use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::Duration;

use database_migrations::{MIGRATIONS, MigrationError, migrate};
use rusqlite::Connection;

/// The database's version, read with the test's own query.
fn version_of(db: &Connection) -> u32 {
    db.query_row("SELECT user_version FROM pragma_user_version", [], |row| {
        row.get(0)
    })
    .expect("the test could not read PRAGMA user_version")
}

/// Every table and index, with the SQL that creates it now (an `ALTER
/// TABLE` rewrites a table's SQL) on one line: two databases with equal
/// schemas give equal lists.
fn schema_of(db: &Connection) -> Vec<String> {
    let mut statement = db
        .prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name")
        .expect("the test could not read sqlite_schema");
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
        .expect("the test could not read sqlite_schema")
}

/// A schema or a list of rows for a failure message, one item a line.
fn listed<T: std::fmt::Debug>(items: &[T]) -> String {
    if items.is_empty() {
        return "\n      (nothing)".to_string();
    }
    items
        .iter()
        .map(|item| format!("\n      {item:?}"))
        .collect()
}

/// The customers' ids and names, in id order.
fn customers_of(db: &Connection) -> Vec<(i64, String)> {
    let mut statement = db
        .prepare("SELECT id, name FROM customers ORDER BY id")
        .expect("the test could not read the customers table");
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .and_then(Iterator::collect)
        .expect("the test could not read the customers table")
}

/// An in-memory database that has run the first `version` of `MIGRATIONS`,
/// built by the test itself, as an earlier release of the program would
/// have left it, with two customers in it when it has a customers table.
fn database_at_version(version: usize) -> Connection {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    for sql in &MIGRATIONS[..version] {
        db.execute_batch(sql)
            .expect("the test could not run one of MIGRATIONS by hand");
    }
    db.pragma_update(None, "user_version", version as i64)
        .expect("the test could not set the version");
    if version >= 1 {
        db.execute_batch("INSERT INTO customers (id, name) VALUES (1, 'Ada'), (2, 'Grace');")
            .expect("the test could not add two customers");
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
    let mut db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");

    let result = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(result, Ok(3)),
        "\nmigrating a new database returned {result:?}, expected Ok(3): all 3 migrations \
         run\n  call: migrate(&mut db, MIGRATIONS) on a new database\n"
    );
    let version = version_of(&db);
    assert!(
        version == 3,
        "\nthe version is {version} after running the 3 migrations on a new database, \
         expected 3\nMigration n sets PRAGMA user_version to n.\n"
    );
    let usable = db.execute_batch(
        "INSERT INTO customers (id, name, email) VALUES (1, 'Ada', 'ada@example.com');
         INSERT INTO orders (customer_id, total_cents) VALUES (1, 1250);",
    );
    assert!(
        usable.is_ok(),
        "\nthe migrated database cannot store a customer with an email and an order\n  \
         error: {usable:?}\n"
    );
}

#[test]
fn migrating_an_up_to_date_database_again_runs_nothing() {
    let mut db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    let first = migrate(&mut db, MIGRATIONS);
    let schema = schema_of(&db);

    let second = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(second, Ok(0)),
        "\nmigrating an up-to-date database again returned {second:?}, expected Ok(0): \
         nothing to run\n  call:   migrate(&mut db, MIGRATIONS), a second time\n  before: \
         the first call returned {first:?}\n"
    );
    let version = version_of(&db);
    assert!(
        version == 3,
        "\nthe version is {version} after migrating twice, expected still 3\n"
    );
    let after = schema_of(&db);
    assert!(
        after == schema,
        "\nmigrating an up-to-date database changed its schema\n  before:{}\n  after:{}\n",
        listed(&schema),
        listed(&after)
    );
}

#[test]
fn a_migration_that_inserts_rows_runs_only_once() {
    let migrations = [
        "CREATE TABLE settings (name TEXT NOT NULL, value TEXT NOT NULL);",
        "INSERT INTO settings (name, value) VALUES ('currency', 'EUR');",
    ];
    let mut db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");

    let first = migrate(&mut db, &migrations);
    let second = migrate(&mut db, &migrations);

    let rows: i64 = db
        .query_row("SELECT count(*) FROM settings", [], |row| row.get(0))
        .expect("the test could not count the settings");
    assert!(
        matches!((&first, &second, rows), (Ok(2), Ok(0), 1)),
        "\nmigrating twice returned {first:?}, then {second:?}, and left {rows} rows in \
         settings; expected Ok(2), then Ok(0), and 1 row\n  migration 1: {}\n  migration 2: \
         {}\n",
        migrations[0],
        migrations[1],
    );
}

#[test]
fn new_migrations_run_on_top_of_the_ones_already_applied() {
    let mut db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    let first = migrate(&mut db, &MIGRATIONS[..1]);
    db.execute("INSERT INTO customers (id, name) VALUES (1, 'Ada')", [])
        .unwrap_or_else(|error| {
            panic!(
                "\nthe test could not add a customer after the first migration\n  before: \
                 migrate(&mut db, the first migration) returned {first:?}\n  error:  {error}\n"
            )
        });

    let result = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(result, Ok(2)),
        "\nmigrating a database at version 1 returned {result:?}, expected Ok(2): migrations \
         2 and 3 only\n  call: migrate(&mut db, MIGRATIONS)\n"
    );
    let version = version_of(&db);
    assert!(
        version == 3,
        "\nthe version is {version} after migrating from version 1, expected 3\n"
    );
    let customers = customers_of(&db);
    assert!(
        customers == [(1, "Ada".to_string())],
        "\nthe customer stored at version 1 did not survive the migrations\n  expected: \
         [(1, \"Ada\")]\n  got:      {customers:?}\n"
    );
}

// ANCHOR: old_file
/// Creates, at `path`, the database that release 1 of the shop made: its
/// customers table, two customers, version 1.
fn create_release_1_database(path: &Path) {
    let db = Connection::open(path).expect("the test could not create the database file");
    db.execute_batch(
        "CREATE TABLE customers (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL
        );
        INSERT INTO customers (id, name) VALUES (1, 'Ada'), (2, 'Grace');
        PRAGMA user_version = 1;",
    )
    .expect("the test could not fill the release 1 database");
}

#[test]
fn an_old_database_file_is_brought_up_to_date_and_keeps_its_data() {
    let dir =
        testkit::tempfile::tempdir().expect("the test could not create a temporary directory");
    let path = dir.path().join("shop.db");
    create_release_1_database(&path);

    let result = {
        let mut db = Connection::open(&path).expect("the test could not open the database file");
        migrate(&mut db, MIGRATIONS)
    };

    // A new connection sees only what was committed to the file.
    let db = Connection::open(&path).expect("the test could not open the database file again");
    assert!(
        matches!(result, Ok(2)),
        "\nmigrating the release 1 database returned {result:?}, expected Ok(2): migrations \
         2 and 3\n  call: migrate(&mut db, MIGRATIONS) on a version 1 file\n"
    );
    let version = version_of(&db);
    assert!(
        version == 3,
        "\na new connection finds the version {version} in the migrated file, expected 3\n\
         The file was at version 1, migrated and closed. Was every migration committed?\n"
    );
    let expected = [(1, "Ada".to_string()), (2, "Grace".to_string())];
    let customers = customers_of(&db);
    assert!(
        customers == expected,
        "\nthe customers stored by release 1 did not survive the migrations\n  expected: \
         {expected:?}\n  got:      {customers:?}\n"
    );
    let emails: Vec<Option<String>> = db
        .prepare("SELECT email FROM customers ORDER BY id")
        .and_then(|mut rows| rows.query_map([], |row| row.get(0))?.collect())
        .expect("after migrating, the test could not read the customers' emails: is there an email column?");
    assert!(
        emails == [None, None],
        "\nthe customers who existed before migration 2 have the emails {emails:?}, expected \
         none (NULL)\n"
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
        "\na failing migration 4 returned {result:?}, expected Err(MigrationError::Failed \
         {{ version: 4, .. }})\n  call:        migrate(&mut db, [the 3 migrations, migration \
         4]) on a database at version 3\n  migration 4: {BROKEN}\nIts second statement fails: \
         there is no column `mobile`.\n"
    );
    if let Err(error) = &result {
        let text = error.to_string();
        assert!(
            text.contains('4') && text.contains("mobile"),
            "\nthe error's text does not name migration 4 and what failed: {text:?}\n  \
             returned: {result:?}\nThe `Display` of MigrationError is given, and writes \
             `migration 4 failed: no such column: mobile`: was it changed?\n"
        );
    }
    let version = version_of(&db);
    assert!(
        version == 3,
        "\nthe version is {version} after migration 4 failed, expected still 3\nWas the \
         version set before the migration had succeeded, or outside its transaction?\n"
    );
    let after = schema_of(&db);
    assert!(
        after == schema,
        "\nthe schema changed, though migration 4 failed on its second statement\n  \
         before:{}\n  after:{}\nThe first statement was kept (look for a `phone` column). Run \
         each migration in a transaction, and commit only if all of it worked.\n",
        listed(&schema),
        listed(&after)
    );
    let after = customers_of(&db);
    assert!(
        after == customers,
        "\nthe failed migration changed the customers\n  before: {customers:?}\n  after:  \
         {after:?}\n"
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
        "\nmigrating up to a broken migration 3 returned {result:?}, expected \
         Err(MigrationError::Failed {{ version: 3, .. }})\n  call: migrate(&mut db, \
         [migration 1, migration 2, a migration that fails]) on a database at version 1\n\
         It should run migration 2, then stop on the broken one.\n"
    );
    let version = version_of(&db);
    assert!(
        version == 2,
        "\nthe version is {version}, expected 2: migration 2 worked and migration 3 failed\n\
         Each migration is committed on its own, with its version.\n"
    );
    let (after, expected) = (schema_of(&db), schema_of(&reference));
    assert!(
        after == expected,
        "\nthe schema is not exactly version 2's\n  expected:{}\n  got:{}\nMigration 2 must \
         stay applied, and nothing of the failed migration 3 may remain.\n",
        listed(&expected),
        listed(&after)
    );
    let (after, expected) = (customers_of(&db), customers_of(&reference));
    assert!(
        after == expected,
        "\nthe customers did not survive the migrations\n  expected: {expected:?}\n  got:      \
         {after:?}\n"
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
        "\nmigrating again with migration 4 fixed returned {result:?}, expected Ok(1)\n  \
         call:   migrate(&mut db, [the 3 migrations, migration 4 fixed]), on the same \
         connection\n  before: migration 4 failed: migrate returned {failed:?}\nA \
         transaction left open by the failed run, never committed nor rolled back, makes the \
         next one fail.\n"
    );
    let version = version_of(&db);
    assert!(
        version == 4,
        "\nthe version is {version} after the fixed migration 4 ran, expected 4\n"
    );
}

#[test]
fn a_database_from_a_newer_release_is_refused_and_left_untouched() {
    let mut db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    db.execute_batch(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL);
         PRAGMA user_version = 7;",
    )
    .expect("the test could not build a version 7 database");
    let schema = schema_of(&db);

    let result = migrate(&mut db, MIGRATIONS);

    assert!(
        matches!(result, Err(MigrationError::TooNew { found: 7, known: 3 })),
        "\na database from a newer release returned {result:?}, expected \
         Err(MigrationError::TooNew {{ found: 7, known: 3 }})\n  call: migrate(&mut db, \
         MIGRATIONS) on a database at version 7\nMIGRATIONS knows 3 versions: a newer \
         release of the program has migrated this database.\n"
    );
    let version = version_of(&db);
    let after = schema_of(&db);
    assert!(
        (version, &after) == (7, &schema),
        "\nthe refused database was changed, but must be left untouched\n  before: version \
         7, schema{}\n  after:  version {version}, schema{}\n",
        listed(&schema),
        listed(&after)
    );
}

/// Opens a connection of its own to the file, as another program would,
/// willing to wait up to 10 seconds for a lock another connection holds.
fn connect(path: &Path) -> Connection {
    let db = Connection::open(path).expect("the test could not open the database file");
    db.busy_timeout(Duration::from_secs(10))
        .expect("the test could not set a busy timeout");
    db
}

/// What the thread running `migrate` tells the test.
enum Progress {
    /// `migrate` is waiting for the write lock that another connection holds.
    WaitingForTheLock,
    /// `migrate` returned this.
    Returned(Result<usize, MigrationError>),
}

/// A busy handler: SQLite calls it when the connection must wait for a lock.
/// The first time, it reports `WaitingForTheLock` and waits until the test
/// says `resume`; after that, it lets SQLite retry.
fn report_waiting(
    progress: Sender<Progress>,
    resume: Receiver<()>,
) -> impl FnMut(i32) -> bool + Send + 'static {
    let mut reported = false;
    move |attempts| {
        if !reported {
            reported = true;
            let _ = progress.send(Progress::WaitingForTheLock);
            return resume.recv().is_ok();
        }
        thread::yield_now();
        attempts < 10_000
    }
}

#[test]
fn a_second_program_migrating_the_same_file_at_once_waits_and_runs_nothing_twice() {
    let dir =
        testkit::tempfile::tempdir().expect("the test could not create a temporary directory");
    let path = dir.path().join("shop.db");
    // Two instances of the shop start at once on a new file: the other one
    // takes the write lock first, to migrate.
    let other = connect(&path);
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("the test's connection could not take the write lock");
    let (progress_sender, progress) = channel();
    let (resume, resumed) = channel();
    let mut db = connect(&path);
    db.busy_handler(Some(report_waiting(progress_sender.clone(), resumed)))
        .expect("the test could not set a busy handler");

    let migrating = thread::spawn(move || {
        let result = migrate(&mut db, MIGRATIONS);
        let _ = progress_sender.send(Progress::Returned(result));
    });
    match progress.recv() {
        Ok(Progress::WaitingForTheLock) => {}
        Ok(Progress::Returned(result)) => panic!(
            "\nmigrate did not wait for another program's write lock: it returned at once\n  \
             call:     migrate(&mut db, MIGRATIONS) on a new file, another connection holding \
             the write lock (busy timeout 10 s)\n  returned: {result:?}\nA deferred transaction (the default) \
             that has already read the version cannot wait for the write lock: SQLite answers \
             `database is locked` at once. Begin each migration's transaction with IMMEDIATE.\n"
        ),
        Err(_) => {
            let _ = migrating.join();
            panic!("the thread running migrate stopped without returning");
        }
    }
    // While migrate waits, the other program runs the 3 migrations itself.
    for sql in MIGRATIONS {
        other
            .execute_batch(sql)
            .expect("the test's connection could not run one of MIGRATIONS");
    }
    other
        .pragma_update(None, "user_version", 3)
        .and_then(|()| other.execute_batch("COMMIT"))
        .expect("the test's connection could not commit its migrations");
    let _ = resume.send(());
    let outcome = progress.recv();
    if let Err(panic) = migrating.join() {
        std::panic::resume_unwind(panic);
    }
    let Ok(Progress::Returned(result)) = outcome else {
        panic!("the thread running migrate stopped without returning");
    };

    assert!(
        matches!(result, Ok(0)),
        "\nmigrate ran again migrations another program had run meanwhile, expected Ok(0)\n  \
         call:     migrate(&mut db, MIGRATIONS) on a new file, while another connection held \
         the write lock\n  expected: Ok(0)\n  got:      {result:?}\nIt waited for the lock, and meanwhile the other \
         program brought the file to version 3. A version read before the transaction holds \
         the write lock may be stale by the time the migration runs: read it inside the \
         migration's IMMEDIATE transaction.\n"
    );
    let db = connect(&path);
    let (version, schema) = (version_of(&db), schema_of(&db));
    let expected = schema_of(&database_at_version(3));
    assert!(
        (version, &schema) == (3, &expected),
        "\nthe file is not exactly at version 3 after two programs migrated it at once\n  \
         expected: version 3, schema{}\n  got:      version {version}, schema{}\n",
        listed(&expected),
        listed(&schema)
    );
}
