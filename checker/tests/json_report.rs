//! The JSON reports say what was graded (commits, checker version, time,
//! tests digests), carry Exercism's per-test fields, and match the schema
//! the instructor guide publishes (`book/src/instructor/report.schema.json`).

mod common;
use common::copy_tree;
#[path = "common/git.rs"]
mod git;
#[path = "common/schema.rs"]
mod schema;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook");
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../book/src/instructor/report.schema.json"
);

/// A private copy of the fixture workbook, committed to a git repository
/// of its own.
struct Workbook {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Workbook {
    fn committed() -> Workbook {
        Workbook::committed_as("workbook")
    }

    /// In a folder named `name` (the name `grade` files a learner by).
    fn committed_as(name: &str) -> Workbook {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        copy_tree(Path::new(FIXTURE), &root);
        git::commit_all(&root);
        Workbook { _dir: dir, root }
    }

    fn root(&self) -> &Path {
        &self.root
    }

    /// The checker's JSON on stdout, and its exit code.
    fn checker(&self, args: &[&str]) -> (Option<i32>, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(args)
            .current_dir(self.root())
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("WORKBOOK_ROOT")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_ne!(output.status.code(), Some(2), "{stderr}");
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
        )
    }

    fn head(&self) -> String {
        head(self.root())
    }
}

fn head(dir: &Path) -> String {
    let output = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn schema() -> Value {
    serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).expect("the schema is JSON")
}

/// The document matches the published schema, and what the schema says
/// with `pattern`s (which the test's validator leaves aside) holds too.
fn assert_valid(document: &Value) {
    let errors = schema::errors(&schema(), document);
    assert!(errors.is_empty(), "{errors:#?}\n{document:#}");
    let stamp = document["generated_at"].as_str().unwrap();
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99Z", "{stamp}");
    for commit in [
        &document["checker"]["commit"],
        &document["learner"]["commit"],
        &document["instructor"]["commit"],
    ] {
        if let Some(commit) = commit.as_str() {
            assert!(is_hex(commit, 40) || is_hex(commit, 64), "{commit}");
        }
    }
}

fn is_hex(text: &str, length: usize) -> bool {
    text.len() == length && text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
}

fn exercises(document: &Value) -> Vec<&Value> {
    match document["exercises"].as_array() {
        Some(exercises) => exercises.iter().collect(),
        None => document["lessons"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|lesson| lesson["exercises"].as_array().unwrap())
            .collect(),
    }
}

fn exercise<'a>(document: &'a Value, id: &str) -> &'a Value {
    exercises(document)
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {document:#}"))
}

