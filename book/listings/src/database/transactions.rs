//! Listings for the book section database/transactions.
