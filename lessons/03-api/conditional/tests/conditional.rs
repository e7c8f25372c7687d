//! Tests for api/conditional: a real server on 127.0.0.1 in front of a real
//! SQLite file in a temporary folder, read and written as clients do, with
//! `ETag`, `If-None-Match` and `If-Match`. The test reads the file with a
//! connection of its own to see what really changed.
//!
//! The race test stages its race, so that it ends the same way every time:
//! the test's own connection holds the file's write lock while eight PUTs
//! arrive, and lets go only once all eight are waiting for that lock (each
//! app connection reports it, from a busy handler the test installs). By
//! then every PUT has done whatever it does before writing, so a PUT that
//! checks the version first and writes afterwards has already checked it.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use api_conditional::{Db, app, create_schema, insert_product};
use rusqlite::Connection;
use testkit::tempfile::TempDir;
use testkit::{Reply, TestServer, json, status_text};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The shop's database file, in a folder removed when dropped, with one
/// product: id 1, `MUG-RED`, "Red mug", 1250 cents, 12 in stock, version 1.
struct Shop {
    _folder: TempDir,
    path: PathBuf,
}

impl Shop {
    fn new() -> Shop {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let db = Connection::open(&path).expect("the test could not create its database");
        db.pragma_update(None, "journal_mode", "WAL")
            .expect("the test could not put its database in WAL mode");
        create_schema(&db).expect("create_schema failed on an empty database");
        insert_product(&db, "MUG-RED", "Red mug", 1250, 12)
            .expect("the test could not store its product");
        Shop {
            _folder: folder,
            path,
        }
    }

    /// The app under test, on the file.
    async fn serve(&self) -> TestServer {
        TestServer::spawn(app(Db::open(&self.path))).await
    }

    /// Product 1 as the file holds it: name, price_cents, stock, version.
    fn stored(&self) -> (String, i64, i64, i64) {
        let db = Connection::open(&self.path).expect("the test could not open its database");
        db.query_row(
            "SELECT name, price_cents, stock, version FROM products WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .expect("the test could not read product 1")
    }

    /// Sets product 1's version in the file, as another program might.
    fn set_version(&self, version: i64) {
        let db = Connection::open(&self.path).expect("the test could not open its database");
        db.execute("UPDATE products SET version = ?1 WHERE id = 1", [version])
            .expect("the test could not set the version");
    }
}

/// The product as first stored, as JSON.
fn red_mug() -> testkit::Value {
    json!({"id": 1, "sku": "MUG-RED", "name": "Red mug", "price_cents": 1250, "stock": 12})
}

/// A PUT body.
fn changes(name: &str, price_cents: i64, stock: i64) -> testkit::Value {
    json!({"name": name, "price_cents": price_cents, "stock": stock})
}

/// Fails unless `reply` is a problem details answer with this status.
#[track_caller]
fn assert_problem(reply: &Reply, status: u16, diagnosis: &str) {
    if reply.status() != status {
        reply.fail_with_diagnosis(
            &format!(
                "expected status {}, got {}",
                status_text(status),
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    reply.assert_content_type("application/problem+json");
    if reply.json()["status"] != json!(status) {
        reply.fail(&format!(
            "expected the problem details body to say \"status\": {status}"
        ));
    }
}

/// Fails unless product 1 in the file is still `expected` (name, price,
/// stock, version) after `reply`.
#[track_caller]
fn assert_unchanged(shop: &Shop, reply: &Reply, expected: (&str, i64, i64, i64)) {
    let (name, price_cents, stock, version) = shop.stored();
    if (name.as_str(), price_cents, stock, version) != expected {
        reply.fail(&format!(
            "the product changed in the database, expected it unchanged\n  expected: {expected:?}\n  \
             stored:   {:?}",
            (name, price_cents, stock, version)
        ));
    }
}

#[tokio::test]
async fn a_product_comes_with_a_strong_etag_of_its_version_and_no_cache() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let reply = server.get("/products/1").send().await;
    reply
        .assert_status(200)
        .assert_content_type("application/json")
        .assert_json(&red_mug())
        .assert_header("etag", "\"v1\"")
        .assert_header("cache-control", "no-cache");

    shop.set_version(7);
    let reply = server.get("/products/1").send().await;
    if reply.header("etag") != Some("\"v7\"") {
        reply.fail_with_diagnosis(
            "expected header `etag: \"v7\"` after the version became 7",
            "The ETag is made from the product's version as stored: `\"v` and the number \
             and `\"`. The test set the version column to 7 in the database.",
        );
    }
}

#[tokio::test]
async fn reading_a_product_does_not_change_its_etag() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let first = server.get("/products/1").send().await;
    let first_etag = first.assert_status(200).expect_header("etag").to_string();
    let second = server.get("/products/1").send().await;
    second.assert_status(200).assert_header("etag", &first_etag);
    let not_modified = server
        .get("/products/1")
        .header("if-none-match", &first_etag)
        .send()
        .await;
    not_modified.assert_status(304);
    assert_unchanged(&shop, &not_modified, ("Red mug", 1250, 12, 1));
}

#[tokio::test]
async fn an_unknown_product_is_404_whatever_if_none_match_says() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for if_none_match in [None, Some("*"), Some("\"v1\"")] {
        let mut call = server.get("/products/99");
        if let Some(value) = if_none_match {
            call = call.header("if-none-match", value);
        }
        let reply = call.send().await;
        assert_problem(
            &reply,
            404,
            "There is no product 99: the answer is 404 Not Found, as problem details. `*` \
             matches only a product that exists.",
        );
    }
}

// ANCHOR: not_modified
#[tokio::test]
async fn if_none_match_with_the_current_etag_is_304_with_no_body() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let reply = server
        .get("/products/1")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;

