//! # server/routing — several routes, several methods, and honest errors
//!
//! Build a router for a tiny library: books you can list and add, authors you
//! can list. A path the router does not know answers `404 Not Found` with a
//! JSON body; a known path asked with the wrong method answers
//! `405 Method Not Allowed` with an `Allow` header.
//! The book's section "Routing" explains every piece you need.
//!
//! Run `cargo checker check` when you think you are done.

use axum::Router;

/// Builds the application.
///
/// | request         | status        | body (`text/plain`)     |
/// | --------------- | ------------- | ----------------------- |
/// | `GET /books`    | `200 OK`      | `Here are the books.`   |
/// | `POST /books`   | `201 Created` | `Book added.`           |
/// | `GET /authors`  | `200 OK`      | `Here are the authors.` |
///
/// (There is no storage yet, so the handlers answer fixed text; shared
/// state comes in `server/state`.)
///
/// Any other path answers `404 Not Found` with `content-type:
/// application/json` and the body
///
/// ```json
/// {"error": "not found", "path": "/the/path/asked/for"}
/// ```
///
/// where `path` is the request's path without its query string: a request
/// for `/nope?page=2` gets `{"error": "not found", "path": "/nope"}`.
///
/// A known path asked with a method it does not support (`DELETE /books`,
/// `POST /authors`) answers `405 Method Not Allowed` with an `Allow` header
/// listing the methods the path does support, such as `Allow: GET,HEAD,POST`
/// (the order, the spacing and whether `HEAD` is listed do not matter).
pub fn app() -> Router {
    // TODO: make the three requests of the table answer as it says, any
    // other path answer the JSON 404, and a known path asked with another
    // method answer 405 with its `Allow` header.
    Router::new()
}
