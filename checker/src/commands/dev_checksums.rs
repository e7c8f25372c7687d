//! `dev checksums`: record what grades each lesson, after a maintainer
//! changed tests on purpose. It names every entry it changes, so that no
//! edit is blessed without being seen; a learner who runs it gains nothing,
//! since `check` compares the record itself with the workbook's git history.

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::Context;
use crate::integrity::{self, SUMS_FILE};
use crate::manifest::{Lesson, Workbook};

pub fn run(context: &Context) -> Result<ExitCode> {
    let workbook = &context.workbook;
    for lesson in &workbook.lessons {
        let (text, changes) = record(workbook, lesson)?;
        println!(
            "{} ({} files, {})",
            lesson.dir.join(SUMS_FILE).display(),
            text.lines().count(),
            if changes.is_empty() {
                "unchanged".to_string()
            } else {
                crate::term::plural(changes.len(), "change")
            }
        );
        for change in changes {
            println!("{change}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `lesson`'s record as the files are now; returns what it holds and
/// each entry it added, changed or removed (`  added    FILE`).
pub fn record(workbook: &Workbook, lesson: &Lesson) -> Result<(String, Vec<String>)> {
    let path = workbook.path(lesson.dir.join(SUMS_FILE));
    let old = integrity::record::recorded(workbook, lesson)
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = integrity::render(workbook, lesson)?;
    let mut changes = Vec::new();
    let mut kept = std::collections::BTreeSet::new();
    for line in text.lines() {
        let Some((hash, file)) = line.split_once("  ") else {
            continue;
        };
        kept.insert(file);
        match old.get(file) {
            Some(previous) if previous == hash => {}
            Some(_) => changes.push(format!("  changed  {file}")),
            None => changes.push(format!("  added    {file}")),
        }
    }
    changes.extend(
        old.keys()
            .filter(|file| !kept.contains(file.as_str()))
            .map(|file| format!("  removed  {file}")),
    );
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((text, changes))
}