    reply
        .assert_status(304)
        .assert_header("etag", "\"v1\"")
        .assert_header("cache-control", "no-cache");
    if !reply.text().is_empty() {
        reply.fail("expected no body with 304 Not Modified, got one");
    }
    if let Some(content_type) = reply.header("content-type") {
        reply.fail_with_diagnosis(
            &format!("expected no content-type with 304 Not Modified, got `{content_type}`"),
            "A 304 has no body, so it describes none: a content type says the handler \
             answered a body (hyper drops it on the way out, as HTTP requires, but keeps its \
             headers). Answer the status and the two headers only.",
        );
    }
}
// ANCHOR_END: not_modified

// ANCHOR: weak_comparison
#[tokio::test]
async fn if_none_match_compares_weakly_and_takes_lists_and_a_star() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let matching = [
        "W/\"v1\"",
        "\"v0\", \"v1\"",
        "\"v0\",W/\"v1\"",
        "\"v2\" , \"v1\" , \"v0\"",
        "*",
    ];
    for value in matching {
        let reply = server
            .get("/products/1")
            .header("if-none-match", value)
            .send()
            .await;
        if reply.status() != 304 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 304 Not Modified, got {}",
                    status_text(reply.status())
                ),
                "The product's ETag is \"v1\". If-None-Match is a comma-separated list, and \
                 matches if any tag in it does by the weak comparison: a `W/` prefix is \
                 ignored (W/\"v1\" matches \"v1\"). `*` matches any product that exists.",
            );
        }
    }

    let not_matching = ["\"v0\"", "\"V1\"", "\"v10\"", "\"v0\", W/\"v2\""];
    for value in not_matching {
        let reply = server
            .get("/products/1")
            .header("if-none-match", value)
            .send()
            .await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 200 OK, got {}",
                    status_text(reply.status())
                ),
                "The product's ETag is \"v1\", and no tag in this If-None-Match is the same: \
                 the quoted texts must be identical, character for character (\"v10\" is \
                 not \"v1\").",
            );
        }
        reply
            .assert_json(&red_mug())
            .assert_header("etag", "\"v1\"");
    }
}
// ANCHOR_END: weak_comparison

#[tokio::test]
async fn a_put_without_if_match_is_428_and_changes_nothing() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for id in [1, 99] {
        let reply = server
            .put(&format!("/products/{id}"))
            .json(&changes("Blue mug", 990, 3))
            .send()
            .await;
        assert_problem(
            &reply,
            428,
            "Every change must say which version it was made from: a PUT without If-Match \
             is refused with 428 Precondition Required (RFC 6585), for a product that \
             exists or not. Without it, the change could overwrite one it never saw.",
        );
        assert_unchanged(&shop, &reply, ("Red mug", 1250, 12, 1));
    }
}

