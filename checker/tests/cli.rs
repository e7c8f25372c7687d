//! The real `checker` binary against a tiny fixture workbook whose exercises
//! pass, fail, do not compile, hang, flood their output and panic with
//! `todo!()`. Text output is snapshot-tested with timings and paths normalised.

mod common;
use common::copy_tree;
#[path = "common/git.rs"]
mod git;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use insta::assert_snapshot;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook");

/// A private copy of the fixture workbook, so tests can change it freely.
struct Workbook {
    dir: tempfile::TempDir,
}

/// What one run of the checker printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Workbook {
    fn new() -> Workbook {
        let dir = tempfile::tempdir().expect("a temporary folder");
        copy_tree(Path::new(FIXTURE), dir.path());
        Workbook { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn checker(&self, args: &[&str]) -> Run {
        self.checker_with(args, &[])
    }

    fn checker_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_checker"));
        command
            .args(args)
            .current_dir(self.root())
            // Each copy builds in its own target folder. A shared one would
            // mix copies up: cargo's hashes ignore where the workspace lies,
            // so two copies would share (and race for) one test binary. The
            // fixture has no dependencies; a private build takes seconds.
            .env_remove("CARGO_TARGET_DIR")
            .env("NO_COLOR", "1")
            .env_remove("WORKBOOK_ROOT")
            .env_remove("CLICOLOR_FORCE");
        for (name, value) in env {
            command.env(name, value);
        }
        let output: Output = command.output().expect("the checker runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: self.normalize(&String::from_utf8_lossy(&output.stdout)),
            stderr: self.normalize(&String::from_utf8_lossy(&output.stderr)),
        }
    }

    /// Paths and timings differ between runs; nothing else may.
    fn normalize(&self, text: &str) -> String {
        let root = self
            .root()
            .canonicalize()
            .unwrap_or_else(|_| self.root().to_path_buf());
        let text = text
            .replace(&root.display().to_string(), "[ROOT]")
            .replace(&self.root().display().to_string(), "[ROOT]");
        let mut out = String::new();
        for line in text.lines() {
            // Numbers become 0 so that JSON stays JSON; the time, the
            // checker's version and commits (null in an unversioned copy,
            // but a copy may land inside a repository) become placeholders.
            let line = redact_strings_after(
                line,
                &[
                    ("\"generated_at\": \"", "[TIMESTAMP]"),
                    ("\"version\": \"", "[VERSION]"),
                    ("\"commit\": \"", "[COMMIT]"),
                ],
            );
            out.push_str(&redact_numbers_after(
                &line,
                &["\"elapsed_ms\": ", "time=\"", "broken-"],
            ));
            out.push('\n');
        }
        out
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root().join(path)).unwrap()
    }

    fn progress(&self) -> serde_json::Value {
        serde_json::from_str(&self.read(".workbook-progress.json")).expect("progress is JSON")
    }
}

/// Replaces the rest of a JSON string that starts with a marker.
fn redact_strings_after(line: &str, markers: &[(&str, &str)]) -> String {
    let mut line = line.to_string();
    for (marker, placeholder) in markers {
        if let Some(found) = line.find(marker) {
            let start = found + marker.len();
            if let Some(length) = line[start..].find('"') {
                line.replace_range(start..start + length, placeholder);
            }
        }
    }
    line
}

fn redact_numbers_after(line: &str, markers: &[&str]) -> String {
    let mut line = line.to_string();
    for marker in markers {
        let mut search_from = 0;
        while let Some(found) = line[search_from..].find(marker) {
            let start = search_from + found + marker.len();
            let end = line[start..]
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .map_or(line.len(), |n| start + n);
            line.replace_range(start..end, "0");
            search_from = start + 1;
        }
    }
    line
}

#[test]
fn list_shows_every_exercise_as_not_started_at_first() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_snapshot!(run.stdout);
}

