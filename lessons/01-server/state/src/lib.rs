//! # server/state (being written)