// ANCHOR: put_matching
#[tokio::test]
async fn a_put_with_the_current_etag_changes_the_product_and_answers_its_new_etag() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let reply = server
        .put("/products/1")
        .header("if-match", "\"v1\"")
        .json(&changes("Blue mug", 990, 3))
        .send()
        .await;

    reply
        .assert_status(200)
        .assert_json(&json!({
            "id": 1, "sku": "MUG-RED", "name": "Blue mug", "price_cents": 990, "stock": 3
        }))
        .assert_header("etag", "\"v2\"");
    let stored = shop.stored();
    if stored != ("Blue mug".to_string(), 990, 3, 2) {
        reply.fail(&format!(
            "the database holds (name, price_cents, stock, version) = {stored:?}, expected \
             (\"Blue mug\", 990, 3, 2)"
        ));
    }
    let read = server.get("/products/1").send().await;
    read.assert_status(200).assert_header("etag", "\"v2\"");
    let old = server
        .get("/products/1")
        .header("if-none-match", "\"v1\"")
        .send()
        .await;
    old.assert_status(200).assert_header("etag", "\"v2\"");
}
// ANCHOR_END: put_matching

// ANCHOR: lost_update
#[tokio::test]
async fn of_two_clients_with_the_same_etag_the_second_gets_412_and_can_retry() {
    let shop = Shop::new();
    let server = shop.serve().await;

    // Alice and Bob both read the product at version 1.
    let alice_read = server.get("/products/1").send().await;
    let bob_read = server.get("/products/1").send().await;
    let alice_etag = alice_read
        .assert_status(200)
        .expect_header("etag")
        .to_string();
    let bob_etag = bob_read
        .assert_status(200)
        .expect_header("etag")
        .to_string();

    // Alice lowers the price; Bob, who has not seen her change, the stock.
    let alice = server
        .put("/products/1")
        .header("if-match", &alice_etag)
        .json(&changes("Red mug", 990, 12))
        .send()
        .await;
    alice.assert_status(200);
    let bob = server
        .put("/products/1")
        .header("if-match", &bob_etag)
        .json(&changes("Red mug", 1250, 4))
        .send()
        .await;
    assert_problem(
        &bob,
        412,
        "Bob's If-Match names version 1, and Alice has changed the product since: his \
         change would undo her new price without anyone noticing (a lost update). It is \
         refused with 412 Precondition Failed, and a problem details body.",
    );
    assert_unchanged(&shop, &bob, ("Red mug", 990, 12, 2));

    // Bob reads again, sees Alice's price, and makes his change on top of it.
    let bob_again = server.get("/products/1").send().await;
    bob_again.assert_status(200).assert_json(&json!({
        "id": 1, "sku": "MUG-RED", "name": "Red mug", "price_cents": 990, "stock": 12
    }));
    let new_etag = bob_again.expect_header("etag").to_string();
    let retry = server
        .put("/products/1")
        .header("if-match", &new_etag)
        .json(&changes("Red mug", 990, 4))
        .send()
        .await;
    retry.assert_status(200).assert_header("etag", "\"v3\"");
    assert_unchanged(&shop, &retry, ("Red mug", 990, 4, 3));
}
// ANCHOR_END: lost_update

#[tokio::test]
async fn a_stale_weak_or_foreign_if_match_is_412_and_changes_nothing() {
    let shop = Shop::new();
    shop.set_version(2);
    let server = shop.serve().await;

    for value in [
        "\"v1\"",
        "W/\"v2\"",
        "\"v20\"",
        "\"V2\"",
        "\"v0\", W/\"v2\"",
        "v2",
    ] {
        let reply = server
            .put("/products/1")
            .header("if-match", value)
            .json(&changes("Blue mug", 990, 3))
            .send()
            .await;
        assert_problem(
            &reply,
            412,
            "The product's ETag is \"v2\", and no tag of this If-Match is strongly the \
             same: If-Match uses the strong comparison, so a weak tag (W/\"v2\") never \
             matches, and the quoted texts must be identical. Refuse with 412 Precondition \
             Failed and a problem details body.",
        );
        assert_unchanged(&shop, &reply, ("Red mug", 1250, 12, 2));
    }
}

#[tokio::test]
async fn if_match_with_a_star_or_a_list_holding_the_current_etag_changes_the_product() {
    let shop = Shop::new();
    let server = shop.serve().await;

    let cases = [
        ("*", "\"v2\"", 2),
        ("\"v0\", \"v2\"", "\"v3\"", 3),
        ("\"v3\",\"v9\"", "\"v4\"", 4),
    ];
    for (if_match, new_etag, version) in cases {
        let name = format!("Mug, version {version}");
        let reply = server
            .put("/products/1")
            .header("if-match", if_match)
            .json(&changes(&name, 1250, 12))
            .send()
            .await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected status 200 OK, got {}",
                    status_text(reply.status())
                ),
                &format!(
                    "The product's ETag is \"v{}\". If-Match is `*` (any current version) or \
                     a comma-separated list of tags, and matches if any one of them does.",
                    version - 1
                ),
            );
        }
        reply.assert_header("etag", new_etag);
        assert_unchanged(&shop, &reply, (&name, 1250, 12, version));
    }
}

