//! What clients send, read with the checks every route shares: JSON bodies
//! (lesson api/validation: walk the JSON, list every broken member) and ids
//! in paths.

use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::problem::{FieldError, Problem};

pub const REQUIRED: &str = "is required";
pub const NOT_A_STRING: &str = "must be a string";
pub const NOT_A_WHOLE_NUMBER: &str = "must be a whole number";
pub const UNKNOWN_MEMBER: &str = "is not a known member";
pub const NOT_AN_OBJECT: &str = "must be a JSON object";

/// The JSON of a request body, in the contract's order: not sent as
/// `application/json` is `415`, not JSON is `400` `malformed-json`.
pub fn read_json(headers: &HeaderMap, body: &[u8]) -> Result<Value, Problem> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Problem::unsupported_media_type());
    }
    serde_json::from_slice(body)
        .map_err(|_| Problem::malformed_json().detail("the body is not JSON"))
}

/// The members of a body object, taken one by one; each broken one is
/// noted, so that one `422` lists them all.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    /// The members of `body`, which must be an object with no member but
    /// `known` ones (an unknown one is refused like a broken rule: lesson
    /// security/mass-assignment).
    pub fn of(body: &'a Value, known: &[&str]) -> Result<Fields<'a>, Problem> {
        let Some(object) = body.as_object() else {
            return Err(Problem::validation(vec![FieldError::new(
                "",
                NOT_AN_OBJECT,
            )]));
        };
        let errors = object
            .keys()
            .filter(|name| !known.contains(&name.as_str()))
            .map(|name| FieldError::new(name, UNKNOWN_MEMBER))
            .collect();
        Ok(Fields { object, errors })
    }

    /// Notes that `name` is broken.
    pub fn broken(&mut self, name: &str, message: &str) {
        self.errors.push(FieldError::new(name, message));
    }

    /// `value` if it is `Ok`; otherwise `None`, and `name` noted as broken.
    pub fn check<T>(&mut self, name: &str, value: Result<T, &'static str>) -> Option<T> {
        value.map_err(|message| self.broken(name, message)).ok()
    }

    /// A required string member.
    pub fn string(&mut self, name: &str) -> Option<&'a str> {
        match self.object.get(name) {
            None => self.check(name, Err(REQUIRED)),
            Some(Value::String(text)) => Some(text),
            Some(_) => self.check(name, Err(NOT_A_STRING)),
        }
    }

    /// An optional string member: `Some(None)` when absent or `null`.
    pub fn optional_string(&mut self, name: &str) -> Option<Option<&'a str>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(text)) => Some(Some(text)),
            Some(_) => self.check(name, Err(NOT_A_STRING)),
        }
    }

    /// A required whole number in `range`, with `rule` as the message when
    /// it is outside. `12.0`, `"12"` and `null` are not whole numbers.
    pub fn whole(
        &mut self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        rule: &'static str,
    ) -> Option<i64> {
        match self.object.get(name) {
            None => self.check(name, Err(REQUIRED)),
            Some(value) => self.whole_value(name, value, range, rule),
        }
    }

    /// An optional whole number in `range`: `Some(None)` when absent or
    /// `null`.
    pub fn optional_whole(
        &mut self,
        name: &str,
        range: std::ops::RangeInclusive<i64>,
        rule: &'static str,
    ) -> Option<Option<i64>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.whole_value(name, value, range, rule).map(Some),
        }
    }

    fn whole_value(
        &mut self,
        name: &str,
        value: &Value,
        range: std::ops::RangeInclusive<i64>,
        rule: &'static str,
    ) -> Option<i64> {
        let checked = match value {
            // A number too large for an i64 is out of every range.
            Value::Number(number) if number.is_u64() || number.is_i64() => {
                number.as_i64().filter(|n| range.contains(n)).ok_or(rule)
            }
            _ => Err(NOT_A_WHOLE_NUMBER),
        };
        self.check(name, checked)
    }

    /// `Ok` if no member was broken, else the `422` that lists them.
    pub fn finish(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.errors))
        }
    }
}

/// A code such as a sku or a discount code: 1 to 32 characters from `A`-`Z`,
/// `0`-`9` and `-`, not starting or ending with `-`.
pub fn is_code(text: &str) -> bool {
    let allowed = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-';
    (1..=32).contains(&text.len())
        && text.chars().all(allowed)
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// The id in a route's path (`/products/{id}`), a whole number that fits
/// an `i64`; anything else is `400` `invalid-id`. As an extractor it runs
/// after the credentials' extractors, which come first in each handler.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Id, Problem> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Problem::invalid_id())?;
        // `str::parse` would take a leading `+`; the contract's id is digits.
        let digits = text.strip_prefix('-').unwrap_or(&text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Problem::invalid_id());
        }
        text.parse().map(Id).map_err(|_| Problem::invalid_id())
    }
}
