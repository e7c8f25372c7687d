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
use std::path::{Component, Path, PathBuf};
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
    // Resolved once: every file served must be inside this real location.
    let files = Files {
        root: Arc::new(std::fs::canonicalize(root)?),
    };
    Ok(Router::new()
        .route("/files/{*path}", get(download))
        .with_state(files))
}

/// `GET /files/{*path}`: `requested` is the path after `/files/`, already
/// percent-decoded by axum (`..%2fsecret.txt` arrives as `../secret.txt`).
async fn download(State(files): State<Files>, UrlPath(requested): UrlPath<String>) -> Response {
    let Some(relative) = relative_path(&requested) else {
        return bad_request();
    };
    // The real location of the file, with every symbolic link on the way
    // followed: inside the folder, or not served.
    let path = files.root.join(relative);
    let Ok(real) = on_blocking_thread(move || std::fs::canonicalize(path)).await else {
        return not_found();
    };
    if !real.starts_with(files.root.as_path()) {
        tracing::warn!(requested, "a download led out of the folder");
        return not_found();
    }
    serve_file(&real).await
}

/// `requested` as a path relative to the folder, made of plain names only;
/// `None` if it has a segment that is not one: `..`, a root (`/etc`), a
/// Windows prefix (`C:`), or a character no portable name has (a
/// backslash, which Windows reads as a separator, or a NUL byte).
fn relative_path(requested: &str) -> Option<PathBuf> {
    if requested.contains(['\\', '\0']) {
        return None;
    }
    let mut relative = PathBuf::new();
    for component in Path::new(requested).components() {
        match component {
            Component::Normal(name) => relative.push(name),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(relative)
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
