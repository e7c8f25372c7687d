//! Errors as RFC 9457 problem details (lesson api/problem-details): every
//! error the shop answers is a [`Problem`], sent as
//! `application/problem+json`.

use axum::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The media type of every problem, exactly, without parameters.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where the shop's own problem types live; a type is this plus its name.
const TYPE_BASE: &str = "https://shop.example/problems/";

/// One invalid member of a body: `{"field": "price_cents", "message": "..."}`.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: &str) -> FieldError {
        FieldError {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

/// One problem: its status, and the rest boxed (a `Result<T, Problem>` stays
/// small on the happy path).
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    details: Box<Details>,
}

/// Its type (`None` for `about:blank`), its title, its extension members,
/// and the headers that go with it.
#[derive(Debug, Clone)]
struct Details {
    name: Option<&'static str>,
    title: &'static str,
    detail: Option<String>,
    extensions: Map<String, Value>,
    headers: Vec<(HeaderName, String)>,
}

impl Problem {
    /// A problem of the shop's own type `name` (the last segment of its URI).
    fn typed(status: StatusCode, name: &'static str, title: &'static str) -> Problem {
        Problem::of(status, Some(name), title)
    }

    fn of(status: StatusCode, name: Option<&'static str>, title: &'static str) -> Problem {
        let details = Details {
            name,
            title,
            detail: None,
            extensions: Map::new(),
            headers: Vec::new(),
        };
        Problem {
            status,
            details: Box::new(details),
        }
    }

    /// An `about:blank` problem, titled with the status's reason phrase.
    pub fn about_blank(status: StatusCode) -> Problem {
        Problem::of(status, None, status.canonical_reason().unwrap_or("Error"))
    }

    /// This problem with `detail`, text for people.
    pub fn detail(mut self, detail: impl Into<String>) -> Problem {
        self.details.detail = Some(detail.into());
        self
    }

