//! Lesson 01: what axum, and the lesson's listings and reference solutions,
//! really answer.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use book_listings::server;
use serde_json::Value;
use tower::ServiceExt;

use crate::book::Page;
use crate::compiler;
use crate::http::{self, Request, Response};
use crate::logs;

/// The headers the book's transcripts leave out: they change with every
/// response (`date`) or say nothing the text is about (`content-length`).
const UNSHOWN: [&str; 2] = ["date", "content-length"];

#[tokio::test]
async fn hello_shows_the_response_to_get_root() {
    let address = http::serve(server_hello::app()).await;
    let response = http::send(address, &Request::get("/")).await;
    Page::open("server/hello.md").assert_block(
        "the answer to `GET /` (the reference solution of server/hello)",
        &response.shown(&["date"]),
    );
}

#[tokio::test]
async fn routing_shows_a_405_with_its_allow_header_beside_a_404() {
    let address = http::serve(server::routing::blog_app()).await;
    let wrong_method = Request::new("DELETE", "/posts");
    let unknown_path = Request::get("/pots");
    let left = exchange(address, &wrong_method).await;
    let right = exchange(address, &unknown_path).await;
    Page::open("server/routing.md").assert_block(
        "`DELETE /posts` and `GET /pots` (the listing's `blog_app`)",
        &beside(&left, &right, 36),
    );
}

#[tokio::test]
async fn extractors_shows_what_path_answers_for_a_number_and_for_text() {
    let address = http::serve(server::extractors::app()).await;
    let mut lines = String::new();
    for target in ["/users/42", "/users/abc", "/users/-1"] {
        let response = http::send(address, &Request::get(target)).await;
        let request = format!("GET {target}");
        lines.push_str(&format!(
            "{request:<16}→  {:<17}{}\n",
            response.status_text(),
            response.body
        ));
    }
    Page::open("server/extractors.md").assert_block(
        "`GET /users/{id}` with a number and with text (the listing's `show_user`)",
        &lines,
    );
}

#[tokio::test]
async fn extractors_quotes_the_rejection_of_an_unknown_enum_value() {
    let address = http::serve(server::extractors::app()).await;
    let response = http::send(address, &Request::get("/posts?order=random")).await;
    assert!(
        response.status() == 400,
        "the book says `?order=random` is a `400`; it got {response:#?}"
    );
    Page::open("server/extractors.md").assert_quote(
        "the body of `GET /posts?order=random` (the listing's `list_posts`)",
        &response.body,
    );
}

