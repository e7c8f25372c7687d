extern crate api_openapi_solution as api_openapi;
#[path = "../../../../lessons/03-api/openapi/tests/openapi.rs"]
mod openapi;
