//! Discount codes.

// TODO: POST /discount-codes (admin) stores a code with exactly one of
// `percent_off` and `amount_off_cents`, an optional `expires_at` and
// `max_uses`; a code that exists is 409 duplicate-discount-code.
// TODO: GET /discount-codes (admin) lists every code in the order they were
// created, with `uses`: how many paid orders used it.
