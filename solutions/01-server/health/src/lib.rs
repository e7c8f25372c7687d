//! # server/health — reference solution (being written)
