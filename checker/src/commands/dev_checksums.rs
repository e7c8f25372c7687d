//! `dev checksums`: record what grades each lesson, after a maintainer
//! changed tests on purpose.

use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::Context;
use crate::integrity::{self, SUMS_FILE};

pub fn run(context: &Context) -> Result<ExitCode> {
    let workbook = &context.workbook;
    for lesson in &workbook.lessons {
        let path = workbook.path(lesson.dir.join(SUMS_FILE));
        let text = integrity::render(workbook, lesson)?;
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{} ({} files)",
            lesson.dir.join(SUMS_FILE).display(),
            text.lines().count()
        );
    }
    Ok(ExitCode::SUCCESS)
}