/// The digest as the instructor guide says to compute it with coreutils:
/// `sha256sum FILES | LC_ALL=C sort -k2 | sha256sum`.
fn digest_by_hand(root: &Path, files: &[&str]) -> String {
    let mut files: Vec<&str> = files.to_vec();
    files.sort();
    let mut lines = String::new();
    for file in files {
        let bytes = std::fs::read(root.join(file)).unwrap();
        lines.push_str(&format!("{}  {file}\n", hex(&Sha256::digest(&bytes))));
    }
    hex(&Sha256::digest(lines.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const FAILING_GRADED_BY: &[&str] = &[
    "lessons/01-basics/failing/tests/failing.rs",
    "lessons/01-basics/failing/exercise.toml",
    "lessons/01-basics/failing/Cargo.toml",
    "lessons/01-basics/lesson.toml",
    "Cargo.toml",
];

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `2026-11-30T18:19:19Z` in Unix seconds (days from civil, Hinnant).
fn unix_of(stamp: &str) -> u64 {
    let number = |range: std::ops::Range<usize>| stamp[range].parse::<i64>().unwrap();
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    (days * 86_400 + number(11..13) * 3_600 + number(14..16) * 60 + number(17..19)) as u64
}

#[test]
fn check_json_says_what_was_graded_with_exercisms_test_fields_and_matches_the_schema() {
    let workbook = Workbook::committed();
    let before = unix_now();
    let (code, stdout) =
        workbook.checker(&["check", "--all", "--format", "json", "--timeout", "3"]);
    assert_eq!(code, Some(1));
    let document: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(&document);

    assert_eq!(document["kind"], "check");
    assert_eq!(document["report_version"], 1);
    let at = unix_of(document["generated_at"].as_str().unwrap());
    assert!(
        (before..=unix_now()).contains(&at),
        "{} is not now",
        document["generated_at"]
    );
    assert_eq!(document["checker"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(document["checker"]["commit"], workbook.head());
    assert_eq!(document["learner"]["commit"], workbook.head());
    assert_eq!(document["learner"]["name"], Value::Null);
    assert_eq!(document["learner"]["uncommitted_changes"], false);
    assert_eq!(document["instructor"], Value::Null);

    let failing = exercise(&document, "basics/failing");
    assert_eq!(
        failing["tests_digest"],
        digest_by_hand(workbook.root(), FAILING_GRADED_BY)
    );
    let statuses = |id: &str| -> Vec<(String, String, bool)> {
        exercise(&document, id)["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_string(),
                    t["status"].as_str().unwrap().to_string(),
                    t["message"].is_null(),
                )
            })
            .collect()
    };
    let own = |name: &str, status: &str, no_message: bool| {
        (name.to_string(), status.to_string(), no_message)
    };
    // A failed assertion is a `fail`, with its message; a pass has none.
    assert_eq!(
        statuses("basics/failing"),
        vec![
            own("doubles_two", "fail", false),
            own("doubles_zero", "pass", true),
            own("doubles_ten", "fail", false),
        ]
    );
    assert_eq!(
        exercise(&document, "basics/failing")["tests"][0]["message"],
        "double(2) should be 4, got 2"
    );
    // A test stopped at the time limit, and a pass libtest never confirmed,
    // gave no verdict of their own: `error`.
    assert_eq!(
        statuses("basics/hanging"),
        vec![
            own("finishes_quickly", "error", false),
            own("waits_forever", "error", false),
        ]
    );

    // Uncommitted work is said to be.
    std::fs::write(
        workbook.root().join("lessons/01-basics/failing/src/lib.rs"),
        "pub fn double(x: u32) -> u32 {\n    x * 2\n}\n",
    )
    .unwrap();
    let (_, stdout) = workbook.checker(&["check", "basics/failing", "--format", "json"]);
    let document: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(&document);
    assert_eq!(document["learner"]["uncommitted_changes"], true);
    assert_eq!(document["learner"]["commit"], workbook.head());
}

#[test]
fn report_json_says_what_was_graded_and_matches_the_schema() {
    let workbook = Workbook::committed();
    let (code, stdout) = workbook.checker(&["report", "--format", "json"]);
    assert_eq!(code, Some(0));
    let document: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(&document);
    assert_eq!(document["kind"], "report");
    assert_eq!(document["learner"]["commit"], workbook.head());
    assert_eq!(
        exercise(&document, "basics/failing")["tests_digest"],
        digest_by_hand(workbook.root(), FAILING_GRADED_BY)
    );

    // Outside a repository, no commit is claimed.
    std::fs::remove_dir_all(workbook.root().join(".git")).unwrap();
    let (_, stdout) = workbook.checker(&["report", "--format", "json"]);
    let document: Value = serde_json::from_str(&stdout).unwrap();
    assert_valid(&document);
    assert_eq!(document["checker"]["commit"], Value::Null);
    assert_eq!(document["learner"]["commit"], Value::Null);
    assert_eq!(document["learner"]["uncommitted_changes"], Value::Null);
}

#[test]
fn grade_reports_name_the_learner_and_both_commits_and_match_the_schema() {
    let instructor = Workbook::committed();
    let learner = Workbook::committed_as("alice");
    std::fs::write(
        learner.root().join("lessons/01-basics/failing/src/lib.rs"),
        "pub fn double(x: u32) -> u32 {\n    x * 2\n}\n",
    )
    .unwrap();
    git::git(learner.root(), &["commit", "-qam", "solved"]);
    // A learner's folder inside another repository is not that repository.
    let nested: PathBuf = instructor.root().join("class").join("bob");
    copy_tree(Path::new(FIXTURE), &nested);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(["grade", learner.root().to_str().unwrap()])
        .arg(&nested)
        .args(["--only", "basics/failing", "--out"])
        .arg(out.path())
        .current_dir(instructor.root())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("WORKBOOK_ROOT")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("alice.json")).unwrap())
            .unwrap();
    assert_valid(&report);
    assert_eq!(report["kind"], "grade");
    assert_eq!(report["learner"]["name"], "alice");
    assert_eq!(report["learner"]["commit"], learner.head());
    // A folder handed in is not asked about its changes: git there could
    // run programs its configuration names.
    assert_eq!(report["learner"]["uncommitted_changes"], Value::Null);
    assert_eq!(report["instructor"]["commit"], instructor.head());
    assert_eq!(report["checker"]["commit"], instructor.head());
    // The instructor's tree has a learner's folder in it now, but untracked.
    assert_eq!(report["instructor"]["uncommitted_changes"], false);
    let failing = exercise(&report, "basics/failing");
    assert_eq!(failing["status"], "done");
    assert_eq!(
        failing["tests_digest"],
        digest_by_hand(instructor.root(), FAILING_GRADED_BY)
    );
    assert!(
        failing["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "pass" && t["message"].is_null()),
        "{failing:#}"
    );

    let bob: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("bob.json")).unwrap())
            .unwrap();
    assert_valid(&bob);
    assert_eq!(bob["learner"]["commit"], Value::Null);
}

