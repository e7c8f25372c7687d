//! An elective lesson (`elective = true` in its lesson.toml) costs nothing
//! until the learner takes it: `list` shows it, but `check --all` builds
//! nothing of it, `next` passes it by and the totals leave it out, until
//! `goto` one of its exercises takes it. Then it is built in a cargo run of
//! its own. `dev verify` always verifies it; `grade` only when named.
//!
//! The fixture workbook gains a second lesson, `extra`, an elective with one
//! exercise. A cargo shim records every build the checker asks for.

mod common;
use common::copy_tree;
#[path = "common/git.rs"]
#[allow(dead_code)] // `git` itself is not called here
mod git;

use std::path::{Path, PathBuf};
use std::process::Command;

use insta::assert_snapshot;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook");

struct Workbook {
    dir: tempfile::TempDir,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Workbook {
    /// The fixture, with the elective `extra` added as its second lesson.
    fn new() -> Workbook {
        let dir = tempfile::tempdir().expect("a temporary folder");
        copy_tree(Path::new(FIXTURE), dir.path());
        let workbook = Workbook { dir };
        workbook.write(
            "lessons/02-extra/lesson.toml",
            "id = \"extra\"\ntitle = \"Extra credit\"\nbook = \"extra/index.md\"\nelective = true\nexercises = [\"cart\"]\n",
        );
        workbook.write(
            "lessons/02-extra/cart/exercise.toml",
            "title = \"A cart\"\nhints = [\"Add the prices.\", \"`iter().sum()` adds them.\"]\n",
        );
        for (dir, package) in [
            ("lessons/02-extra/cart", "extra-cart"),
            ("solutions/02-extra/cart", "extra-cart-solution"),
        ] {
            workbook.write(
                &format!("{dir}/Cargo.toml"),
                &format!(
                    "[package]\nname = \"{package}\"\nversion = \"0.0.0\"\nedition.workspace = true\npublish.workspace = true\n\n[lib]\ntest = false\ndoctest = false\n"
                ),
            );
        }
        workbook.write(
            "lessons/02-extra/cart/src/lib.rs",
            "pub fn total(prices: &[u32]) -> u32 {\n    todo!(\"add up {prices:?}\")\n}\n",
        );
        workbook.write(
            "solutions/02-extra/cart/src/lib.rs",
            "pub fn total(prices: &[u32]) -> u32 {\n    prices.iter().sum()\n}\n",
        );
        workbook.write(
            "lessons/02-extra/cart/tests/cart.rs",
            "use extra_cart::total;\n\n#[test]\nfn a_cart_costs_the_sum_of_its_prices() {\n    let cost = total(&[2, 3]);\n    assert!(cost == 5, \"a cart of 2 and 3 should cost 5, not {cost}\");\n}\n",
        );
        workbook.write(
            "solutions/02-extra/cart/tests/cart.rs",
            "extern crate extra_cart_solution as extra_cart;\n#[path = \"../../../../lessons/02-extra/cart/tests/cart.rs\"]\nmod cart;\n",
        );
        workbook.write("book/src/extra/index.md", "# Extra credit\n");
        workbook.write("book/src/extra/cart.md", "# A cart\n");
        workbook.write(
            "cargo-shim",
            "#!/bin/sh\necho \"$@\" >> \"$(dirname \"$0\")/cargo.log\"\nexec \"$REAL_CARGO\" \"$@\"\n",
        );
        make_executable(&workbook.path("cargo-shim"));
        workbook.lock();
        let run = workbook.checker(&["dev", "checksums"]);
        assert!(run.code == 0, "dev checksums: {}", run.stderr);
        workbook
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The bare checker binary does not bring Cargo.lock up to date with new
    /// members as `cargo run` would.
    fn lock(&self) {
        let status = Command::new(real_cargo())
            .args(["metadata", "--offline", "--format-version", "1"])
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "cargo metadata takes the elective's crates"
        );
    }

    fn checker(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(args)
            .current_dir(self.dir.path())
            .env("CARGO", self.path("cargo-shim"))
            .env("REAL_CARGO", real_cargo())
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

    /// The `cargo build` runs the checker asked for, one line each, with
    /// only the packages named; the log starts anew.
    fn builds(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.path("cargo.log")).unwrap_or_default();
        let _ = std::fs::remove_file(self.path("cargo.log"));
        log.lines()
            .filter(|line| line.starts_with("build "))
            .map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let packages: Vec<&str> = words
                    .windows(2)
                    .filter(|pair| pair[0] == "--package")
                    .map(|pair| pair[1])
                    .collect();
                packages.join(" ")
            })
            .collect()
    }

    /// Whether anything of the elective's crate was ever compiled.
    fn built_anything_of_the_elective(&self) -> bool {
        let deps = self.path("target/debug/deps");
        std::fs::read_dir(deps).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|entry| entry.file_name().to_string_lossy().contains("extra_cart"))
        })
    }
}

