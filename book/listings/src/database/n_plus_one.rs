//! Listings for the book section database/n-plus-one.
