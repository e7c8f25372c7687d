//! # database/search — reference solution

use rusqlite::Connection;

// ANCHOR: hit
/// An article that matched a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub id: i64,
    pub title: String,
}
// ANCHOR_END: hit

// ANCHOR: schema
/// Creates the `articles` table and its full-text index.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE articles (
            id    INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            body  TEXT NOT NULL
        );

        -- The full-text index of the articles. With `content = 'articles'`
        -- it stores only the index, and reads titles and bodies from the
        -- `articles` table when it needs them (an external-content table).
        CREATE VIRTUAL TABLE articles_search USING fts5 (
            title, body, content = 'articles', content_rowid = 'id'
        );

        -- An external-content index does not see changes to its table by
        -- itself: these triggers keep it in step.
        CREATE TRIGGER articles_after_insert AFTER INSERT ON articles BEGIN
            INSERT INTO articles_search (rowid, title, body)
            VALUES (new.id, new.title, new.body);
        END;
        CREATE TRIGGER articles_after_delete AFTER DELETE ON articles BEGIN
            INSERT INTO articles_search (articles_search, rowid, title, body)
            VALUES ('delete', old.id, old.title, old.body);
        END;
        CREATE TRIGGER articles_after_update AFTER UPDATE ON articles BEGIN
            INSERT INTO articles_search (articles_search, rowid, title, body)
            VALUES ('delete', old.id, old.title, old.body);
            INSERT INTO articles_search (rowid, title, body)
            VALUES (new.id, new.title, new.body);
        END;",
    )
}
// ANCHOR_END: schema

// ANCHOR: add_article
/// Stores an article and returns its id. The article can be found by
/// [`search`] as soon as this returns.
pub fn add_article(db: &Connection, title: &str, body: &str) -> rusqlite::Result<i64> {
    // The trigger adds the article to the index, in the same statement.
    db.execute(
        "INSERT INTO articles (title, body) VALUES (?1, ?2)",
        [title, body],
    )?;
    Ok(db.last_insert_rowid())
}
// ANCHOR_END: add_article

// ANCHOR: search
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
    // `bm25()` is negative, and lower is better: ascending order puts the
    // best match first. Its arguments weigh the columns: title, then body.
    let mut statement = db.prepare(
        "SELECT rowid, title FROM articles_search
         WHERE articles_search MATCH ?1
         ORDER BY bm25(articles_search, 10.0, 1.0), rowid",
    )?;
    statement
        .query_map([query], |row| {
            let id = row.get(0)?;
            let title = row.get(1)?;
            Ok(Hit { id, title })
        })?
        .collect()
}
// ANCHOR_END: search
