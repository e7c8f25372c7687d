//! # database/migrations (being written)
