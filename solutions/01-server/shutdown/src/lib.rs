//! # server/shutdown — reference solution (being written)
