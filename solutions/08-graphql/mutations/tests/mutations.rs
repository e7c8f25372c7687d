extern crate graphql_mutations_solution as graphql_mutations;
#[path = "../../../../lessons/08-graphql/mutations/tests/mutations.rs"]
mod mutations;
