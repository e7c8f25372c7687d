extern crate server_config_solution as server_config;
#[path = "../../../../lessons/01-server/config/tests/config.rs"]
mod config;
