//! Tests for server/json: a real server on 127.0.0.1, asked with a real client.

use server_json::app;
use testkit::{Reply, TestServer, json};

// ANCHOR: created
#[tokio::test]
async fn post_users_answers_201_created_with_the_user_as_json() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .json(&json!({ "username": "ada", "name": "Ada Lovelace" }))
        .send()
        .await;

    reply
        .assert_status(201)
        .assert_content_type("application/json")
        .assert_json(&json!({
            "username": "ada",
            "name": "Ada Lovelace",
            "url": "/users/ada",
        }));
}
// ANCHOR_END: created

#[tokio::test]
async fn post_users_points_the_location_header_at_the_new_user() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .json(&json!({ "username": "grace", "name": "Grace Hopper" }))
        .send()
        .await;

    reply
        .assert_status(201)
        .assert_header("location", "/users/grace")
        .assert_json(&json!({
            "username": "grace",
            "name": "Grace Hopper",
            "url": "/users/grace",
        }));
}

#[tokio::test]
async fn a_json_content_type_with_a_charset_is_accepted() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"username": "ada", "name": "Ada Lovelace"}"#)
        .send()
        .await;

    reply
        .assert_status(201)
        .assert_header("location", "/users/ada");
}

#[tokio::test]
async fn fields_other_than_username_and_name_are_ignored() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .json(&json!({
            "username": "ada",
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "admin": true,
        }))
        .send()
        .await;

    if reply.status() != 201 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 201 Created, got {}",
                testkit::status_text(reply.status())
            ),
            "The body has both required fields; the others (`email`, `admin`) are to be \
             ignored, not refused. Does `NewUser` deny unknown fields?",
        );
    }
    reply
        .assert_header("location", "/users/ada")
        .assert_json(&json!({
            "username": "ada",
            "name": "Ada Lovelace",
            "url": "/users/ada",
        }));
}

#[tokio::test]
async fn a_body_sent_as_text_plain_answers_415_with_a_json_error() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .header("content-type", "text/plain")
        .body(r#"{"username": "ada", "name": "Ada Lovelace"}"#)
        .send()
        .await;

    assert_json_error(&reply, 415, "unsupported media type");
}

#[tokio::test]
async fn a_body_without_a_content_type_answers_415_with_a_json_error() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .body(r#"{"username": "ada", "name": "Ada Lovelace"}"#)
        .send()
        .await;

    assert_json_error(&reply, 415, "unsupported media type");
}

#[tokio::test]
async fn malformed_json_answers_400_with_a_json_error() {
    let server = TestServer::spawn(app()).await;

    for body in [r#"{"username": "ada","#, "", "username=ada&name=Ada"] {
        let reply = server
            .post("/users")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;

        assert_json_error(&reply, 400, "malformed json");
    }
}

// ANCHOR: missing_field
#[tokio::test]
async fn a_missing_field_answers_422_naming_the_field() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .json(&json!({ "name": "Ada Lovelace" }))
        .send()
        .await;

    let detail = assert_json_error(&reply, 422, "invalid fields");
    assert_detail_names(&reply, &detail, "username");
}
// ANCHOR_END: missing_field

#[tokio::test]
async fn a_missing_name_answers_422_naming_the_field() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .json(&json!({ "username": "ada" }))
        .send()
        .await;

    let detail = assert_json_error(&reply, 422, "invalid fields");
    assert_detail_names(&reply, &detail, "name");
}

#[tokio::test]
async fn a_field_of_the_wrong_type_answers_422_naming_the_field() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .post("/users")
        .json(&json!({ "username": 7, "name": "Ada Lovelace" }))
        .send()
        .await;

    let detail = assert_json_error(&reply, 422, "invalid fields");
    assert_detail_names(&reply, &detail, "username");
}

#[tokio::test]
async fn json_that_is_not_an_object_answers_422() {
    let server = TestServer::spawn(app()).await;

    for body in [json!("ada"), json!(null), json!(42)] {
        let reply = server.post("/users").json(&body).send().await;

        assert_json_error(&reply, 422, "invalid fields");
    }
}

/// Fails unless `reply` is an error in the documented shape: the `status`,
/// `content-type: application/json`, and a body
/// `{"error": <error>, "detail": <a non-empty string>}`. Returns the detail.
#[track_caller]
fn assert_json_error(reply: &Reply, status: u16, error: &str) -> String {
    reply
        .assert_status(status)
        .assert_content_type("application/json");
    let body = reply.json();
    if body["error"] != error {
        reply.fail(&format!(
            "expected the JSON body's `error` to be {error:?}, got {}",
            body["error"]
        ));
    }
    match body["detail"].as_str() {
        Some(detail) if !detail.trim().is_empty() => detail.to_string(),
        _ => reply.fail(&format!(
            "expected the JSON body's `detail` to be a non-empty string, got {}",
            body["detail"]
        )),
    }
}

/// Fails unless the error's `detail` mentions `field` as a word of its own
/// (`name` inside `username` does not count), so the client knows which
/// field to fix.
#[track_caller]
fn assert_detail_names(reply: &Reply, detail: &str, field: &str) {
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    let names_it = detail.match_indices(field).any(|(at, _)| {
        let before = detail[..at].chars().next_back();
        let after = detail[at + field.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    });
    if !names_it {
        reply.fail(&format!(
            "expected the JSON body's `detail` to name the field `{field}`, got {detail:?}"
        ));
    }
}
