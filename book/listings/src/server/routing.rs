//! Listings for the book section server/routing.
