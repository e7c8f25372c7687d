//! # database/transactions (being written)