#[test]
fn no_command_shows_the_current_exercise_and_what_to_do() {
    let workbook = Workbook::new();
    let run = workbook.checker(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_snapshot!(run.stdout);
}

#[test]
fn check_all_grades_every_exercise_with_partial_credit() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "--all", "--timeout", "3"]);
    assert_eq!(run.code, 1, "not everything is done: {}", run.stderr);
    assert_snapshot!("check_all_text", run.stdout);

    let report = workbook.checker(&["report"]);
    assert_snapshot!("report_text", report.stdout);
    let markdown = workbook.checker(&["report", "--format", "markdown"]);
    assert_snapshot!("report_markdown", markdown.stdout);
    let list = workbook.checker(&["list", "--format", "json"]);
    assert_snapshot!("list_json", list.stdout);
}

#[test]
fn check_all_json_is_one_document_with_a_status_per_exercise() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "--all", "--format", "json", "--timeout", "3"]);
    assert_eq!(run.code, 1);
    let document: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    let statuses: Vec<(&str, &str)> = document["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("basics/todo", "failed"),
            ("basics/passing", "done"),
            ("basics/failing", "failed"),
            ("basics/broken", "compile_error"),
            ("basics/hanging", "timed_out"),
            ("basics/flooding", "failed"),
        ]
    );
    // The hanging exercise's quick test passed, but libtest never confirmed
    // it (the other test hung): it does not count.
    assert_eq!(document["summary"]["tests_passed"], 3);
    assert_eq!(document["summary"]["tests_total"], 10);
    assert_eq!(document["summary"]["exercises_done"], 1);
    assert_eq!(document["summary"]["exercises_total"], 6);
    assert_snapshot!(run.stdout);
}

#[test]
fn a_failing_exercise_shows_its_first_failure_first_with_the_message() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics/failing"]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.stdout);
    let progress = workbook.progress();
    assert_eq!(progress["exercises"]["basics/failing"]["tests_passed"], 1);
    assert_eq!(progress["exercises"]["basics/failing"]["tests_total"], 3);
}

#[test]
fn a_todo_panic_is_reported_with_its_message() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "todo"]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.stdout);
}

#[test]
fn an_exercise_that_does_not_compile_names_the_file_and_line() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics/broken"]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.stdout);
}

#[test]
fn a_broken_exercise_does_not_stop_the_others_of_its_lesson() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics", "--format", "json", "--timeout", "3"]);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let passing = &document["exercises"][1];
    assert_eq!(passing["id"], "basics/passing");
    assert_eq!(passing["status"], "done");
}

#[test]
fn a_solved_exercise_is_done_with_full_points_and_exit_code_0() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics/passing"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_snapshot!(run.stdout);
    assert_eq!(
        workbook.progress()["exercises"]["basics/passing"]["status"],
        "done"
    );
}

static SLEEPS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn hanging_tests_are_stopped_at_the_timeout_and_their_children_killed() {
    let workbook = Workbook::new();
    // A duration no other process uses, so we can look for the child.
    let sleep = format!(
        "{}.{}{}",
        3000 + SLEEPS.fetch_add(1, Ordering::SeqCst),
        std::process::id(),
        7
    );
    let run = workbook.checker_with(
        &["check", "basics/hanging", "--timeout", "2"],
        &[("FIXTURE_SLEEP", &sleep)],
    );
    assert_eq!(run.code, 1);
    assert_snapshot!(run.stdout);
    let survivors = Command::new("pgrep")
        .args(["-f", &format!("sleep {sleep}")])
        .output()
        .unwrap();
    assert!(
        survivors.stdout.is_empty(),
        "the test's child process survived the timeout: {}",
        String::from_utf8_lossy(&survivors.stdout)
    );
}

#[test]
fn a_flood_of_output_is_cut_and_the_panic_message_kept() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics/flooding"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.len() < 20_000,
        "the report stays short: {} bytes",
        run.stdout.len()
    );
    assert!(
        run.stdout
            .contains("noisy() returned false after its flood"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("only the start and the end"),
        "{}",
        run.stdout
    );
}

