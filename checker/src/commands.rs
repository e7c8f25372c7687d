//! One module per command; this one holds what they share.

pub mod book;
pub mod check;
mod dev_check;
mod dev_checksums;
mod dev_new;
mod dev_verify;
mod grade;
pub mod gradebook;
pub mod hint;
mod list;
mod navigate;
mod report;
pub mod reset;
pub mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, DevCommand, NewCommand};
use crate::manifest::{Exercise, Workbook};
use crate::progress::{Progress, Store};

/// What every command works with.
#[derive(Clone)]
pub struct Context {
    pub workbook: Workbook,
    pub store: Store,
    pub color: bool,
}

impl Context {
    pub fn open(root: Option<PathBuf>, color: bool) -> Result<Context> {
        let start = match root {
            Some(root) => root,
            None => std::env::current_dir()?,
        };
        let root = Workbook::find_root(&start)?;
        // cargo reports absolute, resolved paths; compare like with like.
        let root = root.canonicalize().unwrap_or(root);
        let workbook = Workbook::load(&root)?;
        let store = Store::new(&root);
        if !store.path().exists() {
            // First use: remember which commit the starters come from.
            // Best effort: a read-only checkout can still list and check.
            if let Some(commit) = reset::current_commit(&root)
                && let Err(error) = store.update(|progress| progress.baseline = Some(commit))
            {
                crate::term::warn(&format!("{error:#}"));
            }
        }
        Ok(Context {
            workbook,
            store,
            color,
        })
    }

    /// The exercise the learner works on: the one they chose, else the first
    /// that is not done, else the last.
    pub fn current<'a>(&'a self, progress: &Progress) -> Option<&'a Exercise> {
        progress
            .current
            .as_deref()
            .and_then(|id| self.workbook.exercise(id))
            .or_else(|| {
                progress
                    .taken(&self.workbook)
                    .find(|exercise| !progress.is_done(&exercise.id))
            })
            .or_else(|| progress.taken(&self.workbook).last())
    }

    /// The named exercise, or the current one.
    pub fn exercise_or_current(&self, id: Option<&str>, progress: &Progress) -> Result<&Exercise> {
        match id {
            Some(id) => self.workbook.select_one(id),
            None => self
                .current(progress)
                .ok_or_else(|| anyhow::anyhow!("this workbook has no exercises yet")),
        }
    }
}

pub fn run(cli: Cli, color: bool) -> Result<ExitCode> {
    if let Some(Command::Completions { shell }) = cli.command {
        // Completions need no workbook: they describe the command line.
        clap_complete::generate(
            shell,
            &mut <Cli as clap::CommandFactory>::command(),
            "checker",
            &mut std::io::stdout(),
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Command::Gradebook { reports, out }) = cli.command {
        // The reports say everything the gradebook shows: no workbook needed.
        return gradebook::run(gradebook::Request { reports, out });
    }
    let context = Context::open(cli.root, color)?;
    match cli.command {
        None => unreachable!("watch mode is opened by main"),
        Some(Command::List { format }) => list::run(&context, format),
        Some(Command::Check {
            target,
            all,
            format,
            timeout,
            stage,
            seed,
        }) => check::run(
            &context,
            target.as_deref(),
            all,
            format,
            timeout,
            check::Blackbox { stage, seed },
        ),
        Some(Command::Hint { id }) => hint::run(&context, id.as_deref()),
        Some(Command::Book { id, print }) => book::run(&context, id.as_deref(), print),
        Some(Command::Reset { id, yes }) => reset::run(&context, &id, yes),
        Some(Command::Next) => navigate::next(&context),
        Some(Command::Goto { id }) => navigate::goto(&context, &id),
        Some(Command::Report { format, verify }) => report::run(&context, format, verify),
        Some(Command::Grade {
            learners,
            out,
            junit,
            only,
            timeout,
        }) => grade::run(
            &context,
            grade::Request {
                learners,
                out,
                junit,
                only,
                timeout,
            },
        ),
        Some(Command::Dev(DevCommand::Verify { target, timeout })) => {
            dev_verify::run(&context, target.as_deref(), timeout)
        }
        Some(Command::Dev(DevCommand::Check)) => dev_check::run(&context),
        Some(Command::Dev(DevCommand::Checksums)) => dev_checksums::run(&context),
        Some(Command::Dev(DevCommand::New(NewCommand::Lesson { name, title }))) => {
            dev_new::lesson(&context, &name, title.as_deref())
        }
        Some(Command::Dev(DevCommand::New(NewCommand::Exercise {
            lesson,
            name,
            title,
        }))) => dev_new::exercise(&context, &lesson, &name, title.as_deref()),
        Some(Command::Completions { .. } | Command::Gradebook { .. }) => {
            unreachable!("answered before the workbook is read")
        }
    }
}

/// On Ctrl-C (or a polite kill), stop every test process the checker started
/// before leaving: they run in their own process groups, so the terminal's
/// signal does not reach them.
#[cfg(unix)]
pub fn stop_children_on_interrupt() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            crate::run::process::kill_all_children();
            // A save under way finishes first: the file is never left half
            // replaced, and what is said about it is true.
            let saved = crate::progress::close_saves();
            crate::term::screen::restore();
            crate::run::clear_progress_line();
            eprintln!(
                "\nInterrupted: the running tests were stopped. {}",
                if saved {
                    "Progress keeps the results of the runs that had finished."
                } else {
                    "Your progress is unchanged."
                }
            );
            std::process::exit(128 + signal);
        }
    });
}

/// Elsewhere Ctrl-C reaches the whole console process group, children too.
#[cfg(not(unix))]
pub fn stop_children_on_interrupt() {}

pub use crate::term::plural;
