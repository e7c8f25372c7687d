//! # database/money — money as integer cents
//!
//! Money is stored and added up as a whole number of cents, never as a
//! floating-point number. It becomes text only at the edges: read an amount
//! a person wrote (`"19.99"`) into cents, exactly, and show cents as an
//! amount with two decimals again, with integer arithmetic only.
//! The book's section "Money as integer cents" explains every piece you
//! need.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;

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
        // TODO: read the amount as described above, exactly, without
        // floating point; an amount too large is `None`, never a panic or a
        // wrong number.
        let _ = text;
        todo!()
    }
}

/// `Cents(1999)` displays as `19.99`, `Cents(5)` as `0.05`, `Cents(-5)` as
/// `-0.05`, `Cents(0)` as `0.00`: always two decimals, computed with
/// integers only, for every `i64` of cents.
impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // TODO: write the amount as described above, with integers only,
        // for every `i64` of cents, the most negative too.
        let _ = f;
        todo!()
    }
}
