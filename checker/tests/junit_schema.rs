//! The JUnit XML the checker writes (`check --format junit`, `grade --junit`)
//! is what CI systems read: the real checker's output, for every kind of
//! verdict, validates with xmllint against `tests/schemas/junit.xsd` (the
//! Jenkins/Surefire definition GitHub's and GitLab's readers follow), and its
//! counts agree with the test cases it lists.

mod common;
use common::copy_tree;

use std::path::Path;
use std::process::Command;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook");
const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemas/junit.xsd");
const CHECKER: &str = env!("CARGO_BIN_EXE_checker");

/// Runs the checker in `dir`, with a build folder of its own (a shared one
/// would mix copies up: cargo's hashes ignore where a workspace lies).
fn checker(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(CHECKER)
        .args(args)
        .current_dir(dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("WORKBOOK_ROOT")
        .env("NO_COLOR", "1")
        .output()
        .expect("the checker runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Fails with what xmllint said when `xml` does not validate, and with a
/// one-line install hint when xmllint is not there.
fn assert_valid(xml: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    std::fs::write(&file, xml).unwrap();
    let output = match Command::new("xmllint")
        .args(["--noout", "--schema", SCHEMA])
        .arg(&file)
        .output()
    {
        Ok(output) => output,
        Err(_) => panic!(
            "xmllint is not installed: install it (Debian/Ubuntu: `apt-get install -y libxml2-utils`, \
             macOS: `brew install libxml2`) and run the test again"
        ),
    };
    assert!(
        output.status.success(),
        "{what} does not validate against the JUnit schema:\n{}\n{xml}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_counts_agree(xml, what);
}

/// The value of `name="..."` in one start tag.
fn attribute(tag: &str, name: &str) -> usize {
    let start = tag
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 3;
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].parse().unwrap()
}

/// Each suite's `tests`, `failures` and `errors` count its test cases, and
/// the root's are their sums: a reader that trusts the counts (GitLab's
/// summary does) shows what the cases say.
fn assert_counts_agree(xml: &str, what: &str) {
    let root = xml.lines().find(|l| l.starts_with("<testsuites")).unwrap();
    let mut sums = [0; 3];
    for suite in xml.split("<testsuite ").skip(1) {
        let tag = &suite[..suite.find('>').unwrap()];
        let body = &suite[..suite.find("</testsuite>").unwrap_or(suite.len())];
        let counted = [
            body.matches("<testcase ").count(),
            body.matches("<failure").count(),
            body.matches("<error").count(),
        ];
        for (i, name) in ["tests", "failures", "errors"].iter().enumerate() {
            assert_eq!(
                attribute(tag, name),
                counted[i],
                "{what}: {name} of <testsuite {tag}>"
            );
            sums[i] += counted[i];
        }
    }
    for (i, name) in ["tests", "failures", "errors"].iter().enumerate() {
        assert_eq!(attribute(root, name), sums[i], "{what}: {name} of {root}");
    }
}

#[test]
fn check_junit_validates_for_every_verdict() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(Path::new(FIXTURE), dir.path());
    // Every verdict: done, failed (todo!() and assertions), compile error,
    // timed out, output cut short; and modified (an edited test file).
    let (code, xml, stderr) = checker(
        dir.path(),
        &["check", "basics", "--timeout", "2", "--format", "junit"],
    );
    assert_eq!(code, Some(1), "{stderr}");
    for needed in ["<failure", "<error message=\"does not compile\"", "/>"] {
        assert!(xml.contains(needed), "no {needed} in {xml}");
    }
    assert_valid(&xml, "check basics --format junit");

    let test = dir
        .path()
        .join("lessons/01-basics/passing/tests/passing.rs");
    let edited = std::fs::read_to_string(&test).unwrap() + "\n// edited\n";
    std::fs::write(&test, edited).unwrap();
    let (_, xml, stderr) = checker(
        dir.path(),
        &["check", "basics/passing", "--format", "junit"],
    );
    assert!(
        xml.contains("<error message=\"not graded"),
        "{xml}\n{stderr}"
    );
    assert_valid(&xml, "check of a modified exercise --format junit");
}

#[test]
fn grade_junit_validates() {
    let dir = tempfile::tempdir().unwrap();
    let instructor = dir.path().join("instructor");
    let learner = dir.path().join("alice");
    copy_tree(Path::new(FIXTURE), &instructor);
    copy_tree(Path::new(FIXTURE), &learner);
    let out = dir.path().join("grades");
    let (code, stdout, stderr) = checker(
        &instructor,
        &[
            "grade",
            learner.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--junit",
            "--only",
            "basics/passing",
            "--only",
            "basics/failing",
            "--only",
            "basics/broken",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let xml = std::fs::read_to_string(out.join("alice.xml")).unwrap();
    assert_valid(&xml, "grade --junit");
}
