//! Listings for the book section server/extractors.
