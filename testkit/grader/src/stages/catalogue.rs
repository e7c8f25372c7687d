//! `catalogue`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["catalogue_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "catalogue_works",
        Err::<(), _>(Failure::new("the `catalogue` stage is not written yet")),
    )
}
