//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The Rust Backend Workbook's checker: runs, grades and tracks your exercises.
///
/// With no command it opens watch mode: your current exercise, checked again
/// every time you save, with single keys for hints, the exercise list and
/// more. Outside a terminal it prints where you are and what to do next.
#[derive(Debug, Parser)]
#[command(name = "checker", bin_name = "cargo checker", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The workbook folder (default: the current folder or its nearest parent with a workbook.toml).
    #[arg(long, global = true, env = "WORKBOOK_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// When to use colour (NO_COLOR in the environment turns `auto` off).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Watch mode without a file watcher: press r to check (for file systems
    /// where watching fails, such as some network drives and WSL).
    #[arg(long)]
    pub manual_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every exercise with its status and score, electives included.
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Build and run the tests of the current exercise (or of ID, a lesson, or --all) and grade them.
    ///
    /// Exit status: 0 when everything checked is done, 1 when not, 2 on a usage error or
    /// when the progress file could not be written (the verdict is printed all the same).
    Check {
        /// An exercise (`server/hello`), or a lesson (`server`). Default: your current exercise.
        #[arg(value_name = "ID|LESSON", conflicts_with = "all")]
        target: Option<String>,
        /// Check every exercise of the workbook, but those of an elective you have not
        /// taken (`goto` one of its exercises to take it).
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
        /// Seconds an exercise's tests may run, 1 to 86400 (default: workbook.toml's `timeout`, then 60).
        #[arg(long, value_name = "SECONDS", value_parser = timeout_secs)]
        timeout: Option<u64>,
        /// For a black-box exercise (the capstone): run only this stage. Not recorded as progress.
        #[arg(long, value_name = "NAME")]
        stage: Option<String>,
        /// For a black-box exercise (the capstone): replay a run's random inputs (its failures print the seed).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
    },
    /// Show the next hint for the current exercise (or ID). Hints unlock one at a time.
    Hint {
        #[arg(value_name = "ID")]
        id: Option<String>,
    },
    /// Open the current exercise's (or ID's) section in the rendered book, building it first
    /// when it is out of date and installing mdBook the first time; with --print, or without a
    /// terminal or a browser, print the section here with its code listings in place.
    Book {
        #[arg(value_name = "ID")]
        id: Option<String>,
        /// Print the section in the terminal instead of opening a browser.
        #[arg(long)]
        print: bool,
    },
    /// Restore an exercise's starter files. Asks first, unless --yes.
    Reset {
        #[arg(value_name = "ID")]
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
    },
    /// Move on to the next exercise (an elective only once you took it).
    Next,
    /// Make ID your current exercise. Going to an elective's exercise takes the elective.
    Goto {
        #[arg(value_name = "ID")]
        id: String,
    },
    /// A progress report per lesson and overall. It repeats the results your last checks
    /// recorded; --verify checks every exercise again first.
    Report {
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Check every exercise again before reporting, instead of repeating recorded results.
        #[arg(long)]
        verify: bool,
    },
    /// For instructors: grade learners' work from this checkout, trusting nothing of theirs
    /// but the files each exercise lists under `edit`.
    ///
    /// Each LEARNER is a folder (a learner's copy of the workbook) or a git repository to
    /// clone (a URL or a path). For each learner, a fresh copy of this workbook receives only
    /// the learner's edited files; everything else (tests, manifests, testkit, build
    /// settings, this checker) is yours. Builds start from a warm build of the starters made
    /// once; tests run in a PID namespace of their own where Linux allows it. Writes one JSON
    /// report per learner (the format of `check --format json`, saying what was graded: the
    /// learner's commit, this checkout's, the time, and a digest of each exercise's tests;
    /// schema: book/src/instructor/report.schema.json), and JUnit XML with --junit.
    /// Edited files that use what tampering needs (process::exit, current_exe, ...) are
    /// flagged for review, not marked down.
    Grade {
        /// Learners' trees: folders, or git repositories to clone.
        #[arg(value_name = "LEARNER", required = true)]
        learners: Vec<String>,
        /// Where to write the reports.
        #[arg(long, value_name = "DIR", default_value = "grades")]
        out: PathBuf,
        /// Also write JUnit XML per learner.
        #[arg(long)]
        junit: bool,
        /// Grade only this exercise or lesson (may be given more than once).
        /// Without it every lesson is graded but the electives, which are
        /// graded only when named here (`--only graphql`).
        #[arg(long, value_name = "ID|LESSON")]
        only: Vec<String>,
        /// Seconds an exercise's tests may run, 1 to 86400.
        #[arg(long, value_name = "SECONDS", value_parser = timeout_secs)]
        timeout: Option<u64>,
    },
    /// For instructors: make a class gradebook from learners' reports (`grade`'s
    /// grades/NAME.json, or `report --format json` / `check --format json` output).
    ///
    /// Writes OUT/gradebook.csv, a row per learner (named by the report's learner, else
    /// its file): `learner`, `percent`, `exercises_done`, `exercises_total`, then each
    /// lesson's percentage followed by its exercises' scores (`server`, `server/hello`,
    /// ...). Every score is a percentage, 0 to 100 with one decimal (an exercise: the share
    /// of its tests that pass; a lesson: the mean of its exercises'), and an empty cell
    /// means not in that learner's report. RFC 4180, ready for a spreadsheet or an LMS.
    ///
    /// And OUT/gradebook.html, one page with no network and no files beside it: a
    /// sortable, filterable table, each lesson's progress as bars (done, stuck, not
    /// started) and the exercises most learners are stuck on (started, not done).
    ///
    /// Needs no workbook. Guide: book/src/instructor/gradebook.md.
    Gradebook {
        /// Report files, or folders of them (their *.json files, e.g. `grades/`).
        #[arg(value_name = "REPORT", required = true)]
        reports: Vec<PathBuf>,
        /// Where to write gradebook.csv and gradebook.html.
        #[arg(long, value_name = "DIR", default_value = "gradebook")]
        out: PathBuf,
    },
    /// Print shell completions for the checker (e.g. `cargo checker completions bash`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Tools for the workbook's maintainers and CI.
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Prove that every selected starter compiles and fails every test, and every solution passes every test.
    Verify {
        /// An exercise or a lesson (default: all).
        #[arg(value_name = "ID|LESSON")]
        target: Option<String>,
        /// Seconds an exercise's tests may run, 1 to 86400.
        #[arg(long, value_name = "SECONDS", value_parser = timeout_secs)]
        timeout: Option<u64>,
    },
    /// Check the manifests against the files: starters, solutions, tests, hints, dependency lists, book sections, includes and links.
    Check,
    /// Record the SHA-256 of every lesson's test files in its tests.sha256 (after changing tests).
    Checksums,
    /// Scaffold a new lesson or exercise: every file it needs, so that `dev check` passes at once.
    #[command(subcommand)]
    New(NewCommand),
}

