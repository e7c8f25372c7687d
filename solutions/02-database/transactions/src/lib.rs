//! # database/transactions — reference solution (being written)
