//! The Rust Backend Workbook's checker. The modules follow the data:
//! manifest -> run -> outcome -> integrity -> grade -> progress -> render
//! -> commands -> watch, with `term` (how things look) beneath them all.

mod book;
mod cli;
mod commands;
mod grade;
mod integrity;
mod manifest;
mod outcome;
mod progress;
mod provenance;
mod render;
mod run;
mod term;
mod watch;

use std::fmt;
use std::process::ExitCode;

use clap::Parser;
use colored::Colorize;

/// A mistake in what the user asked for (an unknown id, say): exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    // A bug in the checker says so in one line, not with a backtrace that
    // looks like the learner's fault.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: the checker itself failed ({info}). This is a bug in the checker, not in your code: please report it."
        );
    }));
    let cli = cli::Cli::parse();
    let color = term::init(cli.color);
    commands::stop_children_on_interrupt();
    // Watch mode sits on top of the commands (it runs them on keys), so it
    // is opened here rather than by them.
    let result = match cli.command {
        None => commands::Context::open(cli.root, color)
            .and_then(|context| watch::run(&context, cli.manual_run)),
        Some(_) => commands::run(cli, color),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            run::clear_progress_line();
            // One line (plus cargo's own words where it failed): what is
            // wrong and what to do, never a backtrace.
            let message = error
                .chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("{} {message}", "error:".red().bold());
            ExitCode::from(2)
        }
    }
}
