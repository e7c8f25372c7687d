//! `check --format json` and `grade`'s reports: one document, for scripts
//! and instructors. Its shape is documented in the book's instructor guide
//! (`json-report.md`) and as a JSON Schema beside it (`report.schema.json`);
//! change all three together.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::grade::{Grade, Summary};
use crate::manifest::Exercise;
use crate::outcome::{Outcome, Status};
use crate::provenance::Provenance;

/// What was graded, for the document's head: the provenance, and each
/// exercise's tests digest by id.
pub struct Graded<'a> {
    pub provenance: &'a Provenance,
    pub digests: &'a BTreeMap<String, String>,
}

pub fn check(graded: &Graded, exercises: &[&Exercise], outcomes: &[Outcome]) -> String {
    let items: Vec<Value> = exercises
        .iter()
        .zip(outcomes)
        .map(|(e, o)| exercise(e, o, graded.digests.get(&e.id)))
        .collect();
    let summary = Summary::of(outcomes.iter().map(|outcome| Grade {
        status: Some(outcome.status),
        tests_passed: outcome.tests_passed(),
        tests_total: outcome.tests_total(),
    }));
    let mut document: Map<String, Value> = graded
        .provenance
        .fields()
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    document.insert("exercises".into(), json!(items));
    document.insert("summary".into(), json!(summary));
    serde_json::to_string_pretty(&document).expect("JSON values always serialise")
}

fn exercise(exercise: &Exercise, outcome: &Outcome, digest: Option<&String>) -> Value {
    // Why no verdict of a modified exercise counts, for tests that passed.
    let not_graded = outcome
        .notes
        .iter()
        .find(|note| note.starts_with("not graded"))
        .cloned()
        .unwrap_or_else(|| "not graded: the files that grade this exercise were modified".into());
    let tests: Vec<Value> = outcome
        .tests
        .iter()
        .map(|test| {
            let message = match &test.failure {
                Some(failure) => Some(failure.message.clone()),
                None if outcome.status == Status::Modified => Some(not_graded.clone()),
                None => None,
            };
            json!({
                "name": test.name,
                "status": outcome.test_status(test),
                "message": message,
                "passed": test.passed,
                "location": test.failure.as_ref().and_then(|f| f.location.clone()),
            })
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
        "tests_digest": digest,
    })
}
