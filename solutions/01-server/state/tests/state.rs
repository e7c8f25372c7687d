extern crate server_state_solution as server_state;
#[path = "../../../../lessons/01-server/state/tests/state.rs"]
mod state;
