//! # server/routing (being written)
