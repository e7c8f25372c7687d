//! # database/money — reference solution

use std::fmt;

// ANCHOR: cents
/// An amount of money, as a whole number of cents: `Cents(1999)` is 19.99.
/// Integer cents add up exactly; binary floating point cannot even hold
/// 0.10 exactly. A database stores it in an INTEGER column, as the number
/// of cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cents(pub i64);

impl Cents {
    /// Reads an amount written in decimal: an optional `-`, one or more
    /// digits, then optionally a `.` and one or two digits. `"19.99"` is
    /// `Cents(1999)`, `"0.5"` is `Cents(50)`, `"7"` is `Cents(700)`, `"-0.05"`
    /// is `Cents(-5)`. Anything else is `None`: no spaces, no `+`, no
    /// exponent (`1e3`), no thousands separators, no third decimal, no digit
    /// missing on either side of the dot (`.5`, `5.`), and no amount outside
    /// what an `i64` of cents holds (from `-92233720368547758.08` to
    /// `92233720368547758.07`). The result is exact for every amount,
    /// however large: no floating point is involved.
    pub fn parse(text: &str) -> Option<Cents> {
        let (sign, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, "0"),
        };
        if !is_digits(whole) || !is_digits(fraction) || fraction.len() > 2 {
            return None;
        }
        // "5" after the dot is 50 cents, "05" is 5.
        let fraction = format!("{fraction:0<2}");
        // Cents, digit by digit: ten times what came before, plus the next
        // digit, with the amount's sign. Checked arithmetic turns an
        // overflow into `None`; and since a negative amount is built from
        // negative digits, the most negative `i64` is reached too (its
        // positive counterpart is one more than `i64::MAX`).
        let mut cents: i64 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            let value = sign * i64::from(digit - b'0');
            cents = cents.checked_mul(10)?.checked_add(value)?;
        }
        Some(Cents(cents))
    }
}

/// True for one or more ASCII digits and nothing else.
fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

/// `Cents(1999)` displays as `19.99`, `Cents(5)` as `0.05`, `Cents(-5)` as
/// `-0.05`, `Cents(0)` as `0.00`: always two decimals, computed with
/// integers only, for every `i64` of cents.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        // `unsigned_abs` is defined for `i64::MIN` too, which `abs` is not.
        let cents = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", cents / 100, cents % 100)
    }
}
// ANCHOR_END: cents
