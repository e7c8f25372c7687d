extern crate api_validation_solution as api_validation;
#[path = "../../../../lessons/03-api/validation/tests/validation.rs"]
mod validation;
