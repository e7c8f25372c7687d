//! Lesson 02: what SQLite (bundled with rusqlite), rusqlite and Rust really
//! print.

use std::fmt::Write as _;
use std::time::Duration;

use book_listings::database::indexes;
use database_n_plus_one_solution as n_plus_one;
use database_schema_solution as schema;
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::book::Page;

/// A fresh, empty database in memory.
fn memory() -> Connection {
    Connection::open_in_memory().expect("an in-memory database opens")
}

/// SQLite's message for the error `sql` fails with on `db` (rusqlite's
/// `Display` adds the statement and the offset to some).
#[track_caller]
fn error_of(db: &Connection, sql: &str) -> String {
    match db.execute_batch(sql).expect_err("the statement is refused") {
        rusqlite::Error::SqlInputError { msg, .. } => msg,
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg,
        error => error.to_string(),
    }
}

#[test]
fn schema_quotes_sqlites_messages_for_each_broken_rule() {
    let page = Page::open("database/schema.md");

    let db = memory();
    let twice = "CREATE TABLE customers (id INTEGER PRIMARY KEY);";
    db.execute_batch(twice)
        .expect("the first time, the table is made");
    page.assert_quote(
        "SQLite's error for a `CREATE TABLE` of a table that exists",
        &error_of(&db, twice),
    );

    // The shop of the reference solution of database/schema.
    let db = schema::open_in_memory().expect("the shop's database opens");
    db.execute_batch(
        "INSERT INTO customers (id, email, name) VALUES (1, 'ada@example.com', 'Ada')",
    )
    .expect("a valid customer is accepted");
    // "cannot store TEXT value in INTEGER column orders.total_cents": the
    // book quotes it up to the column's name.
    let strict = error_of(
        &db,
        "INSERT INTO orders (customer_id, total_cents) VALUES (1, 'ten')",
    );
    let (quoted, _column) = strict.rsplit_once(' ').expect("the message names a column");
    page.assert_quote(&format!("a STRICT table's refusal ({strict})"), quoted);
    for (rule, sql) in [
        (
            "UNIQUE",
            "INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada')",
        ),
        (
            "NOT NULL",
            "INSERT INTO orders (customer_id, status, total_cents) VALUES (1, NULL, 100)",
        ),
        (
            "FOREIGN KEY",
            "INSERT INTO orders (customer_id, total_cents) VALUES (7, 100)",
        ),
    ] {
        page.assert_quote(
            &format!("SQLite's message for a broken {rule} rule"),
            &error_of(&db, sql),
        );
    }
}

#[test]
fn money_shows_what_floating_point_does_to_money() {
    let page = Page::open("database/money.md");
    page.assert_quote(
        "the exact value of the `f64` nearest 0.1 (to 34 decimals)",
        &format!("{:.34}...", 0.1_f64),
    );
    let ten_times = (0..10).fold(0.0_f64, |sum, _| sum + 0.1);
    let mut lines = String::new();
    for (expression, value) in [
        ("0.1 + 0.2", format!("{:?}", 0.1_f64 + 0.2)),
        ("0.1 added ten times", format!("{ten_times:?}")),
        (
            "(0.29 * 100.0) as i64",
            format!("{}", (0.29_f64 * 100.0) as i64),
        ),
        ("1.15 * 100.0", format!("{:?}", 1.15_f64 * 100.0)),
    ] {
        let _ = writeln!(lines, "{expression:<33}= {value}");
    }
    page.assert_block("these sums, as Rust computes and prints them", &lines);
}