#[test]
fn junit_output_reports_failures_and_build_errors() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics/failing", "--format", "junit"]);
    assert_eq!(run.code, 1);
    assert_snapshot!(run.stdout);
}

#[test]
fn hints_unlock_one_at_a_time() {
    let workbook = Workbook::new();
    let first = workbook.checker(&["hint", "basics/failing"]);
    assert_eq!(first.code, 0);
    assert_snapshot!("hint_first", first.stdout);
    workbook.checker(&["hint", "basics/failing"]);
    let again = workbook.checker(&["hint", "basics/failing"]);
    assert_snapshot!("hint_after_the_last", again.stdout);
    assert_eq!(
        workbook.progress()["exercises"]["basics/failing"]["hints_shown"],
        2
    );
}

#[test]
fn next_and_goto_move_the_current_exercise() {
    let workbook = Workbook::new();
    let goto = workbook.checker(&["goto", "basics/hanging"]);
    assert_eq!(goto.code, 0, "{}", goto.stderr);
    assert_eq!(workbook.progress()["current"], "basics/hanging");
    let next = workbook.checker(&["next"]);
    assert_snapshot!(next.stdout);
    assert_eq!(workbook.progress()["current"], "basics/flooding");
    let last = workbook.checker(&["next"]);
    assert!(
        last.stdout.contains("is the last exercise"),
        "{}",
        last.stdout
    );
}

#[test]
fn reset_restores_the_starter_and_touches_nothing_else() {
    let workbook = Workbook::new();
    git::commit_all(workbook.root());
    let starter = workbook.read("lessons/01-basics/failing/src/lib.rs");
    workbook.checker(&[]); // first use records the baseline commit
    workbook.write(
        "lessons/01-basics/failing/src/lib.rs",
        "pub fn double(x: u32) -> u32 { x * 2 }\n",
    );
    workbook.write(
        "lessons/01-basics/todo/src/lib.rs",
        "// my work on another exercise\n",
    );
    git::git(workbook.root(), &["commit", "-qam", "my work"]);

    let refused = workbook.checker(&["reset", "basics/failing"]);
    assert_eq!(
        refused.code, 2,
        "without a terminal to ask, reset wants --yes"
    );
    assert_snapshot!("reset_refused", refused.stderr);

    let run = workbook.checker(&["reset", "basics/failing", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        workbook.read("lessons/01-basics/failing/src/lib.rs"),
        starter
    );
    assert_eq!(
        workbook.read("lessons/01-basics/todo/src/lib.rs"),
        "// my work on another exercise\n"
    );
}

#[test]
fn an_unknown_exercise_is_a_one_line_usage_error() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics/nope"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_snapshot!(run.stderr);
}

#[test]
fn a_broken_manifest_is_named_with_its_file_and_line() {
    let workbook = Workbook::new();
    workbook.write(
        "lessons/01-basics/failing/exercise.toml",
        "title = \"Failing\"\nhints = [\"one\", \"two\"]\ntimeout = \"soon\"\n",
    );
    let run = workbook.checker(&["list"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_snapshot!(run.stderr);
}

#[test]
fn a_corrupt_progress_file_is_kept_aside_and_work_goes_on() {
    let workbook = Workbook::new();
    workbook.write(
        ".workbook-progress.json",
        "{\"version\": 1, \"exercises\": {\"basics/todo\": ",
    );
    let run = workbook.checker(&["list"]);
    assert_eq!(run.code, 0);
    assert_snapshot!(run.stderr);
    let kept = std::fs::read_dir(workbook.root())
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(".workbook-progress.json.broken-")
        });
    assert!(kept, "the unreadable file is kept for the learner");
}

