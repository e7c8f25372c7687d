//! `load`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["load_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "load_works",
        Err::<(), _>(Failure::new("the `load` stage is not written yet")),
    )
}
