//! `check --format json`: one document on stdout, for scripts and instructors.
//! Its shape is documented in the book's instructor appendix; change both together.

use serde_json::{Value, json};

use crate::grade::{Grade, Summary};
use crate::manifest::Exercise;
use crate::outcome::Outcome;

pub fn check(exercises: &[&Exercise], outcomes: &[Outcome]) -> String {
    let items: Vec<Value> = exercises
        .iter()
        .zip(outcomes)
        .map(|(e, o)| exercise(e, o))
        .collect();
    let summary = Summary::of(outcomes.iter().map(|outcome| Grade {
        status: Some(outcome.status),
        tests_passed: outcome.tests_passed(),
        tests_total: outcome.tests_total(),
    }));
    let document = json!({ "exercises": items, "summary": summary });
    serde_json::to_string_pretty(&document).expect("JSON values always serialise")
}

fn exercise(exercise: &Exercise, outcome: &Outcome) -> Value {
    let tests: Vec<Value> = outcome
        .tests
        .iter()
        .map(|test| {
            let mut value = json!({ "name": test.name, "passed": test.passed });
            if let Some(failure) = &test.failure {
                value["message"] = json!(failure.message);
                value["location"] = json!(failure.location);
            }
            value
        })
        .collect();
    let errors: Vec<Value> = outcome
        .compile_errors
        .iter()
        .map(|error| json!({ "file": error.file, "line": error.line, "column": error.column, "message": error.headline }))
        .collect();
    json!({
        "id": exercise.id,
        "lesson": exercise.lesson,
        "title": exercise.title,
        "status": outcome.status.as_str(),
        "tests_passed": outcome.tests_passed(),
        "tests_total": outcome.tests_total(),
        "elapsed_ms": outcome.elapsed.as_millis() as u64,
        "tests": tests,
        "compile_errors": errors,
        "notes": outcome.notes,
        "tests_modified": outcome.tests_modified,
        "review": outcome.review,
    })
}
