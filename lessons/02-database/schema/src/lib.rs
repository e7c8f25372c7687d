//! # database/schema (being written)
