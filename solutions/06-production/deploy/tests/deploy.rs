extern crate production_deploy_solution as production_deploy;
#[path = "../../../../lessons/06-production/deploy/tests/deploy.rs"]
mod deploy;
