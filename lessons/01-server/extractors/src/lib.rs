//! # server/extractors (being written)
