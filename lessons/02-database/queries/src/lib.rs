//! # database/queries (being written)
