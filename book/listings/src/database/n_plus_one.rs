//! Listings for the book section database/n-plus-one.

use std::collections::HashMap;

use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

/// A blog post with its comments.
#[derive(Debug)]
pub struct Post {
    pub id: i64,
    pub title: String,
    pub comments: Vec<Comment>,
}

#[derive(Debug)]
pub struct Comment {
    pub id: i64,
    pub text: String,
}

pub fn create_blog(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL);
         CREATE TABLE comments (
             id      INTEGER PRIMARY KEY,
             post_id INTEGER NOT NULL REFERENCES posts (id),
             text    TEXT NOT NULL
         );
         CREATE INDEX comments_by_post ON comments (post_id);",
    )
}

// ANCHOR: n_plus_one
/// The N+1 pattern: one query for the posts, then one more query per post.
/// Correct, readable, and it runs 101 queries for 100 posts.
pub fn posts_one_by_one(db: &Connection) -> rusqlite::Result<Vec<Post>> {
    let mut posts_query = db.prepare("SELECT id, title FROM posts ORDER BY id")?;
    let mut comments_query =
        db.prepare("SELECT id, text FROM comments WHERE post_id = ?1 ORDER BY id")?;

    let mut posts = Vec::new();
    let mut rows = posts_query.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let title = row.get(1)?;
        // Here is the "+1", once per post: preparing the statement once does
        // not help, each run is still a query of its own.
        let comments = comments_query
            .query_map([id], |row| {
                let id = row.get(0)?;
                let text = row.get(1)?;
                Ok(Comment { id, text })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        posts.push(Post {
            id,
            title,
            comments,
        });
    }
    Ok(posts)
}
// ANCHOR_END: n_plus_one

// ANCHOR: two_queries
/// The same result in two queries, however many posts there are: load the
/// parents, load *all* their children at once, then attach each child to
/// its parent in memory.
pub fn posts_in_two_queries(db: &Connection) -> rusqlite::Result<Vec<Post>> {
    let mut posts = db
        .prepare("SELECT id, title FROM posts ORDER BY id")?
        .query_map([], |row| {
            let id = row.get(0)?;
            let title = row.get(1)?;
            Ok(Post {
                id,
                title,
                comments: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    // Where each post sits in `posts`, to find it by id in one step.
    let position: HashMap<i64, usize> = posts
        .iter()
        .enumerate()
        .map(|(index, post)| (post.id, index))
        .collect();

    let mut comments = db.prepare("SELECT post_id, id, text FROM comments ORDER BY id")?;
    let mut rows = comments.query([])?;
    while let Some(row) = rows.next()? {
        let post_id: i64 = row.get(0)?;
        let comment = Comment {
            id: row.get(1)?,
            text: row.get(2)?,
        };
        if let Some(&index) = position.get(&post_id) {
            posts[index].comments.push(comment);
        }
    }
    Ok(posts)
}
// ANCHOR_END: two_queries

// ANCHOR: some_posts
/// The children of *some* parents only, still in one query: the ids travel
/// as one bound parameter, a JSON array such as `[3,5,8]`, which SQLite's
/// `json_each` turns back into rows. No `format!` into the SQL, however many
/// ids there are.
pub fn comments_of(db: &Connection, post_ids: &[i64]) -> rusqlite::Result<Vec<(i64, Comment)>> {
    let ids = serde_json::to_string(post_ids).expect("a list of integers is valid JSON");
    let mut statement = db.prepare(
        "SELECT post_id, id, text FROM comments
         WHERE post_id IN (SELECT value FROM json_each(?1))
         ORDER BY post_id, id",
    )?;
    statement
        .query_map([ids], |row| {
            let comment = Comment {
                id: row.get(1)?,
                text: row.get(2)?,
            };
            Ok((row.get(0)?, comment))
        })?
        .collect()
}
// ANCHOR_END: some_posts

// ANCHOR: log_statements
/// Logs every statement the connection runs, and how long it took, at
/// `debug` level: run the service with `RUST_LOG=debug` and an N+1 shows up
/// as the same query repeated down the screen.
pub fn log_statements(db: &mut Connection) -> rusqlite::Result<()> {
    let log = |event: TraceEvent<'_>| {
        if let TraceEvent::Profile(statement, took) = event {
            // The SQL as written, with `?1` placeholders: `expanded_sql()`
            // would show the bound values too, passwords included.
            tracing::debug!(?took, sql = %statement.sql(), "statement");
        }
    };
    db.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(log))
}
// ANCHOR_END: log_statements