#[tokio::test]
async fn an_unknown_product_with_if_match_is_404_not_412() {
    let shop = Shop::new();
    let server = shop.serve().await;

    for if_match in ["\"v1\"", "*"] {
        let reply = server
            .put("/products/99")
            .header("if-match", if_match)
            .json(&changes("Blue mug", 990, 3))
            .send()
            .await;
        assert_problem(
            &reply,
            404,
            "There is no product 99: that is 404 Not Found, not 412. A 412 tells the client \
             to read the product again, and there is nothing to read. A PUT never creates a \
             product here.",
        );
    }
    let db = Connection::open(&shop.path).expect("the test could not open its database");
    let count: i64 = db
        .query_row("SELECT count(*) FROM products", [], |row| row.get(0))
        .expect("the test could not count the products");
    assert!(
        count == 1,
        "\nthe database holds {count} products after PUTs to an unknown product, expected \
         1\nA PUT with If-Match never creates a product.\n"
    );
}

#[tokio::test]
async fn every_put_makes_a_new_etag_even_with_the_same_body_within_a_second() {
    let shop = Shop::new();
    let server = shop.serve().await;

    // Five changes in a row, in well under a second, all with the same body.
    let mut etags = vec!["\"v1\"".to_string()];
    for step in 2..=6 {
        let previous = etags.last().cloned().unwrap_or_default();
        let reply = server
            .put("/products/1")
            .header("if-match", &previous)
            .json(&changes("Red mug", 1250, 12))
            .send()
            .await;
        reply.assert_status(200);
        let etag = reply.expect_header("etag").to_string();
        if etags.contains(&etag) {
            reply.fail_with_diagnosis(
                &format!("the ETag {etag} came back again after change {}", step - 1),
                &format!(
                    "ETags so far: {etags:?}. Every change makes a new version, and a new \
                     version a new ETag, also when the change sends the values already \
                     stored and when it comes within the same second as the one before \
                     (an ETag made from a time in seconds, or from the content, repeats)."
                ),
            );
        }
        reply.assert_header("etag", &format!("\"v{step}\""));
        etags.push(etag);
    }
    let stale = server
        .put("/products/1")
        .header("if-match", "\"v5\"")
        .json(&changes("Red mug", 1250, 12))
        .send()
        .await;
    assert_problem(
        &stale,
        412,
        "The product is at version 6: an If-Match with the ETag of version 5 is stale.",
    );
}

/// How many PUTs race in the race test.
const WRITERS: usize = 8;

/// The test's hold on the app's connections: while it is closed, an app
/// connection that has to wait for the write lock reports it and waits
/// here; once it opens, connections wait for the lock as usual.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    /// Waits until the gate opens (20 seconds at most, so that a broken
    /// test never hangs).
    fn wait(&self) {
        let open = self.open.lock().unwrap_or_else(|error| error.into_inner());
        let _ = self
            .opened
            .wait_timeout_while(open, Duration::from_secs(20), |open| !*open);
    }

    fn is_open(&self) -> bool {
        *self.open.lock().unwrap_or_else(|error| error.into_inner())
    }

    fn open(&self) {
        *self.open.lock().unwrap_or_else(|error| error.into_inner()) = true;
        self.opened.notify_all();
    }
}

/// A busy handler for an app connection: SQLite calls it when the
/// connection must wait for a lock another connection holds. While the
/// gate is closed, it reports each new wait and holds the connection at
/// the gate; afterwards it retries every millisecond, for 10 seconds at
/// most, like a busy timeout.
fn staged_busy_handler(
    gate: Arc<Gate>,
    waiting: mpsc::UnboundedSender<()>,
) -> impl FnMut(i32) -> bool + Send + 'static {
    move |attempts| {
        if attempts == 0 && !gate.is_open() {
            let _ = waiting.send(());
            gate.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
        attempts < 10_000
    }
}

