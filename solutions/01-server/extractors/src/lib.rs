//! # server/extractors — reference solution (being written)