#[test]
fn mapping_and_money_quote_sqlites_times_and_types() {
    let page = Page::open("database/mapping.md");
    let db = memory();
    let text = |sql: &str| -> String {
        db.query_row(sql, [], |row| row.get(0))
            .expect("the query answers one row")
    };
    let time = text("SELECT datetime(1700000000, 'unixepoch')");
    page.assert_fragment(
        "the Unix time 1700000000 as SQLite's `datetime` reads it",
        &format!("`1700000000` is {time} UTC"),
    );
    // (The page quotes SQLite's own format beside it, so not as a quote.)
    page.assert_fragment(
        "the same time in ISO-8601",
        &format!(
            "**ISO-8601 text**: `{}`",
            text("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 1700000000, 'unixepoch')")
        ),
    );

    // Money's facts are on the money page.
    let money = Page::open("database/money.md");
    db.execute_batch(
        "CREATE TABLE prices (amount DECIMAL(10,2)); INSERT INTO prices VALUES ('19.99');",
    )
    .expect("the table is made");
    let stored = text("SELECT typeof(amount) FROM prices");
    money.assert_fragment(
        "the storage class of 19.99 in a DECIMAL(10,2) column",
        &format!(
            "`19.99` is stored in it as a floating-point {}",
            stored.to_uppercase()
        ),
    );

    db.execute_batch(&format!(
        "CREATE TABLE amounts (cents INTEGER); INSERT INTO amounts VALUES ({}), (1);",
        i64::MAX
    ))
    .expect("the table is made");
    let overflow = db
        .query_row("SELECT sum(cents) FROM amounts", [], |row| {
            row.get::<_, i64>(0)
        })
        .expect_err("the sum does not fit in 64 bits")
        .to_string();
    money.assert_fragment(
        "SQLite's error for a sum of integers that overflows",
        &format!("it reports an \"{overflow}\" error"),
    );

    let null = db
        .query_row("SELECT NULL AS note", [], |row| row.get::<_, String>(0))
        .expect_err("a NULL is no String");
    // `InvalidColumnType(0, "note", Null)`, which the book shortens.
    let debug = format!("{null:?}");
    let (variant, arguments) = debug.split_once('(').expect("a variant with fields");
    let (_, last) = arguments.rsplit_once(", ").expect("several fields");
    page.assert_quote(
        &format!("rusqlite's error for a NULL read into a `String` ({debug})"),
        &format!("{variant}(.., {}", last),
    );
}

#[test]
fn transactions_quote_sqlites_errors_for_a_nested_begin_and_a_held_lock() {
    let page = Page::open("database/transactions.md");
    let db = memory();
    db.execute_batch("BEGIN").expect("a transaction begins");
    page.assert_quote(
        "SQLite's error for a `BEGIN` inside a transaction",
        &error_of(&db, "BEGIN"),
    );
    let locked = database_is_locked();
    page.assert_quote(
        "the error of a connection that finds the database locked",
        &locked,
    );
    Page::open("database/async-access.md").assert_quote(
        "the error of a connection that finds the database locked",
        &locked,
    );
}

/// The error of a write that finds another connection holding the write
/// lock, with no busy timeout to wait.
fn database_is_locked() -> String {
    let folder = tempfile::tempdir().expect("a temporary folder is made");
    let path = folder.path().join("bank.db");
    let holder = Connection::open(&path).expect("the file opens");
    holder
        .execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
        .expect("the first connection takes the write lock");
    let other = Connection::open(&path).expect("the file opens again");
    other
        .busy_timeout(Duration::ZERO)
        .expect("the busy timeout is set");
    error_of(&other, "BEGIN IMMEDIATE")
}

#[test]
fn transactions_and_async_access_say_rusqlites_busy_timeout() {
    let timeout: i64 = memory()
        .pragma_query_value(None, "busy_timeout", |row| row.get(0))
        .expect("the pragma answers");
    let sentence = format!(
        "rusqlite sets {} seconds on every new connection",
        timeout / 1000
    );
    for name in ["database/transactions.md", "database/async-access.md"] {
        Page::open(name).assert_fragment(
            &format!("the busy timeout of a new rusqlite connection ({timeout} ms)"),
            &sentence,
        );
    }
}

