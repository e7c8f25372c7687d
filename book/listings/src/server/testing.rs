//! Listings for the book section server/testing: the two ways to send a
//! test's request, shown on an app other than the exercise's.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;

// ANCHOR: app
/// `POST /greetings` with `{"name": "Ada"}` answers `201 Created` and
/// `{"greeting": "Hello, Ada!"}`.
pub fn greetings_app() -> Router {
    Router::new().route("/greetings", post(greet))
}
// ANCHOR_END: app

#[derive(Deserialize)]
struct Greet {
    name: String,
}

async fn greet(Json(greet): Json<Greet>) -> (StatusCode, Json<Value>) {
    let greeting = format!("Hello, {}!", greet.name);
    (StatusCode::CREATED, Json(json!({ "greeting": greeting })))
}

// ANCHOR: oneshot
/// Straight to the app: the request is a value, and so is the response.
pub async fn greeting_ada_answers_201_and_her_greeting(app: Router) {
    let request = Request::builder()
        .method("POST")
        .uri("/greetings")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name": "Ada"}"#))
        .expect("the method, path and header are valid");

    // `Router` is a tower `Service`; `oneshot` waits until it is ready,
    // then calls it once.
    let response = app.oneshot(request).await.expect("a router always answers");

    assert_eq!(response.status(), StatusCode::CREATED);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("an in-memory body reads");
    let body: Value = serde_json::from_slice(&bytes).expect("the body is JSON");
    assert_eq!(body, json!({ "greeting": "Hello, Ada!" }));
}
// ANCHOR_END: oneshot

// ANCHOR: spawn
/// Serves `app` on a free port of 127.0.0.1 in the background and returns
/// the address. Port 0 asks the operating system for any free port;
/// `local_addr` says which one it gave. The port is bound before this
/// returns, so a request sent at once waits in the queue until the server
/// accepts it: no sleep, and no race.
pub async fn spawn(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port on 127.0.0.1 can be bound");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}
// ANCHOR_END: spawn

// ANCHOR: over_http
/// Over HTTP: a real client, a real socket, the bytes hyper writes.
pub async fn greeting_ada_over_http_answers_201_and_her_greeting(app: Router) {
    let address = spawn(app).await;
    // `no_proxy`: a proxy set in the environment must not see loopback calls.
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds");

    let response = client
        .post(format!("http://{address}/greetings"))
        .json(&json!({ "name": "Ada" }))
        .send()
        .await
        .expect("the server answers");

    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("the body is JSON");
    assert_eq!(body, json!({ "greeting": "Hello, Ada!" }));
}
// ANCHOR_END: over_http