#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// Make lesson NAME: its folder (numbered after the last lesson), lesson.toml, book chapter,
    /// SUMMARY.md entry and tests.sha256.
    Lesson {
        /// The lesson's id: lowercase letters, digits, `-` and `_`, starting with a letter.
        #[arg(value_name = "NAME")]
        name: String,
        /// The lesson's title (default: from NAME).
        #[arg(long)]
        title: Option<String>,
    },
    /// Make exercise NAME in LESSON: starter (with a goal-only TODO), a test with a
    /// verdict-first message, exercise.toml with hint placeholders, the solution crate, the
    /// book section with the starter copy it includes, the SUMMARY.md entry and checksums.
    ///
    /// The Cargo.toml copies the dependency list of the lesson's first exercise. The solution
    /// is the starter on purpose: `dev verify` reports it failing until you write the real one.
    Exercise {
        /// The lesson's id (`cargo checker list` shows them).
        #[arg(value_name = "LESSON")]
        lesson: String,
        /// The exercise's name: lowercase letters, digits, `-` and `_`, starting with a letter.
        #[arg(value_name = "NAME")]
        name: String,
        /// The exercise's title (default: from NAME).
        #[arg(long)]
        title: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Markdown,
}

/// `--timeout`: whole seconds from 1 to a day.
fn timeout_secs(text: &str) -> Result<u64, String> {
    let max = crate::manifest::MAX_TIMEOUT_SECS;
    match text.parse::<u64>() {
        Ok(secs) if (1..=max).contains(&secs) => Ok(secs),
        _ => Err(format!(
            "give the seconds the tests may run, from 1 to {max}"
        )),
    }
}
