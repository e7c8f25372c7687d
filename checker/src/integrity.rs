//! Honest grades: each lesson records the SHA-256 of the files that grade it
//! (its test files and the shared testkit) in `tests.sha256`, in the format
//! `sha256sum -c` reads, with paths relative to the workbook root. A check
//! whose tests differ from the record is flagged, never silently trusted.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::manifest::{Exercise, Lesson, Workbook};

pub const SUMS_FILE: &str = "tests.sha256";
/// Every exercise's tests lean on the testkit: editing it could pass them all.
const SHARED_TEST_DIR: &str = "testkit/src";

/// The files that grade `exercise`, relative to the workbook root.
pub fn graded_by(workbook: &Workbook, exercise: &Exercise) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = exercise
        .tests
        .iter()
        .map(|test| exercise.dir.join(test))
        .collect();
    files.extend(shared_files(workbook));
    files
}

fn shared_files(workbook: &Workbook) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(workbook.path(SHARED_TEST_DIR)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| Path::new(SHARED_TEST_DIR).join(entry.file_name()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    files.sort();
    files
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
        .flat_map(|exercise| exercise.tests.iter().map(|test| exercise.dir.join(test)))
        .collect();
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
