//! Listings for the book section server/config.
