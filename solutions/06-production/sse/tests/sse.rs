extern crate production_sse_solution as production_sse;
#[path = "../../../../lessons/06-production/sse/tests/sse.rs"]
mod sse;
