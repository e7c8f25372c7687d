//! `live`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["live_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "live_works",
        Err::<(), _>(Failure::new("the `live` stage is not written yet")),
    )
}
