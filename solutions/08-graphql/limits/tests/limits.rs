extern crate graphql_limits_solution as graphql_limits;
#[path = "../../../../lessons/08-graphql/limits/tests/limits.rs"]
mod limits;
