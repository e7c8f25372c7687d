//! `checkout`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["checkout_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "checkout_works",
        Err::<(), _>(Failure::new("the `checkout` stage is not written yet")),
    )
}
