//! Listings for lesson 01, one module per exercise section.

pub mod config;
pub mod errors;
pub mod extractors;
pub mod health;
pub mod hello;
pub mod json;
pub mod main;
pub mod middleware;
pub mod routing;
pub mod shutdown;
pub mod state;
pub mod testing;
