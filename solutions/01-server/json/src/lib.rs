//! # server/json — reference solution (being written)
