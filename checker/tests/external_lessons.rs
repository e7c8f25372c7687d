//! An instructor's own lessons, outside the workbook: the fixture workbook
//! and, beside it, a course folder with one lesson (`lessons/`,
//! `solutions/` and `book/` side by side), added with a `[[lessons]]` entry
//! of workbook.toml and two `members` lines of the root Cargo.toml.

mod common;
use common::copy_tree;
#[path = "common/git.rs"]
#[allow(dead_code)] // `commit_all` commits everything; one test here excludes a folder first
mod git;

use std::path::{Path, PathBuf};
use std::process::Command;

use insta::assert_snapshot;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook");

/// A temporary folder holding `workbook/` (the fixture) and `course/`
/// beside it (or, for one test, `workbook/courses/my-course/` inside it).
struct Setup {
    dir: tempfile::TempDir,
    /// Where the course lies, relative to the temporary folder.
    course: &'static str,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

const MEMBERS: &str = r#"members = ["lessons/*/*", "solutions/*/*"]"#;
const WITH_COURSE: &str = r#"members = ["lessons/*/*", "solutions/*/*", "../course/lessons/*/*", "../course/solutions/*/*"]"#;

impl Setup {
    /// The fixture, a course beside it, and the workbook pointed at it.
    fn new() -> Setup {
        let setup = Setup::without_entry();
        setup.append(
            "workbook/workbook.toml",
            "\n[[lessons]]\npath = \"../course/lessons\"\n",
        );
        setup.replace("workbook/Cargo.toml", MEMBERS, WITH_COURSE);
        setup.lock();
        setup
    }

    fn without_entry() -> Setup {
        Setup::with_course_at("course")
    }

    fn with_course_at(course: &'static str) -> Setup {
        let dir = tempfile::tempdir().expect("a temporary folder");
        copy_tree(Path::new(FIXTURE), &dir.path().join("workbook"));
        let setup = Setup { dir, course };
        setup.write_course_lesson("01-shop", "shop");
        setup
    }

