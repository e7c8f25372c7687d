extern crate api_conditional_solution as api_conditional;
#[path = "../../../../lessons/03-api/conditional/tests/conditional.rs"]
mod conditional;
