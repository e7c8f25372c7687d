//! Tests for server/extractors: a real server on 127.0.0.1, asked with a real client.

use server_extractors::app;
use testkit::TestServer;

#[tokio::test]
async fn greet_says_hello_to_the_name_in_the_path() {
    let server = TestServer::spawn(app()).await;

    for name in ["Ada", "Grace"] {
        let reply = server.get(&format!("/greet/{name}")).send().await;

        reply
            .assert_status(200)
            .assert_text(&format!("Hello, {name}!"));
    }
}

#[tokio::test]
async fn greet_decodes_a_percent_encoded_name() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/greet/Ada%20Lovelace").send().await;

    reply.assert_status(200).assert_text("Hello, Ada Lovelace!");
}

#[tokio::test]
async fn greet_speaks_the_language_of_the_lang_query_parameter() {
    let server = TestServer::spawn(app()).await;

    for (lang, expected) in [
        ("en", "Hello, Ada!"),
        ("fr", "Bonjour, Ada!"),
        ("es", "Hola, Ada!"),
    ] {
        let reply = server.get(&format!("/greet/Ada?lang={lang}")).send().await;

        reply.assert_status(200).assert_text(expected);
    }
}

#[tokio::test]
async fn greet_ignores_query_parameters_it_does_not_know() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/greet/Ada?ref=mail&lang=fr").send().await;

    reply.assert_status(200).assert_text("Bonjour, Ada!");
}

#[tokio::test]
async fn greet_answers_400_for_an_unsupported_lang() {
    let server = TestServer::spawn(app()).await;

    for lang in ["de", "xx"] {
        let reply = server.get(&format!("/greet/Ada?lang={lang}")).send().await;

        reply.assert_status(400);
    }
}

// ANCHOR: header
#[tokio::test]
async fn greet_shouts_when_the_x_shout_header_is_true() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .get("/greet/Ada")
        .header("x-shout", "true")
        .send()
        .await;

    reply.assert_status(200).assert_text("HELLO, ADA!");
}
// ANCHOR_END: header

#[tokio::test]
async fn greet_shouts_in_the_language_asked_for() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .get("/greet/Ada?lang=fr")
        .header("x-shout", "true")
        .send()
        .await;

    reply.assert_status(200).assert_text("BONJOUR, ADA!");
}

#[tokio::test]
async fn greet_does_not_shout_when_the_x_shout_header_is_false() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .get("/greet/Ada")
        .header("x-shout", "false")
        .send()
        .await;

    reply.assert_status(200).assert_text("Hello, Ada!");
}

#[tokio::test]
async fn greet_answers_400_for_an_x_shout_header_that_is_not_true_or_false() {
    let server = TestServer::spawn(app()).await;

    for value in ["yes", "1"] {
        let reply = server
            .get("/greet/Ada")
            .header("x-shout", value)
            .send()
            .await;

        reply.assert_status(400);
    }
}

#[tokio::test]
async fn add_answers_the_sum_of_the_two_numbers_in_the_path() {
    let server = TestServer::spawn(app()).await;

    for (path, expected) in [("/add/2/3", "5"), ("/add/-4/10", "6"), ("/add/0/0", "0")] {
        let reply = server.get(path).send().await;

        reply.assert_status(200).assert_text(expected);
    }
}

// ANCHOR: not_a_number
#[tokio::test]
async fn add_answers_400_when_a_number_is_not_a_whole_number() {
    let server = TestServer::spawn(app()).await;

    for path in ["/add/two/3", "/add/2/3.5", "/add/2/abc"] {
        let reply = server.get(path).send().await;

        reply.assert_status(400);
    }
}
// ANCHOR_END: not_a_number

#[tokio::test]
async fn add_answers_400_for_a_number_too_large_for_an_i64() {
    let server = TestServer::spawn(app()).await;

    let reply = server.get("/add/9223372036854775808/1").send().await;

    reply.assert_status(400);
}

#[tokio::test]
async fn add_answers_400_when_the_sum_does_not_fit_in_an_i64() {
    let server = TestServer::spawn(app()).await;

    for path in ["/add/9223372036854775807/1", "/add/-9223372036854775808/-1"] {
        let reply = server.get(path).send().await;

        reply.assert_status(400);
    }
}
