//! # database/n-plus-one — reference solution

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
    // One query: every author, with each of their books on a row of its
    // own. The LEFT JOIN keeps authors without books, as one row whose book
    // columns are NULL. Sorting by author first puts each author's rows
    // next to each other.
    let mut statement = db.prepare(
        "SELECT authors.id, authors.name, books.id, books.title, books.year
         FROM authors
         LEFT JOIN books ON books.author_id = authors.id
         ORDER BY authors.name, authors.id, books.year, books.title",
    )?;
    let mut rows = statement.query([])?;
    let mut authors: Vec<Author> = Vec::new();
    while let Some(row) = rows.next()? {
        let author_id: i64 = row.get(0)?;
        // A new author starts whenever the id changes from the last row's.
        if authors.last().is_none_or(|last| last.id != author_id) {
            let name = row.get(1)?;
            let books = Vec::new();
            authors.push(Author {
                id: author_id,
                name,
                books,
            });
        }
        // NULL book columns: the author has no books.
        if let Some(book_id) = row.get::<_, Option<i64>>(2)? {
            let title = row.get(3)?;
            let year = row.get(4)?;
            let author = authors.last_mut().expect("the author was pushed above");
            author.books.push(Book {
                id: book_id,
                title,
                year,
            });
        }
    }
    Ok(authors)
}
// ANCHOR_END: authors_with_books
