// # server/testing — reference solution: the notes app's specification, as tests
//
// Each line of the specification becomes at least one check, and each check
// looks at the whole answer: status, the headers the specification names, and
// the body. Single answers are checked by handing requests straight to the
// app (`oneshot`); what takes a conversation of several requests is checked
// over real HTTP, against the app served on a free port.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::{Value, json};
use server_testing::{Test, tests};
use testkit::reqwest;
use tower::ServiceExt;

pub fn tests() -> Vec<Test> {
    tests![
        a_new_app_has_no_notes,
        creating_a_note_answers_201_with_its_location_and_the_note,
        a_blank_text_is_refused_with_422_and_creates_nothing,
        an_unknown_note_answers_404_with_a_json_error,
        other_methods_answer_405_naming_the_methods_that_work,
        notes_are_listed_oldest_first_with_ids_counting_from_1,
        a_created_note_can_be_read_back_at_its_location,
    ]
}

// ANCHOR: oneshot_test
async fn creating_a_note_answers_201_with_its_location_and_the_note(app: Router) {
    let answer = send(&app, "POST", "/notes", Some(json!({ "text": "buy milk" }))).await;

    answer
        .expect_status(StatusCode::CREATED)
        .expect_header("location", "/notes/1")
        .expect_json(json!({ "id": 1, "text": "buy milk" }));
}
// ANCHOR_END: oneshot_test

async fn a_new_app_has_no_notes(app: Router) {
    let answer = send(&app, "GET", "/notes", None).await;

    answer.expect_status(StatusCode::OK).expect_json(json!([]));
}

async fn a_blank_text_is_refused_with_422_and_creates_nothing(app: Router) {
    for blank in ["", " ", "   ", "\t\n"] {
        let answer = send(&app, "POST", "/notes", Some(json!({ "text": blank }))).await;

        answer
            .expect_status(StatusCode::UNPROCESSABLE_ENTITY)
            .expect_json(json!({ "error": "text must not be empty" }));
    }
    let list = send(&app, "GET", "/notes", None).await;
    list.expect_status(StatusCode::OK).expect_json(json!([]));
}

async fn an_unknown_note_answers_404_with_a_json_error(app: Router) {
    send(&app, "POST", "/notes", Some(json!({ "text": "buy milk" })))
        .await
        .expect_status(StatusCode::CREATED);

    for id in [0, 2, 7] {
        let answer = send(&app, "GET", &format!("/notes/{id}"), None).await;

        answer
            .expect_status(StatusCode::NOT_FOUND)
            .expect_json(json!({ "error": format!("no note with id {id}") }));
    }
}

async fn other_methods_answer_405_naming_the_methods_that_work(app: Router) {
    // The note exists, so a route that answered every method would answer
    // these with the note instead of 405.
    send(&app, "POST", "/notes", Some(json!({ "text": "buy milk" })))
        .await
        .expect_status(StatusCode::CREATED);
    let refused = [
        (
            "PUT",
            "/notes/1",
            &["GET"][..],
            &["PUT", "POST", "DELETE"][..],
        ),
        ("DELETE", "/notes/1", &["GET"], &["PUT", "POST", "DELETE"]),
        ("POST", "/notes/1", &["GET"], &["PUT", "POST", "DELETE"]),
        ("PATCH", "/notes/1", &["GET"], &["PUT", "POST", "DELETE"]),
        ("DELETE", "/notes", &["GET", "POST"], &["PUT", "DELETE"]),
        ("PUT", "/notes", &["GET", "POST"], &["PUT", "DELETE"]),
    ];
    for (method, path, allowed, not_allowed) in refused {
        let answer = send(&app, method, path, Some(json!({ "text": "buy bread" }))).await;

        answer
            .expect_status(StatusCode::METHOD_NOT_ALLOWED)
            .expect_allow(allowed, not_allowed);
    }
}

// ANCHOR: server_test
async fn notes_are_listed_oldest_first_with_ids_counting_from_1(app: Router) {
    let server = serve(app).await;

    for text in ["buy milk", "call Zoë", "water the plants"] {
        server
            .send("POST", "/notes", Some(json!({ "text": text })))
            .await
            .expect_status(StatusCode::CREATED);
    }
    let answer = server.send("GET", "/notes", None).await;

    answer.expect_status(StatusCode::OK).expect_json(json!([
        { "id": 1, "text": "buy milk" },
        { "id": 2, "text": "call Zoë" },
        { "id": 3, "text": "water the plants" },
    ]));
}
// ANCHOR_END: server_test

async fn a_created_note_can_be_read_back_at_its_location(app: Router) {
    let server = serve(app).await;
    server
        .send("POST", "/notes", Some(json!({ "text": "buy milk" })))
        .await
        .expect_status(StatusCode::CREATED);

    let created = server
        .send("POST", "/notes", Some(json!({ "text": "call Zoë" })))
        .await;
    created.expect_status(StatusCode::CREATED);
    let location = created.header("location").unwrap_or_else(|| {
        created.fail("expected a `location` header naming the new note, got none")
    });
    let read_back = server.send("GET", &location, None).await;

    read_back
        .expect_status(StatusCode::OK)
        .expect_json(json!({ "id": 2, "text": "call Zoë" }));
    read_back.expect_json(created.json());
}

