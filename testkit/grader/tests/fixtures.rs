//! The grader against deliberately broken shops.
//!
//! Each fixture (`tests/fixtures/*.toml`) is the reference solution with a
//! few exact replacements that break one thing a learner could get wrong,
//! and names the scenario that must catch it. Every fixture is built from a
//! copy of the solution (in `target/grader-fixtures/`, a workspace of its
//! own that shares the repository's `target/` and so builds only the shops)
//! and graded from the first stage: every scenario before the named one
//! passes, the named one fails with the verdict given, and nothing after it
//! runs. A replacement whose text is no longer in the solution fails the
//! test, so a fixture cannot silently stop breaking anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use grader::{Options, Verdict};
use serde::Deserialize;

/// One seed for every fixture: the same inputs in every run.
const SEED: u64 = 20_261_130;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    /// What the fixture breaks (or, accepted, chooses otherwise), for people.
    breaks: String,
    /// A correct shop written otherwise than the reference, where the
    /// contract leaves a choice: it must pass every scenario.
    #[serde(default)]
    accepted: bool,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    scenario: String,
    /// Text the failure's first line (its verdict) must hold.
    #[serde(default)]
    verdict: String,
    /// The failure's numbers differ from run to run (a race): the snapshot
    /// keeps only the verdict, its numbers hidden.
    #[serde(default)]
    volatile: bool,
    #[serde(default)]
    replace: Vec<Replace>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Replace {
    /// Relative to the solution's folder.
    file: String,
    find: String,
    with: String,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> BTreeMap<String, Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut fixtures = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("tests/fixtures") {
        let path = entry.expect("an entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let fixture: Fixture =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fixtures.insert(name, fixture);
        }
    }
    fixtures
}

