extern crate production_scaling_solution as production_scaling;
#[path = "../../../../lessons/06-production/scaling/tests/scaling.rs"]
mod scaling;
