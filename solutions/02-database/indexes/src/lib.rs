//! # database/indexes — reference solution (being written)
