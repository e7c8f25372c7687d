//! Listings for the book section database/queries.