#[test]
fn the_schema_check_rejects_what_breaks_the_schema() {
    let workbook = Workbook::committed();
    let (_, stdout) = workbook.checker(&["report", "--format", "json"]);
    let good: Value = serde_json::from_str(&stdout).unwrap();
    let schema = schema();
    assert!(schema::errors(&schema, &good).is_empty());
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut document = good.clone();
        change(&mut document);
        schema::errors(&schema, &document)
    };
    let missing = broken(&|d| {
        d.as_object_mut().unwrap().remove("generated_at");
    });
    assert!(!missing.is_empty(), "a missing field passed");
    let wrong_type = broken(&|d| d["lessons"][0]["exercises"][0]["hints_shown"] = "one".into());
    assert!(!wrong_type.is_empty(), "a string for an integer passed");
    let wrong_kind = broken(&|d| d["kind"] = "check".into());
    assert!(
        !wrong_kind.is_empty(),
        "a report calling itself a check passed"
    );
    let bad_status = broken(&|d| d["lessons"][0]["exercises"][0]["status"] = "passed".into());
    assert!(!bad_status.is_empty(), "an unknown status passed");
}

/// The whole of an instructor's grading day: learners' trees graded by
/// `grade` into a folder, that folder into a gradebook.
#[test]
fn a_class_graded_by_grade_becomes_a_gradebook() {
    let instructor = Workbook::committed();
    let class = tempfile::tempdir().unwrap();
    for name in ["alice", "bob"] {
        copy_tree(Path::new(FIXTURE), &class.path().join(name));
    }
    // Alice solves `failing`; Bob hands in the starters.
    std::fs::write(
        class
            .path()
            .join("alice/lessons/01-basics/failing/src/lib.rs"),
        "pub fn double(x: u32) -> u32 {\n    x * 2\n}\n",
    )
    .unwrap();
    let grades = class.path().join("grades");
    let run = |args: &[&std::ffi::OsStr]| {
        let output = Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(args)
            .current_dir(instructor.root())
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("WORKBOOK_ROOT")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[
        "grade".as_ref(),
        class.path().join("alice").as_os_str(),
        class.path().join("bob").as_os_str(),
        "--only".as_ref(),
        "basics/failing".as_ref(),
        "--only".as_ref(),
        "basics/passing".as_ref(),
        "--out".as_ref(),
        grades.as_os_str(),
    ]);
    let book = class.path().join("gradebook");
    run(&[
        "gradebook".as_ref(),
        grades.as_os_str(),
        "--out".as_ref(),
        book.as_os_str(),
    ]);
    let csv = std::fs::read_to_string(book.join("gradebook.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().map(|line| line.split(',').collect()).collect();
    let column = |name: &str| {
        rows[0]
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("no column {name} in\n{csv}"))
    };
    let cell = |learner: &str, name: &str| {
        let row = rows
            .iter()
            .find(|row| row[0] == learner)
            .unwrap_or_else(|| panic!("no row for {learner} in\n{csv}"));
        row[column(name)].to_string()
    };
    assert_eq!(rows.len(), 3, "a header and a row per learner:\n{csv}");
    assert_eq!(cell("alice", "basics/failing"), "100.0", "{csv}");
    assert_eq!(cell("alice", "basics/passing"), "100.0", "{csv}");
    assert_eq!(cell("bob", "basics/passing"), "100.0", "{csv}");
    assert_ne!(cell("bob", "basics/failing"), "100.0", "{csv}");
    let page = std::fs::read_to_string(book.join("gradebook.html")).unwrap();
    assert!(page.contains("alice") && page.contains("bob"));
}
