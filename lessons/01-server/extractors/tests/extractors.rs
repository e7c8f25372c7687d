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
async fn greet_shouts_letters_outside_ascii_too() {
    let server = TestServer::spawn(app()).await;

    let reply = server
        .get("/greet/Zo%C3%AB%20%C3%85berg")
        .header("x-shout", "true")
        .send()
        .await;

    if reply.status() != 200 || reply.text() != "HELLO, ZOË ÅBERG!" {
        reply.fail_with_diagnosis(
            "expected 200 OK with \"HELLO, ZOË ÅBERG!\": the whole greeting in capitals",
            "The name is Zoë Åberg (percent-encoded in the path). Capitals are for every \
             letter, not only the ASCII ones: `to_ascii_uppercase` leaves ë and Å as they are.",
        );
    }
}

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
async fn greet_answers_400_for_an_x_shout_header_that_is_not_ascii_text() {
    let server = TestServer::spawn(app()).await;

    // "sí" in UTF-8: a header value may carry bytes outside ASCII, which
    // `HeaderValue::to_str` refuses.
    let reply = server
        .get("/greet/Ada")
        .header("x-shout", "sí")
        .send()
        .await;

    if reply.status() != 400 {
        reply.fail_with_diagnosis(
            &format!(
                "expected status 400 Bad Request, got {}",
                testkit::status_text(reply.status())
            ),
            "`x-shout: sí` is neither `true` nor `false`, so it is refused like any other \
             value. `HeaderValue::to_str` fails on bytes outside ASCII: that failure is a \
             refusal too, not a header to ignore.",
        );
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

#[tokio::test]
async fn add_takes_every_i64_and_answers_the_exact_sum() {
    let server = TestServer::spawn(app()).await;

    // Sums an `i32` cannot hold, sums an `f64` cannot hold exactly (above
    // 2^53), and the two largest sums an `i64` holds.
    for (path, expected) in [
        ("/add/3000000000/4000000000", "7000000000"),
        ("/add/-3000000000/1", "-2999999999"),
        ("/add/9007199254740993/1", "9007199254740994"),
        ("/add/9223372036854775806/1", "9223372036854775807"),
        ("/add/-9223372036854775807/-1", "-9223372036854775808"),
    ] {
        let reply = server.get(path).send().await;

        if reply.status() != 200 || reply.text() != expected {
            reply.fail_with_diagnosis(
                &format!("expected 200 OK with the sum {expected}"),
                "Both numbers and the sum fit in an `i64`, and the answer must be exact. Are \
                 the numbers read as `i64` (not `i32`), and added as integers (not as `f64`, \
                 which rounds numbers above 2^53)?",
            );
        }
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
