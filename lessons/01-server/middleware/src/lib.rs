//! # server/middleware (being written)
