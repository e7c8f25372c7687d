//! # database/search — reference solution (being written)
