//! # server/health (being written)