#[test]
fn migrations_quote_the_error_of_a_column_added_twice() {
    let db = memory();
    db.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        .expect("the table is made");
    let add = "ALTER TABLE customers ADD COLUMN email TEXT";
    db.execute_batch(add)
        .expect("the first time, the column is added");
    let error = error_of(&db, add);
    // "duplicate column name: email", quoted without the column.
    let (quoted, _column) = error.split_once(':').expect("the message names the column");
    Page::open("database/migrations.md").assert_quote(
        &format!("SQLite's error for an `ADD COLUMN` run twice ({error})"),
        quoted,
    );
}

#[test]
fn indexes_show_the_plans_of_the_listing_before_and_after_its_indexes() {
    let (before, after) = indexes::plans_before_and_after().expect("the listing plans its queries");
    let page = Page::open("database/indexes.md");
    page.assert_block(
        "the plans of the listing's three queries without an index",
        &plan_table(&before),
    );
    page.assert_block(
        "the plans of the listing's three queries with `TASK_INDEXES`",
        &plan_table(&after),
    );
}

/// The plans of `TASKS_OF_USER`, `OVERDUE` and `TASK_TITLED`, one step a
/// line, each query's name before its first step.
fn plan_table(plans: &[indexes::Plan]) -> String {
    let mut table = String::new();
    for (name, plan) in ["TASKS_OF_USER", "OVERDUE", "TASK_TITLED"]
        .iter()
        .zip(plans)
    {
        for (step, detail) in plan.iter().enumerate() {
            let name = if step == 0 { name } else { "" };
            let _ = writeln!(table, "{name:<16}{detail}");
        }
    }
    table
}

#[test]
fn indexes_explain_each_kind_of_plan_line_with_a_real_one() {
    let page = Page::open("database/indexes.md");
    // One plan line of each kind the table explains, on the listing's
    // `tasks` table with an index called `i`.
    let plan = |index: &str, sql: &str| -> String {
        let db = memory();
        db.execute_batch(indexes::TASKS)
            .expect("the listing's table is made");
        if !index.is_empty() {
            db.execute_batch(index).expect("the index is made");
        }
        let plan = indexes::query_plan(&db, sql).expect("the query is planned");
        assert!(
            plan.len() == 1,
            "a one-step plan was expected for {sql}; SQLite planned {plan:?}"
        );
        plan.into_iter().next().unwrap_or_default()
    };
    let lines = [
        plan("", "SELECT title FROM tasks WHERE user_id = ?1"),
        plan(
            "CREATE INDEX i ON tasks (due_on)",
            "SELECT title FROM tasks ORDER BY due_on",
        ),
        plan(
            "CREATE INDEX i ON tasks (user_id)",
            "SELECT title FROM tasks WHERE user_id = ?1",
        ),
        plan("", "SELECT title FROM tasks WHERE id = ?1"),
        indexes::query_plan(&memory_with_tasks(), indexes::TASKS_OF_USER)
            .expect("the query is planned")
            .pop()
            .unwrap_or_default(),
    ];
    for line in lines {
        page.assert_fragment("a plan line SQLite writes", &format!("| `{line}` |"));
    }
    // The table shows a covering index's conditions as `(...)`.
    let covering = plan(
        "CREATE INDEX i ON tasks (user_id, title)",
        "SELECT title FROM tasks WHERE user_id = ?1",
    );
    let (shown, _conditions) = covering
        .split_once(" (")
        .expect("the line lists conditions");
    page.assert_fragment(
        &format!("a plan line SQLite writes ({covering})"),
        &format!("| `{shown} (...)` |"),
    );
    // And an indexed expression as `<expr>`: `... USING INDEX i (<expr>=?)`.
    let expression = plan(
        "CREATE INDEX i ON tasks (lower(title))",
        "SELECT id FROM tasks WHERE lower(title) = ?1",
    );
    let shown = expression
        .split_once(" (")
        .and_then(|(_, conditions)| conditions.split_once('='))
        .map(|(expression, _)| expression)
        .unwrap_or_default();
    page.assert_fragment(
        &format!("how SQLite writes an indexed expression ({expression})"),
        &format!("| `{shown}` |"),
    );

    // The index SQLite makes for a UNIQUE constraint.
    let db = memory();
    db.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
        .expect("the table is made");
    let name: String = db
        .query_row(
            "SELECT name FROM sqlite_schema WHERE type = 'index'",
            [],
            |row| row.get(0),
        )
        .expect("SQLite made an index");
    let prefix = name
        .strip_suffix("customers_1")
        .unwrap_or_else(|| panic!("SQLite named the index {name}"));
    page.assert_quote(
        &format!("the name of a UNIQUE constraint's index ({name})"),
        &format!("{prefix}..."),
    );
}

