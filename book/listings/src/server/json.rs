//! Listings for the book section server/json.
