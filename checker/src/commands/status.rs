//! `cargo checker` with no command: where you are and what to do next.

use std::process::ExitCode;

use anyhow::Result;
use colored::Colorize;

use super::Context;
use crate::grade::{Grade, Summary};
use crate::term;

pub fn run(context: &Context) -> Result<ExitCode> {
    let progress = context.store.load()?;
    let workbook = &context.workbook;
    let summary = Summary::of(progress.taken(workbook).map(|e| Grade::of(&progress, e)));
    println!(
        "{} {} {}/{} exercises done",
        workbook.title.bold(),
        term::bar(summary.exercises_done, summary.exercises_total, 30),
        summary.exercises_done,
        summary.exercises_total
    );
    let Some(exercise) = context.current(&progress) else {
        println!("This workbook has no exercises yet.");
        return Ok(ExitCode::SUCCESS);
    };
    let grade = Grade::of(&progress, exercise);
    let status = match grade.status {
        None => "not started yet".to_string(),
        Some(status) if grade.is_done() => {
            format!("{} ({} tests pass)", status.as_str(), grade.tests_passed)
        }
        Some(status) => format!(
            "{} ({} of {} tests pass)",
            status.as_str(),
            grade.tests_passed,
            grade.tests_total
        ),
    };
    println!(
        "\n{} {} · {}",
        "Current exercise:".bold(),
        exercise.id.bold(),
        exercise.title
    );
    println!("  status  {status}");
    for file in &exercise.edit {
        println!("  edit    {}", term::file_link(&workbook.root, file));
    }
    println!(
        "  read    {} (`mdbook serve book` shows the whole book)",
        exercise.book_page()
    );
    println!();
    if grade.is_done() {
        println!(
            "It is done: `cargo checker next` moves on, `cargo checker list` shows everything."
        );
    } else {
        println!("Edit the file, then run `cargo checker check` to see what the tests say.");
        println!("Stuck? `cargo checker hint`. All commands: `cargo checker --help`.");
    }
    Ok(ExitCode::SUCCESS)
}
