//! Tests for database/search: a real in-memory SQLite database with the
//! exercise's schema, filled through `add_article` and searched through
//! `search`.

use std::sync::{Arc, Mutex};

use database_search::{Hit, add_article, create_schema, search};
use rusqlite::Connection;
use rusqlite::trace::{TraceEvent, TraceEventCodes};

/// Articles about other things, added to every library so that the words
/// searched for are rare in it, as they would be in a real one.
const OTHER_ARTICLES: [(&str, &str); 4] = [
    (
        "Baking bread",
        "Flour, water, salt and time make a good loaf.",
    ),
    ("Gardening in spring", "Sow the seeds after the last frost."),
    (
        "Cycling to work",
        "A bike, a helmet and a lock are all you need.",
    ),
    ("Learning the piano", "Practise scales every day, slowly."),
];

/// A database with the schema, the other articles, and then `articles`, in
/// this order. Returns the database and the hits that `articles` would be,
/// in the same order.
fn library(articles: &[(&str, &str)]) -> (Connection, Vec<Hit>) {
    let db = Connection::open_in_memory().expect("SQLite could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    for (title, body) in OTHER_ARTICLES {
        add(&db, title, body);
    }
    let hits = articles
        .iter()
        .map(|(title, body)| add(&db, title, body))
        .collect();
    (db, hits)
}

fn add(db: &Connection, title: &str, body: &str) -> Hit {
    match add_article(db, title, body) {
        Ok(id) => Hit {
            id,
            title: title.to_string(),
        },
        Err(error) => panic!(
            "\nadding an article returned an error: {error}\n  call: add_article(&db, {title:?}, ...)\n"
        ),
    }
}

/// Runs `search`, failing the test with a plain message if it returns an
/// error.
fn find(db: &Connection, query: &str) -> Vec<Hit> {
    match search(db, query) {
        Ok(hits) => hits,
        Err(error) => {
            panic!("\nthe search returned an error: {error}\n  call: search(&db, {query:?})\n")
        }
    }
}

/// Fails unless searching `query` gives exactly `expected`, in this order,
/// explaining why with `reason`.
#[track_caller]
fn assert_search(db: &Connection, query: &str, expected: &[&Hit], reason: &str) {
    let hits = match search(db, query) {
        Ok(hits) => hits,
        Err(error) => panic!(
            "\nthe search returned an error: {error}\n  call: search(&db, {query:?})\n{reason}.\n"
        ),
    };
    let expected: Vec<Hit> = expected.iter().map(|&hit| hit.clone()).collect();
    if hits != expected {
        let mut found_sorted = hits.clone();
        found_sorted.sort_by_key(|hit| hit.id);
        let mut expected_sorted = expected.clone();
        expected_sorted.sort_by_key(|hit| hit.id);
        let verdict = if found_sorted == expected_sorted {
            "the search found the right articles, in the wrong order"
        } else {
            "the search found other articles than expected"
        };
        panic!(
            "\n{verdict}\n  call:     search(&db, {query:?})\n  expected, in this order:\n{}\n  \
             got:\n{}\n{reason}.\n",
            list(&expected),
            list(&hits)
        );
    }
}

fn list(hits: &[Hit]) -> String {
    if hits.is_empty() {
        return "    (nothing)".to_string();
    }
    let lines: Vec<String> = hits
        .iter()
        .map(|hit| format!("    {:>2}  {}", hit.id, hit.title))
        .collect();
    lines.join("\n")
}

#[test]
fn a_search_finds_the_articles_that_contain_the_word_and_no_others() {
    let (db, hits) = library(&[
        ("Why SQLite", "It is small, fast and reliable."),
        (
            "Choosing a database",
            "For one server, SQLite is often enough.",
        ),
        (
            "Choosing a web framework",
            "axum is built on tokio and tower.",
        ),
    ]);
    let [why_sqlite, choosing, _] = &hits[..] else {
        unreachable!()
    };

    let mut found = find(&db, "sqlite");
    found.sort_by_key(|hit| hit.id);

    let expected = vec![why_sqlite.clone(), choosing.clone()];
    assert!(
        found == expected,
        "\nthe search found other articles than the two that mention SQLite\n  call:     \
         search(&db, \"sqlite\")\n  expected, in any order here:\n{}\n  got:\n{}\nOne \
         mentions SQLite in its title, and one in its body.\n",
        list(&expected),
        list(&found)
    );
}

// ANCHOR: relevance
#[test]
fn the_article_most_about_the_word_comes_first() {
    let (db, hits) = library(&[
        (
            "Notes from the conference",
            "We talked about many things: caching, queues, logging, tracing, \
             deployment, and for a few minutes about the connection pool that \
             the team wrote last year, before moving on to metrics and alerts.",
        ),
        (
            "Sizing it right",
            "How big should a pool be? A pool too small queues requests; \
             a pool too big wastes memory.",
        ),
    ]);
    let [notes, sizing] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "pool",
        &[sizing, notes],
        "A short article that says `pool` three times is more about pools than a \
         long one that says it once: BM25 ranks it first",
    );
}
// ANCHOR_END: relevance

