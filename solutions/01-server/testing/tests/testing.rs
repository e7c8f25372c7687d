extern crate server_testing_solution as server_testing;
#[path = "../../../../lessons/01-server/testing/tests/testing.rs"]
mod testing;
