extern crate server_routing_solution as server_routing;
#[path = "../../../../lessons/01-server/routing/tests/routing.rs"]
mod routing;
