//! Listings for the book section database/migrations.
