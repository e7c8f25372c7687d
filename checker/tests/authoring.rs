//! `dev new`: an instructor adds a lesson or an exercise to a copy of the
//! fixture workbook, following the instructor guide's "Adding an exercise in
//! five minutes" step by step.

mod common;

use std::path::Path;
use std::process::Command;

use insta::assert_snapshot;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook");
const GUIDE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../book/src/instructor/adding-a-lesson.md"
);

/// The guide shows `command` printing `output`, as it really does.
fn assert_in_guide(command: &str, output: &str) {
    let guide = std::fs::read_to_string(GUIDE).expect("the instructor guide");
    let transcript = format!("$ cargo checker {command}\n{output}");
    assert!(
        guide.contains(&transcript),
        "the guide's \"Adding an exercise in five minutes\" shows other output than the checker's; put this in {GUIDE}:\n{transcript}"
    );
}

struct Workbook {
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Workbook {
    fn new() -> Workbook {
        let dir = tempfile::tempdir().expect("a temporary folder");
        common::copy_tree(Path::new(FIXTURE), dir.path());
        Workbook { dir }
    }

    fn checker(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(args)
            .current_dir(self.dir.path())
            // A private build per copy (see cli.rs): the fixture builds in seconds.
            .env_remove("CARGO_TARGET_DIR")
            .env("NO_COLOR", "1")
            .env_remove("WORKBOOK_ROOT")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .expect("the checker runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path))
            .unwrap_or_else(|error| panic!("{path} cannot be read: {error}"))
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.path().join(path), text).unwrap();
    }

    /// Every file under the copy but the build folder, with its text.
    fn files(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.file_name().is_some_and(|name| name == "target") {
                    continue;
                }
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(self.dir.path()).unwrap();
                    found.push((
                        relative.display().to_string(),
                        std::fs::read_to_string(&path).unwrap_or_default(),
                    ));
                }
            }
        }
        found.sort();
        found
    }
}

/// The walk the instructor guide describes, step for step.
#[test]
fn adding_an_exercise_in_five_minutes() {
    let workbook = Workbook::new();

    // 1. Scaffold.
    let new = workbook.checker(&["dev", "new", "exercise", "basics", "shout"]);
    assert_eq!(new.code, 0, "dev new exercise failed:\n{}", new.stderr);
    assert_snapshot!("dev_new_exercise", new.stdout);
    let created = new.stdout.split("\nNext").next().unwrap_or_default();
    assert_in_guide("dev new exercise basics shout", created);
    assert_snapshot!(
        "dev_new_exercise_starter",
        workbook.read("lessons/01-basics/shout/src/lib.rs")
    );
    assert_snapshot!(
        "dev_new_exercise_test",
        workbook.read("lessons/01-basics/shout/tests/shout.rs")
    );
    assert_snapshot!(
        "dev_new_exercise_manifest",
        workbook.read("lessons/01-basics/shout/exercise.toml")
    );
    assert_snapshot!(
        "dev_new_exercise_section",
        workbook.read("book/src/basics/shout.md")
    );
    assert!(
        workbook
            .read("solutions/01-basics/shout/src/lib.rs")
            .starts_with("// NOT A SOLUTION YET."),
        "the scaffolded solution should say it is none"
    );
    assert!(
        workbook
            .read("lessons/01-basics/lesson.toml")
            .contains("\"flooding\", \"shout\"]"),
        "the exercise should be listed last in lesson.toml"
    );
    assert!(
        workbook
            .read("book/src/SUMMARY.md")
            .contains("    - [Shout](basics/shout.md)\n"),
        "the section should be listed in SUMMARY.md"
    );

    // 2. `dev check` passes at once.
    let check = workbook.checker(&["dev", "check"]);
    assert_eq!(check.code, 0, "dev check failed:\n{}", check.stdout);
    assert_in_guide("dev check", &check.stdout);

    // 3. `dev verify` reports the starter failing and the solution failing too.
    let unwritten = workbook.checker(&["dev", "verify", "basics/shout"]);
    assert_eq!(
        unwritten.code, 1,
        "{}{}",
        unwritten.stdout, unwritten.stderr
    );
    assert_snapshot!("dev_verify_an_unwritten_solution", unwritten.stdout);
    assert_in_guide("dev verify basics/shout", &unwritten.stdout);

    // 4. Write the solution: `dev verify` passes.
    workbook.write(
        "solutions/01-basics/shout/src/lib.rs",
        "pub fn shout() -> u32 {\n    42\n}\n",
    );
    let written = workbook.checker(&["dev", "verify", "basics/shout"]);
    assert_eq!(written.code, 0, "{}{}", written.stdout, written.stderr);
    assert!(
        written
            .stdout
            .contains("✓ basics/shout                 starter 0/1 · solution 1/1"),
        "{}",
        written.stdout
    );
    let check = workbook.checker(&["dev", "check"]);
    assert_eq!(check.code, 0, "dev check failed:\n{}", check.stdout);
}

