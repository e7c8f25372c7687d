//! The stages, in the order they run. Each stage's module lists its
//! scenarios (`SCENARIOS`, in the order they run) and runs them; the
//! capstone's test file has one test per scenario, named `stage::scenario`.

use crate::{Ctx, Stage, Stop};

pub mod accounts;
pub mod admin;
pub mod attacks;
pub mod cart;
pub mod catalogue;
pub mod checkout;
pub mod health;
pub mod jobs;
pub mod live;
pub mod load;
pub mod orders;

pub struct StageDef {
    pub name: &'static str,
    pub scenarios: &'static [&'static str],
}

pub const STAGES: &[StageDef] = &[
    StageDef {
        name: "health",
        scenarios: health::SCENARIOS,
    },
    StageDef {
        name: "accounts",
        scenarios: accounts::SCENARIOS,
    },
    StageDef {
        name: "admin",
        scenarios: admin::SCENARIOS,
    },
    StageDef {
        name: "catalogue",
        scenarios: catalogue::SCENARIOS,
    },
    StageDef {
        name: "cart",
        scenarios: cart::SCENARIOS,
    },
    StageDef {
        name: "checkout",
        scenarios: checkout::SCENARIOS,
    },
    StageDef {
        name: "orders",
        scenarios: orders::SCENARIOS,
    },
    StageDef {
        name: "live",
        scenarios: live::SCENARIOS,
    },
    StageDef {
        name: "jobs",
        scenarios: jobs::SCENARIOS,
    },
    StageDef {
        name: "attacks",
        scenarios: attacks::SCENARIOS,
    },
    StageDef {
        name: "load",
        scenarios: load::SCENARIOS,
    },
];

pub async fn run(name: &str, ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    match name {
        "health" => health::run(ctx, stage).await,
        "accounts" => accounts::run(ctx, stage).await,
        "admin" => admin::run(ctx, stage).await,
        "catalogue" => catalogue::run(ctx, stage).await,
        "cart" => cart::run(ctx, stage).await,
        "checkout" => checkout::run(ctx, stage).await,
        "orders" => orders::run(ctx, stage).await,
        "live" => live::run(ctx, stage).await,
        "jobs" => jobs::run(ctx, stage).await,
        "attacks" => attacks::run(ctx, stage).await,
        "load" => load::run(ctx, stage).await,
        _ => Ok(()),
    }
}

/// The capstone's test file: one libtest test per scenario, in order.
pub fn test_file() -> String {
    let mut text = String::from(
        r#"//! The capstone is graded black-box: these tests start your shop (the
//! `shop` binary cargo builds from src/) and speak to it only over HTTP, as
//! the contract in the book's capstone chapter says. Each test is one
//! scenario of the grader, in the order they run; the first test to run
//! grades the whole shop once (stages in order, stopping at the first
//! failure), and each then reports its own scenario.
//!
//! `cargo checker check capstone --stage NAME` runs one stage, and
//! `--seed N` replays a run's random inputs.
//!
//! Generated from the grader (testkit/grader) by
//! `cargo run -q -p grader --example test_file`: do not edit.

/// The shop cargo built beside these tests: yours, or the reference
/// solution's when the solution's tests include this file.
const SHOP: &str = match (
    option_env!("CARGO_BIN_EXE_shop"),
    option_env!("CARGO_BIN_EXE_shop-solution"),
) {
    (Some(path), _) | (None, Some(path)) => path,
    (None, None) => panic!("no shop binary is built beside these tests"),
};

#[track_caller]
fn scenario(stage: &str, name: &str) {
    grader::scenario(SHOP, stage, name);
}
"#,
    );
    for stage in STAGES {
        text.push_str(&format!(
            "\nmod {} {{\n    use super::scenario;\n",
            stage.name
        ));
        for name in stage.scenarios {
            // As rustfmt lays a call out: on one line while its arguments
            // fit in 60 columns (`fn_call_width`), one per line beyond.
            let call = if stage.name.len() + name.len() + 6 > 60 {
                format!(
                    "scenario(\n            \"{}\",\n            \"{name}\",\n        );",
                    stage.name
                )
            } else {
                format!("scenario(\"{}\", \"{name}\");", stage.name)
            };
            text.push_str(&format!(
                "\n    #[test]\n    fn {name}() {{\n        {call}\n    }}\n"
            ));
        }
        text.push_str("}\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checker sorts results by the short name: no two scenarios share one.
    #[test]
    fn scenario_names_are_unique_across_stages() {
        let mut seen = std::collections::BTreeSet::new();
        for stage in STAGES {
            assert!(
                !stage.scenarios.is_empty(),
                "{} has no scenario",
                stage.name
            );
            for name in stage.scenarios {
                assert!(seen.insert(*name), "two scenarios are called {name}");
            }
        }
    }

    /// The checker's `--stage` knows the stages from the exercise's manifest.
    #[test]
    fn the_exercise_manifest_lists_the_stages_in_order() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../lessons/07-capstone/shop/exercise.toml"
        );
        let manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(path).expect("the manifest")).expect("TOML");
        let listed: Vec<&str> = manifest["stages"]
            .as_array()
            .expect("a `stages` list")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        let stages: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
        assert_eq!(
            listed, stages,
            "exercise.toml's `stages` must be the grader's"
        );
    }

    /// The capstone's test file is the one the grader's stages make.
    #[test]
    fn the_capstone_test_file_lists_every_scenario_in_order() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../lessons/07-capstone/shop/tests/capstone.rs"
        );
        let text = std::fs::read_to_string(path).expect("the capstone's test file");
        assert!(
            text == test_file(),
            "the capstone's test file is not the grader's scenarios: run `cargo run -q -p grader --example test_file > lessons/07-capstone/shop/tests/capstone.rs`"
        );
    }
}
