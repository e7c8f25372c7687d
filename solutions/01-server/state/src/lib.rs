//! # server/state — reference solution (being written)
