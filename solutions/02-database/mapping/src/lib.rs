//! # database/mapping — reference solution (being written)
