extern crate api_problem_details_solution as api_problem_details;
#[path = "../../../../lessons/03-api/problem-details/tests/problem_details.rs"]
mod problem_details;
