extern crate api_snapshots_solution as api_snapshots;
#[path = "../../../../lessons/03-api/snapshots/tests/snapshots.rs"]
mod snapshots;
