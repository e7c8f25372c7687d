//! # database/n-plus-one — authors and their books, in a fixed number of queries
//!
//! Load every author together with their books. The obvious loop (one query
//! for the authors, then one query per author for their books) runs N+1
//! queries for N authors; yours must run the same small number of queries
//! whether there is one author or a hundred. The tests count every statement
//! your function runs.
//! The book's section "The N+1 problem" explains the problem and its fixes.
//!
//! Run `cargo checker check` when you think you are done.

use rusqlite::Connection;

// ANCHOR: types
/// An author, with every book they wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: i64,
    pub name: String,
    /// Ordered by `year`, then by `title`. Empty if the author has no books.
    pub books: Vec<Book>,
}

/// A book, as stored in the `books` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub year: i64,
}
// ANCHOR_END: types

// ANCHOR: schema
/// Creates the two tables: each book belongs to exactly one author.
pub fn create_schema(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE authors (
            id   INTEGER PRIMARY KEY,
            name TEXT NOT NULL
        );
        CREATE TABLE books (
            id        INTEGER PRIMARY KEY,
            author_id INTEGER NOT NULL REFERENCES authors (id),
            title     TEXT NOT NULL,
            year      INTEGER NOT NULL
        );
        CREATE INDEX books_by_author ON books (author_id);",
    )
}
// ANCHOR_END: schema

// ANCHOR: authors_with_books
/// Every author in the database, each with all of their books.
///
/// - Every author is in the list, also an author with no books (whose
///   `books` is empty).
/// - Authors are ordered by `name`; two authors with the same name, by `id`.
/// - Each author's books are ordered by `year`; two books of the same year,
///   by `title`.
///
/// The number of SQL statements it runs must not depend on how many authors
/// or books there are: it runs as many statements for 100 authors as for 1.
pub fn authors_with_books(db: &Connection) -> rusqlite::Result<Vec<Author>> {
    // TODO: load every author with their books, in the order described
    // above, with a number of queries that does not grow with the number of
    // authors.
    let _ = db;
    todo!()
}
// ANCHOR_END: authors_with_books
