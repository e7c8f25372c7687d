//! # database/async-access — reference solution (being written)
