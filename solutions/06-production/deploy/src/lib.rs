//! # production/deploy — reference solution
//!
//! The exercise's answers are this folder's `Dockerfile` and
//! `.dockerignore`. The shop's code is given, the same for the learner and
//! here: the lesson's own file, included so that it exists once.

#[path = "../../../../lessons/06-production/deploy/src/lib.rs"]
mod shop;

pub use shop::*;
