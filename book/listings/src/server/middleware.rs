//! Listings for the book section server/middleware.