/// The listing's `tasks` table, without an index.
fn memory_with_tasks() -> Connection {
    let db = memory();
    db.execute_batch(indexes::TASKS)
        .expect("the listing's table is made");
    db
}

/// The query the book joins authors and books with.
const AUTHORS_AND_BOOKS: &str = "SELECT authors.id, authors.name, books.id, books.title, books.year
FROM authors LEFT JOIN books ON books.author_id = authors.id
ORDER BY authors.name, authors.id, books.year, books.title";

#[test]
fn n_plus_one_shows_the_rows_of_a_left_join() {
    // The schema of the reference solution of database/n-plus-one.
    let db = memory();
    n_plus_one::create_schema(&db).expect("the schema is made");
    db.execute_batch(
        "INSERT INTO authors (id, name) VALUES (1, 'Ursula K. Le Guin'), (3, 'A. Newcomer');
         INSERT INTO books (id, author_id, title, year) VALUES
             (1, 1, 'A Wizard of Earthsea', 1968),
             (2, 1, 'The Dispossessed', 1974);",
    )
    .expect("the library is filled");
    let mut statement = db.prepare(AUTHORS_AND_BOOKS).expect("the query is valid");
    let columns = statement.column_count();
    let rows: Vec<Vec<String>> = statement
        .query_map([], |row| {
            (0..columns)
                .map(|column| Ok(shown_value(row.get(column)?)))
                .collect()
        })
        .expect("the query runs")
        .collect::<rusqlite::Result<_>>()
        .expect("every row reads");
    // The columns as the query names them: `authors.id`, not just `id`.
    let header: Vec<String> = AUTHORS_AND_BOOKS
        .trim_start_matches("SELECT ")
        .split('\n')
        .next()
        .unwrap_or_default()
        .split(", ")
        .map(str::to_string)
        .collect();
    let transcript = format!("{AUTHORS_AND_BOOKS}\n\n{}", box_table(&header, &rows));
    let page = Page::open("database/n-plus-one.md");
    page.assert_block("the query and its rows, from SQLite", &transcript);

    let error = db
        .query_row(AUTHORS_AND_BOOKS, [], |row| row.get::<_, i64>(2))
        .expect_err("the first row's book id is NULL");
    // "Invalid column type Null at index: 2, name: id", quoted up to "at".
    let error = error.to_string();
    let quoted = error.split(" at index").next().unwrap_or_default();
    page.assert_quote(
        &format!("rusqlite's error for a NULL read as an `i64` ({error})"),
        quoted,
    );
}

/// A value as the book's table shows it: `NULL`, a number, or the text.
fn shown_value(value: Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Integer(number) => number.to_string(),
        Value::Real(number) => number.to_string(),
        Value::Text(text) => text,
        Value::Blob(bytes) => format!("<{} bytes>", bytes.len()),
    }
}

