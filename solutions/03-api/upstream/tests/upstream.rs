extern crate api_upstream_solution as api_upstream;
#[path = "../../../../lessons/03-api/upstream/tests/upstream.rs"]
mod upstream;