#[test]
fn a_rare_word_weighs_more_than_a_common_one() {
    let (db, hits) = library(&[
        (
            "SQLite in production",
            "SQLite runs in the process. SQLite needs no server. SQLite is a \
             file. Turn on WAL.",
        ),
        (
            "Journal modes",
            "SQLite has several. WAL lets readers work during a write; WAL needs \
             shared memory; WAL is persistent.",
        ),
        ("Why SQLite", "SQLite is small and fast."),
        ("SQLite and Rust", "rusqlite wraps SQLite."),
        ("SQLite backups", "Use the backup API of SQLite."),
    ]);
    let [production, journal_modes, ..] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "sqlite wal",
        &[journal_modes, production],
        "Both articles contain both words, `Journal modes` has `wal` three times \
         and `SQLite in production` has `sqlite` four times. Most articles here \
         mention SQLite, only two mention WAL: the rare word tells more about an \
         article, so BM25 ranks `Journal modes` first",
    );
}

#[test]
fn a_match_in_the_title_weighs_ten_times_a_match_in_the_body() {
    let (db, hits) = library(&[
        (
            "Tuning a server",
            "Give the pool room: a pool of four is a good start.",
        ),
        (
            "The pool",
            "Notes on sizing, timeouts and what to measure before changing \
             anything in production at all.",
        ),
    ]);
    let [tuning, the_pool] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "pool",
        &[the_pool, tuning],
        "`The pool` has the word in its title, `Tuning a server` twice in its \
         body. With a title match weighing 10 times a body match (the weights \
         of `bm25()`), the title wins",
    );
}

#[test]
fn a_title_weighs_ten_times_the_body_not_five_nor_twenty() {
    let (db, hits) = library(&[
        (
            "The pool",
            "Notes from a week of measuring a busy service: where the time went, \
             what the logs said, and which settings we changed first.",
        ),
        (
            "Seven times",
            "A pool here, a pool there: pool after pool, pool upon pool, and one \
             more pool for the road, then stop.",
        ),
        (
            "Thirteen times",
            "Pool, pool, pool, pool, pool, pool, pool, pool, pool, pool, pool, \
             pool and pool: that is all.",
        ),
    ]);
    let [the_pool, seven, thirteen] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "pool",
        &[thirteen, the_pool, seven],
        "`The pool` has the word once, in its title; the two others 7 and 13 times \
         in their bodies, in texts of about the same length. Weighing the title 10 \
         times the body puts it between them; with 5 it would come last, with 20 \
         first",
    );
}

#[test]
fn equally_relevant_articles_come_in_the_order_of_their_ids() {
    let (db, hits) = library(&[
        ("Pool party", "Bring a towel."),
        ("Pool party", "Bring a towel."),
        ("Pool party", "Bring a towel."),
    ]);
    let [first, second, third] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "towel",
        &[first, second, third],
        "The three articles are the same text, so they are exactly as relevant as \
         each other: they come in the order of their ids, oldest first",
    );
}

#[test]
fn all_the_words_must_appear_but_not_next_to_each_other() {
    let (db, hits) = library(&[
        ("Rust web servers", "Start with axum."),
        ("SQLite from Rust", "Add rusqlite to Cargo.toml."),
        ("SQLite for beginners", "Tables, rows and queries."),
    ]);
    let [_, from_rust, _] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "rust sqlite",
        &[from_rust],
        "Only `SQLite from Rust` contains both words, in the other order and \
         not next to each other; the two others contain one word each",
    );
}

#[test]
fn a_quoted_phrase_matches_only_those_words_next_to_each_other_in_order() {
    let (db, hits) = library(&[
        ("Pooling", "Every connection pool needs a size."),
        ("Pooling again", "A pool holds each connection for a while."),
        ("Sharing", "Give the connection back to the pool."),
    ]);
    let [pooling, _, _] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "\"connection pool\"",
        &[pooling],
        "All three articles contain `connection` and `pool`, but only `Pooling` \
         has them next to each other, in this order",
    );
}

// ANCHOR: prefix
#[test]
fn a_prefix_query_matches_the_words_that_start_with_it() {
    let (db, hits) = library(&[
        ("Indexes", "Make lookups fast."),
        ("Query plans", "EXPLAIN shows when indexing would help."),
        ("Maintenance", "Run REINDEX after changing a collation."),
    ]);
    let [indexes, plans, _] = &hits[..] else {
        unreachable!()
    };

    let mut found = find(&db, "index*");
    found.sort_by_key(|hit| hit.id);

    let expected = vec![indexes.clone(), plans.clone()];
    assert!(
        found == expected,
        "\nthe prefix query found other articles than those with a word that starts with \
         `index`\n  call:     search(&db, \"index*\")\n  expected, in any order here:\n{}\n  \
         got:\n{}\n`index*` matches the words that start with `index`: `Indexes` and \
         `indexing`, but not `REINDEX`, which only contains it.\n",
        list(&expected),
        list(&found)
    );
}
// ANCHOR_END: prefix

