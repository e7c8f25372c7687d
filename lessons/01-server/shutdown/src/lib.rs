//! # server/shutdown (being written)
