extern crate database_schema_solution as database_schema;
#[path = "../../../../lessons/02-database/schema/tests/schema.rs"]
mod schema;
