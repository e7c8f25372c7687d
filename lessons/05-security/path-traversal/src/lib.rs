//! # security/path-traversal — Path traversal
//!
//! The shop's downloads work: `GET /files/manuals/kettle.txt` answers the
//! kettle's manual from the shop's download folder, `GET /files/logo.png`
//! the logo, with the right content type. It also answers anything else the
//! server's user can read: the path after `/files/` is joined onto the
//! folder as it comes, so `/files/../secret.txt`, `/files/..%2fsecret.txt`
//! and `/files//etc/passwd` walk out of the folder, and a symbolic link
//! inside it leads wherever it points.
//!
//! Make the endpoint serve the files inside its folder, and nothing else:
//! a request path that tries to leave the folder is refused with
//! `400 Bad Request` (a `..` segment, an absolute path, a backslash, a NUL
//! byte), and a path that leads outside through a symbolic link, or to no
//! regular file at all, is `404 Not Found`. The book's section "Path
//! traversal" explains the attacks and the fix.
//!
//! Run `cargo checker check` when you think you are done.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// The download folder the app serves. Cloning it is cheap; every request
/// gets a clone.
#[derive(Clone)]
pub struct Files {
    root: Arc<PathBuf>,
}

/// The shop's downloads: `GET /files/{*path}` answers the file at `path`
/// inside the folder `root`, with a content type from its extension
/// (`200 OK`); a file that is not there is `404 Not Found`.
///
/// Fails if `root` cannot be used as the download folder.
pub fn app(root: &Path) -> io::Result<Router> {
    // TODO: `root` may itself be reached through a symbolic link (a
    // deployment's `current` link, or `/tmp` on macOS): a file is inside
    // the folder when it is inside the folder's real location.
    let files = Files {
        root: Arc::new(root.to_path_buf()),
    };
    Ok(Router::new()
        .route("/files/{*path}", get(download))
        .with_state(files))
}

/// `GET /files/{*path}`: `requested` is the path after `/files/`, already
/// percent-decoded by axum (`..%2fsecret.txt` arrives as `../secret.txt`).
async fn download(State(files): State<Files>, UrlPath(requested): UrlPath<String>) -> Response {
    // TODO: serve the files inside the folder, and nothing else.
    // - A path that tries to leave the folder, or that no file inside it
    //   can have, is `bad_request()`: a `..` segment, an absolute path, a
    //   backslash, a NUL byte. Names with dots inside them
    //   (`release..notes.txt`) are ordinary names.
    // - A path that leads out of the folder some other way (a symbolic
    //   link inside it that points outside) is `not_found()`, like a file
    //   that is not there.
    let path = files.root.join(&requested);
    serve_file(&path).await
}

/// Answers the regular file at `path`: `200 OK` with its bytes and the
/// content type of its extension, or `not_found()` if there is no regular
/// file there (nothing at all, or a folder).
pub async fn serve_file(path: &Path) -> Response {
    let file = path.to_path_buf();
    let bytes = on_blocking_thread(move || match std::fs::metadata(&file) {
        Ok(metadata) if metadata.is_file() => std::fs::read(&file).map(Some),
        Ok(_) => Ok(None),
        Err(error) => Err(error),
    })
    .await;
    match bytes {
        Ok(Some(bytes)) => {
            let content_type = HeaderValue::from_static(content_type(path));
            (StatusCode::OK, [(CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Ok(None) => not_found(),
        Err(error) if error.kind() == io::ErrorKind::NotFound => not_found(),
        Err(error) => {
            tracing::error!(%error, path = %path.display(), "a download failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                "Something went wrong on our side. Please try again.",
            )
        }
    }
}

/// Runs `job` on tokio's blocking threads and waits for its result: the
/// file system's calls block, and must not hold up the async workers.
pub async fn on_blocking_thread<T, F>(job: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => result,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// The content type of a file, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("txt") => "text/plain; charset=utf-8",
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// `400 Bad Request`: the path asks for something no file in the folder
/// can be.
pub fn bad_request() -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "Bad Request",
        "The path must name a file inside the download folder.",
    )
}

/// `404 Not Found`: there is no such file in the folder.
pub fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "Not Found", "There is no such file.")
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let content_type = HeaderValue::from_static("application/problem+json");
    (status, [(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}
