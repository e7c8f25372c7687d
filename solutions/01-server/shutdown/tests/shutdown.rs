extern crate server_shutdown_solution as server_shutdown;
#[path = "../../../../lessons/01-server/shutdown/tests/shutdown.rs"]
mod shutdown;
