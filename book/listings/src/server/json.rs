//! Listings for the book section server/json.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// Every handler of this section, on its own route.
pub fn app() -> Router {
    Router::new()
        .route("/notes/preview", post(preview))
        .route("/jobs", post(start_job))
        .route("/notes/check", post(check_note))
        .route("/notes/check-again", post(check_note_again))
        .route("/notes", post(publish))
        .route("/notes/again", post(publish_again))
}

// ANCHOR: types
/// What a client sends: `{"title": "Groceries", "text": "milk, eggs"}`.
/// `tags` may be left out; it then arrives as an empty list.
#[derive(Deserialize)]
struct NoteDraft {
    title: String,
    text: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// What the server answers. `rename_all` turns `word_count` into
/// `wordCount` on the wire, for clients written in JavaScript.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotePreview {
    title: String,
    word_count: usize,
    tag_count: usize,
}
// ANCHOR_END: types

// ANCHOR: preview
/// `Json<NoteDraft>` reads and parses the body; returning `Json<NotePreview>`
/// serialises the answer and sets `content-type: application/json`.
async fn preview(Json(draft): Json<NoteDraft>) -> Json<NotePreview> {
    Json(NotePreview {
        title: draft.title,
        word_count: draft.text.split_whitespace().count(),
        tag_count: draft.tags.len(),
    })
}
// ANCHOR_END: preview

// ANCHOR: status_and_headers
/// A job was queued, not finished: `202 Accepted`, a header that tells the
/// client where to look, and a JSON body. Status, then headers, then body.
async fn start_job() -> impl IntoResponse {
    let body = serde_json::json!({ "state": "queued" });
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, "/jobs/17")],
        Json(body),
    )
}
// ANCHOR_END: status_and_headers

// ANCHOR: two_answers
/// Publishes a note: `201 Created` with its preview as JSON, or `422` with a
/// sentence when the title is blank. The two answers have different types;
/// `.into_response()` turns each into the one type `Response`.
async fn publish(Json(draft): Json<NoteDraft>) -> Response {
    if draft.title.trim().is_empty() {
        return (StatusCode::UNPROCESSABLE_ENTITY, "a note needs a title").into_response();
    }
    (StatusCode::CREATED, Json(preview_of(draft))).into_response()
}

/// The same with `Result`: axum answers `Ok` with the first type and `Err`
/// with the second, both `IntoResponse`, and the types say what each
/// answer is. `?` can return the `Err` early.
async fn publish_again(
    Json(draft): Json<NoteDraft>,
) -> Result<(StatusCode, Json<NotePreview>), (StatusCode, &'static str)> {
    if draft.title.trim().is_empty() {
        return Err((StatusCode::UNPROCESSABLE_ENTITY, "a note needs a title"));
    }
    Ok((StatusCode::CREATED, Json(preview_of(draft))))
}
// ANCHOR_END: two_answers

fn preview_of(draft: NoteDraft) -> NotePreview {
    NotePreview {
        title: draft.title,
        word_count: draft.text.split_whitespace().count(),
        tag_count: draft.tags.len(),
    }
}

// ANCHOR: rejection
/// `Result<Json<_>, JsonRejection>` hands a bad body to the handler, which
/// answers it here in plain text, naming each kind of failure.
async fn check_note(body: Result<Json<NoteDraft>, JsonRejection>) -> (StatusCode, String) {
    match body {
        Ok(Json(draft)) => (StatusCode::OK, format!("{:?} looks fine", draft.title)),
        Err(JsonRejection::MissingJsonContentType(_)) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the note as application/json".to_string(),
        ),
        Err(rejection) => (rejection.status(), rejection.body_text()),
    }
}
// ANCHOR_END: rejection

// ANCHOR: extractor
/// `Json`, with rejections that say "note" so the client knows what we
/// wanted. Wrapping an extractor this way makes the wording reusable: any
/// handler that takes `NoteBody<T>` answers bad bodies alike.
pub struct NoteBody<T>(pub T);

impl<S, T> FromRequest<S> for NoteBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = (StatusCode, String);

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(NoteBody(value)),
            Err(rejection) => Err((
                rejection.status(),
                format!("not a note: {}", rejection.body_text()),
            )),
        }
    }
}

async fn check_note_again(NoteBody(draft): NoteBody<NoteDraft>) -> String {
    format!("{:?} looks fine", draft.title)
}
// ANCHOR_END: extractor
