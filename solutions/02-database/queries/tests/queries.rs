extern crate database_queries_solution as database_queries;
#[path = "../../../../lessons/02-database/queries/tests/queries.rs"]
mod queries;
