//! `admin`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["admin_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "admin_works",
        Err::<(), _>(Failure::new("the `admin` stage is not written yet")),
    )
}
