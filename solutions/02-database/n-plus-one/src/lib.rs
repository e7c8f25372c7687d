//! # database/n-plus-one — reference solution (being written)
