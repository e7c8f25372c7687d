//! `gradebook`: learners' reports in, a CSV and a self-contained HTML page
//! out (the page in a real browser: gradebook_browser.rs).

#[path = "common/schema.rs"]
mod schema;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const REPORTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gradebook");
const GUIDE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../book/src/instructor/gradebook.md"
);
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../book/src/instructor/report.schema.json"
);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the checker in `dir`, which holds no workbook: the gradebook needs none.
fn checker(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(args)
        .current_dir(dir)
        .env_remove("WORKBOOK_ROOT")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr)
            .unwrap()
            .replace(&dir.display().to_string(), "[DIR]")
            .replace(REPORTS, "[REPORTS]"),
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn the_fixture_reports_are_real_reports() {
    // The gradebook is tested on reports the schema accepts, so it reads
    // what grade, check and report really write.
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    for file in files(Path::new(REPORTS)) {
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let errors = schema::errors(&schema, &report);
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn a_folder_of_reports_makes_a_csv_and_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let run = checker(dir.path(), &["gradebook", REPORTS]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!("gradebook_stderr", run.stderr);
    let out = dir.path().join("gradebook");
    assert_eq!(
        files(&out),
        [out.join("gradebook.csv"), out.join("gradebook.html")]
    );
    let csv = std::fs::read_to_string(out.join("gradebook.csv")).unwrap();
    // RFC 4180 ends records with CRLF; the snapshot shows them as lines.
    assert!(csv.ends_with("\r\n") && !csv.replace("\r\n", "").contains('\n'));
    insta::assert_snapshot!("gradebook_csv", csv.replace("\r\n", "\n"));

    // The guide shows this very file.
    let guide = std::fs::read_to_string(GUIDE).unwrap();
    assert!(
        guide.contains(&csv.replace("\r\n", "\n")),
        "book/src/instructor/gradebook.md's CSV is not what the fixture's reports make:\n{csv}"
    );

    let html = std::fs::read_to_string(out.join("gradebook.html")).unwrap();
    // Self-contained: nothing fetched from anywhere.
    for outside in ["http://", "https://", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "the page refers to `{outside}`");
    }
    let start = html.find("<body>").unwrap();
    let end = html.find("<script>").unwrap();
    insta::assert_snapshot!(
        "gradebook_html_body",
        html[start..end].replace(REPORTS, "[REPORTS]")
    );
}

#[test]
fn report_files_can_be_named_one_by_one_with_out() {
    let dir = tempfile::tempdir().unwrap();
    let alice = format!("{REPORTS}/alice.json");
    let dave = format!("{REPORTS}/dave.json");
    let run = checker(dir.path(), &["gradebook", &alice, &dave, "--out", "class"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let csv = std::fs::read_to_string(dir.path().join("class/gradebook.csv")).unwrap();
    let learners: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(learners, ["alice", "dave"]);
}

#[test]
fn bad_input_is_a_one_line_error_naming_the_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.json"), "{\"hello\": 1}").unwrap();
    std::fs::write(
        dir.path().join("list.json"),
        "{\"kind\": \"list\", \"report_version\": 1, \"learner\": {\"name\": null}}",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let alice = format!("{REPORTS}/alice.json");
    let mut errors = Vec::new();
    for args in [
        vec!["gradebook", &alice, "notes.json"],
        vec!["gradebook", "list.json"],
        vec!["gradebook", "empty"],
        vec!["gradebook", "missing.json"],
        vec!["gradebook", &alice, &alice],
    ] {
        let run = checker(dir.path(), &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        errors.push(format!("{}\n{}", args[1..].join(" "), run.stderr));
    }
    assert!(!dir.path().join("gradebook").exists());
    insta::assert_snapshot!(
        "gradebook_bad_input",
        errors.join("\n").replace(REPORTS, "[REPORTS]")
    );
}
