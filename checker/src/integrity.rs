//! Honest grades: whether the files that grade an exercise are the ones the
//! workbook gave, and what in the learner's own files is worth a human look.
//!
//! Three witnesses, each for what the others miss: the lesson's record of
//! SHA-256 sums (works without git), git's comparison with the baseline
//! commit (covers every file but the edited ones, the record included, and
//! notices new files such as a `build.rs`), and, during a check, digests
//! taken before the build, after it and after the run (see `run::seal`),
//! which catch code that rewrites a file and puts it back.

pub mod baseline;
pub mod record;
pub mod review;

use std::path::PathBuf;

use crate::manifest::{Exercise, Workbook};
pub use record::{SUMS_FILE, render};

/// Files that grade `exercise` and are not as the workbook gave them:
/// differing from the lesson's record, or (with a `baseline` commit git
/// knows) from that commit, or new.
pub fn modified(workbook: &Workbook, exercise: &Exercise, baseline: Option<&str>) -> Vec<PathBuf> {
    let mut files = record::modified(workbook, exercise);
    // The workbook's history knows nothing of an instructor's own lessons
    // (their folder is another repository, or none): their record is the witness.
    let baseline = baseline.filter(|_| !exercise.is_external());
    if let Some(changed) = baseline.and_then(|commit| baseline::changed(workbook, exercise, commit))
    {
        files.extend(changed);
    }
    files.sort();
    files.dedup();
    files
}
