//! # database/schema — reference solution (being written)
