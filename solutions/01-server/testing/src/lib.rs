//! # server/testing — reference solution
//!
//! The app is given, not written: this library is the lesson's own
//! `src/lib.rs`, so the two cannot differ. The solution is the tests, in
//! `src/app_tests.rs`.

#[path = "../../../../lessons/01-server/testing/src/lib.rs"]
mod given;

pub use given::*;
