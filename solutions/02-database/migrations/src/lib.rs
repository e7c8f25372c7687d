//! # database/migrations — reference solution (being written)
