extern crate database_indexes_solution as database_indexes;
#[path = "../../../../lessons/02-database/indexes/tests/indexes.rs"]
mod indexes;
