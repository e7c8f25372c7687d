//! Listings for the book section database/queries.

use rusqlite::{Connection, OptionalExtension, named_params, params};

/// A book in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub year: i64,
}

/// Creates the catalogue's table.
pub fn create_catalogue(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS books (
            id    INTEGER PRIMARY KEY,
            title TEXT    NOT NULL,
            year  INTEGER NOT NULL
        ) STRICT",
    )
}

// ANCHOR: execute
/// Adds a book and returns the id SQLite chose for it.
pub fn add_book(db: &Connection, title: &str, year: i64) -> rusqlite::Result<i64> {
    // `?1` and `?2` are placeholders; `params!` supplies their values, in
    // order, each with its own type (here a text and an integer).
    db.execute(
        "INSERT INTO books (title, year) VALUES (?1, ?2)",
        params![title, year],
    )?;
    Ok(db.last_insert_rowid())
}

/// Moves every book published before `year` to `year`, and says how many
/// books that changed: `execute` returns the number of rows changed.
pub fn clamp_years(db: &Connection, year: i64) -> rusqlite::Result<usize> {
    db.execute("UPDATE books SET year = ?1 WHERE year < ?1", [year])
}
// ANCHOR_END: execute

// ANCHOR: query_row
/// The title of the book with this id, if there is one.
pub fn title_of(db: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    db.query_row("SELECT title FROM books WHERE id = ?1", [id], |row| {
        row.get(0)
    })
    // `query_row` treats "no row" as an error, `QueryReturnedNoRows`;
    // `optional` (from `OptionalExtension`) turns exactly that one into `None`.
    .optional()
}
// ANCHOR_END: query_row

// ANCHOR: named
/// The same insert as `add_book`, with named parameters: clearer when a
/// statement has many values, or uses one value twice.
pub fn add_book_named(db: &Connection, title: &str, year: i64) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO books (title, year) VALUES (:title, :year)",
        named_params! { ":title": title, ":year": year },
    )?;
    Ok(db.last_insert_rowid())
}

/// Adds a book and gets its id back from the statement itself, with
/// `RETURNING`: useful when the id must come from this very insert.
pub fn add_book_returning(db: &Connection, title: &str, year: i64) -> rusqlite::Result<i64> {
    db.query_row(
        "INSERT INTO books (title, year) VALUES (?1, ?2) RETURNING id",
        params![title, year],
        |row| row.get(0),
    )
}
// ANCHOR_END: named

// ANCHOR: injectable
/// NEVER DO THIS. The title is pasted into the SQL text, so the title
/// `x' OR '1'='1` turns the WHERE clause into `title = 'x' OR '1'='1'`,
/// which every row matches, and `O'Brien` is a syntax error.
pub fn find_by_title_injectable(db: &Connection, title: &str) -> rusqlite::Result<Option<i64>> {
    let sql = format!("SELECT id FROM books WHERE title = '{title}'");
    db.query_row(&sql, [], |row| row.get(0)).optional()
}

/// The same query, safe: the title is a value, bound to `?1`, and SQLite
/// never reads it as SQL.
pub fn find_by_title(db: &Connection, title: &str) -> rusqlite::Result<Option<i64>> {
    db.query_row("SELECT id FROM books WHERE title = ?1", [title], |row| {
        row.get(0)
    })
    .optional()
}
// ANCHOR_END: injectable

// ANCHOR: order_by
/// The orders a client may ask for. Column names cannot be bound as
/// parameters, so the client picks one of these, and each maps to a fixed
/// piece of SQL written here: the client's text never reaches the SQL.
#[derive(Debug, Clone, Copy)]
pub enum SortBy {
    Title,
    Year,
}

impl SortBy {
    /// Reads a `?sort=` value; anything unknown is refused, not passed on.
    pub fn parse(text: &str) -> Option<SortBy> {
        match text {
            "title" => Some(SortBy::Title),
            "year" => Some(SortBy::Year),
            _ => None,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            SortBy::Title => "SELECT id, title, year FROM books ORDER BY title, id",
            SortBy::Year => "SELECT id, title, year FROM books ORDER BY year, id",
        }
    }
}

/// Every book, in the order asked for.
pub fn books_sorted(db: &Connection, sort: SortBy) -> rusqlite::Result<Vec<Book>> {
    let mut statement = db.prepare(sort.sql())?;
    let books = statement.query_map([], |row| {
        Ok(Book {
            id: row.get(0)?,
            title: row.get(1)?,
            year: row.get(2)?,
        })
    })?;
    books.collect()
}
// ANCHOR_END: order_by

// ANCHOR: like
/// Books whose title starts with `prefix`, as typed by a user. The prefix is
/// bound, so it cannot inject SQL, but inside a LIKE pattern `%` and `_` are
/// wildcards: a user typing `100%` means the characters, not "100 then
/// anything". Escaping them (and the escape character itself) keeps the
/// user's text literal.
pub fn titles_starting_with(db: &Connection, prefix: &str) -> rusqlite::Result<Vec<String>> {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    // The pattern is a value, built in Rust and bound like any other.
    let pattern = format!("{escaped}%");
    let mut statement =
        db.prepare("SELECT title FROM books WHERE title LIKE ?1 ESCAPE '\\' ORDER BY title")?;
    let titles = statement.query_map([pattern], |row| row.get(0))?;
    titles.collect()
}
// ANCHOR_END: like

// ANCHOR: cached
/// Adds many books. `prepare_cached` parses the SQL once and keeps the
/// prepared statement in the connection's cache; each loop turn only binds
/// new values and runs it. (Pasting values into the SQL would make every
/// statement a new text, parsed afresh.)
pub fn add_books(db: &Connection, books: &[(&str, i64)]) -> rusqlite::Result<()> {
    let mut insert = db.prepare_cached("INSERT INTO books (title, year) VALUES (?1, ?2)")?;
    for (title, year) in books {
        insert.execute(params![title, year])?;
    }
    Ok(())
}
// ANCHOR_END: cached
