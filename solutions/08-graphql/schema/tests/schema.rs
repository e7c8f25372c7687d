extern crate graphql_schema_solution as graphql_schema;
#[path = "../../../../lessons/08-graphql/schema/tests/schema.rs"]
mod schema;
