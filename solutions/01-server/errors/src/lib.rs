//! # server/errors — reference solution (being written)