    /// This problem with one more extension member.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Problem {
        self.details
            .extensions
            .insert(name.to_string(), value.into());
        self
    }

    /// This problem with one more response header.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Problem {
        self.details.headers.push((name, value.into()));
        self
    }

    /// The problem's JSON document.
    pub fn body(&self) -> Vec<u8> {
        let details = &self.details;
        let type_uri = match details.name {
            Some(name) => format!("{TYPE_BASE}{name}"),
            None => "about:blank".to_string(),
        };
        let mut document = json!({
            "type": type_uri,
            "title": details.title,
            "status": self.status.as_u16(),
        });
        if let Some(members) = document.as_object_mut() {
            if let Some(detail) = &details.detail {
                members.insert("detail".into(), detail.clone().into());
            }
            for (name, value) in &details.extensions {
                members.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        document.to_string().into_bytes()
    }

    // The shop's problems, one constructor each, as the contract's table
    // lists them.

    pub fn validation(errors: Vec<FieldError>) -> Problem {
        Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Your request is not valid",
        )
        .with("errors", json!(errors))
    }

    pub fn malformed_json() -> Problem {
        Problem::typed(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
    }

    pub fn unsupported_media_type() -> Problem {
        Problem::about_blank(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .detail("send the body as JSON, with content-type: application/json")
    }

    pub fn invalid_parameter(parameter: &str, detail: &str) -> Problem {
        Problem::typed(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            "Invalid query parameter",
        )
        .with("parameter", parameter)
        .detail(detail)
    }

    pub fn invalid_id() -> Problem {
        Problem::typed(StatusCode::BAD_REQUEST, "invalid-id", "Invalid id")
            .detail("an id is a whole number")
    }

    pub fn email_taken() -> Problem {
        Problem::typed(
            StatusCode::CONFLICT,
            "email-taken",
            "Email already registered",
        )
    }

    pub fn product_not_found(product_id: i64) -> Problem {
        Problem::typed(
            StatusCode::NOT_FOUND,
            "product-not-found",
            "Product not found",
        )
        .with("product_id", product_id)
    }

    pub fn duplicate_sku(sku: &str) -> Problem {
        Problem::typed(StatusCode::CONFLICT, "duplicate-sku", "SKU already in use").with("sku", sku)
    }

    pub fn duplicate_discount_code(code: &str) -> Problem {
        Problem::typed(
            StatusCode::CONFLICT,
            "duplicate-discount-code",
            "Discount code already exists",
        )
        .with("code", code)
    }

    /// Also the answer for another customer's order: to them it does not
    /// exist.
    pub fn order_not_found(order_id: i64) -> Problem {
        Problem::typed(StatusCode::NOT_FOUND, "order-not-found", "Order not found")
            .with("order_id", order_id)
    }

    pub fn invalid_idempotency_key() -> Problem {
        Problem::typed(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
        )
        .detail("Idempotency-Key must be 1 to 255 visible ASCII characters or spaces")
    }

    pub fn idempotency_key_reused() -> Problem {
        Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key already used",
        )
    }

    pub fn idempotency_key_in_use() -> Problem {
        Problem::typed(
            StatusCode::CONFLICT,
            "idempotency-key-in-use",
            "Idempotency-Key in use",
        )
    }

    pub fn cart_empty() -> Problem {
        Problem::typed(StatusCode::CONFLICT, "cart-empty", "Cart is empty")
    }

    pub fn out_of_stock(product_id: i64, available: i64) -> Problem {
        Problem::typed(StatusCode::CONFLICT, "out-of-stock", "Out of stock")
            .with("product_id", product_id)
            .with("available", available)
    }

    pub fn invalid_discount_code(code: &str, reason: &str) -> Problem {
        Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-discount-code",
            "Invalid discount code",
        )
        .with("code", code)
        .with("reason", reason)
    }

    pub fn payment_declined() -> Problem {
        Problem::typed(
            StatusCode::PAYMENT_REQUIRED,
            "payment-declined",
            "Payment declined",
        )
    }

    pub fn payment_failed() -> Problem {
        Problem::typed(StatusCode::BAD_GATEWAY, "payment-failed", "Payment failed")
    }

    pub fn payment_timeout() -> Problem {
        Problem::typed(
            StatusCode::GATEWAY_TIMEOUT,
            "payment-timeout",
            "Payment timed out",
        )
    }

    pub fn order_status_conflict(order_status: &str) -> Problem {
        Problem::typed(
            StatusCode::CONFLICT,
            "order-status-conflict",
            "Order status does not allow this",
        )
        .with("order_status", order_status)
    }

    /// `401` with the challenge that tells the client what to send.
    pub fn unauthorized(challenge: &'static str) -> Problem {
        Problem::about_blank(StatusCode::UNAUTHORIZED).header(WWW_AUTHENTICATE, challenge)
    }

    pub fn forbidden() -> Problem {
        Problem::about_blank(StatusCode::FORBIDDEN)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Problem {
        Problem::about_blank(StatusCode::TOO_MANY_REQUESTS)
            .header(RETRY_AFTER, retry_after_secs.to_string())
    }

    pub fn method_not_allowed(allow: String) -> Problem {
        Problem::about_blank(StatusCode::METHOD_NOT_ALLOWED).header(ALLOW, allow)
    }

    /// `500`: says nothing of its cause, which only the log gets.
    pub fn internal() -> Problem {
        Problem::about_blank(StatusCode::INTERNAL_SERVER_ERROR)
            .detail("something went wrong on our side")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body()).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.details.headers {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// A failed query is the shop's own failure: logged, answered `500`.
impl From<rusqlite::Error> for Problem {
    fn from(error: rusqlite::Error) -> Problem {
        tracing::error!(%error, "database failure");
        Problem::internal()
    }
}

/// The `404` of a path no route has.
pub async fn not_found() -> Problem {
    Problem::about_blank(StatusCode::NOT_FOUND).detail("no route has this path")
}

/// Turns axum's bare `405` (it has the `Allow` header, but no body) into a
/// problem that keeps the `Allow` header.
pub async fn method_not_allowed(response: Response) -> Response {
    let bare = response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(CONTENT_TYPE);
    if !bare {
        return response;
    }
    let allow = response
        .headers()
        .get(ALLOW)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Problem::method_not_allowed(allow).into_response()
}
