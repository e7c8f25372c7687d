//! Listings for the book section database/search.
