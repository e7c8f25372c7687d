//! `next` and `goto`: which exercise the learner works on.

use std::process::ExitCode;

use anyhow::Result;
use colored::Colorize;

use super::Context;
use crate::manifest::Exercise;

pub fn next(context: &Context) -> Result<ExitCode> {
    let progress = context.store.load()?;
    let Some(current) = context.current(&progress) else {
        println!("This workbook has no exercises yet.");
        return Ok(ExitCode::SUCCESS);
    };
    let exercises: Vec<&Exercise> = context.workbook.exercises().collect();
    let position = exercises
        .iter()
        .position(|e| e.id == current.id)
        .unwrap_or(0);
    let Some(next) = exercises.get(position + 1) else {
        println!(
            "{} is the last exercise of the workbook. `cargo checker list` shows what is left to do.",
            current.id
        );
        return Ok(ExitCode::SUCCESS);
    };
    if !progress.is_done(&current.id) {
        println!(
            "{} is not done yet; you can come back with `cargo checker goto {}`.",
            current.id, current.id
        );
    }
    move_to(context, next)
}

pub fn goto(context: &Context, id: &str) -> Result<ExitCode> {
    let exercise = context.workbook.select_one(id)?.clone();
    move_to(context, &exercise)
}

fn move_to(context: &Context, exercise: &Exercise) -> Result<ExitCode> {
    context
        .store
        .update(|progress| progress.current = Some(exercise.id.clone()))?;
    println!(
        "{} {} · {}",
        "Now working on".bold(),
        exercise.id.bold(),
        exercise.title
    );
    for file in &exercise.edit {
        println!(
            "  edit  {}",
            crate::term::file_link(&context.workbook.root, file)
        );
    }
    println!("  read  {}", exercise.book_page());
    println!("Then `cargo checker check`.");
    Ok(ExitCode::SUCCESS)
}
