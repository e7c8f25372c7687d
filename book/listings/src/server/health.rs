//! Listings for the book section server/health.
