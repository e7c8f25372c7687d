//! Honest grades, end to end: the real checker on private copies of
//! `tests/fixtures/hostile`, against learner code (and learner edits) that
//! try to earn points they did not: replacing other test binaries and the
//! checker, rewriting tests and dating them back, build scripts, manifests
//! that point at the solution, shared build folders, passes libtest never
//! confirmed, floods of fake names, absurd time limits. Each test holds one
//! promise; each failed on the checker before these promises were kept.
#![cfg(target_os = "linux")]

mod common;
use common::copy_tree;
#[path = "common/env.rs"]
mod env;
#[path = "common/git.rs"]
mod git;
#[path = "common/report.rs"]
mod report;
use report::exercise;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hostile");
const CHECKER: &str = env!("CARGO_BIN_EXE_checker");

/// A private copy of the hostile fixture, a git repository whose one
/// commit is the workbook as given (the checker's baseline).
struct Workbook {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Workbook {
    fn new() -> Workbook {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("workbook");
        copy_tree(Path::new(FIXTURE), &root);
        git::commit_all(&root);
        Workbook { _dir: dir, root }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A learner's clone of this workbook, to pull its authors' updates.
    fn clone_for_learner(&self) -> Workbook {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("learner");
        git::git(
            dir.path(),
            &["clone", "-q", self.root.to_str().unwrap(), "learner"],
        );
        Workbook { _dir: dir, root }
    }

    /// `git pull`, as a learner takes the authors' updates.
    fn pull(&self) {
        git::git(
            &self.root,
            &["-c", "pull.rebase=false", "pull", "-q", "--no-edit"],
        );
    }

    /// Puts every tracked file back and removes new ones, as a learner
    /// would with `git checkout . && git clean -fd`.
    fn restore(&self) {
        git::git(&self.root, &["checkout", "-q", "--", "."]);
        git::git(
            &self.root,
            &["clean", "-qfd", "--", "lessons", "solutions", ".cargo"],
        );
    }

    /// Writes the reference solution into the learner's file.
    fn solve(&self, lesson_dir: &str, name: &str) {
        let solution = self.read(&format!("solutions/{lesson_dir}/{name}/src/lib.rs"));
        self.write(
            &format!("lessons/{lesson_dir}/{name}/src/lib.rs"),
            &solution,
        );
    }

    fn run_with(&self, checker: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(checker);
        command.args(args).current_dir(&self.root);
        env::prepare(&mut command, env);
        let output = command.output().unwrap();
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(Path::new(CHECKER), args, &[])
    }

    /// `check TARGET --format json`, as a document.
    fn check(&self, target: &str) -> Value {
        json(&self.run(&["check", target, "--format", "json"]))
    }
}

/// Asserts that `run`, a check given no cargo, wanted one: `what` says
/// what it would otherwise have graded without a build.
fn wanted_cargo(run: &Run, what: &str) {
    assert_eq!(run.code, Some(2), "{what} without a build: {}", run.stdout);
    assert!(run.stderr.contains("cannot start cargo"), "{}", run.stderr);
}

fn json(run: &Run) -> Value {
    report::parse(&run.stdout, &run.stderr)
}

fn status(document: &Value, id: &str) -> String {
    exercise(document, id)["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What tells one build of each binary from another: its inode and the
/// time of its last change, which a rebuild moves.
fn identities(binaries: &[PathBuf]) -> Vec<(PathBuf, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut identities: Vec<_> = binaries
        .iter()
        .map(|binary| {
            let meta = std::fs::metadata(binary).unwrap();
            (binary.clone(), meta.ino(), meta.ctime(), meta.ctime_nsec())
        })
        .collect();
    identities.sort();
    identities
}

/// The test binaries of the calm lesson in the workbook's build folder.
fn calm_binaries(workbook: &Workbook) -> Vec<PathBuf> {
    std::fs::read_dir(workbook.path("target/debug/deps"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            (name.starts_with("greet-") || name.starts_with("double-")) && !name.contains('.')
        })
        .collect()
}

const FORGED_REPORT: &str = "#!/bin/sh\ncase \"$*\" in\n*--list*) echo 'greets_by_name: test';;\n*) echo 'test greets_by_name ... ok'; echo; echo 'test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s';;\nesac\n";

#[test]
fn code_that_replaces_other_test_binaries_or_the_checker_is_caught_and_earns_nothing_later() {
    let workbook = Workbook::new();
    let before = workbook.check("calm");
    assert_eq!(status(&before, "calm/greet"), "failed", "{before:#}");

    // The checker as `cargo checker` builds it, inside the workbook's target/.
    let checker = workbook.path("target/debug/checker");
    std::fs::copy(CHECKER, &checker).unwrap();
    let run = workbook.run_with(
        &checker,
        &["check", "cheats/replaces", "--format", "json"],
        &[],
    );
    let document = json(&run);
    let replaces = exercise(&document, "cheats/replaces");
    assert_eq!(replaces["status"], "modified", "{replaces:#}");
    assert_eq!(replaces["tests_passed"], 0);
    let notes = replaces["notes"].to_string();
    assert!(notes.contains("replaced files it does not own"), "{notes}");
    assert!(
        !checker.exists() || std::fs::read(&checker).unwrap() == std::fs::read(CHECKER).unwrap(),
        "the forged checker was left in place for the next `cargo checker`"
    );

    // Put the cheat back to an honest starter: the credit must not survive.
    workbook.restore();
    workbook.write(
        "lessons/06-cheats/replaces/src/lib.rs",
        "pub fn add(_a: u32, _b: u32) -> u32 {\n    0\n}\n",
    );
    let after = workbook.check("calm");
    for id in ["calm/greet", "calm/double"] {
        assert_eq!(
            status(&after, id),
            "failed",
            "{id} was graded with a forged binary: {after:#}"
        );
    }

    // The same forgery made outside the checker (a learner's own `cargo
    // test`, say) is seen at the next check: the binary is built again.
    for binary in calm_binaries(&workbook) {
        std::fs::write(&binary, FORGED_REPORT).unwrap();
    }
    let later = workbook.check("calm/greet");
    assert_eq!(status(&later, "calm/greet"), "failed", "{later:#}");
    assert!(
        exercise(&later, "calm/greet")["tests"][0]["message"]
            .as_str()
            .unwrap()
            .contains("greet"),
        "the real test ran: {later:#}"
    );
}

#[test]
fn code_that_rewrites_its_tests_and_restores_them_dated_in_the_past_earns_nothing() {
    let workbook = Workbook::new();
    let original = workbook.read("lessons/06-cheats/restores/tests/restores.rs");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(status(
            &workbook.check("cheats/restores"),
            "cheats/restores",
        ));
    }
    assert!(
        statuses.iter().all(|status| status != "done"),
        "a forged pass was graded: {statuses:?}"
    );
    assert_eq!(
        statuses[0], "modified",
        "{statuses:?}: the run that rewrote its tests"
    );
    assert_eq!(
        statuses[1], "modified",
        "{statuses:?}: the run that put them back"
    );
    // Whatever the file says now, the tests that run are its real ones.
    workbook.write("lessons/06-cheats/restores/tests/restores.rs", &original);
    workbook.solve("06-cheats", "restores");
    let honest = workbook.check("cheats/restores");
    assert_eq!(status(&honest, "cheats/restores"), "done", "{honest:#}");
}

/// A change a learner makes outside the files they edit.
type Cheat = dyn Fn(&Workbook);

#[test]
fn build_scripts_solution_paths_and_edited_manifests_or_records_are_changes_that_score_zero() {
    let workbook = Workbook::new();
    workbook.solve("06-cheats", "honest");
    let clean = workbook.check("cheats/honest");
    assert_eq!(status(&clean, "cheats/honest"), "done", "{clean:#}");

    let cheats: [(&str, &Cheat); 6] = [
        ("a new build.rs", &|w: &Workbook| {
            w.write("lessons/06-cheats/honest/build.rs", "fn main() {}\n")
        }),
        ("a [lib] path to the solution", &|w: &Workbook| {
            let manifest = "lessons/06-cheats/honest/Cargo.toml";
            let text = w.read(manifest).replace(
                "[lib]\n",
                "[lib]\npath = \"../../../solutions/06-cheats/honest/src/lib.rs\"\n",
            );
            w.write(manifest, &text);
            w.write(
                "lessons/06-cheats/honest/src/lib.rs",
                "pub fn add(_a: u32, _b: u32) -> u32 { 0 }\n",
            );
        }),
        ("tests of one's own in exercise.toml", &|w: &Workbook| {
            let manifest = "lessons/06-cheats/honest/exercise.toml";
            let text = w.read(manifest).replace("tests/honest.rs", "tests/mine.rs");
            w.write(manifest, &text);
            w.write(
                "lessons/06-cheats/honest/tests/mine.rs",
                "#[test]\nfn adds() {}\n",
            );
        }),
        (
            "edited tests blessed with dev checksums",
            &|w: &Workbook| {
                let test = "lessons/06-cheats/honest/tests/honest.rs";
                w.write(test, &w.read(test).replace("assert_eq!(add(7, 0), 7);", ""));
                let run = w.run(&["dev", "checksums"]);
                assert_eq!(run.code, Some(0), "{}", run.stderr);
                assert!(
                    run.stdout
                        .contains("changed  lessons/06-cheats/honest/tests/honest.rs"),
                    "dev checksums says what it blesses: {}",
                    run.stdout
                );
            },
        ),
        (
            "build settings in a new .cargo/config.toml",
            &|w: &Workbook| w.write(".cargo/config.toml", "[build]\nrustflags = []\n"),
        ),
        (
            "an expectation edited in a file the tests read",
            &|w: &Workbook| w.write("lessons/06-cheats/honest/tests/data/sums.txt", "2 3 6\n"),
        ),
    ];
    for (cheat, apply) in cheats {
        workbook.restore();
        workbook.solve("06-cheats", "honest");
        apply(&workbook);
        let document = workbook.check("cheats/honest");
        let honest = exercise(&document, "cheats/honest");
        assert_eq!(
            honest["status"], "modified",
            "{cheat} was not noticed: {honest:#}"
        );
        assert_eq!(honest["tests_passed"], 0, "{cheat}");
        assert_eq!(document["summary"]["percent"], 0.0, "{cheat}");
    }

    // What insta proposes when a learner runs `cargo test` by hand is a
    // result, not an expectation: it changes nothing the tests read.
    workbook.restore();
    workbook.solve("06-cheats", "honest");
    for pending in ["sums.snap.new", "sums.pending-snap"] {
        workbook.write(
            &format!("lessons/06-cheats/honest/tests/snapshots/{pending}"),
            "proposed\n",
        );
    }
    let document = workbook.check("cheats/honest");
    assert_eq!(status(&document, "cheats/honest"), "done", "{document:#}");

    // Without git, the lesson's record is the only witness: it holds every
    // file the tests read, and no proposal.
    std::fs::remove_dir_all(workbook.path(".git")).unwrap();
    let document = workbook.check("cheats/honest");
    assert_eq!(status(&document, "cheats/honest"), "done", "{document:#}");
    workbook.write("lessons/06-cheats/honest/tests/data/sums.txt", "2 3 6\n");
    let document = workbook.check("cheats/honest");
    assert_eq!(
        status(&document, "cheats/honest"),
        "modified",
        "an edited data file went unnoticed without git: {document:#}"
    );
}

#[test]
fn two_checkouts_sharing_a_target_folder_never_grade_one_with_the_others_build() {
    let untouched = Workbook::new();
    let solved = Workbook::new();
    solved.solve("06-cheats", "honest");
    let shared = tempfile::tempdir().unwrap();
    let env = [("CARGO_TARGET_DIR", shared.path().to_str().unwrap())];
    let run = solved.run_with(
        Path::new(CHECKER),
        &["check", "cheats/honest", "--format", "json"],
        &env,
    );
    assert_eq!(status(&json(&run), "cheats/honest"), "done");
    let run = untouched.run_with(
        Path::new(CHECKER),
        &["check", "cheats/honest", "--format", "json"],
        &env,
    );
    assert_eq!(
        status(&json(&run), "cheats/honest"),
        "failed",
        "the untouched checkout was graded with the other's build"
    );
}

#[test]
fn passes_that_libtest_never_confirmed_count_on_no_path_and_fake_names_hide_no_failure() {
    let workbook = Workbook::new();
    let document = workbook.check("forgery");
    // Some tests said `ok`, then the process left without a summary.
    let partial = exercise(&document, "forgery/partial");
    assert_eq!(partial["tests_passed"], 0, "{partial:#}");
    // Every test said `ok`, then the process hung until the time limit.
    let hangs = exercise(&document, "forgery/hangs");
    assert_eq!(hangs["status"], "timed_out", "{hangs:#}");
    assert_eq!(hangs["tests_passed"], 0, "{hangs:#}");
    // Megabytes of results for tests that do not exist: the real failure
    // is still reported as what it is.
    let names = exercise(&document, "forgery/names");
    let message = names["tests"][0]["message"].as_str().unwrap();
    assert!(message.contains("left == right"), "{message}");
    let junit = workbook
        .run(&["check", "forgery/hangs", "--format", "junit"])
        .stdout;
    assert!(junit.contains("failures=\"2\""), "{junit}");
}

#[test]
fn a_result_from_modified_tests_scores_zero_and_is_marked_in_every_format() {
    let workbook = Workbook::new();
    workbook.solve("06-cheats", "honest");
    let test = "lessons/06-cheats/honest/tests/honest.rs";
    workbook.write(test, &workbook.read(test).replace("7);", "7); // edited"));
    let document = workbook.check("cheats/honest");
    assert_eq!(status(&document, "cheats/honest"), "modified");
    assert_eq!(document["summary"]["exercises_done"], 0);
    assert_eq!(document["summary"]["tests_passed"], 0);
    assert_eq!(document["summary"]["percent"], 0.0);
    // Tests that passed against edited tests pass nothing: Exercism's
    // `error`, with why.
    for result in exercise(&document, "cheats/honest")["tests"]
        .as_array()
        .unwrap()
    {
        assert_eq!(result["status"], "error", "{result:#}");
        assert!(
            result["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("not graded")),
            "{result:#}"
        );
    }
    let junit = workbook
        .run(&["check", "cheats/honest", "--format", "junit"])
        .stdout;
    assert!(junit.contains("<error message=\"not graded"), "{junit}");
    let list = json(&workbook.run(&["list", "--format", "json"]));
    let listed = exercise(&list, "cheats/honest");
    assert_eq!(
        (listed["status"].as_str(), listed["tests_passed"].as_u64()),
        (Some("modified"), Some(0))
    );
    let text = workbook.run(&["list"]).stdout;
    let line = text.lines().find(|l| l.contains("cheats/honest")).unwrap();
    assert!(line.contains("modified") && line.contains('✗'), "{line}");
    let report = workbook.run(&["report", "--format", "json"]).stdout;
    assert!(report.contains("\"status\": \"modified\""), "{report}");
    assert!(report.contains("\"source\": \"recorded\""), "{report}");
}

#[test]
fn absurd_time_limits_are_one_line_errors_not_panics() {
    let workbook = Workbook::new();
    let run = workbook.run(&["check", "calm/greet", "--timeout", "9223372036854775807"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("from 1 to 86400") && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    let run = workbook.run(&["check", "calm/greet", "--timeout", "0"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    for setting in [
        "timeout = 0",
        "timeout = 9223372036854775807",
        "timeout = 18446744073709551615",
    ] {
        let text = workbook
            .read("workbook.toml")
            .replace("timeout = 10", setting);
        workbook.write("workbook.toml", &text);
        let run = workbook.run(&["check", "calm/greet"]);
        assert_eq!(run.code, Some(2), "{setting}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{setting}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("workbook.toml"),
            "{setting}: {}",
            run.stderr
        );
        workbook.restore();
    }
}

/// Kills what a test left behind, whatever happens to the test.
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &format!("^sleep {}", self.0)])
            .status();
    }
}

#[test]
fn grade_trusts_nothing_of_a_learners_tree_but_the_edited_files_and_flags_tampering_code() {
    let instructor = Workbook::new();
    // The instructor's starters are honest; the learner's files are not.
    for name in ["replaces", "restores"] {
        instructor.write(
            &format!("lessons/06-cheats/{name}/src/lib.rs"),
            "/// Adds two numbers.\npub fn add(_a: u32, _b: u32) -> u32 {\n    0\n}\n",
        );
    }
    let learner = Workbook::new();
    // Edits outside the edited files: the tests, the manifest, a build script.
    let test = "lessons/06-cheats/honest/tests/honest.rs";
    learner.write(test, "use cheats_honest::add;\n\n#[test]\nfn adds() {\n    let _ = add(2, 3);\n}\n\n#[test]\nfn adds_zero() {}\n");
    let manifest = "lessons/06-cheats/honest/Cargo.toml";
    learner.write(
        manifest,
        &learner.read(manifest).replace(
            "[lib]\n",
            "[lib]\npath = \"../../../solutions/06-cheats/honest/src/lib.rs\"\n",
        ),
    );
    learner.write("lessons/06-cheats/honest/build.rs", "fn main() {}\n");
    // A learner who solved one exercise for real.
    learner.solve("05-forgery", "forges");
    git::git(&learner.root, &["add", "-A"]);
    git::git(&learner.root, &["commit", "-qm", "my work"]);

    let out = tempfile::tempdir().unwrap();
    let url = format!("file://{}", learner.root.display());
    // cheats/vanishes starts `sleep MARKER` in a session of its own with an
    // empty environment: no process group or marker finds it.
    let marker = format!("5009.{}", std::process::id());
    let _cleanup = KillOnDrop(marker.clone());
    let run = instructor.run_with(
        Path::new(CHECKER),
        &[
            "grade",
            learner.root.to_str().unwrap(),
            &url,
            "--only",
            "cheats",
            "--only",
            "forgery",
            "--out",
            out.path().to_str().unwrap(),
            "--junit",
        ],
        &[("VANISH_MARKER", &marker)],
    );
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    if run.stderr.contains("no PID namespace") {
        eprintln!("no PID namespace here: the vanished process cannot be held to account");
    } else {
        let left = Command::new("pgrep")
            .args(["-f", &format!("^sleep {marker}")])
            .output()
            .unwrap();
        assert!(
            left.stdout.is_empty(),
            "a process the learner's code started outlived grading: {}",
            String::from_utf8_lossy(&left.stdout)
        );
    }
    let learner_head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&learner.root)
        .output()
        .unwrap();
    let learner_head = String::from_utf8(learner_head.stdout).unwrap();
    for name in ["workbook", "workbook-2"] {
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(out.path().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        // The folder and its clone are one commit; only the clone is known
        // to be exactly that commit (git status does not run in a folder
        // handed in).
        assert_eq!(report["learner"]["commit"], learner_head.trim(), "{name}");
        let clean = if name == "workbook" {
            Value::Null
        } else {
            Value::Bool(false)
        };
        assert_eq!(report["learner"]["uncommitted_changes"], clean, "{name}");
        for id in [
            "cheats/honest",
            "cheats/replaces",
            "cheats/restores",
            "cheats/vanishes",
            "forgery/exits",
            "forgery/partial",
            "forgery/hangs",
            "forgery/names",
        ] {
            assert_ne!(
                status(&report, id),
                "done",
                "{name}: {id} was graded done: {report:#}"
            );
        }
        let replaces = exercise(&report, "cheats/replaces");
        let flagged: Vec<&str> = replaces["review"]
            .as_array()
            .unwrap()
            .iter()
            .map(|flag| flag["pattern"].as_str().unwrap())
            .collect();
        assert!(
            flagged.contains(&"current_exe") && flagged.contains(&"Command"),
            "{replaces:#}"
        );
        let restores = exercise(&report, "cheats/restores");
        assert!(
            restores["review"].to_string().contains("set_modified"),
            "{restores:#}"
        );
        assert!(out.path().join(format!("{name}.xml")).is_file());
    }
    assert!(run.stdout.contains("flagged for review"), "{}", run.stdout);

    // What the learner solved for real is graded done.
    let run = instructor.run(&[
        "grade",
        learner.root.to_str().unwrap(),
        "--only",
        "forgery/forges",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("workbook.json")).unwrap())
            .unwrap();
    assert_eq!(status(&report, "forgery/forges"), "done", "{report:#}");
}

#[test]
fn updates_pulled_from_the_workbooks_upstream_are_as_given_but_local_edits_are_not() {
    let upstream = Workbook::new();
    let learner = upstream.clone_for_learner();
    learner.solve("06-cheats", "honest");
    // First use records the baseline.
    assert_eq!(
        status(&learner.check("cheats/honest"), "cheats/honest"),
        "done"
    );

    // The workbook's authors add a test, and the learner pulls it.
    let test = "lessons/06-cheats/honest/tests/honest.rs";
    let more = format!(
        "{}\n#[test]\nfn adds_ones() {{\n    assert_eq!(add(1, 1), 2);\n}}\n",
        upstream.read(test)
    );
    upstream.write(test, &more);
    assert_eq!(upstream.run(&["dev", "checksums"]).code, Some(0));
    git::git(&upstream.root, &["commit", "-qam", "one more test"]);
    learner.pull();
    let pulled = learner.check("cheats/honest");
    let honest = exercise(&pulled, "cheats/honest");
    assert_eq!(
        honest["status"], "done",
        "a pulled update is not tampering: {honest:#}"
    );
    assert_eq!(honest["tests_total"], 4);

    // An edit of the learner's own is still one.
    learner.write(
        test,
        &learner.read(test).replace("assert_eq!(add(1, 1), 2);", ""),
    );
    assert_eq!(
        status(&learner.check("cheats/honest"), "cheats/honest"),
        "modified"
    );
}

#[test]
fn a_pulled_lesson_with_new_dependencies_leaves_the_others_built_but_a_change_to_theirs_does_not() {
    let upstream = Workbook::new();
    let learner = upstream.clone_for_learner();
    assert_eq!(status(&learner.check("calm/greet"), "calm/greet"), "failed");

    // The authors add a lesson that needs a crate no other lesson uses: a
    // workspace dependency, its entry in the lock, and every lesson's
    // record, which holds the workspace manifest's digest.
    upstream.write(
        "Cargo.toml",
        &format!(
            "{}\n[workspace.dependencies]\n# A new lesson's only.\nitoa = \"1\"\n",
            upstream.read("Cargo.toml")
        ),
    );
    upstream.write(
        "Cargo.lock",
        &format!(
            "{}\n[[package]]\nname = \"itoa\"\nversion = \"1.0.15\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
             checksum = \"4a5f13b858c8d314ee3e8f639011f7ccefe71f97f96e50151fb991f267928e2c\"\n",
            upstream.read("Cargo.lock")
        ),
    );
    assert_eq!(upstream.run(&["dev", "checksums"]).code, Some(0));
    git::git(&upstream.root, &["commit", "-qam", "a lesson with itoa"]);
    learner.pull();

    // Nothing calm/greet builds with changed but the lock: cargo looks
    // once, and its test binary, found fresh, is still vouched for.
    let built = identities(&calm_binaries(&learner));
    let args = ["check", "calm/greet", "--format", "json"];
    let pulled = learner.run(&args);
    assert_eq!(pulled.code, Some(1), "{}", pulled.stderr);
    assert_eq!(status(&json(&pulled), "calm/greet"), "failed");
    assert_eq!(
        identities(&calm_binaries(&learner)),
        built,
        "the pull of another lesson's dependencies made calm/greet build again"
    );
    // With the lock as cargo left it, it is graded without cargo.
    let no_cargo = [("CARGO", "/nonexistent/cargo")];
    let again = learner.run_with(Path::new(CHECKER), &args, &no_cargo);
    assert_eq!(again.code, Some(1), "{}", again.stderr);

    // A lock that changes alone (a dependency updated) has cargo look again:
    // the binary was built against the versions it names no more.
    let lock = learner.read("Cargo.lock");
    learner.write("Cargo.lock", &format!("{lock}\n# updated\n"));
    let updated = learner.run_with(Path::new(CHECKER), &args, &no_cargo);
    wanted_cargo(&updated, "a new lock was graded");
    learner.write("Cargo.lock", &lock);

    // A change to what it builds with does make it build again.
    learner.write(
        "Cargo.toml",
        &learner
            .read("Cargo.toml")
            .replace("debug = false", "debug = true"),
    );
    let profile = learner.run_with(Path::new(CHECKER), &args, &no_cargo);
    wanted_cargo(&profile, "a new build profile was graded");
}

#[test]
fn a_check_with_nothing_changed_runs_no_cargo_but_any_change_or_forgery_does() {
    let workbook = Workbook::new();
    assert_eq!(
        status(&workbook.check("calm/greet"), "calm/greet"),
        "failed"
    );
    // Without cargo, only a check that needs no build can run.
    let no_cargo = [("CARGO", "/nonexistent/cargo")];
    let checker = Path::new(CHECKER);
    let args = ["check", "calm/greet", "--format", "json"];
    let again = workbook.run_with(checker, &args, &no_cargo);
    assert_eq!(
        status(&json(&again), "calm/greet"),
        "failed",
        "nothing changed, yet the check wanted cargo: {}",
        again.stderr
    );
    // A forged test binary is not taken for the one the ledger saw built.
    for binary in calm_binaries(&workbook) {
        std::fs::write(&binary, FORGED_REPORT).unwrap();
    }
    let forged = workbook.run_with(checker, &args, &no_cargo);
    wanted_cargo(&forged, "the forged binary was graded");
    // Nor is a binary built from other sources than those on disk now.
    assert_eq!(
        status(&workbook.check("calm/greet"), "calm/greet"),
        "failed"
    );
    workbook.solve("01-calm", "greet");
    let edited = workbook.run_with(checker, &args, &no_cargo);
    wanted_cargo(&edited, "an edit was graded");
    assert_eq!(status(&workbook.check("calm/greet"), "calm/greet"), "done");
}

#[test]
fn a_learner_whose_code_writes_into_the_shared_warm_build_is_void_and_the_next_is_graded_as_usual()
{
    let instructor = Workbook::new();
    // Learner one's code finds the warm build beside its own and writes
    // into a file there.
    let spoiler = Workbook::new();
    spoiler.write(
        "lessons/06-cheats/honest/src/lib.rs",
        r#"/// Adds two numbers (and spoils the shared build on the way).
pub fn add(a: u32, b: u32) -> u32 {
    let me = std::env::current_exe().unwrap();
    // target/grade/target/debug/deps/TEST -> target/grade/warm/debug/deps
    let grade = me.ancestors().nth(4).unwrap();
    let deps = grade.join("warm/debug/deps");
    if let Some(entry) = std::fs::read_dir(&deps).unwrap().flatten().next() {
        let _ = std::fs::write(entry.path(), b"spoiled");
    }
    a + b
}
"#,
    );
    let honest = Workbook::new();
    honest.solve("06-cheats", "honest");
    let out = tempfile::tempdir().unwrap();
    let run = instructor.run(&[
        "grade",
        spoiler.root.to_str().unwrap(),
        honest.root.to_str().unwrap(),
        "--only",
        "cheats/honest",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("building it again"), "{}", run.stderr);
    let report = |name: &str| -> Value {
        let path = out.path().join(format!("{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let spoiled = report("workbook");
    assert_eq!(status(&spoiled, "cheats/honest"), "modified", "{spoiled:#}");
    let next = report("workbook-2");
    assert_eq!(
        status(&next, "cheats/honest"),
        "done",
        "the learner after the one who spoiled the warm build paid for it: {next:#}"
    );
}