// ANCHOR: race
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_eight_concurrent_puts_with_the_same_etag_exactly_one_wins() {
    let shop = Shop::new();
    let gate = Arc::new(Gate::default());
    let (waiting_sender, mut waiting) = mpsc::unbounded_channel();
    let staged = Arc::clone(&gate);
    let db = Db::open_with(&shop.path, move |connection| {
        let handler = staged_busy_handler(Arc::clone(&staged), waiting_sender.clone());
        connection.busy_handler(Some(handler))
    });
    let server = TestServer::spawn(app(db)).await;

    // The test's connection takes the write lock: no PUT can write yet.
    let holder = Connection::open(&shop.path).expect("the test could not open its database");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("the test could not take the write lock");
    let mut puts = JoinSet::new();
    for writer in 0..WRITERS {
        let body = changes(&format!("Mug of writer {writer}"), 1000 + writer as i64, 5);
        let put = server
            .put("/products/1")
            .header("if-match", "\"v1\"")
            .json(&body);
        let sent = put.send();
        puts.spawn(async move { (writer, sent.await) });
    }

    // Wait until every PUT waits for the lock.
    let mut arrived = 0;
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    while arrived < WRITERS {
        tokio::select! {
            Some(()) = waiting.recv() => arrived += 1,
            Some(done) = puts.join_next() => {
                holder.execute_batch("COMMIT").expect("the test could not let go of the lock");
                gate.open();
                let (_, reply) = done.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
                reply.fail_with_diagnosis(
                    "a PUT answered while another connection held the database's write lock",
                    "The test's own connection held the write lock, so no PUT could write \
                     yet: a PUT that answers anyway did not write (or failed: SQLite answers \
                     `database is locked` at once to a transaction that has read and then \
                     wants to write). Change the product with one UPDATE statement that \
                     checks the version itself.",
                );
            }
            () = &mut deadline => {
                holder.execute_batch("COMMIT").expect("the test could not let go of the lock");
                gate.open();
                panic!(
                    "\nonly {arrived} of {WRITERS} concurrent PUTs reached the database's write \
                     lock within 10 seconds\nEach PUT with If-Match \"v1\" should try to change \
                     the product while the test's connection holds the lock, and wait for it.\n"
                );
            }
        }
    }
    // Every PUT now waits to write. Let them go, one after the other.
    holder
        .execute_batch("COMMIT")
        .expect("the test could not let go of the lock");
    gate.open();

    let mut winners = Vec::new();
    let mut losers = Vec::new();
    while let Some(done) = puts.join_next().await {
        let (writer, reply) =
            done.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        match reply.status() {
            200 => winners.push(writer),
            412 => losers.push(reply),
            _ => {
                reply.fail_with_diagnosis(
                    &format!(
                        "expected 200 OK or 412 Precondition Failed, got {}",
                        status_text(reply.status())
                    ),
                    "This was one of eight PUTs sent at once, all with If-Match \"v1\".",
                );
            }
        }
    }
    let (name, price_cents, _, version) = shop.stored();
    assert!(
        winners.len() == 1,
        "\n{} of {WRITERS} concurrent PUTs with If-Match \"v1\" answered 200 OK, expected \
         exactly 1\n  writers answered 200: {winners:?}\n  the product is now at version \
         {version}, named {name:?}\nAll of them read version 1 before any of them wrote. A \
         PUT that compares the version and then writes in a second statement lets every \
         writer pass the check: each change overwrites the one before, and all but the last \
         are lost. The version check must be part of the UPDATE itself \
         (`... WHERE id = ? AND version = ?`), and 0 rows changed means 412.\n",
        winners.len(),
    );
    let winner = winners[0];
    assert!(
        version == 2
            && name == format!("Mug of writer {winner}")
            && price_cents == 1000 + winner as i64,
        "\nthe product is at version {version}, named {name:?}, expected version 2 with the \
         winning writer's change (\"Mug of writer {winner}\")\nOnly the one PUT that answered \
         200 OK may change the product, and only once.\n"
    );
    for loser in &losers {
        assert_problem(
            loser,
            412,
            "A PUT that lost the race answers 412 with problem details.",
        );
    }

    // A loser reads the product again, and its change then succeeds.
    let again = server.get("/products/1").send().await;
    again.assert_status(200).assert_header("etag", "\"v2\"");
    let retry = server
        .put("/products/1")
        .header("if-match", "\"v2\"")
        .json(&changes("Mug after the race", 999, 1))
        .send()
        .await;
    retry.assert_status(200).assert_header("etag", "\"v3\"");
}
// ANCHOR_END: race
