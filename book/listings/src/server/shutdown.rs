//! Listings for the book section server/shutdown.
