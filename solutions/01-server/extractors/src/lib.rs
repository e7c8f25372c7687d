//! # server/extractors — reference solution

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde::Deserialize;

/// What a handler answers when the request is malformed.
type BadRequest = (StatusCode, &'static str);

/// Builds the application: `GET /greet/{name}?lang=` and `GET /add/{a}/{b}`.
pub fn app() -> Router {
    Router::new()
        .route("/greet/{name}", get(greet))
        .route("/add/{a}/{b}", get(add))
}

// ANCHOR: greet
/// The query string of `/greet/{name}`. A missing `lang` is English.
#[derive(Deserialize)]
struct GreetParams {
    #[serde(default)]
    lang: Lang,
}

/// The languages `greet` speaks. serde accepts exactly `en`, `fr` and `es`;
/// any other value makes the `Query` extractor answer `400 Bad Request`
/// before the handler runs.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Lang {
    #[default]
    En,
    Fr,
    Es,
}

async fn greet(
    Path(name): Path<String>,
    Query(params): Query<GreetParams>,
    headers: HeaderMap,
) -> Result<String, BadRequest> {
    let greeting = greeting(params.lang, &name);
    if wants_shouting(&headers)? {
        Ok(greeting.to_uppercase())
    } else {
        Ok(greeting)
    }
}

fn greeting(lang: Lang, name: &str) -> String {
    match lang {
        Lang::En => format!("Hello, {name}!"),
        Lang::Fr => format!("Bonjour, {name}!"),
        Lang::Es => format!("Hola, {name}!"),
    }
}

/// Reads the optional `x-shout` header: absent or `false` is no, `true` is
/// yes, anything else is the client's mistake.
fn wants_shouting(headers: &HeaderMap) -> Result<bool, BadRequest> {
    let Some(value) = headers.get("x-shout") else {
        return Ok(false);
    };
    match value.as_bytes() {
        b"true" => Ok(true),
        b"false" => Ok(false),
        _ => Err((StatusCode::BAD_REQUEST, "x-shout must be `true` or `false`")),
    }
}
// ANCHOR_END: greet

// ANCHOR: add
/// `Path<(i64, i64)>` parses both segments; a segment that is not an `i64`
/// is rejected with `400 Bad Request` before the handler runs.
async fn add(Path((a, b)): Path<(i64, i64)>) -> Result<String, BadRequest> {
    match a.checked_add(b) {
        Some(sum) => Ok(sum.to_string()),
        None => Err((StatusCode::BAD_REQUEST, "the sum does not fit in an i64")),
    }
}
// ANCHOR_END: add
