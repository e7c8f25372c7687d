extern crate production_observability_solution as production_observability;
#[path = "../../../../lessons/06-production/observability/tests/observability.rs"]
mod observability;
