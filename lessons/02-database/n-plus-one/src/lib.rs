//! # database/n-plus-one (being written)
