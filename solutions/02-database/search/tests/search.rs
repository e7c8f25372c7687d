extern crate database_search_solution as database_search;
#[path = "../../../../lessons/02-database/search/tests/search.rs"]
mod search;
