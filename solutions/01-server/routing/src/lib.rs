//! # server/routing — reference solution (being written)
