//! Tests for database/n-plus-one: a real in-memory SQLite database, with a
//! trace hook on the connection that records every SQL statement the
//! function under test starts running.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use database_n_plus_one::{Author, Book, authors_with_books, create_schema};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

/// A fresh in-memory database with the exercise's schema and no rows.
fn empty_library() -> Connection {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    db
}

fn add_author(db: &Connection, name: &str) -> i64 {
    db.execute("INSERT INTO authors (name) VALUES (?1)", [name])
        .expect("the test could not insert an author");
    db.last_insert_rowid()
}

fn add_book(db: &Connection, author_id: i64, title: &str, year: i64) -> Book {
    db.execute(
        "INSERT INTO books (author_id, title, year) VALUES (?1, ?2, ?3)",
        (author_id, title, year),
    )
    .expect("the test could not insert a book");
    let id = db.last_insert_rowid();
    let title = title.to_string();
    Book { id, title, year }
}

fn author(id: i64, name: &str, books: Vec<Book>) -> Author {
    let name = name.to_string();
    Author { id, name, books }
}

/// Calls `authors_with_books`, failing the test with a plain message if it
/// returns an error.
fn load(db: &Connection) -> Vec<Author> {
    match authors_with_books(db) {
        Ok(authors) => authors,
        Err(error) => panic!(
            "\nloading the authors returned an error: {error}\n  call: authors_with_books(&db)\n"
        ),
    }
}

/// Fails unless `actual` is exactly `expected`, saying what `situation` the
/// library was in.
#[track_caller]
fn assert_authors(actual: &[Author], expected: &[Author], situation: &str) {
    if actual != expected {
        panic!(
            "\n{}\n{situation}.\nauthors_with_books should return:\n{expected:#?}\nIt returned:\n{actual:#?}\n",
            what_differs(actual, expected)
        );
    }
}

// ANCHOR: recording
/// The SQL text of every statement that starts running on a connection.
#[derive(Clone, Default)]
struct StatementLog {
    statements: Arc<Mutex<Vec<String>>>,
}

impl StatementLog {
    /// Records every statement `db` runs from now on, through SQLite's trace
    /// hook: `TraceEvent::Stmt` fires each time a statement starts running,
    /// also when a prepared statement runs again with new parameters.
    fn attach_to(db: &mut Connection) -> StatementLog {
        let log = StatementLog::default();
        let statements = Arc::clone(&log.statements);
        let record = move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(_, sql) = event {
                statements.lock().unwrap().push(sql.to_string());
            }
        };
        db.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(record))
            .expect("the test could not install its trace hook");
        log
    }

    fn statements(&self) -> Vec<String> {
        self.statements.lock().unwrap().clone()
    }
}
// ANCHOR_END: recording

/// Each distinct statement with how many times it ran, one per line.
fn summarize(statements: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for sql in statements {
        *counts.entry(sql.as_str()).or_default() += 1;
    }
    let mut text = String::new();
    for (sql, count) in counts {
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(text, "  {count:>3} × {sql}");
    }
    text
}

/// A library of `count` authors and what `authors_with_books` should return
/// for it. Names repeat (`Author 0` to `Author 6`, so each name belongs to
/// several authors), author number `k` wrote `(k + 1) % 4` books (one author
/// in four has none), and books are added newest first.
fn library_of(count: i64) -> (Connection, Vec<Author>) {
    let db = empty_library();
    let mut expected = Vec::new();
    for k in 0..count {
        let name = format!("Author {}", k % 7);
        let id = add_author(&db, &name);
        let mut books = Vec::new();
        for j in 0..(k + 1) % 4 {
            books.push(add_book(&db, id, &format!("Book {k}-{j}"), 2000 - j));
        }
        books.reverse();
        expected.push(author(id, &name, books));
    }
    expected.sort_by_key(|author| (author.name.clone(), author.id));
    (db, expected)
}

/// How `actual` differs from `expected`, in one line: the verdict.
fn what_differs(actual: &[Author], expected: &[Author]) -> String {
    if actual.len() != expected.len() {
        return format!(
            "{} authors came back, expected {}",
            actual.len(),
            expected.len()
        );
    }
    let Some((found, wanted)) = actual
        .iter()
        .zip(expected)
        .find(|(found, wanted)| found != wanted)
    else {
        return "the list of authors is not the one expected".to_string();
    };
    if (found.id, &found.name) != (wanted.id, &wanted.name) {
        format!(
            "{:?} (id {}) came back where {:?} (id {}) should be",
            found.name, found.id, wanted.name, wanted.id
        )
    } else {
        format!(
            "the books of {:?} (id {}) are not the ones expected",
            found.name, found.id
        )
    }
}

/// Where `actual` first differs from `expected`, in words.
fn first_difference(actual: &[Author], expected: &[Author]) -> String {
    if actual.len() != expected.len() {
        return format!(
            "It returned {} authors instead of {}.",
            actual.len(),
            expected.len()
        );
    }
    let position = actual
        .iter()
        .zip(expected)
        .position(|(actual, expected)| actual != expected)
        .unwrap_or_default();
    format!(
        "Author number {position} in the list should be\n{:#?}\nbut it is\n{:#?}",
        expected[position], actual[position]
    )
}