/// `rows` under `header`, in columns drawn with box-drawing lines.
fn box_table(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([header[column].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!(" {cell:<width$} "))
            .collect();
        format!("{}\n", cells.join("│").trim_end())
    };
    // Each cell has a space either side, but the last has none after it.
    let last = widths.len() - 1;
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(column, width)| "─".repeat(width + if column == last { 1 } else { 2 }))
        .collect();
    let mut table = line(header);
    let _ = writeln!(table, "{}", rule.join("┼"));
    for row in rows {
        table.push_str(&line(row));
    }
    table
}

#[test]
fn async_access_quotes_tokio_and_sqlite() {
    let page = Page::open("database/async-access.md");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime is built");
    let panic = runtime.block_on(async {
        std::panic::catch_unwind(|| tokio::task::block_in_place(|| ()))
            .expect_err("block_in_place panics on a current-thread runtime")
    });
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    page.assert_quote(
        "tokio's panic for `block_in_place` on a current-thread runtime",
        &message,
    );

    let mode: String = memory()
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .expect("the pragma answers");
    page.assert_fragment(
        "what `PRAGMA journal_mode = WAL` answers for an in-memory database",
        &format!("an in-memory database answers `{mode}`"),
    );
}

#[test]
fn queries_show_the_sql_an_injection_makes_of_a_pasted_title() {
    use book_listings::database::queries;
    use rusqlite::trace::{TraceEvent, TraceEventCodes};
    use std::sync::{Arc, Mutex};

    let mut db = memory();
    queries::create_catalogue(&db).expect("the listing's table is made");
    queries::add_book(&db, "The Dispossessed", 1974).expect("a book is added");
    // The statement as SQLite receives it, from its trace hook.
    let run = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&run);
    db.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(_, sql) = event {
                recorder
                    .lock()
                    .expect("never poisoned")
                    .push(sql.to_string());
            }
        }),
    )
    .expect("the trace hook is set");
    let found = queries::find_by_title_injectable(&db, "x' OR '1'='1")
        .expect("the pasted payload still makes valid SQL");
    assert!(
        found.is_some(),
        "the book says every row matches the injected title, but none came back"
    );
    let sql = run.lock().expect("never poisoned").join("\n");
    Page::open("database/queries.md").assert_fragment(
        "the SQL the listing's `find_by_title_injectable` runs for `x' OR '1'='1`",
        &format!("title: x' OR '1'='1\nSQL: {sql} -- every row matches"),
    );
}

#[test]
fn search_shows_the_words_fts5s_tokenizers_make() {
    let page = Page::open("database/search.md");
    let quoted = |tokens: &[String]| -> Vec<String> {
        tokens.iter().map(|token| format!("`{token}`")).collect()
    };
    let same_word: Vec<Vec<String>> = ["Café", "CAFE", "cafe"]
        .iter()
        .map(|text| tokens("unicode61", text))
        .collect();
    assert!(
        same_word.windows(2).all(|pair| pair[0] == pair[1]),
        "the book says `Café`, `CAFE` and `cafe` are the same word; unicode61 makes {same_word:?}"
    );
    let apostrophes = quoted(&tokens("unicode61", "O'Brien's"));
    page.assert_fragment(
        "the words unicode61 makes of `O'Brien's`",
        &format!(
            "`O'Brien's` is the {} words {}",
            ["no", "one", "two", "three", "four"][apostrophes.len().min(4)],
            apostrophes.join(", ")
        ),
    );
    let hyphen = quoted(&tokens("unicode61", "wal-mode"));
    page.assert_fragment(
        "the words unicode61 makes of `wal-mode`",
        &format!("`wal-mode` is {}", hyphen.join(" and ")),
    );
    let stems: Vec<Vec<String>> = ["indexes", "indexing", "indexed"]
        .iter()
        .map(|text| tokens("porter unicode61", text))
        .collect();
    assert!(
        stems.windows(2).all(|pair| pair[0] == pair[1]),
        "the book says porter makes one word of `indexes`, `indexing` and `indexed`; it makes {stems:?}"
    );
    page.assert_fragment(
        "the word porter makes of `indexes`, `indexing` and `indexed`",
        &format!("`indexed` all become {}", quoted(&stems[0]).join(" ")),
    );
}

