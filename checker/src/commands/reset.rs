//! `reset`: put an exercise's files back as they were given.
//!
//! The starters come from git: the commit the workbook was at when the
//! checker first ran (kept in the progress file), so commits of the learner's
//! own work never become "the starter".

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result, bail};
use colored::Colorize;

use super::Context;
use crate::UsageError;
use crate::manifest::Exercise;

pub fn run(context: &Context, id: &str, yes: bool) -> Result<ExitCode> {
    let exercise = context.workbook.select_one(id)?;
    // Read every starter before asking: a reset that cannot work says so first.
    let starters = starters(context, exercise)?;
    let names: Vec<String> = exercise
        .edit
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let question = format!(
        "Restore {} to the starter? Your changes to it will be lost.",
        names.join(", ")
    );
    if !yes && !confirm(&question)? {
        println!("Nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    write_starters(context, exercise, starters)?;
    println!(
        "{} {} is back to its starter.",
        "Reset:".bold(),
        exercise.id
    );
    Ok(ExitCode::SUCCESS)
}

/// Puts the exercise's files back as they were given (for watch mode, which
/// asks for confirmation its own way).
pub fn restore(context: &Context, exercise: &Exercise) -> Result<()> {
    let starters = starters(context, exercise)?;
    write_starters(context, exercise, starters)
}

/// Every edited file's starter, read before any file is written: all or nothing.
fn starters(context: &Context, exercise: &Exercise) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let progress = context.store.load()?;
    let revision = progress.baseline.unwrap_or_else(|| "HEAD".to_string());
    exercise
        .edit
        .iter()
        .map(|file| {
            Ok((
                file.clone(),
                starter(&context.workbook.root, &revision, file)?,
            ))
        })
        .collect()
}

fn write_starters(
    context: &Context,
    exercise: &Exercise,
    starters: Vec<(PathBuf, Vec<u8>)>,
) -> Result<()> {
    for (file, content) in starters {
        std::fs::write(context.workbook.path(&file), content)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    context.store.update(|progress| {
        if let Some(record) = progress.exercises.get_mut(&exercise.id) {
            record.status = None;
            record.tests_passed = 0;
        }
    })?;
    Ok(())
}

fn starter(root: &Path, revision: &str, file: &Path) -> Result<Vec<u8>> {
    let spec = |rev: &str| format!("{rev}:{}", file.to_string_lossy().replace('\\', "/"));
    for rev in [revision, "HEAD"] {
        let output = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["show", &spec(rev)])
            .output();
        match output {
            Ok(output) if output.status.success() => return Ok(output.stdout),
            Ok(_) => continue,
            Err(_) => bail!(
                "reset restores starters with git, and git could not be started: is it installed?"
            ),
        }
    }
    bail!(
        "git has no starter for {} (is this folder a git clone of the workbook?)",
        file.display()
    )
}

fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(UsageError(format!(
            "{question} Run again with --yes to confirm."
        )));
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The commit the workbook is at, recorded the first time the checker runs.
pub fn current_commit(root: &Path) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}
