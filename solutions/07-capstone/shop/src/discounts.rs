//! Discount codes: created and listed by admins, used at checkout.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use crate::accounts::Admin;
use crate::app::AppState;
use crate::clock::{parse_rfc3339, rfc3339};
use crate::input::{Fields, is_code, read_json};
use crate::problem::Problem;

const CODE_RULE: &str =
    "must be 1 to 32 characters from A-Z, 0-9 and -, not starting or ending with -";
const PERCENT_RULE: &str = "must be a whole number from 1 to 100";
const AMOUNT_RULE: &str = "must be a whole number from 1 to 10000000";
const MAX_USES_RULE: &str = "must be a whole number from 1 to 1000000";
const EXPIRES_RULE: &str = "must be an RFC 3339 date-time, such as 2026-12-31T23:59:59Z";
const ONE_DISCOUNT: &str = "exactly one of percent_off and amount_off_cents must be a number";

/// A discount code, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DiscountCode {
    pub code: String,
    pub percent_off: Option<i64>,
    pub amount_off_cents: Option<i64>,
    pub expires_at: Option<String>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    /// The expiry as Unix milliseconds, for comparing.
    #[serde(skip)]
    pub expires_at_ms: Option<i64>,
    /// Uses held by checkouts whose payment runs: they count against
    /// `max_uses`, so that concurrent checkouts never use a code too often.
    #[serde(skip)]
    pub reserved: i64,
}

impl DiscountCode {
    const COLUMNS: &str =
        "code, percent_off, amount_off_cents, expires_at_ms, max_uses, uses, reserved";

    fn from_row(row: &Row<'_>) -> rusqlite::Result<DiscountCode> {
        let expires_at_ms: Option<i64> = row.get(3)?;
        Ok(DiscountCode {
            code: row.get(0)?,
            percent_off: row.get(1)?,
            amount_off_cents: row.get(2)?,
            expires_at: expires_at_ms.map(rfc3339),
            max_uses: row.get(4)?,
            uses: row.get(5)?,
            reserved: row.get(6)?,
            expires_at_ms,
        })
    }

    pub fn find(conn: &Connection, code: &str) -> rusqlite::Result<Option<DiscountCode>> {
        let sql = format!(
            "SELECT {} FROM discount_codes WHERE code = ?1",
            DiscountCode::COLUMNS
        );
        conn.query_row(&sql, [code], DiscountCode::from_row)
            .optional()
    }

    /// Why the code cannot be used at `now_ms`, as the problem's `reason`.
    pub fn refusal(&self, now_ms: i64) -> Option<&'static str> {
        if self.expires_at_ms.is_some_and(|expires| now_ms >= expires) {
            Some("expired")
        } else if self
            .max_uses
            .is_some_and(|max| self.uses + self.reserved >= max)
        {
            Some("used_up")
        } else {
            None
        }
    }

    /// What the code takes off `subtotal_cents`: a percentage rounded down,
    /// or a fixed amount never more than the subtotal.
    pub fn discount_cents(&self, subtotal_cents: i64) -> i64 {
        match (self.percent_off, self.amount_off_cents) {
            (Some(percent), _) => subtotal_cents * percent / 100,
            (None, Some(amount)) => amount.min(subtotal_cents),
            (None, None) => 0,
        }
    }
}

/// `POST /discount-codes`.
pub async fn create(
    State(app): State<AppState>,
    _admin: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = read_json(&headers, &body)?;
    let mut fields = Fields::of(
        &body,
        &[
            "code",
            "percent_off",
            "amount_off_cents",
            "expires_at",
            "max_uses",
        ],
    )?;
    let code = fields
        .string("code")
        .and_then(|code| fields.check("code", is_code(code).then_some(code).ok_or(CODE_RULE)));
    let percent_off = fields.optional_whole("percent_off", 1..=100, PERCENT_RULE);
    let amount_off_cents = fields.optional_whole("amount_off_cents", 1..=10_000_000, AMOUNT_RULE);
    if let (Some(percent), Some(amount)) = (percent_off, amount_off_cents)
        && percent.is_some() == amount.is_some()
    {
        fields.broken("percent_off", ONE_DISCOUNT);
    }
    let expires_at_ms = fields
        .optional_string("expires_at")
        .and_then(|text| match text {
            None => Some(None),
            Some(text) => fields
                .check("expires_at", parse_rfc3339(text).ok_or(EXPIRES_RULE))
                .map(Some),
        });
    let max_uses = fields.optional_whole("max_uses", 1..=1_000_000, MAX_USES_RULE);
    fields.finish()?;
    let (
        Some(code),
        Some(percent_off),
        Some(amount_off_cents),
        Some(expires_at_ms),
        Some(max_uses),
    ) = (code, percent_off, amount_off_cents, expires_at_ms, max_uses)
    else {
        return Err(Problem::internal());
    };

    let code = code.to_string();
    let created = app
        .db
        .write(move |tx| {
            if DiscountCode::find(tx, &code)?.is_some() {
                return Err(Problem::duplicate_discount_code(&code));
            }
            tx.execute(
                "INSERT INTO discount_codes
                     (code, percent_off, amount_off_cents, expires_at_ms, max_uses)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![code, percent_off, amount_off_cents, expires_at_ms, max_uses],
            )?;
            Ok(DiscountCode::find(tx, &code)?)
        })
        .await?
        .ok_or_else(Problem::internal)?;
    // No route serves one code, but the new resource's name is still useful.
    let location = format!("/discount-codes/{}", created.code);
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(created)).into_response())
}

/// `GET /discount-codes`: every code, in the order they were created.
pub async fn list(
    State(app): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<DiscountCode>>, Problem> {
    let codes = app
        .db
        .read(|conn| {
            let sql = format!(
                "SELECT {} FROM discount_codes ORDER BY id",
                DiscountCode::COLUMNS
            );
            let mut statement = conn.prepare(&sql)?;
            let rows = statement.query_map([], DiscountCode::from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(Json(codes))
}
