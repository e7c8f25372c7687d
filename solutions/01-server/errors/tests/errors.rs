extern crate server_errors_solution as server_errors;
#[path = "../../../../lessons/01-server/errors/tests/errors.rs"]
mod errors;
