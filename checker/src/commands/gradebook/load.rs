//! Reading the reports a gradebook is made of: `grade`'s `grades/NAME.json`,
//! `check --format json` and `report --format json` documents.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::UsageError;
use crate::grade::Grade;
use crate::outcome::Status;

/// One learner's results, whichever command wrote them.
#[derive(Debug, Clone)]
pub struct LearnerReport {
    /// `learner.name` (what `grade` filed it under), else the file's name.
    pub name: String,
    pub file: PathBuf,
    /// The lessons in the report's order, each with its exercises.
    pub lessons: Vec<LessonResults>,
}

#[derive(Debug, Clone)]
pub struct LessonResults {
    pub id: String,
    /// `report`'s lesson title; `check` and `grade` give only the id.
    pub title: Option<String>,
    pub exercises: Vec<ExerciseResult>,
}

#[derive(Debug, Clone)]
pub struct ExerciseResult {
    pub id: String,
    pub title: String,
    /// `status: None` is `not_started` (only `report` says that).
    pub grade: Grade,
}

/// The fields the gradebook reads; the schema (report.schema.json) has more.
#[derive(Deserialize)]
struct Document {
    kind: String,
    report_version: u64,
    learner: Learner,
    #[serde(default)]
    exercises: Vec<CheckExercise>,
    #[serde(default)]
    lessons: Vec<ProgressLesson>,
}

#[derive(Deserialize)]
struct Learner {
    name: Option<String>,
}

#[derive(Deserialize)]
struct CheckExercise {
    id: String,
    lesson: String,
    title: String,
    status: Status,
    tests_passed: usize,
    tests_total: usize,
}

#[derive(Deserialize)]
struct ProgressLesson {
    id: String,
    title: String,
    exercises: Vec<ProgressExercise>,
}

#[derive(Deserialize)]
struct ProgressExercise {
    id: String,
    title: String,
    status: ProgressStatus,
    tests_passed: usize,
    tests_total: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ProgressStatus {
    NotStarted,
    #[serde(untagged)]
    Checked(Status),
}

/// The report files among `inputs`: files as given, folders' `*.json` (not
/// their subfolders: `grade` writes its reports side by side), sorted.
pub fn collect(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot read the folder {}", input.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "json"))
                .collect();
            if found.is_empty() {
                bail!(UsageError(format!(
                    "{} holds no .json reports: give the folder `cargo checker grade` wrote (grades/ by default) or report files",
                    input.display()
                )));
            }
            found.sort();
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            bail!(UsageError(format!(
                "{}: no such file or folder",
                input.display()
            )));
        }
    }
    Ok(files)
}

pub fn read(file: &Path) -> Result<LearnerReport> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    parse(&text, file).map_err(|why| {
        UsageError(format!(
            "{}: not a checker report ({why}); give `grade`'s grades/NAME.json or `report --format json` output",
            file.display()
        ))
        .into()
    })
}

/// Why it fails is one line: serde's message, or what is wrong with the kind.
fn parse(text: &str, file: &Path) -> Result<LearnerReport, String> {
    let document: Document = serde_json::from_str(text).map_err(|error| error.to_string())?;
    if document.report_version != 1 {
        return Err(format!(
            "report_version {} is not one this checker reads (1)",
            document.report_version
        ));
    }
    let lessons = match document.kind.as_str() {
        "check" | "grade" => lessons_of_check(document.exercises),
        "report" => lessons_of_progress(document.lessons),
        other => return Err(format!("kind `{other}`")),
    };
    let name = document
        .learner
        .name
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| {
            file.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    Ok(LearnerReport {
        name,
        file: file.to_path_buf(),
        lessons,
    })
}

fn lessons_of_check(exercises: Vec<CheckExercise>) -> Vec<LessonResults> {
    let mut lessons: Vec<LessonResults> = Vec::new();
    for exercise in exercises {
        let result = ExerciseResult {
            id: exercise.id,
            title: exercise.title,
            grade: Grade {
                status: Some(exercise.status),
                // As the checker scores it: a modified exercise earns nothing.
                tests_passed: if exercise.status == Status::Modified {
                    0
                } else {
                    exercise.tests_passed
                },
                tests_total: exercise.tests_total,
            },
        };
        match lessons
            .iter_mut()
            .find(|lesson| lesson.id == exercise.lesson)
        {
            Some(lesson) => lesson.exercises.push(result),
            None => lessons.push(LessonResults {
                id: exercise.lesson,
                title: None,
                exercises: vec![result],
            }),
        }
    }
    lessons
}

fn lessons_of_progress(lessons: Vec<ProgressLesson>) -> Vec<LessonResults> {
    lessons
        .into_iter()
        .map(|lesson| LessonResults {
            id: lesson.id,
            title: Some(lesson.title),
            exercises: lesson
                .exercises
                .into_iter()
                .map(|exercise| {
                    let status = match exercise.status {
                        ProgressStatus::NotStarted => None,
                        ProgressStatus::Checked(status) => Some(status),
                    };
                    ExerciseResult {
                        id: exercise.id,
                        title: exercise.title,
                        grade: Grade {
                            status,
                            tests_passed: if status == Some(Status::Modified) {
                                0
                            } else {
                                exercise.tests_passed
                            },
                            tests_total: exercise.tests_total,
                        },
                    }
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<LearnerReport, String> {
        parse(text, Path::new("grades/bob.json"))
    }

    #[test]
    fn a_grade_report_groups_exercises_by_lesson_in_order() {
        let report = parse_str(
            r#"{"kind":"grade","report_version":1,"learner":{"name":"alice"},
            "exercises":[
              {"id":"a/one","lesson":"a","title":"One","status":"done","tests_passed":2,"tests_total":2},
              {"id":"b/two","lesson":"b","title":"Two","status":"failed","tests_passed":1,"tests_total":3},
              {"id":"a/three","lesson":"a","title":"Three","status":"modified","tests_passed":4,"tests_total":4}
            ]}"#,
        )
        .unwrap();
        assert_eq!(report.name, "alice");
        let ids: Vec<_> = report
            .lessons
            .iter()
            .map(|lesson| lesson.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(report.lessons[0].exercises.len(), 2);
        // A modified exercise's passes count for nothing, as in the checker.
        assert_eq!(report.lessons[0].exercises[1].grade.tests_passed, 0);
    }

    #[test]
    fn a_progress_report_keeps_not_started_and_is_named_after_its_file() {
        let report = parse_str(
            r#"{"kind":"report","report_version":1,"learner":{"name":null},
            "lessons":[{"id":"a","title":"Lesson A","exercises":[
              {"id":"a/one","title":"One","status":"not_started","tests_passed":0,"tests_total":0},
              {"id":"a/two","title":"Two","status":"timed_out","tests_passed":0,"tests_total":1}
            ]}]}"#,
        )
        .unwrap();
        assert_eq!(report.name, "bob");
        assert_eq!(report.lessons[0].title.as_deref(), Some("Lesson A"));
        assert_eq!(report.lessons[0].exercises[0].grade.status, None);
        assert_eq!(
            report.lessons[0].exercises[1].grade.status,
            Some(Status::TimedOut)
        );
    }

    #[test]
    fn what_is_not_a_report_says_why() {
        assert!(parse_str("[1, 2]").unwrap_err().contains("expected"));
        assert!(
            parse_str(r#"{"kind":"list","report_version":1,"learner":{"name":null}}"#)
                .unwrap_err()
                .contains("kind `list`")
        );
        assert!(
            parse_str(r#"{"kind":"grade","report_version":2,"learner":{"name":null}}"#)
                .unwrap_err()
                .contains("report_version 2")
        );
    }
}
