extern crate server_health_solution as server_health;
#[path = "../../../../lessons/01-server/health/tests/health.rs"]
mod health;