#[test]
fn progress_for_exercises_that_no_longer_exist_is_ignored() {
    let workbook = Workbook::new();
    workbook.write(
        ".workbook-progress.json",
        r#"{"version": 1, "current": "basics/renamed", "exercises": {"basics/renamed": {"status": "done", "tests_passed": 2, "tests_total": 2}, "basics/passing": {"status": "done", "tests_passed": 2, "tests_total": 2}}}"#,
    );
    let run = workbook.checker(&["list", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let exercises = document["exercises"].as_array().unwrap();
    assert_eq!(exercises.len(), 6);
    assert_eq!(exercises[1]["status"], "done");
    assert_eq!(
        exercises[0]["current"], true,
        "an unknown current exercise falls back to the first not done"
    );
}

#[test]
fn dev_verify_accepts_a_good_exercise_and_rejects_free_points() {
    let workbook = Workbook::new();
    let good = workbook.checker(&["dev", "verify", "basics/todo"]);
    assert_eq!(good.code, 0, "{}{}", good.stdout, good.stderr);
    assert!(
        good.stdout.ends_with("1 passed, 0 failed\n"),
        "{}",
        good.stdout
    );

    let all = workbook.checker(&["dev", "verify", "--timeout", "3"]);
    assert_eq!(all.code, 1);
    assert_snapshot!(all.stdout);
}

#[test]
fn dev_check_accepts_the_fixture_and_names_every_inconsistency() {
    let workbook = Workbook::new();
    let clean = workbook.checker(&["dev", "check"]);
    assert_eq!(clean.code, 0, "{}", clean.stdout);

    std::fs::create_dir_all(workbook.root().join("lessons/01-basics/forgotten")).unwrap();
    std::fs::remove_file(workbook.root().join("book/src/basics/todo.md")).unwrap();
    workbook.write(
        "lessons/01-basics/todo/exercise.toml",
        "title = \"Todo\"\nhints = [\"only one\"]\n",
    );
    workbook.write("book/src/basics/index.md", "# Basics\n\nSee [a missing page](gone.md).\n\n{{#include ../../../lessons/01-basics/passing/src/lib.rs:nope}}\n");
    // One solution with a dependency of its own.
    let manifest = "solutions/01-basics/passing/Cargo.toml";
    workbook.write(
        manifest,
        &format!(
            "{}\n[dependencies]\nserde = \"1\"\n",
            workbook.read(manifest)
        ),
    );
    let broken = workbook.checker(&["dev", "check"]);
    assert_eq!(broken.code, 1);
    assert_snapshot!(broken.stdout);
}

#[test]
fn dev_check_keeps_the_books_starter_copies_in_step_with_what_learners_edit() {
    let workbook = Workbook::new();
    // A starter changed without its copy: the book would show the old code.
    let starter = "lessons/01-basics/todo/src/lib.rs";
    workbook.write(
        starter,
        &workbook
            .read(starter)
            .replace("return \"Hello, NAME!\"", "greet by name"),
    );
    // A marker in a file learners edit: deleting it would break the book.
    let passing = "lessons/01-basics/passing/src/lib.rs";
    workbook.write(
        passing,
        &format!("{}// ANCHOR: extra\n", workbook.read(passing)),
    );
    // A copy that has lost its last line, and one whose exercise is gone.
    let copy = "book/starters/01-basics/failing/src/lib.rs";
    workbook.write(
        copy,
        &workbook
            .read(copy)
            .replace("}\n// ANCHOR_END", "// ANCHOR_END"),
    );
    workbook.write(
        "book/starters/01-basics/renamed/src/lib.rs",
        "pub fn old() {}\n",
    );
    // A page that shows what a learner edits instead of its copy.
    workbook.write(
        "book/src/basics/broken.md",
        "# Broken\n\n```rust\n{{#include ../../../lessons/01-basics/broken/src/lib.rs}}\n```\n",
    );
    let run = workbook.checker(&["dev", "check"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_snapshot!(run.stdout);
}

#[test]
fn a_check_with_modified_tests_is_flagged_and_dev_check_names_the_stale_record() {
    let workbook = Workbook::new();
    // The classic shortcut: make the failing assertion pass by editing the test.
    let test = "lessons/01-basics/failing/tests/failing.rs";
    workbook.write(
        test,
        &workbook
            .read(test)
            .replace("got == 4", "got == 2")
            .replace("20,", "10,"),
    );
    let run = workbook.checker(&["check", "basics/failing"]);
    assert_eq!(run.code, 1, "a pass from modified tests is no pass");
    assert_snapshot!(run.stdout);
    let json = workbook.checker(&["check", "basics/failing", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        document["exercises"][0]["tests_modified"],
        serde_json::json!([test])
    );
    assert_eq!(
        workbook.progress()["exercises"]["basics/failing"]["tests_modified"],
        true
    );

    let untouched = workbook.checker(&["check", "basics/passing", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&untouched.stdout).unwrap();
    assert_eq!(
        document["exercises"][0]["tests_modified"],
        serde_json::json!([])
    );

    let check = workbook.checker(&["dev", "check"]);
    assert_eq!(check.code, 1);
    assert!(
        check
            .stdout
            .contains("lessons/01-basics/tests.sha256 does not match"),
        "{}",
        check.stdout
    );
}

#[test]
fn shell_completions_are_printed_for_bash_zsh_and_fish() {
    let workbook = Workbook::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = workbook.checker(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(
            run.stdout.contains("checker") && run.stdout.contains("goto"),
            "{shell}: {}",
            run.stdout
        );
    }
}

#[test]
fn book_prints_a_section_with_its_listings_in_place_when_there_is_no_browser() {
    let workbook = Workbook::new();
    // Not a terminal: the section is printed, whatever else is installed.
    let run = workbook.checker(&["book", "basics/todo"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        !run.stdout.contains("{{#"),
        "an include was left: {}",
        run.stdout
    );
    assert_snapshot!(run.stdout);
    let printed = workbook.checker(&["book", "basics/todo", "--print"]);
    assert_eq!(printed.stdout, run.stdout);
    let unknown = workbook.checker(&["book", "basics/nope"]);
    assert_eq!(unknown.code, 2);
    assert_eq!(
        unknown.stderr.trim().lines().count(),
        1,
        "{}",
        unknown.stderr
    );
}

#[test]
fn report_repeats_recorded_results_and_verify_checks_them_again() {
    let workbook = Workbook::new();
    // A progress file that claims more than the code earns.
    workbook.write(
        ".workbook-progress.json",
        r#"{"version": 1, "exercises": {"basics/todo": {"status": "done", "tests_passed": 2, "tests_total": 2}}}"#,
    );
    let recorded: serde_json::Value =
        serde_json::from_str(&workbook.checker(&["report", "--format", "json"]).stdout).unwrap();
    assert_eq!(recorded["source"], "recorded");
    assert_eq!(recorded["lessons"][0]["exercises"][0]["status"], "done");
    let text = workbook.checker(&["report"]).stdout;
    assert!(text.contains("results your last checks recorded"), "{text}");

    let verified = workbook.checker(&["report", "--verify", "--format", "json"]);
    let verified: serde_json::Value = serde_json::from_str(&verified.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", verified.stdout, verified.stderr));
    assert_eq!(verified["source"], "verified");
    assert_eq!(verified["lessons"][0]["exercises"][0]["status"], "failed");
}

#[test]
fn stage_and_seed_are_refused_for_an_exercise_without_stages() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "basics/passing", "--stage", "health"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        "error: --stage is for a black-box exercise (the capstone); basics/passing has no stages"
    );
    let run = workbook.checker(&["check", "--all", "--seed", "7"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("error: --seed is for one black-box exercise"),
        "{}",
        run.stderr
    );
    assert!(
        !workbook.root().join(".workbook-progress.json").exists()
            || !workbook.read(".workbook-progress.json").contains("passing"),
        "a refused check recorded progress"
    );
}
