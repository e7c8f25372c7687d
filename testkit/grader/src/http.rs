//! Requests to the shop, each remembered as the `curl` command that sends it
//! again, and replies with the checks every stage makes (a status, a
//! problem, a JSON body), each failing with a message that shows both.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::failure::Failure;

/// How long one request may take, unless a scenario says otherwise.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a body a message shows.
const SHOWN_BODY: usize = 1200;

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT`, no trailing `/`.
    pub base: String,
}

impl Http {
    pub fn new(base: &str) -> Http {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()
            .expect("a reqwest client with no TLS builds");
        Http {
            client,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    pub fn request(&self, method: Method, path: &str) -> Call {
        Call {
            http: self.clone(),
            method,
            url: format!("{}{path}", self.base),
            headers: Vec::new(),
            body: None,
            timeout: REQUEST_TIMEOUT,
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// A request being built.
#[derive(Debug, Clone)]
pub struct Call {
    http: Http,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    timeout: Duration,
}

/// A request as it was sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Sent {
    /// The request as a `curl` command a learner can paste.
    pub fn curl(&self) -> String {
        let mut parts = vec!["curl -i".to_string()];
        if self.method != Method::GET || self.body.is_some() {
            parts.push(format!("-X {}", self.method));
        }
        parts.push(shell_quote(&self.url));
        for (name, value) in &self.headers {
            parts.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
        }
        if let Some(body) = &self.body {
            parts.push(format!("--data-raw {}", shell_quote(body)));
        }
        parts.join(" ")
    }

    /// `POST /register`, for verdicts.
    pub fn line(&self) -> String {
        let path = self
            .url
            .splitn(4, '/')
            .nth(3)
            .map(|rest| format!("/{rest}"))
            .unwrap_or_else(|| self.url.clone());
        format!("{} {path}", self.method)
    }
}

impl Call {
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Call {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Call {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// A JSON body, sent as `application/json`.
    pub fn json(self, body: &Value) -> Call {
        self.raw("application/json", body.to_string())
    }

    /// Any body with the content type given.
    pub fn raw(mut self, content_type: &str, body: impl Into<String>) -> Call {
        self.headers
            .push(("content-type".to_string(), content_type.to_string()));
        self.body = Some(body.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Call {
        self.timeout = timeout;
        self
    }

    pub fn sent(&self) -> Sent {
        Sent {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }

    /// Sends the request and reads the whole answer. A shop that does not
    /// answer within the time limit, or drops the connection, is a failure.
    pub async fn send(self) -> Result<Reply, Failure> {
        let sent = self.sent();
        let response = self.start().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let started = Instant::now();
        let body = match tokio::time::timeout(self.timeout, response.bytes()).await {
            Ok(Ok(body)) => body.to_vec(),
            Ok(Err(error)) => {
                return Err(Failure::new(format!(
                    "the shop broke off its answer to {}: {}",
                    sent.line(),
                    cause(&error)
                ))
                .request(sent.curl()));
            }
            Err(_) => {
                return Err(Failure::new(format!(
                    "the shop sent the head of its answer to {} but not the whole body within {} s",
                    sent.line(),
                    self.timeout.as_secs()
                ))
                .request(sent.curl()));
            }
        };
        Ok(Reply {
            status,
            headers,
            body,
            sent,
            elapsed: started.elapsed(),
        })
    }

    /// Sends the request and returns once the head of the answer came (for
    /// event streams, whose bodies never end by themselves).
    pub async fn start(&self) -> Result<reqwest::Response, Failure> {
        let sent = self.sent();
        let mut request = self
            .http
            .client
            .request(self.method.clone(), &self.url)
            .timeout(self.timeout);
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                headers.append(name, value);
            }
        }
        request = request.headers(headers);
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        match request.send().await {
            Ok(response) => Ok(response),
            Err(error) if error.is_timeout() => Err(Failure::new(format!(
                "the shop did not answer {} within {} s",
                sent.line(),
                self.timeout.as_secs()
            ))
            .request(sent.curl())
            .hint("a request that never finishes is often a lock held across an `.await`, or a blocking call (SQLite, argon2) on the async runtime")),
            Err(error) => {
                // The cause's wording depends on when the connection went
                // (reset, closed, refused); the verdict says what it means.
                let verdict = if error.is_connect() {
                    format!("the shop refused the connection for {}", sent.line())
                } else {
                    format!("the shop closed the connection without answering {}", sent.line())
                };
                Err(Failure::new(verdict)
                    .request(sent.curl())
                    .actual(cause(&error))
                    .hint("did the shop crash? If so, a note below says how it ended and what it wrote last"))
            }
        }
    }
}

/// The innermost cause of a reqwest error: "connection refused", not
/// "error sending request for url".
fn cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// A complete answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub sent: Sent,
    pub elapsed: Duration,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The answer as a learner would read it in `curl -i`: status line,
    /// content type, body (cut if long).
    pub fn shown(&self) -> String {
        let mut shown = status_line(self.status);
        for name in [
            "content-type",
            "location",
            "etag",
            "retry-after",
            "www-authenticate",
            "allow",
        ] {
            for value in self.header_all(name) {
                shown.push_str(&format!("\n{name}: {value}"));
            }
        }
        let body = self.text();
        if !body.is_empty() {
            let pretty = serde_json::from_slice::<Value>(&self.body)
                .ok()
                .and_then(|json| serde_json::to_string(&json).ok())
                .unwrap_or(body);
            shown.push('\n');
            if pretty.chars().count() > SHOWN_BODY {
                shown.extend(pretty.chars().take(SHOWN_BODY));
                shown.push_str("… (cut)");
            } else {
                shown.push_str(&pretty);
            }
        }
        shown
    }

    /// A failure about this answer: the request, what came back.
    pub fn fail(&self, verdict: impl Into<String>, expected: impl Into<String>) -> Failure {
        Failure::new(verdict)
            .request(self.sent.curl())
            .expected(expected)
            .actual(self.shown())
    }

    /// The status must be `status`; `what` says what the answer should be
    /// ("the new customer").
    pub fn expect_status(&self, status: u16, what: &str) -> Result<&Reply, Failure> {
        if self.status == status {
            return Ok(self);
        }
        Err(self.fail(
            format!(
                "{}: expected {}, got {}",
                self.sent.line(),
                status_line(status),
                status_line(self.status)
            ),
            format!("{}: {what}", status_line(status)),
        ))
    }

    /// The body as JSON (any status).
    pub fn json(&self) -> Result<Value, Failure> {
        serde_json::from_slice(&self.body).map_err(|error| {
            self.fail(
                format!("{}: the body is not JSON ({error})", self.sent.line()),
                "a JSON body",
            )
        })
    }

    /// A success: the status, `application/json`, and the JSON body.
    pub fn expect_json(&self, status: u16, what: &str) -> Result<Value, Failure> {
        self.expect_status(status, what)?;
        let content_type = self.header("content-type").unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Err(self.fail(
                format!(
                    "{}: expected content-type application/json, got {}",
                    self.sent.line(),
                    if content_type.is_empty() {
                        "none"
                    } else {
                        content_type
                    }
                ),
                format!("{}, application/json: {what}", status_line(status)),
            ));
        }
        self.json()
    }

    /// A problem: the status, `application/problem+json` exactly, and the
    /// `type` (a name such as `validation` for the shop's own types, or
    /// `about:blank`) and `status` members. Returns the problem's body.
    pub fn expect_problem(&self, status: u16, kind: &str) -> Result<Value, Failure> {
        let wanted = problem_type(kind);
        let expected = format!(
            "{} application/problem+json, type {wanted}",
            status_line(status)
        );
        if self.status != status {
            return Err(self.fail(
                format!(
                    "{}: expected {}, got {}",
                    self.sent.line(),
                    status_line(status),
                    status_line(self.status)
                ),
                expected,
            ));
        }
        let content_type = self.header("content-type").unwrap_or("");
        if content_type != "application/problem+json" {
            return Err(self.fail(
                format!(
                    "{}: expected content-type application/problem+json, got {}",
                    self.sent.line(),
                    if content_type.is_empty() {
                        "none"
                    } else {
                        content_type
                    }
                ),
                expected,
            ));
        }
        let body = self.json()?;
        let actual_type = body.get("type").and_then(Value::as_str).unwrap_or("(none)");
        if actual_type != wanted {
            return Err(self.fail(
                format!(
                    "{}: expected a problem of type {wanted}, got {actual_type}",
                    self.sent.line()
                ),
                expected,
            ));
        }
        if body.get("status").and_then(Value::as_u64) != Some(u64::from(status)) {
            return Err(self.fail(
                format!(
                    "{}: the problem's `status` member is not {status}",
                    self.sent.line()
                ),
                expected,
            ));
        }
        Ok(body)
    }
}

/// `https://shop.example/problems/NAME`, or `about:blank` as is.
pub fn problem_type(kind: &str) -> String {
    if kind == "about:blank" {
        kind.to_string()
    } else {
        format!("https://shop.example/problems/{kind}")
    }
}

/// `201 Created`.
pub fn status_line(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}").trim_end().to_string()
}

/// Quotes a word for a POSIX shell: `'it'\''s'`.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_becomes_a_curl_command_a_shell_reads_back() {
        let sent = Sent {
            method: Method::POST,
            url: "http://127.0.0.1:4000/register".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(r#"{"name":"Zoë O'Brien"}"#.into()),
        };
        assert_eq!(
            sent.curl(),
            r#"curl -i -X POST http://127.0.0.1:4000/register -H 'content-type: application/json' --data-raw '{"name":"Zoë O'\''Brien"}'"#
        );
        assert_eq!(sent.line(), "POST /register");
    }

    #[test]
    fn status_lines_carry_the_reason() {
        assert_eq!(status_line(201), "201 Created");
        assert_eq!(status_line(599), "599");
    }
}
