//! What `check` prints in a terminal: the verdict first, then the first
//! failure in full, then one line for every other test, then what to do next.

use std::fmt::Write as _;

use colored::Colorize;

use crate::grade::{Grade, Summary};
use crate::manifest::{Exercise, Workbook};
use crate::outcome::{Outcome, Status};
use crate::progress::Progress;
use crate::term;
use crate::term::plural;

/// How many compiler errors are listed by location before "and N more".
const LISTED_ERRORS: usize = 5;
/// How many lines of a failing test's own output are shown.
const PRINTED_LINES: usize = 20;

pub fn outcomes(
    workbook: &Workbook,
    progress: &Progress,
    exercises: &[&Exercise],
    outcomes: &[Outcome],
) -> String {
    let mut out = String::new();
    if let ([exercise], [outcome]) = (exercises, outcomes) {
        detail(&mut out, workbook, progress, exercise, outcome);
        return out;
    }
    for (exercise, outcome) in exercises.iter().zip(outcomes) {
        let _ = writeln!(
            out,
            "{} {:<28} {}",
            mark(outcome.status),
            exercise.id,
            verdict(outcome)
        );
        tampering(&mut out, outcome);
    }
    if let Some((exercise, outcome)) = exercises
        .iter()
        .zip(outcomes)
        .find(|(_, outcome)| outcome.status != Status::Done)
    {
        let _ = writeln!(out, "\n{} {}", "First to fix:".bold(), exercise.id.bold());
        first_problem(&mut out, outcome);
    }
    let summary = Summary::of(outcomes.iter().map(|outcome| Grade {
        status: Some(outcome.status),
        tests_passed: outcome.tests_passed(),
        tests_total: outcome.tests_total(),
    }));
    let _ = writeln!(
        out,
        "\n{} of {} exercises done, {} of {} tests pass ({}%)",
        summary.exercises_done,
        summary.exercises_total,
        summary.tests_passed,
        summary.tests_total,
        summary.percent
    );
    out
}

fn detail(
    out: &mut String,
    workbook: &Workbook,
    progress: &Progress,
    exercise: &Exercise,
    outcome: &Outcome,
) {
    let _ = writeln!(
        out,
        "{} {} {} {}",
        mark(outcome.status),
        exercise.id.bold(),
        format!("· {}:", exercise.title).dimmed(),
        verdict(outcome)
    );
    tampering(out, outcome);
    if outcome.status == Status::Done {
        celebrate(out, workbook, progress, exercise);
        for flag in &outcome.review {
            let _ = writeln!(out, "{} {}", "note:".yellow().bold(), flag.describe());
        }
        return;
    }
    first_problem(out, outcome);
    if outcome.tests.len() > 1 {
        let _ = writeln!(out, "\n{}", "Tests:".bold());
        for test in &outcome.tests {
            match &test.failure {
                None => {
                    let _ = writeln!(out, "  {} {}", term::pass_mark(), test.name);
                }
                Some(failure) => {
                    let _ = writeln!(
                        out,
                        "  {} {} {}",
                        term::fail_mark(),
                        test.name,
                        format!("— {}", failure.headline()).dimmed()
                    );
                }
            }
        }
    }
    for note in &outcome.notes {
        let _ = writeln!(out, "{} {note}", "note:".yellow().bold());
    }
    for flag in &outcome.review {
        let _ = writeln!(out, "{} {}", "note:".yellow().bold(), flag.describe());
    }
    next_steps(out, workbook, progress, exercise);
}

/// Modified tests are said loudly: a grade from them means nothing.
fn tampering(out: &mut String, outcome: &Outcome) {
    if outcome.tests_modified.is_empty() {
        return;
    }
    let files: Vec<String> = outcome
        .tests_modified
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let _ = writeln!(
        out,
        "  {} files that grade it are not as the workbook gave them ({}); it scores 0 until they are restored (`git checkout` them, or `git clean` a new file).",
        "warning:".yellow().bold(),
        files.join(", ")
    );
}

