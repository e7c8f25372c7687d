extern crate server_json_solution as server_json;
#[path = "../../../../lessons/01-server/json/tests/json.rs"]
mod json;
