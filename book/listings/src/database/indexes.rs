//! Listings for the book section database/indexes.