/// The first compiler error in rustc's own words, or the first failing test
/// with its whole message.
fn first_problem(out: &mut String, outcome: &Outcome) {
    if let Some(first) = outcome.compile_errors.first() {
        let _ = writeln!(
            out,
            "\n{}",
            "It does not compile. Fix the first error first; others often follow from it:".bold()
        );
        for error in outcome.compile_errors.iter().take(LISTED_ERRORS) {
            let _ = writeln!(
                out,
                "  {}:{}:{}: {}",
                error.file, error.line, error.column, error.headline
            );
        }
        if outcome.compile_errors.len() > LISTED_ERRORS {
            let _ = writeln!(
                out,
                "  ... and {} more",
                outcome.compile_errors.len() - LISTED_ERRORS
            );
        }
        let _ = writeln!(out, "\n{}", first.rendered.trim_end());
        return;
    }
    let Some(test) = outcome.failures().next() else {
        if outcome.tests.is_empty() {
            let _ = writeln!(out, "\nNo test ran.");
        }
        return;
    };
    let failure = test.failure.as_ref().expect("a failing test has a failure");
    let location = failure
        .location
        .as_deref()
        .map(|l| format!(" (at {l})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "\n{} {}{}",
        "First failure:".red().bold(),
        test.name.bold(),
        location.dimmed()
    );
    for line in failure.message.lines() {
        let _ = writeln!(out, "  {line}");
    }
    let printed = extra_output(&failure.output, &failure.message);
    if !printed.is_empty() {
        let _ = writeln!(out, "\n  {}", "The test also printed:".dimmed());
        let lines: Vec<&str> = printed.lines().collect();
        for line in lines.iter().take(PRINTED_LINES) {
            let _ = writeln!(out, "  {} {line}", "|".dimmed());
        }
        if lines.len() > PRINTED_LINES {
            let _ = writeln!(
                out,
                "  {} ... {} more lines",
                "|".dimmed(),
                lines.len() - PRINTED_LINES
            );
        }
    }
}

/// The test's output minus its panic report (shown above already).
fn extra_output(output: &str, message: &str) -> String {
    output
        .lines()
        .filter(|line| {
            !line.starts_with("thread '")
                && !message.contains(line.trim())
                && !line.trim().is_empty()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn celebrate(out: &mut String, workbook: &Workbook, progress: &Progress, exercise: &Exercise) {
    let lesson = workbook
        .lesson(&exercise.lesson)
        .expect("an exercise's lesson exists");
    let done = lesson
        .exercises
        .iter()
        .filter(|e| progress.is_done(&e.id))
        .count();
    let total = lesson.exercises.len();
    let _ = writeln!(
        out,
        "\n{} Lesson {}: {} {done}/{total} exercises done.",
        "Well done!".green().bold(),
        lesson.id,
        term::bar(done, total, 20)
    );
    let _ = writeln!(
        out,
        "Compare with the reference solution in {}, then move on with `cargo checker next`.",
        solution_place(exercise)
    );
}

/// Where the reference solution of what the learner edited is: its `src`
/// folder, or, for an exercise whose edited files are not all in `src/`
/// (a `Dockerfile`), the solution's counterpart of each.
fn solution_place(exercise: &Exercise) -> String {
    let inside: Vec<&std::path::Path> = exercise
        .edit
        .iter()
        .map(|file| file.strip_prefix(&exercise.dir).unwrap_or(file))
        .collect();
    if inside.iter().all(|file| file.starts_with("src")) {
        return exercise.solution_dir.join("src").display().to_string();
    }
    inside
        .iter()
        .map(|file| exercise.solution_dir.join(file).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn next_steps(out: &mut String, workbook: &Workbook, progress: &Progress, exercise: &Exercise) {
    let files: Vec<String> = exercise
        .edit
        .iter()
        .map(|f| term::file_link(&workbook.root, f))
        .collect();
    let shown = progress
        .record(&exercise.id)
        .map_or(0, |record| record.hints_shown);
    let left = exercise.hints.len().saturating_sub(shown);
    let _ = writeln!(
        out,
        "\nEdit {} · read {}",
        files.join(", "),
        exercise.book_page()
    );
    if left > 0 {
        let _ = writeln!(
            out,
            "Stuck? `cargo checker hint` ({} left)",
            plural(left, "hint")
        );
    }
}

pub fn mark(status: Status) -> colored::ColoredString {
    match status {
        Status::Done => term::pass_mark(),
        _ => term::fail_mark(),
    }
}

pub fn verdict(outcome: &Outcome) -> String {
    let (passed, total) = (outcome.tests_passed(), outcome.tests_total());
    match outcome.status {
        Status::Done => format!("all {} pass", plural(total, "test"))
            .green()
            .to_string(),
        Status::Failed => format!("{passed} of {} pass", plural(total, "test")),
        Status::CompileError => "does not compile".red().to_string(),
        // libtest confirms no pass of a run it never finished: none counts.
        Status::TimedOut => "timed out: a test did not finish, so no pass counts"
            .red()
            .to_string(),
        Status::Modified => "not graded: what grades it was changed (0 points)"
            .red()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn exercise(edit: &[&str]) -> Exercise {
        let dir = PathBuf::from("lessons/06-production/deploy");
        Exercise {
            id: "production/deploy".into(),
            lesson: "production".into(),
            title: "Deploy".into(),
            edit: edit.iter().map(|file| dir.join(file)).collect(),
            dir,
            solution_dir: PathBuf::from("solutions/06-production/deploy"),
            tests: vec![PathBuf::from("tests/deploy.rs")],
            book: "production/deploy.md".into(),
            book_dir: PathBuf::from("book/src"),
            hints: Vec::new(),
            timeout_secs: 60,
            package: "production-deploy".into(),
            solution_package: "production-deploy-solution".into(),
            stages: Vec::new(),
            elective: false,
        }
    }

    #[test]
    fn the_solution_is_named_where_the_edited_files_are() {
        assert_eq!(
            solution_place(&exercise(&["src/lib.rs"])),
            "solutions/06-production/deploy/src"
        );
        assert_eq!(
            solution_place(&exercise(&["Dockerfile", ".dockerignore"])),
            "solutions/06-production/deploy/Dockerfile, solutions/06-production/deploy/.dockerignore"
        );
    }
}
