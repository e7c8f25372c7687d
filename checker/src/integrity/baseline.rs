//! What differs from the workbook as it was given: git compares every file
//! the learner is not meant to change with the commit the workbook was at on
//! first use (the baseline), and lists files that commit never had. Updates
//! of the workbook pulled since are as given too: a file that matches the
//! branch's upstream (`@{upstream}`, where the learner pulls from) counts as
//! unchanged.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::manifest::{Exercise, Workbook};

use super::record::{SHARED_TEST_DIR, WORKSPACE_FILES};

/// Files no build reads that editors and desktops leave beside the ones
/// being edited: swap, backup and lock files, folder notes.
fn is_editor_litter(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    const ENDINGS: [&str; 8] = [
        ".swp",
        ".swo",
        ".swx",
        "~",
        ".orig",
        ".bak",
        "___jb_tmp___",
        "___jb_old___",
    ];
    ENDINGS.iter().any(|end| name.ends_with(end))
        || name == ".DS_Store"
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
}

/// Files outside `exercise.edit` that differ from `baseline`, or that it
/// never had, relative to the root; `None` when git cannot tell (no git, no
/// repository at the root, an unknown commit).
pub fn changed(workbook: &Workbook, exercise: &Exercise, baseline: &str) -> Option<Vec<PathBuf>> {
    let lesson_dir = exercise.dir.parent().unwrap_or(Path::new(""));
    let mut watched: Vec<String> = vec![
        slashed(&exercise.dir),
        format!("{}/{}", slashed(lesson_dir), crate::manifest::LESSON_FILE),
        format!("{}/{}", slashed(lesson_dir), super::record::SUMS_FILE),
        SHARED_TEST_DIR.to_string(),
        ".cargo".to_string(),
        ".gitignore".to_string(),
    ];
    watched.extend(WORKSPACE_FILES.iter().map(ToString::to_string));
    let excluded: Vec<String> = exercise
        .edit
        .iter()
        .map(|file| format!(":(exclude){}", slashed(file)))
        .collect();

    let differs_from = |commit: &str| {
        git(
            workbook,
            &["diff", "--name-only", "-z", "--no-renames", commit, "--"],
            watched.iter().chain(&excluded),
        )
    };
    let mut changed = differs_from(baseline)?;
    if !changed.is_empty()
        && let Some(upstream) = upstream(workbook)
        && let Some(from_upstream) = differs_from(&upstream)
    {
        changed.retain(|file| from_upstream.contains(file));
    }
    // A file the baseline never had: a `build.rs`, a second test file. Only
    // the workbook's own `.gitignore` files may hide one, not the learner's
    // private excludes.
    let untracked_in = [
        slashed(&exercise.dir),
        SHARED_TEST_DIR.to_string(),
        ".cargo".to_string(),
    ];
    let untracked = git(
        workbook,
        &[
            "ls-files",
            "--others",
            "-z",
            "--exclude-per-directory=.gitignore",
            "--",
        ],
        untracked_in.iter().chain(&excluded),
    )?;
    changed.extend(
        untracked
            .into_iter()
            .filter(|path| !is_editor_litter(path) && !super::record::is_pending_snapshot(path)),
    );
    changed.sort();
    changed.dedup();
    Some(changed)
}

/// The commit the current branch pulls from, if it has an upstream.
fn upstream(workbook: &Workbook) -> Option<String> {
    let output = git_command(workbook)
        .args(["rev-parse", "--verify", "--quiet", "@{upstream}"])
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

/// The text of `file` (relative to the root) at `commit`.
pub fn file_at(workbook: &Workbook, commit: &str, file: &Path) -> Option<String> {
    let output = git_command(workbook)
        .args(["show", &format!("{commit}:{}", slashed(file))])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs git at the workbook root only (never a repository above it) and
/// returns the NUL-separated paths it printed, or `None` if it failed.
fn git<'a>(
    workbook: &Workbook,
    args: &[&str],
    paths: impl Iterator<Item = &'a String>,
) -> Option<Vec<PathBuf>> {
    let output = git_command(workbook).args(args).args(paths).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(
        output
            .stdout
            .split(|byte| *byte == 0)
            .filter(|path| !path.is_empty())
            .map(|path| PathBuf::from(String::from_utf8_lossy(path).into_owned()))
            .collect(),
    )
}

/// git, at the workbook root and never in a repository above it.
fn git_command(workbook: &Workbook) -> Command {
    let ceiling = workbook.root.parent().unwrap_or(&workbook.root);
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(&workbook.root)
        .args(["-c", "core.quotePath=false"])
        .env("GIT_CEILING_DIRECTORIES", ceiling)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn slashed(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_litter_is_not_a_change_but_sources_are() {
        for litter in [
            "lessons/a/src/.lib.rs.swp",
            "lessons/a/src/lib.rs~",
            "lessons/a/src/.#lib.rs",
            "lessons/a/src/#lib.rs#",
            "lessons/a/.DS_Store",
            "lessons/a/src/lib.rs___jb_tmp___",
        ] {
            assert!(is_editor_litter(Path::new(litter)), "{litter}");
        }
        for source in [
            "lessons/a/build.rs",
            "lessons/a/src/helper.rs",
            "lessons/a/tests/mine.rs",
        ] {
            assert!(!is_editor_litter(Path::new(source)), "{source}");
        }
    }
}
