extern crate api_resources_solution as api_resources;
#[path = "../../../../lessons/03-api/resources/tests/resources.rs"]
mod resources;
