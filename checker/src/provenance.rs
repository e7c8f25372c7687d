//! What a JSON report was graded from: when, by which checker, the learner's
//! and (for `grade`) the instructor's commits, and a digest of the files that
//! graded each exercise. A grade someone questions weeks later can then be
//! traced to the exact tests and code it came from.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::integrity::record;
use crate::manifest::{Exercise, Workbook};
use crate::run::seal::sha256_hex;

/// Bumped when a field changes meaning or goes away (adding one does not).
pub const REPORT_VERSION: u32 = 1;

/// Which command wrote the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Check,
    Grade,
    Report,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Check => "check",
            Kind::Grade => "grade",
            Kind::Report => "report",
        }
    }
}

/// A tree as git knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// `HEAD`'s commit, when the tree is the top of a git repository.
    pub commit: Option<String>,
    /// Whether tracked files differ from `commit`; `None` when not asked
    /// (see [`Tree::commit_only`]) or not a repository.
    pub uncommitted_changes: Option<bool>,
}

impl Tree {
    /// The commit of a tree one trusts, and whether it has uncommitted
    /// changes.
    pub fn of(dir: &Path) -> Tree {
        let commit = head(dir);
        let uncommitted_changes = commit.as_ref().and_then(|_| dirty(dir));
        Tree {
            commit,
            uncommitted_changes,
        }
    }

    /// The commit only: `git status` may run programs the repository's own
    /// configuration names (an fsmonitor, a clean filter), which a tree
    /// handed in by a learner must not get to do.
    pub fn commit_only(dir: &Path) -> Tree {
        Tree {
            commit: head(dir),
            uncommitted_changes: None,
        }
    }

    fn to_json(&self) -> Value {
        json!({ "commit": self.commit, "uncommitted_changes": self.uncommitted_changes })
    }
}

/// Everything a report says about what it graded, but the per-exercise
/// digests (see [`tests_digest`]).
#[derive(Debug, Clone)]
pub struct Provenance {
    pub kind: Kind,
    pub generated_at: String,
    /// The commit of the checkout the checker runs from (its own source).
    pub checker_commit: Option<String>,
    /// The learner's name as `grade` files the report; `None` for `check`
    /// and `report`, which run in the learner's own tree.
    pub learner_name: Option<String>,
    pub learner: Tree,
    /// The tree `grade` took tests from; `None` for `check` and `report`.
    pub instructor: Option<Tree>,
}

impl Provenance {
    /// For `check` and `report`: the learner's workbook is also the
    /// checker's source.
    pub fn of_workbook(kind: Kind, root: &Path) -> Provenance {
        let learner = Tree::of(root);
        Provenance {
            kind,
            generated_at: now(),
            checker_commit: learner.commit.clone(),
            learner_name: None,
            learner,
            instructor: None,
        }
    }

    /// The top-level fields, in the order the documents print them.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("kind", json!(self.kind.as_str())),
            ("report_version", json!(REPORT_VERSION)),
            ("generated_at", json!(self.generated_at)),
            (
                "checker",
                json!({ "version": env!("CARGO_PKG_VERSION"), "commit": self.checker_commit }),
            ),
            ("learner", {
                let mut learner = json!({ "name": self.learner_name });
                if let (Value::Object(into), Value::Object(tree)) =
                    (&mut learner, self.learner.to_json())
                {
                    into.extend(tree);
                }
                learner
            }),
            (
                "instructor",
                self.instructor.as_ref().map_or(Value::Null, Tree::to_json),
            ),
        ]
    }
}

/// `git` in `dir`, its standard output when it succeeds. Variables a hook
/// or a wrapping git may have set would point it at another repository.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `HEAD`'s commit when `dir` is the top of its repository: a folder of
/// learners' trees kept inside some other repository is not graded at that
/// repository's commit.
fn head(dir: &Path) -> Option<String> {
    let out = git(dir, &["rev-parse", "--show-toplevel", "--verify", "HEAD"])?;
    let mut lines = out.lines();
    let top = fs::canonicalize(lines.next()?).ok()?;
    let commit = lines.next()?.trim();
    let here = fs::canonicalize(dir).ok()?;
    (top == here && !commit.is_empty()).then(|| commit.to_string())
}

fn dirty(dir: &Path) -> Option<bool> {
    git(
        dir,
        &[
            "-c",
            "core.fsmonitor=false",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )
    .map(|out| !out.trim().is_empty())
}

/// The SHA-256 of the lines `sha256sum` prints for the files that grade
/// `exercise` (`HASH  PATH`, paths relative to the workbook root with `/`),
/// sorted by path: anyone can recompute it with the coreutils, and it
/// changes exactly when one of those files does. A missing file's line
/// reads `missing  PATH`.
pub fn tests_digest(workbook: &Workbook, exercise: &Exercise) -> String {
    let mut lines: Vec<(String, String)> = record::graded_by(workbook, exercise)
        .into_iter()
        .map(|file| {
            let hash = fs::read(workbook.path(&file))
                .map_or_else(|_| "missing".to_string(), |bytes| sha256_hex(&bytes));
            (file.to_string_lossy().replace('\\', "/"), hash)
        })
        .collect();
    lines.sort();
    lines.dedup();
    let mut text = String::new();
    for (path, hash) in lines {
        let _ = writeln!(text, "{hash}  {path}");
    }
    sha256_hex(text.as_bytes())
}

/// [`tests_digest`] of each exercise, by id.
pub fn digests<'a>(
    workbook: &Workbook,
    exercises: impl IntoIterator<Item = &'a Exercise>,
) -> BTreeMap<String, String> {
    exercises
        .into_iter()
        .map(|exercise| (exercise.id.clone(), tests_digest(workbook, exercise)))
        .collect()
}

/// Now, in RFC 3339 (UTC, whole seconds): `2026-11-30T18:19:19Z`.
pub fn now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    rfc3339(seconds)
}

/// Unix seconds in RFC 3339, UTC. The date is Howard Hinnant's
/// `civil_from_days`, exact over the proleptic Gregorian calendar.
fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_across_leap_years_and_month_ends() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
        assert_eq!(rfc3339(4_107_542_400), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn a_folder_that_is_not_a_repository_has_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Tree::of(dir.path()), Tree::default());
    }
}
