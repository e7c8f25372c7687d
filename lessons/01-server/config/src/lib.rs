//! # server/config (being written)