#[test]
fn every_author_comes_back_with_their_books() {
    let db = empty_library();
    let le_guin = add_author(&db, "Ursula K. Le Guin");
    let wizard = add_book(&db, le_guin, "A Wizard of Earthsea", 1968);
    let dispossessed = add_book(&db, le_guin, "The Dispossessed", 1974);
    let pratchett = add_author(&db, "Terry Pratchett");
    let colour = add_book(&db, pratchett, "The Colour of Magic", 1983);

    let authors = load(&db);

    assert_authors(
        &authors,
        &[
            author(pratchett, "Terry Pratchett", vec![colour]),
            author(le_guin, "Ursula K. Le Guin", vec![wizard, dispossessed]),
        ],
        "Two authors with three books between them",
    );
}

#[test]
fn an_author_without_books_comes_back_with_an_empty_list() {
    let db = empty_library();
    let austen = add_author(&db, "Jane Austen");
    let emma = add_book(&db, austen, "Emma", 1815);
    let newcomer = add_author(&db, "A. Newcomer");

    let authors = load(&db);

    assert_authors(
        &authors,
        &[
            author(newcomer, "A. Newcomer", vec![]),
            author(austen, "Jane Austen", vec![emma]),
        ],
        "`A. Newcomer` has not written a book yet: an author with no books is \
         still an author, and must be in the list with an empty `books` \
         (an inner JOIN drops such authors; a LEFT JOIN keeps them)",
    );
}

// ANCHOR: order
#[test]
fn authors_come_in_name_order_and_books_in_year_then_title_order() {
    let db = empty_library();
    // Inserted out of order, so that the order of the ids is not the answer.
    let woolf = add_author(&db, "Virginia Woolf");
    let lighthouse = add_book(&db, woolf, "To the Lighthouse", 1927);
    let dalloway = add_book(&db, woolf, "Mrs Dalloway", 1925);
    let first_smith = add_author(&db, "Ali Smith");
    let autumn = add_book(&db, first_smith, "Autumn", 2016);
    let hotel = add_book(&db, first_smith, "Hotel World", 2001);
    let winter = add_book(&db, first_smith, "Winter", 2017);
    let accidental = add_book(&db, first_smith, "The Accidental", 2005);
    let second_smith = add_author(&db, "Ali Smith");
    let sea = add_book(&db, second_smith, "The Sea", 2019);
    let coast = add_book(&db, second_smith, "Coast", 2019);
    let bronte = add_author(&db, "Anne Bronte");

    let authors = load(&db);

    assert_authors(
        &authors,
        &[
            author(
                first_smith,
                "Ali Smith",
                vec![hotel, accidental, autumn, winter],
            ),
            author(second_smith, "Ali Smith", vec![coast, sea]),
            author(bronte, "Anne Bronte", vec![]),
            author(woolf, "Virginia Woolf", vec![dalloway, lighthouse]),
        ],
        "Authors were added in no particular order, and so were their books. \
         Authors come by name (the two different authors named `Ali Smith` by \
         id), books by year, and books of the same year by title",
    );
}
// ANCHOR_END: order

#[test]
fn titles_holding_commas_quotes_and_line_breaks_come_back_exactly() {
    let db = empty_library();
    // Characters a query that packs several books into one text would use
    // to separate them, or to quote them.
    let truss = add_author(&db, "Truss, Lynne");
    let eats = add_book(&db, truss, "Eats, Shoots & Leaves", 2003);
    let talk = add_book(&db, truss, "Talk to the Hand: 1 | 2; 3", 2005);
    let quoted = add_book(&db, truss, "The \"Quoted\" Word, and a \\ backslash", 2005);
    let lines = add_book(&db, truss, "Two\nlines,\tand a tab", 2009);
    let other = add_author(&db, "O'Brien");
    let json = add_book(&db, other, "[{\"id\": 1}]", 1999);

    let authors = load(&db);

    assert_authors(
        &authors,
        &[
            author(other, "O'Brien", vec![json]),
            author(truss, "Truss, Lynne", vec![eats, talk, quoted, lines]),
        ],
        "The titles hold commas, colons, bars, semicolons, quotes, a backslash, a line break \
         and a tab. Each book's title must come back exactly as stored: a query that packs \
         several books into one text (group_concat) and splits it again breaks on the first \
         title that holds its separator",
    );
}

// ANCHOR: count
#[test]
fn the_number_of_statements_does_not_grow_with_the_number_of_authors() {
    let mut runs = Vec::new();
    for count in [1, 10, 100] {
        let (mut db, expected) = library_of(count);
        let log = StatementLog::attach_to(&mut db);

        let authors = load(&db);

        if authors != expected {
            panic!(
                "\n{}, with {count} authors in the database\nSeveral authors have the same \
                 name, and some have no books.\n{}\n",
                what_differs(&authors, &expected),
                first_difference(&authors, &expected)
            );
        }
        runs.push((count, log.statements()));
    }

    let (_, one_author) = &runs[0];
    for (count, statements) in &runs[1..] {
        if statements.len() != one_author.len() {
            panic!(
                "\nthe number of statements grows with the number of authors: {} statements \
                 for 1 author, but {} for {count} authors\nThe number of statements must not \
                 depend on the number of authors: one query per author is the N+1 problem.\n\
                 The statements it ran for {count} authors (how many times, and which):\n{}",
                one_author.len(),
                statements.len(),
                summarize(statements)
            );
        }
    }
}
// ANCHOR_END: count
