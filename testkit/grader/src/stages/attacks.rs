//! `attacks`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["attacks_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "attacks_works",
        Err::<(), _>(Failure::new("the `attacks` stage is not written yet")),
    )
}
