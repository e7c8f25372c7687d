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
    let exercises: Vec<&Exercise> = progress.route(&context.workbook, &current.id).collect();
    let position = exercises
        .iter()
        .position(|e| e.id == current.id)
        .unwrap_or(0);
    let Some(next) = exercises.get(position + 1) else {
        println!(
            "{} is the last exercise of the workbook. `cargo checker list` shows what is left to do.",
            current.id
        );
        print_electives_left(context, &progress);
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

/// The electives not taken yet, and how to take one.
fn print_electives_left(context: &Context, progress: &crate::progress::Progress) {
    for (lesson, first) in progress.untaken(&context.workbook) {
        println!(
            "Elective {} · {}: `cargo checker goto {}` takes it.",
            lesson.id, lesson.title, first.id
        );
    }
}

pub fn goto(context: &Context, id: &str) -> Result<ExitCode> {
    let exercise = context.workbook.select_one(id)?.clone();
    move_to(context, &exercise)
}

fn move_to(context: &Context, exercise: &Exercise) -> Result<ExitCode> {
    let taken = context.store.update(|progress| {
        progress.current = Some(exercise.id.clone());
        progress.take(exercise)
    })?;
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
    if taken {
        println!(
            "You took the elective {}: `check --all`, `next` and your totals count its exercises from now on.",
            exercise.lesson
        );
    }
    Ok(ExitCode::SUCCESS)
}
