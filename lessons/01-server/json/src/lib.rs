//! # server/json (being written)
