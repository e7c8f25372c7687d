extern crate server_hello_solution as server_hello;
#[path = "../../../../lessons/01-server/hello/tests/hello.rs"]
mod hello;
