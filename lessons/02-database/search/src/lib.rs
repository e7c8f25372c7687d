//! # database/search (being written)
