//! Tests for server/hello: a real server on 127.0.0.1, asked with a real client.

use server_hello::app;
use testkit::TestServer;

// ANCHOR: status
#[tokio::test]
async fn get_root_answers_200_ok() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/").send().await;

    reply.assert_status(200);
}
// ANCHOR_END: status

#[tokio::test]
async fn get_root_says_hello_world() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/").send().await;

    reply.assert_status(200).assert_text("Hello, world!");
}

#[tokio::test]
async fn get_root_answers_in_plain_text() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/").send().await;

    reply.assert_status(200).assert_content_type("text/plain");
}