/// The words FTS5's tokenizer `tokenizer` makes of `text`, in order.
fn tokens(tokenizer: &str, text: &str) -> Vec<String> {
    let db = memory();
    db.execute_batch(&format!(
        "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{tokenizer}');
         CREATE VIRTUAL TABLE words USING fts5vocab(t, 'instance');"
    ))
    .expect("the tables are made");
    db.execute("INSERT INTO t (x) VALUES (?1)", [text])
        .expect("the text is indexed");
    let mut statement = db
        .prepare("SELECT term FROM words ORDER BY offset")
        .expect("the vocabulary is readable");
    statement
        .query_map([], |row| row.get(0))
        .expect("the query runs")
        .collect::<rusqlite::Result<_>>()
        .expect("every word reads")
}

#[test]
fn upsert_quotes_sqlite_and_shows_each_kind_of_upsert_at_work() {
    use book_listings::database::upsert;

    let page = Page::open("database/upsert.md");
    let db = memory();
    upsert::create_tables(&db).expect("the tables are made");
    // A conflict target that is no UNIQUE column.
    let error = error_of(
        &db,
        "INSERT INTO settings (key, value) VALUES ('theme', 'dark')
         ON CONFLICT (value) DO UPDATE SET value = excluded.value",
    );
    page.assert_quote(
        "SQLite's error for a conflict target that is not unique",
        &error,
    );

    // What the page says of the listings holds: a set setting replaces the
    // value, views count up, `DO NOTHING` changes no row the second time,
    // and the look-then-decide version counts alike on one connection.
    upsert::set_setting(&db, "theme", "light").expect("the setting is set");
    upsert::set_setting(&db, "theme", "dark").expect("the setting is set again");
    let value: String = db
        .query_row(
            "SELECT value FROM settings WHERE key = 'theme'",
            [],
            |row| row.get(0),
        )
        .expect("the setting is there");
    assert!(
        value == "dark",
        "`set_setting` left the value {value:?}, not \"dark\""
    );
    let views: Vec<i64> = (0..3)
        .map(|_| upsert::count_view(&db, "/").expect("a view is counted"))
        .chain((0..2).map(|_| upsert::count_view_racy(&db, "/").expect("a view is counted")))
        .collect();
    assert!(
        views == [1, 2, 3, 4, 5],
        "`count_view` and `count_view_racy` counted {views:?}, not 1 to 5"
    );
    let first = upsert::subscribe(&db, "ada@example.com").expect("the subscriber is added");
    let again = upsert::subscribe(&db, "ada@example.com").expect("the second try is no error");
    assert!(
        (first, again) == (true, false),
        "`subscribe` said {first} then {again}, not true then false"
    );
    // `DO NOTHING` with `RETURNING`: no row when nothing was inserted.
    let returned = db
        .prepare(
            "INSERT INTO subscribers (email) VALUES ('ada@example.com')
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()
        })
        .expect("the statement runs")
        .len();
    assert!(
        returned == 0,
        "the page says `DO NOTHING ... RETURNING` returns no row when nothing was inserted; \
         it returned {returned}"
    );
    // `last_insert_rowid` after an upsert that updates: the earlier insert's.
    db.execute(
        "INSERT INTO subscribers (email) VALUES ('grace@example.com')",
        [],
    )
    .expect("a subscriber is added");
    let grace = db.last_insert_rowid();
    db.execute(
        "INSERT INTO settings (key, value) VALUES ('theme', 'light')
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [],
    )
    .expect("the setting is updated");
    assert!(
        db.last_insert_rowid() == grace,
        "the page says an upsert that updates leaves `last_insert_rowid` alone; it became {}",
        db.last_insert_rowid()
    );
}
