//! `gradebook`: many learners' reports made into one class view, a CSV for
//! a spreadsheet or an LMS and a self-contained HTML page.

pub mod class;
pub mod load;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::render::{gradebook_csv, gradebook_html};

pub struct Request {
    pub reports: Vec<PathBuf>,
    pub out: PathBuf,
}

/// Needs no workbook: everything it shows is in the reports.
pub fn run(request: Request) -> Result<ExitCode> {
    let files = load::collect(&request.reports)?;
    let reports = files
        .iter()
        .map(|file| load::read(file))
        .collect::<Result<Vec<_>>>()?;
    let class = class::Class::new(reports)?;
    std::fs::create_dir_all(&request.out)
        .with_context(|| format!("cannot create {}", request.out.display()))?;
    let csv = request.out.join("gradebook.csv");
    let html = request.out.join("gradebook.html");
    for (path, text) in [
        (&csv, gradebook_csv::render(&class)),
        (&html, gradebook_html::render(&class)),
    ] {
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "Gradebook of {}: {} and {}",
        crate::term::plural(class.learners.len(), "learner"),
        csv.display(),
        html.display()
    );
    Ok(ExitCode::SUCCESS)
}
