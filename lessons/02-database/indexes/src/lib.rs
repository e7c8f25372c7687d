//! # database/indexes (being written)
