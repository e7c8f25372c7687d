//! # server/errors (being written)
