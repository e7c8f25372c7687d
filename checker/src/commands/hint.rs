//! `hint`: hints unlock one at a time, each saying a little more.

use std::process::ExitCode;

use anyhow::Result;
use colored::Colorize;

use super::Context;

pub fn run(context: &Context, id: Option<&str>) -> Result<ExitCode> {
    let progress = context.store.load()?;
    let exercise = context.exercise_or_current(id, &progress)?.clone();
    if exercise.hints.is_empty() {
        println!(
            "{} has no hints. The book section {} explains it.",
            exercise.id,
            exercise.book_page()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let total = exercise.hints.len();
    let shown = unlock_next(context, &exercise)?;
    println!("{} {}\n", "Hints for".bold(), exercise.id.bold());
    for (index, hint) in exercise.hints.iter().take(shown).enumerate() {
        let label = format!("Hint {} of {total}:", index + 1);
        let label = if index + 1 == shown {
            label.yellow().bold()
        } else {
            label.dimmed()
        };
        println!("{label}");
        for line in hint.trim().lines() {
            println!("  {line}");
        }
        println!();
    }
    if shown < total {
        println!("Run `cargo checker hint` again for the next one.");
    } else {
        println!(
            "That was the last hint. The book section {} has the whole story.",
            exercise.book_page()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Unlocks one more hint of `exercise`; returns how many are now shown.
pub fn unlock_next(context: &Context, exercise: &crate::manifest::Exercise) -> Result<usize> {
    let total = exercise.hints.len();
    context.store.update(|progress| {
        let record = progress.exercises.entry(exercise.id.clone()).or_default();
        record.hints_shown = (record.hints_shown + 1).min(total);
        record.hints_shown
    })
}
