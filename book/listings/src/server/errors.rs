//! Listings for the book section server/errors.
