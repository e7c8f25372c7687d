//! Listings for the book section server/state.
