//! `jobs`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["jobs_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "jobs_works",
        Err::<(), _>(Failure::new("the `jobs` stage is not written yet")),
    )
}
