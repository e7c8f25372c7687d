//! Listings for the book section database/mapping.

use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{Connection, Row, ToSql, params};

/// Creates the tables of this section's examples.
pub fn create_library(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS books (
            id        INTEGER PRIMARY KEY,
            title     TEXT    NOT NULL,
            subtitle  TEXT,
            published INTEGER,
            status    TEXT    NOT NULL DEFAULT 'on_shelf'
        ) STRICT;

        CREATE TABLE IF NOT EXISTS runs (
            id      INTEGER PRIMARY KEY,
            task    TEXT    NOT NULL,
            took_ms INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE IF NOT EXISTS events (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL,
            happened_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ) STRICT;",
    )
}

// ANCHOR: from_row
/// A book as the `books` table stores it. The columns that may be NULL are
/// `Option`s: a book without a subtitle, or whose year is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub subtitle: Option<String>,
    pub published: Option<i64>,
}

/// One row to one `Book`, reading the columns by name: the query may list
/// them in any order. `row.get` converts each value with `FromSql`, and
/// fails (rather than guessing) when a value does not fit the Rust type,
/// such as NULL into a `String`.
fn book_from_row(row: &Row<'_>) -> rusqlite::Result<Book> {
    Ok(Book {
        id: row.get("id")?,
        title: row.get("title")?,
        subtitle: row.get("subtitle")?,
        published: row.get("published")?,
    })
}

/// Every book whose title contains `word`, in title order. `query_map`
/// gives an iterator of `Result<Book>`; collecting it into a
/// `Result<Vec<Book>>` stops at the first row that fails to convert.
pub fn books_titled(db: &Connection, word: &str) -> rusqlite::Result<Vec<Book>> {
    let mut statement = db.prepare(
        "SELECT id, title, subtitle, published FROM books
         WHERE instr(title, ?1) > 0 ORDER BY title",
    )?;
    let books = statement.query_map([word], book_from_row)?;
    books.collect()
}

/// Adds a book; a `None` is bound as NULL.
pub fn add_book(db: &Connection, book: &Book) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO books (id, title, subtitle, published) VALUES (?1, ?2, ?3, ?4)",
        params![book.id, book.title, book.subtitle, book.published],
    )?;
    Ok(())
}
// ANCHOR_END: from_row

// ANCHOR: null
/// The books whose year is unknown. `published = NULL` would match nothing:
/// a comparison with NULL is neither true nor false but NULL, "unknown".
/// `IS NULL` is the test for "no value".
pub fn undated_titles(db: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        db.prepare("SELECT title FROM books WHERE published IS NULL ORDER BY title")?;
    let titles = statement.query_map([], |row| row.get(0))?;
    titles.collect()
}

/// The most recent year of any book, or `None` for an empty library (or
/// one where no year is known): `max` over no values is NULL, so the
/// column is read as an `Option`.
pub fn latest_year(db: &Connection) -> rusqlite::Result<Option<i64>> {
    db.query_row("SELECT max(published) FROM books", [], |row| row.get(0))
}
// ANCHOR_END: null

// ANCHOR: status
/// Where a copy of a book is. Stored as text, one fixed word per variant,
/// so the table reads well in the `sqlite3` shell and a CHECK can list the
/// allowed words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    OnShelf,
    Lent,
    Lost,
}

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let word = match self {
            Status::OnShelf => "on_shelf",
            Status::Lent => "lent",
            Status::Lost => "lost",
        };
        Ok(ToSqlOutput::from(word))
    }
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "on_shelf" => Ok(Status::OnShelf),
            "lent" => Ok(Status::Lent),
            "lost" => Ok(Status::Lost),
            other => Err(FromSqlError::Other(
                format!("unknown book status {other:?}").into(),
            )),
        }
    }
}

/// With both traits, a `Status` is a parameter and a column type like any
/// other.
pub fn set_status(db: &Connection, id: i64, status: Status) -> rusqlite::Result<usize> {
    db.execute(
        "UPDATE books SET status = ?1 WHERE id = ?2",
        params![status, id],
    )
}

pub fn status_of(db: &Connection, id: i64) -> rusqlite::Result<Status> {
    db.query_row("SELECT status FROM books WHERE id = ?1", [id], |row| {
        row.get(0)
    })
}
// ANCHOR_END: status

// ANCHOR: newtype
/// How long a task ran, stored as whole milliseconds in an INTEGER column.
/// `Duration` is the standard library's and `ToSql` is rusqlite's, so the
/// conversions go on a type of our own that wraps a `Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub Duration);

impl ToSql for Millis {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        // `as_millis` is a `u128`: a duration too long for an INTEGER is an
        // error, not a number cut down to fit.
        let millis = i64::try_from(self.0.as_millis())
            .map_err(|too_long| rusqlite::Error::ToSqlConversionFailure(too_long.into()))?;
        Ok(ToSqlOutput::from(millis))
    }
}

impl FromSql for Millis {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        // A TEXT, a REAL or a NULL is an error here (`InvalidType`)...
        let millis = value.as_i64()?;
        // ...and so is a negative number: a duration is never negative.
        let millis = u64::try_from(millis).map_err(|_| FromSqlError::OutOfRange(millis))?;
        Ok(Millis(Duration::from_millis(millis)))
    }
}

/// A `Millis` is a parameter like any other...
pub fn record_run(db: &Connection, task: &str, took: Duration) -> rusqlite::Result<()> {
    db.execute(
        "INSERT INTO runs (task, took_ms) VALUES (?1, ?2)",
        params![task, Millis(took)],
    )?;
    Ok(())
}

/// ...and a column type: `Option<Millis>` where the value may be NULL (the
/// `max` of no rows). `.0` unwraps the `Duration`.
pub fn longest_run(db: &Connection) -> rusqlite::Result<Option<Duration>> {
    let longest: Option<Millis> =
        db.query_row("SELECT max(took_ms) FROM runs", [], |row| row.get(0))?;
    Ok(longest.map(|millis| millis.0))
}
// ANCHOR_END: newtype

// ANCHOR: iso_text
/// Records an event. Its time comes from the column's DEFAULT, computed by
/// SQLite as ISO-8601 text in UTC with milliseconds:
/// `2023-11-14T22:13:20.000Z`.
pub fn record_event(db: &Connection, name: &str) -> rusqlite::Result<i64> {
    db.execute("INSERT INTO events (name) VALUES (?1)", [name])?;
    Ok(db.last_insert_rowid())
}

/// The names of the events at or after `since` (ISO-8601 text, UTC, in the
/// same format). Comparing the texts works only because every value has the
/// same format and the same time zone, so text order is time order.
pub fn events_since(db: &Connection, since: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        db.prepare("SELECT name FROM events WHERE happened_at >= ?1 ORDER BY happened_at, id")?;
    let names = statement.query_map([since], |row| row.get(0))?;
    names.collect()
}

/// An event's time as Unix seconds: SQLite's `unixepoch` reads ISO-8601
/// text (and `strftime(.., 'unixepoch')` goes the other way).
pub fn event_unix_time(db: &Connection, id: i64) -> rusqlite::Result<i64> {
    db.query_row(
        "SELECT unixepoch(happened_at) FROM events WHERE id = ?1",
        [id],
        |row| row.get(0),
    )
}
// ANCHOR_END: iso_text
