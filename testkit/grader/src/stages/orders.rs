//! `orders`: not written yet.

use crate::failure::Failure;
use crate::{Ctx, Stage, Stop};

pub const SCENARIOS: &[&str] = &["orders_works"];

pub async fn run(_ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check(
        "orders_works",
        Err::<(), _>(Failure::new("the `orders` stage is not written yet")),
    )
}
