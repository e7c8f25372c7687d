//! Tests for server/routing: a real server on 127.0.0.1, asked with a real client.

use server_routing::app;
use testkit::{Reply, TestServer, json};

#[tokio::test]
async fn get_books_lists_the_books() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/books").send().await;

    reply.assert_status(200).assert_text("Here are the books.");
}

#[tokio::test]
async fn post_books_answers_201_created() {
    let server = TestServer::spawn(app()).await;

    let reply = server.post("/books").send().await;

    reply.assert_status(201).assert_text("Book added.");
}

#[tokio::test]
async fn get_authors_lists_the_authors() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/authors").send().await;

    reply
        .assert_status(200)
        .assert_text("Here are the authors.");
}

// ANCHOR: not_found
#[tokio::test]
async fn unknown_path_answers_404_with_a_json_body() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/nope").send().await;

    reply
        .assert_status(404)
        .assert_content_type("application/json")
        .assert_json(&json!({ "error": "not found", "path": "/nope" }));
}
// ANCHOR_END: not_found

#[tokio::test]
async fn the_404_body_names_the_path_without_the_query_string() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/no/such/page?sort=title").send().await;

    reply
        .assert_status(404)
        .assert_json(&json!({ "error": "not found", "path": "/no/such/page" }));
}

#[tokio::test]
async fn paths_match_exactly_so_a_trailing_slash_is_not_found() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/books/").send().await;

    reply
        .assert_status(404)
        .assert_json(&json!({ "error": "not found", "path": "/books/" }));
}

// ANCHOR: method_not_allowed
#[tokio::test]
async fn a_wrong_method_on_books_answers_405_allowing_get_and_post() {
    let server = TestServer::spawn(app()).await;

    let reply = server.delete("/books").send().await;

    reply.assert_status(405);
    assert_allows(&reply, &["GET", "POST"], &["DELETE"]);
}
// ANCHOR_END: method_not_allowed

#[tokio::test]
async fn a_wrong_method_on_authors_answers_405_allowing_only_get() {
    let server = TestServer::spawn(app()).await;

    let reply = server.post("/authors").send().await;

    reply.assert_status(405);
    assert_allows(&reply, &["GET"], &["POST", "PUT", "PATCH", "DELETE"]);
}

#[tokio::test]
async fn put_on_books_is_also_a_wrong_method() {
    let server = TestServer::spawn(app()).await;

    let reply = server.put("/books").send().await;

    reply.assert_status(405);
    assert_allows(&reply, &["GET", "POST"], &["PUT"]);
}

/// Fails unless the `Allow` header lists every method of `allowed` and none
/// of `refused`. `Allow` is a comma-separated list (`GET,HEAD,POST` or
/// `GET, POST`): order, spaces and letter case do not matter.
#[track_caller]
fn assert_allows(reply: &Reply, allowed: &[&str], refused: &[&str]) {
    let header = reply.expect_header("allow");
    let listed: Vec<String> = header
        .split(',')
        .map(|method| method.trim().to_ascii_uppercase())
        .collect();
    for method in allowed {
        if !listed.iter().any(|listed| listed == method) {
            reply.fail(&format!(
                "expected the `allow` header to list {method}, got `allow: {header}`"
            ));
        }
    }
    for method in refused {
        if listed.iter().any(|listed| listed == method) {
            reply.fail(&format!(
                "expected the `allow` header not to list {method} (the path does not support it), got `allow: {header}`"
            ));
        }
    }
}
