extern crate server_extractors_solution as server_extractors;
#[path = "../../../../lessons/01-server/extractors/tests/extractors.rs"]
mod extractors;
