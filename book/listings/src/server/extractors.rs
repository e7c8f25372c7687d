//! Listings for the book section server/extractors.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use serde::Deserialize;

/// Every handler of this section, on its own route.
pub fn app() -> Router {
    Router::new()
        .route("/users/{id}", get(show_user))
        .route("/repos/{owner}/{repo}", get(show_repo))
        .route("/posts", get(list_posts))
        .route("/whoami", get(whoami))
        .route("/orders/{id}", get(show_order))
        .route("/version", get(version))
}

// ANCHOR: path_one
/// `GET /users/{id}`. `Path<u64>` parses the segment: `/users/abc` is
/// answered `400 Bad Request` and this function never runs.
async fn show_user(Path(id): Path<u64>) -> String {
    format!("user #{id}")
}
// ANCHOR_END: path_one

// ANCHOR: path_struct
/// The captures of `/repos/{owner}/{repo}`, matched by name.
#[derive(Deserialize)]
struct RepoPath {
    owner: String,
    repo: String,
}

async fn show_repo(Path(RepoPath { owner, repo }): Path<RepoPath>) -> String {
    format!("repository {repo} of {owner}")
}
// ANCHOR_END: path_struct

// ANCHOR: query
/// The query string of `GET /posts?page=2&order=oldest`. Both parameters
/// are optional: serde fills in the defaults.
#[derive(Deserialize)]
struct ListParams {
    #[serde(default = "first_page")]
    page: u32,
    #[serde(default)]
    order: Order,
}

fn first_page() -> u32 {
    1
}

/// `newest` or `oldest`, nothing else: `?order=random` is a `400`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum Order {
    #[default]
    Newest,
    Oldest,
}

async fn list_posts(Query(params): Query<ListParams>) -> String {
    let order = match params.order {
        Order::Newest => "newest",
        Order::Oldest => "oldest",
    };
    format!("page {} of the posts, {order} first", params.page)
}
// ANCHOR_END: query

// ANCHOR: headers
/// Header names are case-insensitive; values are bytes, and `to_str` fails
/// on bytes that are not visible ASCII, so this falls back instead of
/// unwrapping.
async fn whoami(headers: HeaderMap) -> String {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("a client without a name");
    format!("you are {agent}")
}
// ANCHOR_END: headers

// ANCHOR: rejection
/// Taking `Result<Path<u64>, PathRejection>` hands the rejection to the
/// handler instead of answering it, so the handler can word the error.
async fn show_order(id: Result<Path<u64>, PathRejection>) -> Result<String, (StatusCode, String)> {
    let Path(id) = id.map_err(|rejection| {
        let reason = rejection.body_text();
        (rejection.status(), format!("no such order id: {reason}"))
    })?;
    Ok(format!("order #{id}"))
}
// ANCHOR_END: rejection

// ANCHOR: custom
/// The API version a client asks for with `x-api-version: 1` or `2`;
/// version 1 when the header is absent.
pub struct ApiVersion(pub u8);

/// An extractor of our own: any handler can now take an `ApiVersion`
/// argument, and a bad header is rejected before the handler runs.
impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let asked = parts.headers.get("x-api-version");
        match asked.map(|value| value.as_bytes()) {
            None | Some(b"1") => Ok(ApiVersion(1)),
            Some(b"2") => Ok(ApiVersion(2)),
            Some(_) => Err((StatusCode::BAD_REQUEST, "x-api-version must be 1 or 2")),
        }
    }
}

async fn version(ApiVersion(version): ApiVersion) -> String {
    format!("you asked for version {version} of the API")
}
// ANCHOR_END: custom