#[test]
fn words_match_whole_words_only() {
    let (db, hits) = library(&[
        ("Strings", "Concatenate them with format!."),
        ("Catalogue", "Every category of article, listed."),
        ("Pets", "The cat sleeps on the keyboard."),
    ]);
    let [_, _, pets] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "cat",
        &[pets],
        "Full-text search matches words, not pieces of words: `cat` is in \
         `Concatenate`, `Catalogue` and `category` as letters, but only `Pets` \
         has the word `cat`",
    );
}

#[test]
fn case_and_accents_do_not_matter() {
    let (db, hits) = library(&[
        ("Café culture", "Where to work from."),
        ("Working from home", "A desk, a chair and a CAFE au lait."),
    ]);
    let [culture, home] = &hits[..] else {
        unreachable!()
    };

    let mut found = find(&db, "cafe");
    found.sort_by_key(|hit| hit.id);

    let expected = vec![culture.clone(), home.clone()];
    assert!(
        found == expected,
        "\nthe search for `cafe` found other articles than the two with `Café` and `CAFE`\n  \
         call:     search(&db, \"cafe\")\n  expected, in any order here:\n{}\n  got:\n{}\n\
         FTS5's default tokenizer folds case and removes accents, so `cafe` matches `Café` \
         and `CAFE` alike.\n",
        list(&expected),
        list(&found)
    );
}

// ANCHOR: apostrophe
#[test]
fn quotes_in_titles_and_queries_are_data_not_sql() {
    let (db, hits) = library(&[
        ("Don't block the runtime", "Use spawn_blocking."),
        ("Blocking calls", "They don't belong in async code."),
        ("O'Brien's guide", "Fields, then rows."),
    ]);
    let [dont_block, _, obrien] = &hits[..] else {
        unreachable!()
    };

    assert_search(
        &db,
        "\"don't block\"",
        &[dont_block],
        "The phrase `don't block` is only in the first article, whose title, \
         with its apostrophe, must come back exactly as it was stored. Bind the \
         query as a parameter (`?1`); a query pasted into the SQL ends the SQL \
         string at its `'`",
    );
    assert_search(
        &db,
        "brien",
        &[obrien],
        "The tokenizer splits `O'Brien's` at the apostrophes, so `brien` is one \
         of its words",
    );
}
// ANCHOR_END: apostrophe

#[test]
fn a_malformed_query_is_an_error_not_a_panic() {
    let (db, _) = library(&[("Quotes", "A \"quoted\" word.")]);

    let outcome = search(&db, "\"unclosed");

    assert!(
        outcome.is_err(),
        "\na malformed query returned {outcome:?}, expected an error\n  call: search(&db, \
         \"\\\"unclosed\")\nThe query has an opening `\"` and no closing one, which is not \
         valid FTS5 syntax.\n"
    );
}

/// Records the SQL text of every statement `db` runs from now on, as SQLite
/// receives it: a bound parameter shows as `?1`, a value pasted into the
/// text shows as itself.
fn record_statements(db: &mut Connection) -> Arc<Mutex<Vec<String>>> {
    let statements = Arc::new(Mutex::new(Vec::new()));
    let recorder = Arc::clone(&statements);
    db.trace_v2(
        TraceEventCodes::SQLITE_TRACE_STMT,
        Some(move |event: TraceEvent<'_>| {
            if let TraceEvent::Stmt(_, sql) = event {
                recorder.lock().unwrap().push(sql.to_string());
            }
        }),
    )
    .expect("the test could not watch the statements");
    statements
}

/// Fails if a statement run since the last check contains one of `values`.
#[track_caller]
fn assert_values_not_in_sql(statements: &Mutex<Vec<String>>, call: &str, values: &[&str]) {
    let run: Vec<String> = statements.lock().unwrap().drain(..).collect();
    for sql in &run {
        for value in values {
            if sql.contains(value) {
                let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
                panic!(
                    "\nthe value {value:?} is written into the SQL text\n  call: {call}\n  SQL:  \
                     {sql}\nWrite a placeholder (?1, ?2, ...) in the SQL instead and pass the value \
                     as a parameter, so SQLite never reads it as SQL, whatever quotes it holds.\n"
                );
            }
        }
    }
}

#[test]
fn articles_and_queries_are_bound_as_parameters_never_pasted_into_the_sql() {
    let (mut db, _) = library(&[]);
    let statements = record_statements(&mut db);

    let call = r#"add_article(&db, "Zaphod's guide", "Marvin's notes on the towel.")"#;
    let id = add_article(&db, "Zaphod's guide", "Marvin's notes on the towel.");
    assert_values_not_in_sql(&statements, call, &["Zaphod", "Marvin"]);
    let Ok(id) = id else {
        panic!("\nadding an article returned an error: {id:?}\n  call: {call}\n");
    };

    let call = r#"search(&db, "zaphod")"#;
    let found = search(&db, "zaphod");
    assert_values_not_in_sql(&statements, call, &["zaphod"]);
    let expected = [Hit {
        id,
        title: "Zaphod's guide".to_string(),
    }];
    assert!(
        matches!(&found, Ok(hits) if hits[..] == expected),
        "\nthe search did not find the article just added\n  call:     {call}\n  expected: \
         Ok({expected:?})\n  got:      {found:?}\n"
    );
}