#[test]
fn a_new_lesson_and_its_first_exercise_pass_dev_check() {
    let workbook = Workbook::new();
    let new = workbook.checker(&[
        "dev",
        "new",
        "lesson",
        "extras",
        "--title",
        "Extra practice",
    ]);
    assert_eq!(new.code, 0, "dev new lesson failed:\n{}", new.stderr);
    assert_snapshot!("dev_new_lesson", new.stdout);
    let created = new.stdout.split("\nNext").next().unwrap_or_default();
    assert_in_guide("dev new lesson extras --title \"Extra practice\"", created);
    assert_snapshot!(
        "dev_new_lesson_manifest",
        workbook.read("lessons/02-extras/lesson.toml")
    );
    assert!(
        workbook.read("book/src/SUMMARY.md").ends_with(
            "    - [The todo exercise](basics/todo.md)\n\n- [Extra practice](extras/index.md)\n"
        ),
        "{}",
        workbook.read("book/src/SUMMARY.md")
    );
    let check = workbook.checker(&["dev", "check"]);
    assert_eq!(check.code, 0, "dev check failed:\n{}", check.stdout);

    // Its first exercise has no sibling to take dependencies from.
    let first = workbook.checker(&["dev", "new", "exercise", "extras", "first-steps"]);
    assert_eq!(first.code, 0, "dev new exercise failed:\n{}", first.stderr);
    assert_snapshot!(
        "dev_new_first_exercise_cargo_toml",
        workbook.read("lessons/02-extras/first-steps/Cargo.toml")
    );
    assert_eq!(
        workbook.read("solutions/02-extras/first-steps/tests/first_steps.rs"),
        "extern crate extras_first_steps_solution as extras_first_steps;\n#[path = \"../../../../lessons/02-extras/first-steps/tests/first_steps.rs\"]\nmod first_steps;\n"
    );
    let check = workbook.checker(&["dev", "check"]);
    assert_eq!(check.code, 0, "dev check failed:\n{}", check.stdout);
    let verify = workbook.checker(&["dev", "verify", "extras"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify
            .stdout
            .contains("✗ extras/first-steps           starter 0/1 · solution 0/1\n    `first_steps_returns_the_answer` fails on the solution: expected 42, got 0\n"),
        "{}",
        verify.stdout
    );
}

#[test]
fn bad_input_is_a_one_line_error_and_writes_nothing() {
    let workbook = Workbook::new();
    let before = workbook.files();
    let mut errors = String::new();
    for args in [
        &["dev", "new", "exercise", "basics", "todo"][..],
        &["dev", "new", "exercise", "basics", "Shout"],
        &["dev", "new", "exercise", "basics", "type"],
        &["dev", "new", "exercise", "nope", "shout"],
        &["dev", "new", "lesson", "basics"],
        &["dev", "new", "lesson", "2fa"],
    ] {
        let run = workbook.checker(args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        errors.push_str(&format!("{}\n{}", args.join(" "), run.stderr));
    }
    // A leftover folder is never written over.
    std::fs::create_dir_all(workbook.dir.path().join("solutions/01-basics/shout")).unwrap();
    let run = workbook.checker(&["dev", "new", "exercise", "basics", "shout"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    errors.push_str(&format!("dev new exercise basics shout\n{}", run.stderr));
    assert_snapshot!(errors);
    assert!(
        workbook.files() == before,
        "a refused `dev new` should write nothing"
    );
}

/// The same walk in a copy of this very repository (its tracked files):
/// a new exercise in a real lesson, and `dev check` passes at once. (Its
/// `dev verify` would build the lesson's dependencies, minutes on a small
/// machine; the fixture's walk above runs that part.)
#[test]
fn a_new_exercise_in_a_copy_of_this_repository_passes_dev_check() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(&repo)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files failed");
    let copy = tempfile::tempdir().expect("a temporary folder");
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let file = String::from_utf8_lossy(file).into_owned();
        let from = repo.join(&file);
        if !from.is_file() {
            continue;
        }
        let to = copy.path().join(&file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    let checker = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(args)
            .current_dir(copy.path())
            .env_remove("CARGO_TARGET_DIR")
            .env("NO_COLOR", "1")
            .env_remove("WORKBOOK_ROOT")
            .output()
            .expect("the checker runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // "✓ 7 lessons, 63 exercises; ...": the exercises dev check counted.
    let exercises = |stdout: &str| -> usize {
        stdout
            .split(" exercises")
            .next()
            .and_then(|head| head.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count of exercises in {stdout}"))
    };
    let (code, before, stderr) = checker(&["dev", "check"]);
    assert_eq!(
        code,
        Some(0),
        "dev check fails on the copy:\n{before}\n{stderr}"
    );
    let (code, stdout, stderr) = checker(&["dev", "new", "exercise", "api", "webhooks-out"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        copy.path()
            .join("lessons/03-api/webhooks-out/exercise.toml")
            .is_file()
    );
    let (code, after, stderr) = checker(&["dev", "check"]);
    assert_eq!(
        code,
        Some(0),
        "dev check fails after dev new:\n{after}\n{stderr}"
    );
    assert_eq!(exercises(&after), exercises(&before) + 1, "{after}");
}