// ANCHOR: send
/// Hands one request straight to `app` (a `Router` is a tower `Service`:
/// `oneshot` calls it once) and reads the whole answer. No socket, no HTTP:
/// the request and the response are values.
async fn send(app: &Router, method: &str, path: &str, json: Option<Value>) -> Answer {
    let request = Request::builder().method(method).uri(path);
    let (request, body) = match &json {
        Some(json) => (
            request.header(header::CONTENT_TYPE, "application/json"),
            Body::from(json.to_string()),
        ),
        None => (request, Body::empty()),
    };
    let request = request.body(body).expect("the method and path are valid");
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("a router always answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body of an in-memory response reads");
    Answer {
        request: describe(method, path, &json),
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
// ANCHOR_END: send

// ANCHOR: serve
/// The app served on a free port of 127.0.0.1, for as long as the test runs.
struct Server {
    url: String,
    client: reqwest::Client,
}

/// Binds first, then serves: the port is taken before the test sends its
/// first request, so no sleep is needed and none can be too short.
async fn serve(app: Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port on 127.0.0.1 can be bound");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        url: format!("http://{address}"),
        // A reqwest client for loopback: no proxy, no redirects followed.
        client: testkit::client(),
    }
}

impl Server {
    /// Sends one request over HTTP and reads the whole answer.
    async fn send(&self, method: &str, path: &str, json: Option<Value>) -> Answer {
        let described = describe(method, path, &json);
        let method = method.parse().expect("a valid method");
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(json) = &json {
            request = request.json(json);
        }
        let response = request.send().await.unwrap_or_else(|error| {
            panic!("\nThe request got no answer: {error}\n  request:  {described}\n")
        });
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_else(|error| {
            panic!("\nThe answer's body could not be read: {error}\n  request:  {described}\n")
        });
        Answer {
            request: described,
            status,
            headers,
            body,
        }
    }
}
// ANCHOR_END: serve

fn describe(method: &str, path: &str, json: &Option<Value>) -> String {
    match json {
        Some(json) => format!("{method} {path} {json}"),
        None => format!("{method} {path}"),
    }
}

/// A whole answer, and the request it answers, for failure messages that say
/// what was sent, what was expected and what came back.
struct Answer {
    request: String,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        let value = self.headers.get(name)?;
        Some(value.to_str().unwrap_or("(not text)").to_string())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| {
            self.fail(&format!(
                "expected a JSON body, but it does not parse ({error})"
            ))
        })
    }

    #[track_caller]
    fn expect_status(&self, expected: StatusCode) -> &Answer {
        if self.status != expected {
            self.fail(&format!("expected {expected}, got {}", self.status));
        }
        self
    }

    #[track_caller]
    fn expect_header(&self, name: &str, expected: &str) -> &Answer {
        match self.header(name) {
            Some(actual) if actual == expected => self,
            Some(actual) => self.fail(&format!(
                "expected `{name}: {expected}`, got `{name}: {actual}`"
            )),
            None => self.fail(&format!(
                "expected `{name}: {expected}`, got no `{name}` header"
            )),
        }
    }

    /// The body must be `expected`, as JSON, with `content-type:
    /// application/json` (parameters such as `charset` allowed).
    #[track_caller]
    fn expect_json(&self, expected: Value) -> &Answer {
        let content_type = self.header("content-type").unwrap_or_default();
        if !content_type.starts_with("application/json") {
            self.fail(&format!(
                "expected `content-type: application/json`, got `{content_type}`"
            ));
        }
        let actual = self.json();
        if actual != expected {
            self.fail(&format!("expected the body {expected}, got {actual}"));
        }
        self
    }

    /// `allow` is a list (`GET,HEAD,POST`): order and spaces do not matter.
    #[track_caller]
    fn expect_allow(&self, allowed: &[&str], not_allowed: &[&str]) -> &Answer {
        let Some(allow) = self.header("allow") else {
            self.fail("expected an `allow` header naming the methods that work, got none");
        };
        let listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        for method in allowed {
            if !listed.contains(method) {
                self.fail(&format!(
                    "expected `allow` to name {method}, got `allow: {allow}`"
                ));
            }
        }
        for method in not_allowed {
            if listed.contains(method) {
                self.fail(&format!(
                    "expected `allow` not to name {method}, got `allow: {allow}`"
                ));
            }
        }
        self
    }

    #[track_caller]
    fn fail(&self, verdict: &str) -> ! {
        panic!(
            "\n{verdict}\n  request:  {}\n  answer:   {}\n            {}\n",
            self.request, self.status, self.body
        )
    }
}
