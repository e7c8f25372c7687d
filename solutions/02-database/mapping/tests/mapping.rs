extern crate database_mapping_solution as database_mapping;
#[path = "../../../../lessons/02-database/mapping/tests/mapping.rs"]
mod mapping;
