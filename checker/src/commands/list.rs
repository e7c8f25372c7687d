//! `list`: every exercise, its status and its score.

use std::process::ExitCode;

use anyhow::Result;
use colored::Colorize;
use serde_json::json;

use super::Context;
use crate::cli::ListFormat;
use crate::grade::{Grade, Summary};
use crate::term;

pub fn run(context: &Context, format: ListFormat) -> Result<ExitCode> {
    let progress = context.store.load()?;
    let workbook = &context.workbook;
    let current = context.current(&progress).map(|e| e.id.clone());
    match format {
        ListFormat::Json => {
            let exercises: Vec<_> = workbook
                .exercises()
                .map(|exercise| {
                    let grade = Grade::of(&progress, exercise);
                    json!({
                        "id": exercise.id,
                        "lesson": exercise.lesson,
                        "title": exercise.title,
                        "status": grade.status.map_or("not_started", |s| s.as_str()),
                        "tests_passed": grade.tests_passed,
                        "tests_total": grade.tests_total,
                        "current": current.as_deref() == Some(exercise.id.as_str()),
                        "elective": exercise.elective,
                        "taken": progress.takes_exercise(exercise),
                        "edit": exercise.edit,
                        "book": exercise.book_page(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "exercises": exercises }))?
            );
        }
        ListFormat::Text => {
            let summary = Summary::of(progress.taken(workbook).map(|e| Grade::of(&progress, e)));
            println!(
                "{} {} {}/{} exercises done, {}%\n{}\n",
                workbook.title.bold(),
                term::bar(summary.exercises_done, summary.exercises_total, 20),
                summary.exercises_done,
                summary.exercises_total,
                summary.percent,
                "(as your last checks recorded; `cargo checker check --all` checks again)".dimmed()
            );
            for lesson in &workbook.lessons {
                let done = lesson
                    .exercises
                    .iter()
                    .filter(|e| progress.is_done(&e.id))
                    .count();
                println!(
                    "{} · {} ({done}/{})",
                    lesson.id.bold(),
                    lesson.title,
                    lesson.exercises.len()
                );
                if !progress.takes(lesson) {
                    let first = lesson.exercises.first().map_or("", |e| e.id.as_str());
                    println!(
                        "  {}",
                        format!(
                            "An elective: not in your totals, and never built, until `cargo checker goto {first}` takes it."
                        )
                        .dimmed()
                    );
                }
                for exercise in &lesson.exercises {
                    let grade = Grade::of(&progress, exercise);
                    let (mark, status) = match grade.status {
                        None => (term::pending_mark(), "not started".dimmed()),
                        Some(_) if grade.is_done() => (term::pass_mark(), "done".green()),
                        Some(status) => (
                            term::fail_mark(),
                            status.as_str().replace('_', " ").normal(),
                        ),
                    };
                    let score = if grade.status.is_some() {
                        format!("{}/{}", grade.tests_passed, grade.tests_total)
                    } else {
                        "-".into()
                    };
                    let pointer = if current.as_deref() == Some(exercise.id.as_str()) {
                        "▶"
                    } else {
                        " "
                    };
                    println!(
                        "{pointer} {mark} {:<26} {:<28} {score:>6}  {status}",
                        exercise.id,
                        fit(&exercise.title, 28)
                    );
                }
                println!();
            }
            println!("▶ marks your current exercise. `cargo checker goto ID` changes it.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` cut to `width` characters, with an ellipsis where it was cut, so
/// that a long title never runs into the next column.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn a_long_title_is_cut_to_its_column_with_an_ellipsis() {
        assert_eq!(fit("Hello, world", 28), "Hello, world");
        let long = fit("Code that replaces other test binaries and the checker", 28);
        assert_eq!(long.chars().count(), 28);
        assert!(long.ends_with('…'), "{long}");
        assert_eq!(fit("é".repeat(30).as_str(), 28).chars().count(), 28);
    }
}
