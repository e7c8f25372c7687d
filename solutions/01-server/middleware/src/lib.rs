//! # server/middleware — reference solution (being written)
