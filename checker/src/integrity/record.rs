//! The record every lesson keeps of the files that grade it: the SHA-256 of
//! every file in its exercises' `tests/` folders (test targets, shared
//! modules, snapshots), of the manifests that say what is built and run
//! (`exercise.toml`, the exercise's `Cargo.toml`, `lesson.toml`, the
//! workspace's `Cargo.toml` and `.cargo/config.toml`) and of the shared
//! testkit, in `tests.sha256`, in the format `sha256sum -c` reads, with paths
//! relative to the workbook root. It works without git; the learner could
//! rewrite it, which is why a record that differs from the baseline commit's
//! is itself a change (see `baseline`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::run::seal::sha256_hex;
use anyhow::{Context, Result};

use crate::manifest::{Exercise, Lesson, Workbook};

pub use crate::manifest::{SHARED_TEST_DIR, SUMS_FILE, WORKSPACE_FILES};

/// The files that grade `exercise`, relative to the workbook root: its tests
/// and manifests, its lesson's manifest, the testkit and the workspace's
/// build files (those that exist).
pub fn graded_by(workbook: &Workbook, exercise: &Exercise) -> Vec<PathBuf> {
    let mut files = exercise_files(workbook, exercise);
    files.push(lesson_dir(exercise).join(crate::manifest::LESSON_FILE));
    files.extend(shared_files(workbook));
    files
}

fn lesson_dir(exercise: &Exercise) -> PathBuf {
    exercise
        .dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// An exercise's test targets, every other file in its `tests/` folder
/// (modules the tests share, data they read such as insta's snapshots:
/// a learner who edits an expected snapshot changes the grade as surely as
/// one who edits an assertion), and its manifests.
fn exercise_files(workbook: &Workbook, exercise: &Exercise) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = exercise
        .tests
        .iter()
        .map(|test| exercise.dir.join(test))
        .collect();
    let mut beside = Vec::new();
    all_files(workbook, &exercise.dir.join("tests"), &mut beside);
    beside.retain(|file| !files.contains(file) && !is_pending_snapshot(file));
    files.extend(beside);
    files.push(exercise.dir.join(crate::manifest::EXERCISE_FILE));
    files.push(exercise.dir.join("Cargo.toml"));
    files
}

/// insta's proposals for a snapshot (`cargo test` outside the checker
/// writes them): results, never read by a test as expectations.
pub fn is_pending_snapshot(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.ends_with(".snap.new") || name.ends_with(".pending-snap")
}

/// Every file under `dir`, in a stable order.
fn all_files(workbook: &Workbook, dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(workbook.path(dir)) else {
        return;
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| dir.join(entry.file_name()))
        .collect();
    found.sort();
    for path in found {
        if workbook.path(&path).is_dir() {
            all_files(workbook, &path, files);
        } else {
            files.push(path);
        }
    }
}

fn shared_files(workbook: &Workbook) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let testkit = Path::new(SHARED_TEST_DIR);
    // The testkit, and the capstone's grader inside it: both grade.
    for package in [testkit.to_path_buf(), testkit.join("grader")] {
        if workbook.path(package.join("Cargo.toml")).is_file() {
            files.push(package.join("Cargo.toml"));
        }
        rust_files(workbook, &package.join("src"), &mut files);
    }
    files.extend(
        WORKSPACE_FILES
            .iter()
            .map(PathBuf::from)
            .filter(|file| workbook.path(file).is_file()),
    );
    files
}

fn rust_files(workbook: &Workbook, dir: &Path, files: &mut Vec<PathBuf>) {
    let mut found = Vec::new();
    all_files(workbook, dir, &mut found);
    files.extend(
        found
            .into_iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "rs")),
    );
}

/// The recorded sums of a lesson, by root-relative path (`None`: no record).
pub fn recorded(workbook: &Workbook, lesson: &Lesson) -> Result<Option<BTreeMap<String, String>>> {
    let path = workbook.path(lesson.dir.join(SUMS_FILE));
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut sums = BTreeMap::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
    {
        let Some((hash, file)) = line.split_once("  ") else {
            anyhow::bail!(
                "{}:{}: expected `HASH  PATH`; regenerate it with `cargo checker dev checksums`",
                path.display(),
                number + 1
            );
        };
        sums.insert(file.to_string(), hash.to_string());
    }
    Ok(Some(sums))
}

/// The files that grade `exercise` and differ from the lesson's record.
/// Empty when the lesson keeps no record.
pub fn modified(workbook: &Workbook, exercise: &Exercise) -> Vec<PathBuf> {
    let Some(lesson) = workbook.lesson(&exercise.lesson) else {
        return Vec::new();
    };
    let Ok(Some(sums)) = recorded(workbook, lesson) else {
        return Vec::new();
    };
    graded_by(workbook, exercise)
        .into_iter()
        .filter(|file| {
            let actual = fs::read(workbook.path(file))
                .ok()
                .map(|bytes| sha256_hex(&bytes));
            actual.is_none() || sums.get(&slashed(file)) != actual.as_ref()
        })
        .collect()
}

/// The text `tests.sha256` should hold for `lesson` now.
pub fn render(workbook: &Workbook, lesson: &Lesson) -> Result<String> {
    let mut files: Vec<PathBuf> = lesson
        .exercises
        .iter()
        .flat_map(|exercise| exercise_files(workbook, exercise))
        .collect();
    files.push(lesson.dir.join(crate::manifest::LESSON_FILE));
    files.extend(shared_files(workbook));
    let mut text = String::new();
    for file in files {
        let bytes = fs::read(workbook.path(&file))
            .with_context(|| format!("cannot read {}", file.display()))?;
        let _ = writeln!(text, "{}  {}", sha256_hex(&bytes), slashed(&file));
    }
    Ok(text)
}

fn slashed(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
