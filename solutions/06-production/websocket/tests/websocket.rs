extern crate production_websocket_solution as production_websocket;
#[path = "../../../../lessons/06-production/websocket/tests/websocket.rs"]
mod websocket;
