//! `report`: a progress report, from the last checks.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::cli::ReportFormat;
use crate::render::report;

pub fn run(context: &Context, format: ReportFormat) -> Result<ExitCode> {
    let progress = context.store.load()?;
    let text = match format {
        ReportFormat::Text => report::text(&context.workbook, &progress),
        ReportFormat::Json => report::json(&context.workbook, &progress) + "\n",
        ReportFormat::Markdown => report::markdown(&context.workbook, &progress),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