/// Builds every fixture's shop once; returns their binaries by name.
fn binaries() -> &'static BTreeMap<String, PathBuf> {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = root().canonicalize().unwrap();
        let solution = root.join("solutions/07-capstone/shop");
        let ws = root.join("target/grader-fixtures");
        let _ = std::fs::remove_dir_all(&ws);
        std::fs::create_dir_all(&ws).unwrap();
        let fixtures = fixtures();

        // The workspace: the repository's dependencies and profiles, the
        // fixtures as members.
        let mut manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
        let workspace = manifest["workspace"].as_table_mut().unwrap();
        workspace.insert(
            "members".into(),
            toml::Value::Array(fixtures.keys().map(|n| toml::Value::String(n.clone())).collect()),
        );
        workspace.remove("exclude");
        if let Some(deps) = workspace.get_mut("dependencies").and_then(|d| d.as_table_mut()) {
            for (_, dep) in deps.iter_mut() {
                if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
                    let absolute = root.join(path).display().to_string();
                    dep.as_table_mut().unwrap().insert("path".into(), absolute.into());
                }
            }
        }
        std::fs::write(ws.join("Cargo.toml"), toml::to_string(&manifest).unwrap()).unwrap();
        std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock")).unwrap();

        for (name, fixture) in &fixtures {
            let dir = ws.join(name);
            copy_dir(&solution.join("src"), &dir.join("src"));
            let mut package: toml::Table = toml::from_str(
                &std::fs::read_to_string(solution.join("Cargo.toml")).unwrap(),
            )
            .unwrap();
            let binary = format!("shop-{name}");
            package["package"]["name"] = binary.clone().into();
            package.remove("test");
            package.remove("dev-dependencies");
            package["bin"].as_array_mut().unwrap()[0]["name"] = binary.into();
            std::fs::write(dir.join("Cargo.toml"), toml::to_string(&package).unwrap()).unwrap();
            for replace in &fixture.replace {
                let path = dir.join(&replace.file);
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("fixture {name}: {}: {e}", replace.file));
                let found = text.matches(&replace.find).count();
                assert_eq!(
                    found, 1,
                    "fixture {name}: the text to replace is in {} {found} times, not once; the solution changed: update tests/fixtures/{name}.toml\n{}",
                    replace.file, replace.find
                );
                std::fs::write(&path, text.replacen(&replace.find, &replace.with, 1)).unwrap();
            }
        }
        let output = Command::new(env!("CARGO"))
            .args(["build", "--bins", "--manifest-path"])
            .arg(ws.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(root.join("target"))
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "the fixtures do not build:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        fixtures
            .keys()
            .map(|name| {
                let binary = root.join("target/debug").join(format!("shop-{name}"));
                (name.clone(), binary)
            })
            .collect()
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// What differs between two runs with one seed: ports, tokens, times.
fn redact(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest
            .strip_prefix("127.0.0.1:")
            .filter(|after| after.starts_with(|c: char| c.is_ascii_digit()))
        {
            out.push_str("127.0.0.1:PORT");
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
        } else if let Some(after) = rest.strip_prefix("Bearer ") {
            out.push_str("Bearer TOKEN");
            rest =
                after.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "-_.".contains(c));
        } else if is_timestamp(rest) {
            out.push_str("TIME");
            rest = rest[20..].trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            rest = rest.strip_prefix('Z').unwrap_or(rest);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// `2026-11-30T09:15:00` at the start of `text`.
fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 20
        && bytes[..19].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// Grades one fixture and checks it fails exactly where it says.
fn grade(name: &str) {
    // Shops under grading compete for two cores: one at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let fixtures = fixtures();
    let fixture = &fixtures[name];
    let binary = &binaries()[name];
    let report = grader::grade(&Options {
        shop: binary.clone(),
        seed: SEED,
        stage: None,
    });
    // Whatever happened, the grader killed every shop it started.
    let survivors = Command::new("pgrep")
        .arg("-f")
        .arg(binary)
        .output()
        .expect("pgrep runs");
    assert!(
        survivors.stdout.is_empty(),
        "fixture {name}: a shop outlived the grading (pids {})",
        String::from_utf8_lossy(&survivors.stdout).trim()
    );
    if fixture.accepted {
        if let Some(failed) = report.first_failure() {
            panic!(
                "fixture {name} ({}) is correct, yet {}::{} failed:\n{:?}",
                fixture.breaks, failed.stage, failed.name, failed.verdict
            );
        }
        assert_eq!(report.passed(), report.results.len());
        return;
    }
    let failed = report
        .first_failure()
        .unwrap_or_else(|| panic!("fixture {name} ({}) passed every scenario", fixture.breaks));
    let Verdict::Failed(message) = &failed.verdict else {
        unreachable!()
    };
    assert_eq!(
        (failed.stage, failed.name),
        (fixture.stage.as_str(), fixture.scenario.as_str()),
        "fixture {name} ({}) failed elsewhere than expected:\n{message}",
        fixture.breaks
    );
    let verdict = message.lines().next().unwrap_or("");
    assert!(
        verdict.contains(&fixture.verdict),
        "fixture {name}: the verdict does not say `{}`:\n{message}",
        fixture.verdict
    );
    let position = report
        .results
        .iter()
        .position(|r| r.stage == failed.stage && r.name == failed.name)
        .unwrap();
    for (index, result) in report.results.iter().enumerate() {
        match index.cmp(&position) {
            std::cmp::Ordering::Less => assert_eq!(
                result.verdict,
                Verdict::Passed,
                "fixture {name}: {}::{} before the failure did not pass",
                result.stage,
                result.name
            ),
            std::cmp::Ordering::Greater => assert!(
                matches!(result.verdict, Verdict::NotRun(_)),
                "fixture {name}: {}::{} ran after the failure",
                result.stage,
                result.name
            ),
            std::cmp::Ordering::Equal => {}
        }
    }
    // The message as the checker shows it, but for what differs per run.
    let shown: Vec<String> = if fixture.volatile {
        let mut hidden = String::new();
        for c in verdict.chars() {
            match c.is_ascii_digit() {
                true if hidden.ends_with('N') => {}
                true => hidden.push('N'),
                false => hidden.push(c),
            }
        }
        vec![hidden]
    } else {
        message
            .lines()
            .filter(|line| {
                !line.contains("SHOP_TOKEN_SECRET=") && !line.starts_with("(this run's seed")
            })
            .map(redact)
            .collect()
    };
    insta::assert_snapshot!(
        name,
        format!("{}::{}\n{}", failed.stage, failed.name, shown.join("\n"))
    );
}

/// Every fixture file has its test below, and every test its file.
#[test]
fn every_fixture_is_graded() {
    let names: Vec<String> = fixtures().into_keys().collect();
    assert_eq!(
        names, TESTED,
        "add a test for each fixture in tests/fixtures"
    );
}

const TESTED: &[&str] = &[
    "accepted_unsigned_cursors_and_other_etags",
    "crash_mid_stage",
    "injectable_search",
    "missing_ownership_check",
    "never_listens",
    "oversell_race",
    "wrong_status",
];

#[test]
fn accepted_unsigned_cursors_and_other_etags() {
    grade("accepted_unsigned_cursors_and_other_etags");
}

#[test]
fn crash_mid_stage() {
    grade("crash_mid_stage");
}

#[test]
fn injectable_search() {
    grade("injectable_search");
}

#[test]
fn missing_ownership_check() {
    grade("missing_ownership_check");
}

#[test]
fn never_listens() {
    grade("never_listens");
}

#[test]
fn oversell_race() {
    grade("oversell_race");
}

#[test]
fn wrong_status() {
    grade("wrong_status");
}
