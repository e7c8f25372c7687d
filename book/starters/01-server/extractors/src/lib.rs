//! # server/extractors — path parameters, query strings and headers
//!
//! Write the two handlers of a small greeting service. Each one takes what it
//! needs from the request (a segment of the path, a query parameter, a
//! header) through axum's *extractors*, and a malformed value is answered
//! with `400 Bad Request`: never a panic, never a `500`.
//! The book's section "Extractors" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use axum::Router;
use axum::routing::get;

// ANCHOR: app
/// Builds the application. The routes are wired; the handlers are yours.
///
/// ## `GET /greet/{name}`
///
/// Greets `name` in plain text. The name is percent-decoded, so
/// `/greet/Ada%20Lovelace` greets `Ada Lovelace`.
///
/// The optional query parameter `lang` chooses the language:
///
/// | `lang`          | body               |
/// | --------------- | ------------------ |
/// | absent, or `en` | `Hello, {name}!`   |
/// | `fr`            | `Bonjour, {name}!` |
/// | `es`            | `Hola, {name}!`    |
///
/// Any other value of `lang` (`de`, `xx`, ...) answers `400 Bad Request`.
/// Other query parameters are ignored (`?lang=fr&ref=mail` speaks French).
///
/// The optional header `x-shout` chooses the volume: `x-shout: true` puts the
/// whole greeting in capitals (`HELLO, ADA!`); `x-shout: false` or no header
/// leaves it as it is; any other value answers `400 Bad Request`.
///
/// ## `GET /add/{a}/{b}`
///
/// Answers the sum of two whole numbers of type `i64` as plain text:
/// `/add/2/3` answers `5`, `/add/-4/10` answers `6`.
/// `400 Bad Request` if `a` or `b` is not an `i64` (`two`, `2.5`, a number
/// too large) or if the sum does not fit in an `i64`.
///
/// The body of a `400` is up to you (axum's own rejection text is fine).
pub fn app() -> Router {
    Router::new()
        .route("/greet/{name}", get(greet))
        .route("/add/{a}/{b}", get(add))
}
// ANCHOR_END: app

// ANCHOR: handlers
// TODO: greet the name from the path in the language `lang` asks for,
// shouting when `x-shout` says so; a `lang` or an `x-shout` it does not know
// answers `400 Bad Request`, never a panic.
async fn greet() -> String {
    todo!("greet the name from the path")
}

// TODO: answer the sum of the two numbers from the path; a number that is
// not an `i64`, or a sum too large for one, answers `400 Bad Request`, never
// a panic.
async fn add() -> String {
    todo!("add the two numbers from the path")
}
// ANCHOR_END: handlers
