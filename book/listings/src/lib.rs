//! Code the book shows. Every listing compiles, so no snippet in the book
//! can drift from code that builds.

pub mod database;
pub mod server;
