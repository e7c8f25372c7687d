//! # database/async-access (being written)
