//! Listings for lesson 02, one module per exercise section.

pub mod async_access;
pub mod indexes;
pub mod mapping;
pub mod migrations;
pub mod money;
pub mod n_plus_one;
pub mod queries;
pub mod schema;
pub mod search;
pub mod transactions;
pub mod upsert;
