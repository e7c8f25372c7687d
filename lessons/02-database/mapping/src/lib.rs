//! # database/mapping (being written)
