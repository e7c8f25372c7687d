//! Listings for the book section database/schema.
