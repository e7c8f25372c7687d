//! Time as the contract writes it.

// TODO: the shop can tell the time now, and write an instant as RFC 3339 in
// UTC ("2026-11-30T09:15:00Z") for created_at, events' `at` and codes'
// `expires_at`.
// TODO: an `expires_at` sent as RFC 3339 (with `Z` or an offset, with or
// without a fraction) is read as an instant; anything else is refused.
