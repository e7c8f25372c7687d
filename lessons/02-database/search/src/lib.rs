//! # database/search — full-text search with FTS5
//!
//! Make a collection of articles searchable the way a search box should
//! work: by whole words, in any case and with or without accents, with
//! phrases and prefixes, and the most relevant articles first. SQLite's FTS5
//! extension, compiled into the bundled SQLite, does the indexing and the
//! ranking; `LIKE '%word%'` does neither.
//! The book's section "Full-text search" explains FTS5 and BM25.
//!
//! Run `cargo checker check` when you think you are done.

use rusqlite::Connection;

/// An article that matched a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: i64,
    pub title: String,
}

/// Creates the `articles` table and its full-text index.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE articles (
            id    INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            body  TEXT NOT NULL
        );",
    )?;
    // TODO: create a full-text index of the titles and bodies, and whatever
    // keeps it up to date as articles are added.
    Ok(())
}

/// Stores an article and returns its id. The article can be found by
/// [`search`] as soon as this returns.
pub fn add_article(db: &Connection, title: &str, body: &str) -> rusqlite::Result<i64> {
    // TODO: store the article, make sure the full-text index has it too,
    // and return its id.
    let _ = (db, title, body);
    todo!()
}

/// The articles that match `query`, the most relevant first.
///
/// `query` is written in FTS5's query syntax, and searches titles and bodies:
///
/// - `rust sqlite`: articles that contain every word, anywhere, in any order;
/// - `"connection pool"` (in double quotes): the words next to each other, in
///   that order;
/// - `index*`: any word that starts with `index` (`index`, `indexes`,
///   `indexing`).
///
/// Words match whole words only (`cat` does not find `category`), whatever
/// their case and accents (`cafe` finds `Café`).
///
/// Relevance is BM25 (as SQLite's `bm25()` computes it), with a match in the
/// title weighing 10 times as much as a match in the body. Equally relevant
/// articles come in the order of their ids.
///
/// A query that is not valid FTS5 syntax, such as one with an unclosed `"`,
/// returns an error.
pub fn search(db: &Connection, query: &str) -> rusqlite::Result<Vec<Hit>> {
    // TODO: the articles that match `query`, most relevant first, as
    // described above. `query` travels to SQLite as a bound parameter.
    let _ = (db, query);
    todo!()
}
