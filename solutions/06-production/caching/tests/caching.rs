extern crate production_caching_solution as production_caching;
#[path = "../../../../lessons/06-production/caching/tests/caching.rs"]
mod caching;
