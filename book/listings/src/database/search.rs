//! Listings for the book section database/search.

use rusqlite::Connection;

// ANCHOR: recipes
/// A stand-alone FTS5 table: it stores its own copy of the text, and the
/// index. Every column is indexed; a column marked `UNINDEXED` would only be
/// stored.
pub fn create_recipes(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch("CREATE VIRTUAL TABLE recipes USING fts5 (name, ingredients, method)")
}

pub fn add_recipe(
    db: &Connection,
    name: &str,
    ingredients: &str,
    method: &str,
) -> rusqlite::Result<i64> {
    db.execute(
        "INSERT INTO recipes (name, ingredients, method) VALUES (?1, ?2, ?3)",
        [name, ingredients, method],
    )?;
    Ok(db.last_insert_rowid())
}

/// The best ten recipes for `query`, each with its name highlighted
/// (`Lemon [tart]`) and a short extract of its method around the matches.
/// `rank` is FTS5's hidden column holding each match's `bm25()` score:
/// lower is better, so the ascending order puts the best first.
pub fn find_recipes(db: &Connection, query: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut statement = db.prepare(
        "SELECT highlight(recipes, 0, '[', ']'),
                snippet(recipes, 2, '[', ']', '…', 8)
         FROM recipes
         WHERE recipes MATCH ?1
         ORDER BY rank
         LIMIT 10",
    )?;
    statement
        .query_map([query], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
}
// ANCHOR_END: recipes

// ANCHOR: external_content
/// An index over an ordinary table, which keeps the text: the FTS5 table
/// stores only the index (`content = 'products'`), and three triggers keep
/// it in step with every insert, delete and update. Deleting from such an
/// index is the special `'delete'` command, which needs the old values.
pub fn create_product_search(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(
        "CREATE TABLE products (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL,
            description TEXT NOT NULL,
            price_cents INTEGER NOT NULL
        );
        CREATE VIRTUAL TABLE products_search USING fts5 (
            name, description, content = 'products', content_rowid = 'id'
        );
        CREATE TRIGGER products_ai AFTER INSERT ON products BEGIN
            INSERT INTO products_search (rowid, name, description)
            VALUES (new.id, new.name, new.description);
        END;
        CREATE TRIGGER products_ad AFTER DELETE ON products BEGIN
            INSERT INTO products_search (products_search, rowid, name, description)
            VALUES ('delete', old.id, old.name, old.description);
        END;
        CREATE TRIGGER products_au AFTER UPDATE ON products BEGIN
            INSERT INTO products_search (products_search, rowid, name, description)
            VALUES ('delete', old.id, old.name, old.description);
            INSERT INTO products_search (rowid, name, description)
            VALUES (new.id, new.name, new.description);
        END;",
    )
}

/// Products matching `query` whose price is at most `max_cents`: the index
/// finds the matches, a join brings the rest of the row, and ordinary SQL
/// filters it.
pub fn cheap_products(
    db: &Connection,
    query: &str,
    max_cents: i64,
) -> rusqlite::Result<Vec<String>> {
    let mut statement = db.prepare(
        "SELECT products.name
         FROM products_search
         JOIN products ON products.id = products_search.rowid
         WHERE products_search MATCH ?1 AND products.price_cents <= ?2
         ORDER BY products_search.rank",
    )?;
    statement
        .query_map((query, max_cents), |row| row.get(0))?
        .collect()
}
// ANCHOR_END: external_content

// ANCHOR: user_text
/// Turns what someone typed into a search box into an FTS5 query that
/// cannot be a syntax error: each word becomes a quoted string, with any `"`
/// inside it doubled. `wal-mode "fast"` becomes `"wal-mode" """fast"""`:
/// the tokenizer splits `wal-mode` into `wal` and `mode`, which a quoted
/// string then matches as a phrase, next to each other, and `fast` anywhere.
pub fn query_from_user_text(text: &str) -> String {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect();
    words.join(" ")
}
// ANCHOR_END: user_text
