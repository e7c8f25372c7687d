//! # database/queries — reference solution (being written)
