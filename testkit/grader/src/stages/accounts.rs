//! `accounts`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["accounts_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "accounts_works",
        Err::<(), _>(Failure::new("the `accounts` stage is not written yet")),
    )
}
