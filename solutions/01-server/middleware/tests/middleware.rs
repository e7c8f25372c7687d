extern crate server_middleware_solution as server_middleware;
#[path = "../../../../lessons/01-server/middleware/tests/middleware.rs"]
mod middleware;
