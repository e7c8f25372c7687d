extern crate production_jobs_solution as production_jobs;
#[path = "../../../../lessons/06-production/jobs/tests/jobs.rs"]
mod jobs;
