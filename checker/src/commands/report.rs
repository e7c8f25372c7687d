//! `report`: a progress report. It repeats what the last checks recorded;
//! `--verify` checks every exercise again first.

use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use super::check;
use crate::cli::ReportFormat;
use crate::manifest::Exercise;
use crate::provenance::{Kind, Provenance};
use crate::render::report;
use crate::run;

pub fn run(context: &Context, format: ReportFormat, verify: bool) -> Result<ExitCode> {
    if verify {
        let taken = context.store.load()?;
        let exercises: Vec<&Exercise> = taken.taken(&context.workbook).collect();
        let show = crate::term::stderr_is_terminal();
        let checked = check::check(
            context,
            &exercises,
            None,
            Some(run::build_feedback(show)),
            &mut |_| {},
        );
        if show {
            run::clear_progress_line();
        }
        if let Some(error) = checked?.not_saved {
            return Err(error.context("the checks could not be recorded, so no report"));
        }
    }
    let progress = context.store.load()?;
    let text = match format {
        ReportFormat::Text => report::text(&context.workbook, &progress, verify),
        ReportFormat::Json => {
            let provenance = Provenance::of_workbook(Kind::Report, &context.workbook.root);
            report::json(&context.workbook, &progress, verify, &provenance) + "\n"
        }
        ReportFormat::Markdown => report::markdown(&context.workbook, &progress, verify),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
