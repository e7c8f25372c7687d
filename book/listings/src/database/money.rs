//! Listings for the book section database/money.

// ANCHOR: split
/// Splits an amount of cents into `ways` parts that add up to exactly the
/// amount: 1000 cents three ways is 334, 333 and 333. Dividing 10.00 by 3 in
/// floating point gives 3.3333...; rounding each share to 3.33 loses a
/// cent. Integer cents make the remainder visible, and someone must get it.
/// (For an amount of zero or more, and `ways` of at least one.)
pub fn split_cents(amount: i64, ways: i64) -> Vec<i64> {
    let share = amount / ways;
    let remainder = amount % ways;
    (0..ways)
        .map(|part| if part < remainder { share + 1 } else { share })
        .collect()
}
// ANCHOR_END: split

// ANCHOR: checked
/// The total of some amounts of cents, or `None` when it does not fit an
/// `i64`. `+` would panic on overflow in a debug build and wrap around to a
/// negative total in a release build; `checked_add` says so instead, and
/// `try_fold` stops at the first `None`.
pub fn total_cents(amounts: &[i64]) -> Option<i64> {
    amounts
        .iter()
        .try_fold(0_i64, |total, &amount| total.checked_add(amount))
}

/// The same for a price times a quantity: `None` rather than a wrong price.
pub fn line_total_cents(price: i64, quantity: i64) -> Option<i64> {
    price.checked_mul(quantity)
}
// ANCHOR_END: checked
