//! Listings for the book section database/async-access.
