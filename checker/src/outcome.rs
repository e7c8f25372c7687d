//! What checking one exercise found: the verdict, each test's result, and the
//! compiler errors that stopped it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::run::cargo::CompileError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every test passes.
    Done,
    /// It builds, and some test fails.
    Failed,
    /// It does not build: no test could run.
    CompileError,
    /// The tests were stopped at the time limit.
    TimedOut,
    /// Files that grade the exercise are not as the workbook gave them, or
    /// its code tampered with the build: whatever the tests said, no score.
    Modified,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::CompileError => "compile_error",
            Status::TimedOut => "timed_out",
            Status::Modified => "modified",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub status: Status,
    /// In the order the test file defines them.
    pub tests: Vec<TestResult>,
    pub compile_errors: Vec<CompileError>,
    /// Things the learner should know beyond pass and fail (output cut, a crash).
    pub notes: Vec<String>,
    /// Files that grade the exercise but are not as the workbook gave them
    /// (or that its code changed): the result cannot be trusted.
    pub tests_modified: Vec<std::path::PathBuf>,
    /// Places in the edited files worth a human look (they change no score).
    pub review: Vec<Flag>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub passed: bool,
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone)]
pub struct Failure {
    /// The panic message, or why the test never reported.
    pub message: String,
    /// Where the test failed (`tests/hello.rs:23:5`), when known.
    pub location: Option<String>,
    /// What else the test printed.
    pub output: String,
    /// It failed only because another test did (a pass that a hang kept
    /// libtest from confirming): never the first failure to show.
    pub secondary: bool,
    /// The test never gave a verdict of its own: it was stopped, its binary
    /// crashed or exited, or libtest never confirmed its pass. Exercism's
    /// `error`, where a panic or a returned error is a `fail`.
    pub unreported: bool,
}

impl Outcome {
    /// Tests that pass and count: none when the tests were modified.
    pub fn tests_passed(&self) -> usize {
        if self.status == Status::Modified {
            return 0;
        }
        self.tests.iter().filter(|test| test.passed).count()
    }

    /// Records that `files` are not as given, and why; [`Outcome::settle`]
    /// turns the verdict into [`Status::Modified`].
    pub fn mark_modified(&mut self, files: Vec<std::path::PathBuf>, why: &str) {
        for file in files {
            if !self.tests_modified.contains(&file) {
                self.tests_modified.push(file);
            }
        }
        let note = format!("not graded: {why}");
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// The final verdict: a result from modified files is no result.
    pub fn settle(&mut self) {
        if !self.tests_modified.is_empty() {
            self.status = Status::Modified;
        }
    }

    /// A test's status as Exercism's test-runner interface names it: `pass`,
    /// `fail` (it ran and failed), or `error` (it gave no verdict of its own,
    /// or the exercise's tests were modified, so no verdict counts).
    pub fn test_status(&self, test: &TestResult) -> &'static str {
        if self.status == Status::Modified {
            "error"
        } else if test.passed {
            "pass"
        } else if test.failure.as_ref().is_some_and(|f| f.unreported) {
            "error"
        } else {
            "fail"
        }
    }

    pub fn tests_total(&self) -> usize {
        self.tests.len()
    }

    /// Failing tests, those that failed on their own first.
    pub fn failures(&self) -> impl Iterator<Item = &TestResult> {
        let secondary = |test: &&TestResult| test.failure.as_ref().is_some_and(|f| f.secondary);
        let failing = || self.tests.iter().filter(|test| !test.passed);
        failing()
            .filter(move |test| !secondary(test))
            .chain(failing().filter(secondary))
    }
}

impl Failure {
    /// The first line that says something, for one-line summaries.
    pub fn headline(&self) -> &str {
        self.message
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("failed")
    }
}

/// One place worth a look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// Relative to the workbook root.
    pub file: String,
    pub line: usize,
    pub pattern: &'static str,
    pub why: &'static str,
}

impl Flag {
    pub fn describe(&self) -> String {
        format!(
            "review: {}:{} uses `{}`: {}",
            self.file, self.line, self.pattern, self.why
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(passed: bool, unreported: bool) -> TestResult {
        TestResult {
            name: "t".into(),
            passed,
            failure: (!passed).then(|| Failure {
                message: "m".into(),
                location: None,
                output: String::new(),
                secondary: false,
                unreported,
            }),
        }
    }

    fn outcome(status: Status) -> Outcome {
        Outcome {
            id: "l/e".into(),
            status,
            tests: Vec::new(),
            compile_errors: Vec::new(),
            notes: Vec::new(),
            tests_modified: Vec::new(),
            review: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn test_statuses_are_exercisms_pass_fail_and_error() {
        let failed = outcome(Status::Failed);
        assert_eq!(failed.test_status(&test(true, false)), "pass");
        assert_eq!(failed.test_status(&test(false, false)), "fail");
        assert_eq!(failed.test_status(&test(false, true)), "error");
    }

    #[test]
    fn no_test_of_a_modified_exercise_passes() {
        let modified = outcome(Status::Modified);
        assert_eq!(modified.test_status(&test(true, false)), "error");
        assert_eq!(modified.test_status(&test(false, false)), "error");
    }
}
