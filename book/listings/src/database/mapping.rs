//! Listings for the book section database/mapping.