    /// One lesson with one exercise, `cart`, whose starter fails with `todo!`.
    fn write_course_lesson(&self, folder: &str, id: &str) {
        let course = self.course;
        let lesson = format!("{course}/lessons/{folder}");
        let solution = format!("{course}/solutions/{folder}/cart");
        // Below the workbook's folder cargo finds the workspace by itself.
        let workspace = if course.starts_with("workbook/") {
            ""
        } else {
            "workspace = \"../../../../workbook\"\n"
        };
        self.write(
            &format!("{lesson}/lesson.toml"),
            &format!(
                "id = \"{id}\"\ntitle = \"A shop of my own\"\nbook = \"{id}/index.md\"\nexercises = [\"cart\"]\n"
            ),
        );
        self.write(
            &format!("{lesson}/cart/exercise.toml"),
            "title = \"A cart\"\nhints = [\"Add the prices.\", \"`iter().sum()` adds them.\"]\n",
        );
        for (dir, package) in [
            (format!("{lesson}/cart"), format!("{id}-cart")),
            (solution.clone(), format!("{id}-cart-solution")),
        ] {
            self.write(
                &format!("{dir}/Cargo.toml"),
                &format!(
                    "[package]\nname = \"{package}\"\nversion = \"0.0.0\"\nedition.workspace = true\npublish.workspace = true\n{workspace}\n[lib]\ntest = false\ndoctest = false\n"
                ),
            );
        }
        self.write(
            &format!("{lesson}/cart/src/lib.rs"),
            "pub fn total(prices: &[u32]) -> u32 {\n    todo!(\"add up {prices:?}\")\n}\n",
        );
        self.write(
            &format!("{solution}/src/lib.rs"),
            "pub fn total(prices: &[u32]) -> u32 {\n    prices.iter().sum()\n}\n",
        );
        let krate = format!("{id}_cart");
        self.write(
            &format!("{lesson}/cart/tests/cart.rs"),
            &format!(
                "use {krate}::total;\n\n#[test]\nfn an_empty_cart_costs_nothing() {{\n    let cost = total(&[]);\n    assert!(cost == 0, \"an empty cart should cost 0, not {{cost}}\");\n}}\n\n#[test]\nfn a_cart_costs_the_sum_of_its_prices() {{\n    let cost = total(&[2, 3]);\n    assert!(cost == 5, \"a cart of 2 and 3 should cost 5, not {{cost}}\");\n}}\n"
            ),
        );
        self.write(
            &format!("{solution}/tests/cart.rs"),
            &format!(
                "extern crate {krate}_solution as {krate};\n#[path = \"../../../../lessons/{folder}/cart/tests/cart.rs\"]\nmod cart;\n"
            ),
        );
        self.write(
            &format!("{course}/book/{id}/index.md"),
            "# A shop of my own\n",
        );
        self.write(&format!("{course}/book/{id}/cart.md"), "# A cart\n");
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn append(&self, relative: &str, text: &str) {
        let old = std::fs::read_to_string(self.path(relative)).unwrap();
        self.write(relative, &(old + text));
    }

    fn replace(&self, relative: &str, from: &str, to: &str) {
        let old = std::fs::read_to_string(self.path(relative)).unwrap();
        assert!(old.contains(from), "{relative} holds {from}");
        self.write(relative, &old.replace(from, to));
    }

    /// `cargo checker` is `cargo run`, which brings Cargo.lock up to date with
    /// new members before the checker starts; the bare binary needs it done.
    fn lock(&self) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["metadata", "--offline", "--format-version", "1"])
            .current_dir(self.path("workbook"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo metadata takes the course's crates");
    }

    fn checker(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_checker"))
            .args(args)
            .current_dir(self.path("workbook"))
            .env_remove("CARGO_TARGET_DIR")
            .env("NO_COLOR", "1")
            .env_remove("WORKBOOK_ROOT")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .expect("the checker runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: self.normalize(&String::from_utf8_lossy(&output.stdout)),
            stderr: self.normalize(&String::from_utf8_lossy(&output.stderr)),
        }
    }

    fn normalize(&self, text: &str) -> String {
        let tmp = self.dir.path();
        let canonical = tmp.canonicalize().unwrap_or_else(|_| tmp.to_path_buf());
        text.replace(&canonical.display().to_string(), "[TMP]")
            .replace(&tmp.display().to_string(), "[TMP]")
    }
}

#[test]
fn list_shows_the_courses_lessons_after_the_workbooks_own() {
    let setup = Setup::new();
    let run = setup.checker(&["list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_snapshot!(run.stdout);
}

#[test]
fn check_grades_a_course_exercise_and_its_record_guards_its_tests() {
    let setup = Setup::new();
    // The course keeps its own record of what grades it, like any lesson.
    let run = setup.checker(&["dev", "checksums"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("../course/lessons/01-shop/tests.sha256 (5 files, 5 changes)"),
        "{}",
        run.stdout
    );
    let record =
        std::fs::read_to_string(setup.path("course/lessons/01-shop/tests.sha256")).unwrap();
    assert!(
        record.contains("  ../course/lessons/01-shop/cart/tests/cart.rs\n"),
        "paths are written from the workbook root, wherever the two are checked out: {record}"
    );

    let run = setup.checker(&["check", "shop/cart"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_snapshot!("check_starter", run.stdout);

    setup.write(
        "course/lessons/01-shop/cart/src/lib.rs",
        "pub fn total(prices: &[u32]) -> u32 {\n    prices.iter().sum()\n}\n",
    );
    let run = setup.checker(&["check", "shop/cart"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("all 2 tests pass"), "{}", run.stdout);

    // A learner who weakens the course's tests scores 0, as in any lesson.
    setup.replace(
        "course/lessons/01-shop/cart/tests/cart.rs",
        "cost == 5",
        "cost == cost",
    );
    let run = setup.checker(&["check", "shop/cart"]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("files that grade it are not as the workbook gave them (../course/lessons/01-shop/cart/tests/cart.rs)"),
        "{}",
        run.stdout
    );
}

#[test]
fn dev_check_finds_the_courses_pages_in_its_own_book_folder() {
    let setup = Setup::new();
    assert_eq!(setup.checker(&["dev", "checksums"]).code, 0);
    let run = setup.checker(&["dev", "check"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_snapshot!("dev_check_passes", run.stdout);

    // A page online is the instructor's to keep; a missing file is an error.
    setup.replace(
        "course/lessons/01-shop/lesson.toml",
        "book = \"shop/index.md\"",
        "book = \"https://example.com/shop\"",
    );
    std::fs::remove_file(setup.path("course/book/shop/cart.md")).unwrap();
    assert_eq!(setup.checker(&["dev", "checksums"]).code, 0);
    let run = setup.checker(&["dev", "check"]);
    assert_eq!(run.code, 1);
    assert_snapshot!("dev_check_missing_page", run.stdout);
}

#[test]
fn a_missing_course_folder_is_a_one_line_error() {
    let setup = Setup::without_entry();
    setup.append(
        "workbook/workbook.toml",
        "\n[[lessons]]\npath = \"../nowhere/lessons\"\n",
    );
    let run = setup.checker(&["list"]);
    assert_eq!(run.code, 2);
    assert_snapshot!(run.stderr, @"error: [TMP]/workbook/workbook.toml: the [[lessons]] folder `../nowhere/lessons` does not exist ([TMP]/nowhere/lessons): check out your lessons there or correct `path`
");
}

#[test]
fn a_lesson_id_the_workbook_already_uses_is_a_one_line_error() {
    let setup = Setup::new();
    setup.write_course_lesson("02-basics", "basics");
    let run = setup.checker(&["list"]);
    assert_eq!(run.code, 2);
    assert_snapshot!(run.stderr, @"error: ../course/lessons/02-basics/lesson.toml: lesson id `basics` is used by another lesson too: give each lesson its own id
");
}

#[test]
fn a_course_crate_cargo_cannot_build_says_which_line_to_add() {
    let setup = Setup::without_entry();
    setup.append(
        "workbook/workbook.toml",
        "\n[[lessons]]\npath = \"../course/lessons\"\n",
    );
    let run = setup.checker(&["list"]);
    assert_eq!(run.code, 2);
    assert_snapshot!(run.stderr, @r#"error: ../course/lessons/01-shop/cart is not in the cargo workspace: add "../course/lessons/*/*" to `members` in the workbook's Cargo.toml
"#);

    setup.replace("workbook/Cargo.toml", MEMBERS, WITH_COURSE);
    setup.replace(
        "course/solutions/01-shop/cart/Cargo.toml",
        "workspace = \"../../../../workbook\"\n",
        "",
    );
    let run = setup.checker(&["list"]);
    assert_eq!(run.code, 2);
    assert_snapshot!(run.stderr, @r#"error: ../course/solutions/01-shop/cart/Cargo.toml: add `workspace = "../../../../workbook"` under [package]: the crate lies outside the workbook's folder, so cargo cannot find the workspace by itself
"#);
}

#[test]
fn a_course_inside_the_workbooks_folder_unknown_to_its_git_is_graded_by_its_record() {
    let setup = Setup::with_course_at("workbook/courses/my-course");
    setup.append(
        "workbook/workbook.toml",
        "\n[[lessons]]\npath = \"courses/my-course/lessons\"\n",
    );
    setup.replace(
        "workbook/Cargo.toml",
        MEMBERS,
        r#"members = ["lessons/*/*", "solutions/*/*", "courses/my-course/lessons/*/*", "courses/my-course/solutions/*/*"]"#,
    );
    setup.lock();
    assert_eq!(setup.checker(&["dev", "checksums"]).code, 0);
    // The instructor's copy of the workbook commits the two lines (and the
    // records); its repository never sees the course folder.
    let workbook = setup.path("workbook");
    git::git(&workbook, &["init", "-q"]);
    setup.write("workbook/.git/info/exclude", "/courses/\n");
    git::git(&workbook, &["add", "-A"]);
    git::git(&workbook, &["commit", "-qm", "workbook"]);

    // The first command records the workbook's commit as the baseline; the
    // course's files, new to that repository, are no tampering: the course's
    // tests.sha256 is what vouches for them.
    let run = setup.checker(&["check", "shop/cart"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("0 of 2 tests pass"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("Edit courses/my-course/lessons/01-shop/cart/src/lib.rs · read courses/my-course/book/shop/cart.md"),
        "{}",
        run.stdout
    );

    setup.replace(
        "workbook/courses/my-course/lessons/01-shop/cart/tests/cart.rs",
        "cost == 5",
        "cost == cost",
    );
    let run = setup.checker(&["check", "shop/cart"]);
    assert!(
        run.stdout.contains(
            "files that grade it are not as the workbook gave them (courses/my-course/lessons/01-shop/cart/tests/cart.rs)"
        ),
        "{}",
        run.stdout
    );
}