#[tokio::test]
async fn json_shows_a_created_user_with_its_location() {
    let address = http::serve(server_json::app()).await;
    let request = Request::new("POST", "/users")
        .header("content-type", "application/json")
        .body(r#"{"username": "ada", "name": "Ada Lovelace"}"#);
    Page::open("server/json.md").assert_block(
        "`POST /users` (the reference solution of server/json)",
        &exchange(address, &request).await,
    );
}

/// The `POST /users` of server/json, taking a plain `Json`: axum answers
/// every bad body itself.
fn plain_json_app() -> Router {
    async fn create_user(Json(_user): Json<server_json::NewUser>) -> StatusCode {
        StatusCode::CREATED
    }
    Router::new().route("/users", post(create_user))
}

#[tokio::test]
async fn json_shows_axums_own_plain_text_rejection() {
    let address = http::serve(plain_json_app()).await;
    let request = Request::new("POST", "/users")
        .header("content-type", "application/json")
        .body(r#"{"name": "Ada"}"#);
    Page::open("server/json.md").assert_block(
        "a body without `username`, refused by axum's `Json`",
        &exchange(address, &request).await,
    );
}

#[tokio::test]
async fn json_names_the_status_and_the_rejection_of_each_bad_body() {
    /// Answers a bad body with the rejection's status and its name.
    async fn rejection_name(
        body: Result<Json<server_json::NewUser>, JsonRejection>,
    ) -> (StatusCode, String) {
        match body {
            Ok(_) => (StatusCode::OK, "no rejection".to_string()),
            Err(rejection) => {
                let name = format!("{rejection:?}");
                let name = name.split('(').next().unwrap_or_default().to_string();
                (rejection.status(), name)
            }
        }
    }
    let app = Router::new().route("/users", post(rejection_name));
    let address = http::serve(app).await;
    let page = Page::open("server/json.md");
    let user = r#"{"username": "ada", "name": "Ada Lovelace"}"#;
    let bad_bodies = [
        (
            "a body without a content type",
            Request::new("POST", "/users").body(user),
        ),
        (
            "a body cut short",
            Request::new("POST", "/users")
                .header("content-type", "application/json")
                .body(r#"{"a": 1,"#),
        ),
        (
            "a body of the wrong shape",
            Request::new("POST", "/users")
                .header("content-type", "application/json")
                .body(r#"{"name": "Ada"}"#),
        ),
    ];
    for (what, request) in bad_bodies {
        let response = http::send(address, &request).await;
        page.assert_fragment(
            &format!("axum's status and rejection for {what}"),
            &format!("| `{}` | `{}` |", response.status_text(), response.body),
        );
    }
    // An empty body is a syntax error too, as the table says.
    let empty = Request::new("POST", "/users").header("content-type", "application/json");
    let response = http::send(address, &empty).await;
    assert!(
        (response.status(), response.body.as_str()) == (400, "JsonSyntaxError"),
        "the book's table says an empty body is a `400` `JsonSyntaxError`; it is a `{}` `{}`",
        response.status_text(),
        response.body
    );
    // Over the 2 MB that `DefaultBodyLimit` allows. (Sent without a socket:
    // the server answers before it has read such a body, and closes.)
    let too_long = format!(
        r#"{{"username": "{}", "name": "Ada"}}"#,
        "a".repeat(2 << 20)
    );
    let large = axum::http::Request::post("/users")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(too_long))
        .expect("the request is well formed");
    let response = Router::new()
        .route("/users", post(rejection_name))
        .oneshot(large)
        .await
        .expect("a router never fails");
    page.assert_fragment(
        "the status of a body over axum's default limit",
        &format!("2 MB, which is a `{}`", response.status().as_u16()),
    );
}

#[test]
fn middleware_shows_the_fields_of_an_event_as_fmt_prints_them() {
    let log = logs::capture();
    server::middleware::log_an_order("Ada Lovelace", &["tea", "milk"], StatusCode::CREATED, 1999);
    // `2026-11-30T08:48:48.123Z  INFO book_listings::server::middleware: order paid ...`
    let message = logs::line(&log, "order paid");
    let shown = message
        .split_once(": ")
        .map_or(message.as_str(), |(_, shown)| shown);
    Page::open("server/middleware.md").assert_block(
        &format!("the event of the listing's `log_an_order`, as `fmt` prints it ({message})"),
        shown,
    );
}

#[tokio::test]
async fn errors_quotes_the_database_error_a_broken_schema_gives() {
    let log = logs::capture();
    // A `notes` table with the wrong columns, as after a botched migration.
    let db = rusqlite::Connection::open_in_memory().expect("an in-memory database opens");
    db.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .expect("the broken table is made");
    let address = http::serve(server_errors::app(db)).await;
    let response = http::send(address, &Request::get("/notes/1")).await;
    assert!(
        response.status() == 500,
        "a broken `notes` table should give a `500` whose cause is logged; it got {response:#?}"
    );
    let cause = logs::field(&log, "database error", "cause");
    Page::open("server/errors.md").assert_block(
        "the database error behind `GET /notes/1` on a broken `notes` table (as the \
         reference solution of server/errors logs it)",
        &cause,
    );
}

#[tokio::test]
async fn errors_quotes_a_rejection_message_that_names_the_missing_field() {
    let address = http::serve(server::errors::signup_app()).await;
    let request = Request::new("POST", "/signups")
        .header("content-type", "application/json")
        .body("{}");
    let response = http::send(address, &request).await;
    let body: Value = serde_json::from_str(&response.body).expect("the listing answers JSON");
    let message = body["message"].as_str().unwrap_or_default();
    // "Failed to deserialize ...: missing field `email` at line 1 column 2"
    let reason = message
        .split(": ")
        .nth(1)
        .and_then(|reason| reason.split(" at line").next())
        .unwrap_or(message);
    Page::open("server/errors.md").assert_quote(
        &format!("the rejection of `{{}}` by the listing's `sign_up` ({message})"),
        reason,
    );
}

#[tokio::test]
async fn config_shows_the_error_for_an_unknown_log_level() {
    let error = server_config_solution::Config::from_lookup(|variable| {
        (variable == "APP_LOG_LEVEL").then(|| "verbose".to_string())
    })
    .expect_err("`verbose` is no log level");
    let page = Page::open("server/config.md");
    page.assert_block(
        "a start with `APP_LOG_LEVEL=verbose` (the reference solution of server/config, \
         printed as the listing's `main` prints an error)",
        &format!("$ APP_LOG_LEVEL=verbose ./server\nerror: {error}\n"),
    );
    let error = server_config_solution::Config::from_lookup(|variable| {
        (variable == "APP_DATABASE_PATH").then(String::new)
    })
    .expect_err("an empty path is refused");
    let error = error.to_string();
    let quoted = error
        .split_inclusive(" is not valid")
        .next()
        .unwrap_or_default();
    page.assert_quote(
        &format!("the error for `APP_DATABASE_PATH=` ({error})"),
        quoted,
    );
}

#[tokio::test]
async fn health_shows_liveness_beside_a_failing_readiness() {
    let folder = tempfile::tempdir().expect("a temporary folder is made");
    let missing = folder.path().join("app.db");
    let address = http::serve(server_health::app(missing)).await;
    let live = exchange(address, &Request::get("/health/live")).await;
    let ready = exchange(address, &Request::get("/health/ready")).await;
    Page::open("server/health.md").assert_block(
        "`GET /health/live` and `GET /health/ready` with the database missing (the \
         reference solution of server/health)",
        &beside(&live, &ready, 34),
    );
}

#[tokio::test]
async fn health_quotes_sqlites_error_for_a_file_that_is_not_a_database() {
    let folder = tempfile::tempdir().expect("a temporary folder is made");
    let path = folder.path().join("app.db");
    std::fs::write(&path, "this is not a database\n").expect("the text file is written");
    let db = rusqlite::Connection::open(&path).expect("SQLite opens lazily, so this succeeds");
    let error = db
        .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .expect_err("a text file is no database");
    Page::open("server/health.md").assert_quote(
        "SQLite's error for a query on a text file",
        &error.to_string(),
    );
}

/// `request`, a blank line, and the response to it, as the book shows an
/// exchange: without the headers in [`UNSHOWN`].
async fn exchange(address: std::net::SocketAddr, request: &Request) -> String {
    let response: Response = http::send(address, request).await;
    format!("{}\n{}", request.shown(), response.shown(&UNSHOWN))
}

/// Two transcripts side by side, the left one padded to `width` columns.
fn beside(left: &str, right: &str, width: usize) -> String {
    let left: Vec<&str> = left.lines().collect();
    let right: Vec<&str> = right.lines().collect();
    (0..left.len().max(right.len()))
        .map(|index| {
            let left = left.get(index).copied().unwrap_or_default();
            let right = right.get(index).copied().unwrap_or_default();
            let line = if right.is_empty() {
                left.to_string()
            } else {
                format!("{left:<width$}{right}")
            };
            format!("{}\n", line.trim_end())
        })
        .collect()
}

/// The handler of `failing/server/lock_across_await.rs`, which holds a
/// `std::sync::MutexGuard` across an `.await`, as the book shows it.
const LOCK_ACROSS_AWAIT: &str = include_str!("../../failing/server/lock_across_await.rs");

#[test]
fn state_quotes_the_compiler_error_for_a_lock_held_across_an_await() {
    // The handler without `#[debug_handler]`: axum's own error.
    let source = LOCK_ACROSS_AWAIT.replace("#[axum::debug_handler]\n", "");
    let source = source.as_str();
    let errors = compiler::errors_of(source);
    // error[E0277]: the trait bound `fn(State<...>) -> ... {like}: Handler<_, _>` is not satisfied
    let first = errors.lines().next().unwrap_or_default();
    let message = first
        .split_once("]: ")
        .map_or(first, |(_, message)| message);
    let shortened = match (message.find("`fn("), message.find(" {like}")) {
        (Some(start), Some(end)) => format!("{}...){}", &message[..start + 4], &message[end..]),
        _ => message.to_string(),
    };
    let page = Page::open("server/state.md");
    page.assert_quote(
        &format!("rustc's error for the handler, shortened (it says: {first})"),
        &shortened,
    );
    // Its label: "the trait `Handler<_, _>` is not implemented for fn item `...`".
    let label = errors
        .lines()
        .find_map(|line| line.split_once("^^^ ").map(|(_, label)| label))
        .unwrap_or_default();
    let label = label.split(" `fn(").next().unwrap_or_default();
    page.assert_quote(
        &format!("the label of rustc's error for the handler\n{errors}"),
        label,
    );
    // Its note: "Consider using `#[axum::debug_handler]` to improve the error message".
    let note = errors
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("= note: Consider"))
        .map(|rest| format!("Consider{rest}"))
        .unwrap_or_default();
    page.assert_quote(
        &format!("the note under rustc's error for the handler\n{errors}"),
        &note,
    );
}

#[test]
fn state_quotes_what_debug_handler_says_of_a_lock_held_across_an_await() {
    let errors = compiler::errors_of(LOCK_ACROSS_AWAIT);
    let page = Page::open("server/state.md");
    // error: future cannot be sent between threads safely
    let first = errors.lines().next().unwrap_or_default();
    let message = first.strip_prefix("error: ").unwrap_or(first);
    page.assert_quote(
        &format!("the error `#[debug_handler]` gives for the handler\n{errors}"),
        message,
    );
    // Its labels: "has type `std::sync::MutexGuard<'_, u64>` which is not `Send`"
    // and "await occurs here, with `mut guard` maybe used later".
    for start in ["has type", "await occurs here"] {
        let label = errors
            .lines()
            .find_map(|line| line.find(start).map(|at| &line[at..]))
            .unwrap_or_default();
        page.assert_quote(
            &format!("the label `{start} ...` of that error\n{errors}"),
            label,
        );
    }
}

#[test]
fn json_quotes_the_compiler_errors_for_two_kinds_of_answer() {
    let page = Page::open("server/json.md");
    // Two answers of two types, from the two branches of an `if`.
    let source = r#"
        use axum::http::StatusCode;
        use axum::response::IntoResponse;

        pub async fn publish(title: String) -> impl IntoResponse {
            if title.trim().is_empty() {
                (StatusCode::UNPROCESSABLE_ENTITY, "a note needs a title")
            } else {
                StatusCode::CREATED
            }
        }
    "#;
    let errors = compiler::errors_of(source);
    page.assert_quote(
        &format!("rustc's error for an `if` whose branches answer two types\n{errors}"),
        first_error_message(&errors),
    );
    // The same, with the refusal leaving early by `return`.
    let source = r#"
        use axum::http::StatusCode;
        use axum::response::IntoResponse;

        pub async fn publish(title: String) -> impl IntoResponse {
            if title.trim().is_empty() {
                return (StatusCode::UNPROCESSABLE_ENTITY, "a note needs a title");
            }
            StatusCode::CREATED
        }
    "#;
    let errors = compiler::errors_of(source);
    page.assert_quote(
        &format!("rustc's error for a `return` of another type than the last answer\n{errors}"),
        first_error_message(&errors),
    );
}

/// `if` and `else` have incompatible types, from
/// `error[E0308]: `if` and `else` have incompatible types`.
fn first_error_message(errors: &str) -> &str {
    let first = errors.lines().next().unwrap_or_default();
    first
        .split_once("]: ")
        .map_or(first, |(_, message)| message)
}
