//! `report`: progress per lesson and overall, from the last checks, for a
//! learner or an instructor. Text, JSON and Markdown.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::grade::{Grade, Summary};
use crate::manifest::{Lesson, Workbook};
use crate::progress::Progress;
use crate::provenance::{self, Provenance};
use crate::term;

fn lesson_summary(progress: &Progress, lesson: &Lesson) -> Summary {
    Summary::of(
        lesson
            .exercises
            .iter()
            .map(|exercise| Grade::of(progress, exercise)),
    )
}

fn overall(progress: &Progress, workbook: &Workbook) -> Summary {
    Summary::of(
        progress
            .taken(workbook)
            .map(|exercise| Grade::of(progress, exercise)),
    )
}

/// The status as JSON names it (`not_started`, `timed_out`).
fn status_name(grade: &Grade) -> &'static str {
    grade.status.map_or("not_started", |status| status.as_str())
}

/// The status in words, as `list` shows it (`not started`, `timed out`).
fn status_words(grade: &Grade) -> String {
    status_name(grade).replace('_', " ")
}

/// Where the figures come from, in words.
fn source(verified: bool) -> &'static str {
    if verified {
        "Every exercise was checked again just now."
    } else {
        "These are the results your last checks recorded; `cargo checker report --verify` checks again first."
    }
}

pub fn text(workbook: &Workbook, progress: &Progress, verified: bool) -> String {
    let mut out = format!(
        "{} — progress report\n{}\n\n",
        workbook.title,
        source(verified)
    );
    let _ = writeln!(
        out,
        "{:<40} {:>9} {:>9} {:>7}",
        "Lesson", "Exercises", "Tests", "Score"
    );
    for lesson in progress.lessons(workbook) {
        let summary = lesson_summary(progress, lesson);
        let name = format!("{} · {}", lesson.id, lesson.title);
        row(&mut out, &name, &summary);
        for exercise in &lesson.exercises {
            let grade = Grade::of(progress, exercise);
            let tests = if grade.status.is_some() {
                format!("{}/{}", grade.tests_passed, grade.tests_total)
            } else {
                "-".to_string()
            };
            let _ = writeln!(
                out,
                "    {:<36} {:>9} {:>9} {:>6.1}%",
                exercise.id,
                status_words(&grade),
                tests,
                grade.score() * 100.0
            );
        }
    }
    let summary = overall(progress, workbook);
    out.push('\n');
    row(&mut out, "Overall", &summary);
    let _ = writeln!(
        out,
        "{}",
        term::bar(summary.exercises_done, summary.exercises_total, 40)
    );
    out
}

fn row(out: &mut String, name: &str, summary: &Summary) {
    let name: String = name.chars().take(40).collect();
    let _ = writeln!(
        out,
        "{name:<40} {:>9} {:>9} {:>6.1}%",
        format!("{}/{}", summary.exercises_done, summary.exercises_total),
        format!("{}/{}", summary.tests_passed, summary.tests_total),
        summary.percent
    );
}

pub fn json(
    workbook: &Workbook,
    progress: &Progress,
    verified: bool,
    provenance: &Provenance,
) -> String {
    let lessons: Vec<Value> = progress
        .lessons(workbook)
        .map(|lesson| {
            let exercises: Vec<Value> = lesson
                .exercises
                .iter()
                .map(|exercise| {
                    let grade = Grade::of(progress, exercise);
                    let record = progress.record(&exercise.id);
                    json!({
                        "id": exercise.id,
                        "title": exercise.title,
                        "status": status_name(&grade),
                        "tests_passed": grade.tests_passed,
                        "tests_total": grade.tests_total,
                        "hints_shown": record.map_or(0, |r| r.hints_shown),
                        "tests_modified": record.is_some_and(|r| r.tests_modified),
                        "checked_at": record.map(|r| r.checked_at).filter(|t| *t > 0),
                        "tests_digest": provenance::tests_digest(workbook, exercise),
                    })
                })
                .collect();
            json!({ "id": lesson.id, "title": lesson.title, "summary": lesson_summary(progress, lesson), "exercises": exercises })
        })
        .collect();
    let mut document: Map<String, Value> = provenance
        .fields()
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    document.insert("workbook".into(), json!(workbook.title));
    // "recorded": repeated from the last checks; "verified": checked again now.
    document.insert(
        "source".into(),
        json!(if verified { "verified" } else { "recorded" }),
    );
    document.insert("lessons".into(), json!(lessons));
    document.insert("summary".into(), json!(overall(progress, workbook)));
    serde_json::to_string_pretty(&document).expect("JSON values always serialise")
}

pub fn markdown(workbook: &Workbook, progress: &Progress, verified: bool) -> String {
    let mut out = format!(
        "# {} — progress report\n\n{}\n\n",
        workbook.title,
        source(verified)
    );
    out.push_str(
        "| Lesson | Exercises done | Tests passed | Score |\n| --- | ---: | ---: | ---: |\n",
    );
    for lesson in progress.lessons(workbook) {
        let s = lesson_summary(progress, lesson);
        let _ = writeln!(
            out,
            "| {} · {} | {}/{} | {}/{} | {:.1}% |",
            lesson.id,
            lesson.title,
            s.exercises_done,
            s.exercises_total,
            s.tests_passed,
            s.tests_total,
            s.percent
        );
    }
    let s = overall(progress, workbook);
    let _ = writeln!(
        out,
        "| **Overall** | **{}/{}** | **{}/{}** | **{:.1}%** |",
        s.exercises_done, s.exercises_total, s.tests_passed, s.tests_total, s.percent
    );
    for lesson in progress.lessons(workbook) {
        let _ = write!(
            out,
            "\n## {} · {}\n\n| Exercise | Status | Tests | Hints shown |\n| --- | --- | ---: | ---: |\n",
            lesson.id, lesson.title
        );
        for exercise in &lesson.exercises {
            let grade = Grade::of(progress, exercise);
            let hints = progress.record(&exercise.id).map_or(0, |r| r.hints_shown);
            let _ = writeln!(
                out,
                "| `{}` {} | {} | {}/{} | {hints} |",
                exercise.id,
                exercise.title,
                status_words(&grade),
                grade.tests_passed,
                grade.tests_total
            );
        }
    }
    out
}