fn real_cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const BASICS: &str =
    "basics-todo basics-passing basics-failing basics-broken basics-hanging basics-flooding";

#[test]
fn list_shows_the_elective_but_leaves_it_out_of_the_totals() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_snapshot!(run.stdout);

    let run = workbook.checker(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let cart = &list["exercises"][6];
    assert_eq!(cart["id"], "extra/cart");
    assert_eq!(cart["elective"], true);
    assert_eq!(cart["taken"], false);
    assert_eq!(list["exercises"][0]["elective"], false);
    assert_eq!(list["exercises"][0]["taken"], true);
}

#[test]
fn check_all_builds_nothing_of_an_elective_until_goto_takes_it() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "--all", "--timeout", "3"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "Not checked: the elective extra (1 exercise), which you have not taken. \
             `cargo checker goto extra/cart` takes it.\n"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("extra/cart ·"), "{}", run.stdout);
    assert_eq!(workbook.builds(), [BASICS]);
    assert!(!workbook.built_anything_of_the_elective());
    let status = workbook.checker(&[]);
    assert!(
        status.stdout.contains("/6 exercises done"),
        "the totals leave the elective out: {}",
        status.stdout
    );

    let run = workbook.checker(&["goto", "extra/cart"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.ends_with(
            "You took the elective extra: `check --all`, `next` and your totals count its exercises from now on.\n"
        ),
        "{}",
        run.stdout
    );
    let run = workbook.checker(&["check", "--all", "--timeout", "3"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!run.stdout.contains("Not checked"), "{}", run.stdout);
    assert!(run.stdout.contains("extra/cart"), "{}", run.stdout);
    // The elective is built in a cargo run of its own: its dependencies'
    // features never mix with the lessons'.
    assert_eq!(workbook.builds(), [BASICS, "extra-cart"]);
    let status = workbook.checker(&[]);
    assert!(
        status.stdout.contains("/7 exercises done"),
        "{}",
        status.stdout
    );
}

#[test]
fn next_passes_an_elective_by_until_it_is_taken() {
    let workbook = Workbook::new();
    assert_eq!(workbook.checker(&["goto", "basics/flooding"]).code, 0);
    let run = workbook.checker(&["next"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_snapshot!(run.stdout);

    assert_eq!(workbook.checker(&["goto", "extra/cart"]).code, 0);
    assert_eq!(workbook.checker(&["goto", "basics/flooding"]).code, 0);
    let run = workbook.checker(&["next"]);
    assert!(
        run.stdout.contains("Now working on extra/cart"),
        "once taken, `next` leads into the elective: {}",
        run.stdout
    );
}

#[test]
fn checking_an_elective_by_name_takes_it() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["check", "extra/cart"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(workbook.builds(), ["extra-cart"]);
    let list = workbook.checker(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(list["exercises"][6]["taken"], true);
}

#[test]
fn dev_verify_always_verifies_the_elective() {
    let workbook = Workbook::new();
    let run = workbook.checker(&["dev", "verify", "--timeout", "3"]);
    assert!(
        run.stdout.contains("extra/cart"),
        "dev verify verifies every exercise, electives too: {}",
        run.stdout
    );
    let builds = workbook.builds();
    assert!(
        builds
            .iter()
            .any(|build| build == "extra-cart extra-cart-solution"),
        "the elective is built in a run of its own: {builds:?}"
    );
    let run = workbook.checker(&["dev", "verify", "extra"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

#[test]
fn grade_grades_an_elective_only_when_the_instructor_names_it() {
    let instructor = Workbook::new();
    git::commit_all(instructor.dir.path());
    let class = tempfile::tempdir().unwrap();
    let alice = class.path().join("alice");
    copy_tree(instructor.dir.path(), &alice);
    let grade = |only: &[&str], folder: &str| -> serde_json::Value {
        let out = class.path().join(folder);
        let (alice, out_arg) = (alice.to_str().unwrap(), out.to_str().unwrap());
        let mut args = vec!["grade", alice, "--timeout", "3", "--out", out_arg];
        args.extend_from_slice(only);
        let run = instructor.checker(&args);
        assert!(run.code == 0, "grade: {}{}", run.stdout, run.stderr);
        let report = std::fs::read_to_string(out.join("alice.json")).unwrap();
        serde_json::from_str(&report).unwrap()
    };
    let ids = |report: &serde_json::Value| -> Vec<String> {
        report["exercises"]
            .as_array()
            .unwrap()
            .iter()
            .map(|exercise| exercise["id"].as_str().unwrap().to_string())
            .collect()
    };
    let everything = grade(&[], "all");
    assert!(
        !ids(&everything).contains(&"extra/cart".to_string()),
        "{:?}",
        ids(&everything)
    );
    let elective = grade(&["--only", "extra"], "extra");
    assert_eq!(ids(&elective), ["extra/cart"]);
}
