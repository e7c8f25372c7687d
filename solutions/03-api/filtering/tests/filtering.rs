extern crate api_filtering_solution as api_filtering;
#[path = "../../../../lessons/03-api/filtering/tests/filtering.rs"]
mod filtering;
