//! # server/config — reference solution (being written)
