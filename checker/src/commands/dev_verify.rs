//! `dev verify`: every starter compiles and fails every one of its tests;
//! every solution passes every test of the very same test files.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use colored::Colorize;

use super::Context;
use crate::manifest::Exercise;
use crate::outcome::{Outcome, Status};
use crate::run::{self, Job, Runner, Side};
use crate::term;

pub fn run(context: &Context, target: Option<&str>, timeout: Option<u64>) -> Result<ExitCode> {
    let exercises: Vec<&Exercise> = match target {
        Some(target) => context.workbook.select(target)?,
        None => context.workbook.exercises().collect(),
    };
    let runner = Runner::new(
        &context.workbook,
        context.color,
        timeout.map(Duration::from_secs),
    );
    let jobs: Vec<Job> = exercises
        .iter()
        .flat_map(|exercise| [Side::Starter, Side::Solution].map(|side| Job { exercise, side }))
        .collect();
    println!(
        "Building {} starters and their solutions...",
        exercises.len()
    );
    let show = term::stderr_is_terminal();
    let build = runner.build(&jobs, Some(run::build_feedback(show)));
    if show {
        run::clear_progress_line();
    }
    let mut build = build?;
    let (mut passed, mut failed) = (0, 0);
    for exercise in &exercises {
        let starter = runner.test(
            &Job {
                exercise,
                side: Side::Starter,
            },
            &mut build,
        );
        let solution = runner.test(
            &Job {
                exercise,
                side: Side::Solution,
            },
            &mut build,
        );
        let problems = problems(&starter, &solution);
        if problems.is_empty() {
            passed += 1;
            println!(
                "{} {:<28} starter 0/{} · solution {}/{}",
                term::pass_mark(),
                exercise.id,
                starter.tests_total(),
                solution.tests_passed(),
                solution.tests_total()
            );
        } else {
            failed += 1;
            // The counts say at a glance which side is wrong (a new
            // exercise's solution fails like its starter until written).
            let compiled = ![&starter, &solution]
                .iter()
                .any(|outcome| outcome.status == Status::CompileError);
            if compiled {
                println!(
                    "{} {} starter {}/{} · solution {}/{}",
                    term::fail_mark(),
                    format!("{:<28}", exercise.id).bold(),
                    starter.tests_passed(),
                    starter.tests_total(),
                    solution.tests_passed(),
                    solution.tests_total()
                );
            } else {
                println!("{} {}", term::fail_mark(), exercise.id.bold());
            }
            for problem in problems {
                println!("    {problem}");
            }
        }
    }
    // The plain closing line CI tooling reads.
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Why the pair breaks the rules; empty when it keeps them.
fn problems(starter: &Outcome, solution: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    match starter.status {
        Status::CompileError => {
            let first = &starter.compile_errors[0];
            problems.push(format!(
                "the starter does not compile: {}:{}: {}",
                first.file, first.line, first.headline
            ));
        }
        Status::TimedOut => {
            problems.push("the starter's tests timed out: a starter must fail fast".into())
        }
        _ if starter.tests_total() == 0 => problems.push("the starter ran no test".into()),
        _ => {
            for test in starter.tests.iter().filter(|test| test.passed) {
                problems.push(format!(
                    "`{}` passes on the untouched starter: a free point",
                    test.name
                ));
            }
        }
    }
    match solution.status {
        Status::Done => {}
        Status::CompileError => {
            let first = &solution.compile_errors[0];
            problems.push(format!(
                "the solution does not compile: {}:{}: {}",
                first.file, first.line, first.headline
            ));
        }
        _ => {
            if solution.tests.is_empty() {
                problems.push("the solution ran no test".into());
            }
            for test in solution.failures() {
                let headline = test.failure.as_ref().map_or("failed", |f| f.headline());
                problems.push(format!("`{}` fails on the solution: {headline}", test.name));
            }
        }
    }
    let compiled =
        starter.status != Status::CompileError && solution.status != Status::CompileError;
    if compiled && starter.tests_total() != solution.tests_total() {
        problems.push(format!(
            "the starter ran {} tests and the solution {}: they must share one test file",
            starter.tests_total(),
            solution.tests_total()
        ));
    }
    problems.extend(starter.notes.iter().map(|note| format!("starter: {note}")));
    problems.extend(
        solution
            .notes
            .iter()
            .map(|note| format!("solution: {note}")),
    );
    problems
}
