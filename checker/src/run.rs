//! Building exercises with cargo and running their test binaries.
//!
//! One `cargo build --tests --keep-going` builds every selected package, so a
//! starter that does not compile costs only its own verdict; `seal` makes
//! sure that what runs is what was built from the files on disk. Then each
//! test binary runs directly (not through `cargo test`), under a deadline,
//! in its own process group, with its output read into bounded sinks, and
//! `verdict` decides what its report proves.

pub mod build;
pub mod build_view;
pub mod cargo;
pub mod libtest;
pub mod process;
pub mod sandbox;
pub mod seal;
pub mod verdict;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::manifest::{Exercise, Workbook};
use crate::outcome::{Failure, Outcome, Status, TestResult};
pub use build::{BuildProgress, OnProgress, build_feedback, clear_progress_line};
use cargo::{BuildMessages, TestExecutable};
use libtest::{LibtestOutput, TestState};
use process::{Exit, Tail};
use seal::{Identity, Ledger};
pub use verdict::human_bytes;
use verdict::{failure_of, last_words, unconfirmed, unfinished};

/// Listing a binary's tests runs no test: it is quick or it is broken.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Which copy of an exercise to build: the learner's or the reference solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Starter,
    Solution,
}

/// One exercise, on one side.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub exercise: &'a Exercise,
    pub side: Side,
}

impl<'a> Job<'a> {
    /// The learner's side of each exercise.
    pub fn starters(exercises: &[&'a Exercise]) -> Vec<Job<'a>> {
        exercises
            .iter()
            .map(|exercise| Job {
                exercise,
                side: Side::Starter,
            })
            .collect()
    }

    pub fn dir(&self) -> &Path {
        match self.side {
            Side::Starter => &self.exercise.dir,
            Side::Solution => &self.exercise.solution_dir,
        }
    }

    fn package(&self) -> &str {
        match self.side {
            Side::Starter => &self.exercise.package,
            Side::Solution => &self.exercise.solution_package,
        }
    }

    /// What a build of this job reads, relative to the root: its folders
    /// (a solution runs the exercise's test files) and the shared files.
    fn sources(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let mut dirs = vec![self.exercise.dir.clone()];
        if self.side == Side::Solution {
            dirs.push(self.exercise.solution_dir.clone());
        }
        dirs.push(PathBuf::from(crate::manifest::SHARED_TEST_DIR));
        let lesson = self.exercise.dir.parent().unwrap_or(Path::new(""));
        let mut files: Vec<PathBuf> = crate::manifest::WORKSPACE_FILES
            .iter()
            .map(PathBuf::from)
            .collect();
        files.push(lesson.join(crate::manifest::LESSON_FILE));
        files.push(lesson.join(crate::manifest::SUMS_FILE));
        // Not `Cargo.lock`: it lists the optional dependencies that any
        // package turns on, so another lesson's new dependency changes the
        // entries of crates every exercise uses, and digesting it would
        // rebuild every exercise for nothing. cargo's fingerprint of every
        // artifact covers the versions, sources and features it is built
        // with, so cargo decides what a new lock rebuilds: the ledger keeps
        // the lock each binary was built with, and runs no cargo only while
        // the lock is that one (`Ledger::built_from`).
        (dirs, files)
    }
}

/// Digests of a job's sources: all of them (what the build reads), and all
/// but the learner's own files (what grades them).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Digests {
    all: String,
    graded: String,
}

impl Digests {
    fn of(root: &Path, job: &Job) -> Digests {
        let (dirs, files) = job.sources();
        let edited: &[PathBuf] = match job.side {
            Side::Starter => &job.exercise.edit,
            Side::Solution => &[],
        };
        let views = build_views(root, job);
        let (all, graded) = seal::digest_sources(root, &dirs, &files, edited, &views);
        Digests { all, graded }
    }
}

/// What `job`'s build reads of the workspace's `Cargo.toml`, and its
/// lesson's record without the workspace manifest's line, to be digested
/// instead of their bytes: another lesson's new workspace dependency leaves
/// this exercise's test binaries vouched for. The record still holds the
/// whole manifest's digest for the comparison that grades (`integrity`).
fn build_views(root: &Path, job: &Job) -> Vec<(PathBuf, String)> {
    let Some(manifest) = build_view::manifest_view(root, &root.join(job.dir())) else {
        return Vec::new();
    };
    let mut views = vec![(PathBuf::from("Cargo.toml"), manifest)];
    let lesson = job.exercise.dir.parent().unwrap_or(Path::new(""));
    let record = lesson.join(crate::manifest::SUMS_FILE);
    if let Ok(text) = std::fs::read_to_string(root.join(&record)) {
        views.push((record, build_view::record_view(&text)));
    }
    views
}

pub struct Runner<'a> {
    workbook: &'a Workbook,
    cargo: OsString,
    color: bool,
    timeout: Option<Duration>,
    target_dir: PathBuf,
    /// Variables set for cargo and the tests (for `grade`).
    env: Vec<(String, String)>,
    /// Variables set for the tests alone (a black-box grader's seed).
    test_env: Vec<(String, String)>,
    /// A libtest filter: only the tests whose names hold it run.
    filter: Option<String>,
    sandbox: Option<sandbox::Sandbox>,
}

/// What the build left for each package.
pub struct Build {
    messages: BuildMessages,
    ledger: Ledger,
    /// The digests of each job's sources taken before the build, by package.
    digests: std::collections::HashMap<String, Digests>,
    /// Packages whose graded files changed while cargo built them.
    changed_during_build: BTreeSet<String>,
    /// The checker's own binary as it is now: tests that replace it are
    /// caught.
    checker: Option<(PathBuf, Identity)>,
}

impl<'a> Runner<'a> {
    pub fn new(workbook: &'a Workbook, color: bool, timeout: Option<Duration>) -> Runner<'a> {
        Runner {
            workbook,
            // `cargo run` tells the program which cargo started it.
            cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            color,
            timeout,
            target_dir: workbook.root.join("target"),
            env: Vec::new(),
            test_env: Vec::new(),
            filter: None,
            sandbox: None,
        }
    }

    /// Sets variables for the tests alone.
    pub fn test_env(mut self, env: Vec<(String, String)>) -> Runner<'a> {
        self.test_env = env;
        self
    }

    /// Runs only the tests whose names hold `filter`.
    pub fn filter(mut self, filter: Option<String>) -> Runner<'a> {
        self.filter = filter;
        self
    }

    /// Builds in `dir` instead of the workbook's own `target/`.
    pub fn target_dir(mut self, dir: PathBuf) -> Runner<'a> {
        self.target_dir = dir;
        self
    }

    /// Sets variables for cargo and the tests.
    pub fn env(mut self, env: Vec<(String, String)>) -> Runner<'a> {
        self.env = env;
        self
    }

    /// Runs every test binary inside `sandbox`.
    pub fn sandbox(mut self, sandbox: Option<sandbox::Sandbox>) -> Runner<'a> {
        self.sandbox = sandbox;
        self
    }

    /// Builds every job's package in one cargo run, telling `on_progress`
    /// how far it got; then rebuilds whatever cargo took for up to date but
    /// the ledger cannot vouch for.
    pub fn build(&self, jobs: &[Job], on_progress: Option<OnProgress>) -> Result<Build> {
        let root = &self.workbook.root;
        for job in jobs {
            if job.package().is_empty() {
                bail!(
                    "{} has no solution package: run `cargo checker dev check`",
                    job.exercise.id
                );
            }
        }
        let before: std::collections::HashMap<String, Digests> = jobs
            .iter()
            .map(|job| (job.package().to_string(), Digests::of(root, job)))
            .collect();
        let mut ledger = Ledger::load(&self.target_dir);
        if let Some(executables) = self.unchanged(jobs, &before, &ledger, &seal::lock_digest(root))
        {
            // Every test binary is one the ledger saw built from exactly
            // these sources, and untouched since: cargo would build nothing.
            return Ok(Build {
                messages: BuildMessages {
                    executables,
                    success: Some(true),
                    ..BuildMessages::default()
                },
                ledger,
                digests: before,
                changed_during_build: BTreeSet::new(),
                checker: checker_identity(),
            });
        }
        let all: Vec<&Job> = jobs.iter().collect();
        let mut messages = self.cargo(&all, on_progress.clone())?;

        // Fresh by cargo's dates, yet not what the ledger saw built from
        // these very sources: build it again.
        let mut stale: Vec<&Job> = Vec::new();
        for job in jobs {
            let digests = &before[job.package()];
            let unvouched: Vec<&Path> = self
                .executables_of(&messages, job)
                .filter(|exe| exe.fresh && !ledger.vouches_for(&exe.executable, &digests.all))
                .map(|exe| exe.executable.as_path())
                .collect();
            if !unvouched.is_empty() {
                seal::invalidate(&self.target_dir, job.package(), &unvouched);
                stale.push(job);
            }
        }
        if !stale.is_empty() {
            let again = self.cargo(&stale, on_progress)?;
            let dirs: Vec<PathBuf> = stale.iter().map(|job| root.join(job.dir())).collect();
            let rebuilt = |path: &Path| dirs.iter().any(|dir| path.starts_with(dir));
            messages.executables.retain(|exe| !rebuilt(&exe.src_path));
            messages.errors.retain(|error| !rebuilt(&error.package_dir));
            messages.executables.extend(again.executables);
            messages.errors.extend(again.errors);
        }

        // The lock as cargo left it: what the binaries were built against.
        let lock = seal::lock_digest(root);
        let mut changed_during_build = BTreeSet::new();
        for job in jobs {
            let digests = &before[job.package()];
            let after = Digests::of(root, job);
            let executables: Vec<(PathBuf, PathBuf)> = self
                .executables_of(&messages, job)
                .map(|exe| (exe.executable.clone(), exe.src_path.clone()))
                .collect();
            for (executable, source) in executables {
                if after.all == digests.all {
                    ledger.record(&executable, &source, digests.all.clone(), &lock);
                } else {
                    // Built from bytes that are gone: never vouch for it.
                    ledger.forget(&executable);
                }
            }
            if after.graded != digests.graded {
                changed_during_build.insert(job.package().to_string());
            }
        }
        // What changed before this check (a learner's own `cargo test` runs
        // their code too) is built again when its exercise is checked; it
        // must not be blamed on the tests this check runs.
        for stale in ledger.changed() {
            ledger.forget(&stale);
        }
        ledger.save();
        Ok(Build {
            messages,
            ledger,
            digests: before,
            changed_during_build,
            checker: checker_identity(),
        })
    }

    /// The test binaries of every job, if the ledger holds each as built
    /// from the job's sources as they are now, with the lock whose digest is
    /// `lock` (the lock as it is now), and unchanged since.
    fn unchanged(
        &self,
        jobs: &[Job],
        digests: &std::collections::HashMap<String, Digests>,
        ledger: &Ledger,
        lock: &str,
    ) -> Option<Vec<TestExecutable>> {
        let mut executables = Vec::new();
        for job in jobs {
            let inputs = &digests.get(job.package())?.all;
            for test in &job.exercise.tests {
                let source = self.workbook.path(job.dir()).join(test);
                let executable = ledger.built_from(&source, inputs, lock)?;
                executables.push(TestExecutable {
                    src_path: source,
                    executable,
                    fresh: true,
                });
            }
        }
        Some(executables)
    }

    /// Builds the jobs' packages: the workbook's lessons in one cargo run,
    /// each elective in a run of its own. cargo unifies the features of
    /// shared dependencies over the packages of a run, and an elective's
    /// dependencies turn on features the lessons never use: built together,
    /// the two would make a third copy of every shared crate, rebuilt
    /// whenever `check --all` and a one-exercise check alternate.
    fn cargo(&self, jobs: &[&Job], on_progress: Option<OnProgress>) -> Result<BuildMessages> {
        let mut groups: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
        for job in jobs {
            let group = job
                .exercise
                .elective
                .then_some(job.exercise.lesson.as_str());
            match groups.iter_mut().find(|(key, _)| *key == group) {
                Some((_, packages)) => packages.push(job.package()),
                None => groups.push((group, vec![job.package()])),
            }
        }
        let mut all = BuildMessages {
            success: Some(true),
            ..BuildMessages::default()
        };
        for (_, packages) in groups {
            let messages = build::cargo(&self.request(packages), on_progress.clone())?;
            all.executables.extend(messages.executables);
            all.errors.extend(messages.errors);
            all.artifacts += messages.artifacts;
            all.success = match (all.success, messages.success) {
                (Some(a), Some(b)) => Some(a && b),
                _ => None,
            };
        }
        Ok(all)
    }

    fn request(&self, packages: Vec<&'a str>) -> build::Request<'_> {
        build::Request {
            cargo: &self.cargo,
            root: &self.workbook.root,
            target_dir: &self.target_dir,
            packages,
            color: self.color,
            env: &self.env,
        }
    }

    fn executables_of<'m>(
        &self,
        messages: &'m BuildMessages,
        job: &Job,
    ) -> impl Iterator<Item = &'m TestExecutable> {
        let dir = self.workbook.path(job.dir());
        messages
            .executables
            .iter()
            .filter(move |exe| exe.src_path.starts_with(&dir))
    }

    /// Runs one job's tests from a finished build and grades them.
    pub fn test(&self, job: &Job, build: &mut Build) -> Outcome {
        let started = Instant::now();
        let dir = self.workbook.path(job.dir());
        let mut outcome = Outcome {
            id: job.exercise.id.clone(),
            status: Status::Failed,
            tests: Vec::new(),
            compile_errors: Vec::new(),
            notes: Vec::new(),
            tests_modified: Vec::new(),
            review: Vec::new(),
            elapsed: Duration::ZERO,
        };
        if build.changed_during_build.contains(job.package()) {
            outcome.mark_modified(
                vec![job.exercise.dir.clone()],
                "files that grade this exercise changed while cargo built it (a build script?)",
            );
        }
        outcome.compile_errors = build
            .messages
            .errors
            .iter()
            .filter(|error| error.package_dir == dir)
            .cloned()
            .collect();
        if !outcome.compile_errors.is_empty() {
            outcome.status = Status::CompileError;
            outcome.settle();
            outcome.elapsed = started.elapsed();
            return outcome;
        }
        let known_tests = self.source_order(job);
        let timeout = self
            .timeout
            .unwrap_or(Duration::from_secs(job.exercise.timeout_secs));
        let deadline = started + timeout;
        let mut timed_out = false;
        for test_file in &job.exercise.tests {
            let src = dir.join(test_file);
            let Some(binary) = build
                .messages
                .executables
                .iter()
                .find(|exe| exe.src_path == src)
                .cloned()
            else {
                outcome.notes.push(format!(
                    "cargo built no test binary for {}: is it a test target of {}?",
                    job.dir().join(test_file).display(),
                    job.package()
                ));
                continue;
            };
            if !build.ledger.holds(&binary.executable) {
                // Something that ran since the build (the tests of another
                // exercise) replaced it.
                build.ledger.forget(&binary.executable);
                let _ = std::fs::remove_file(&binary.executable);
                outcome.mark_modified(
                    vec![self.relative(&binary.executable)],
                    "its test binary was replaced after the build, by code that ran before it; it was removed and is built again at the next check",
                );
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            timed_out |= self.run_binary(job, &binary, &dir, left, timeout, &mut outcome);
            self.catch_tampering(build, &mut outcome);
        }
        if let Some(before) = build.digests.get(job.package())
            && Digests::of(&self.workbook.root, job).graded != before.graded
        {
            outcome.mark_modified(
                vec![job.exercise.dir.clone()],
                "files that grade this exercise changed while its tests ran",
            );
        }
        sort_by_source_order(&mut outcome.tests, &known_tests);
        outcome.status = if timed_out {
            Status::TimedOut
        } else if !outcome.tests.is_empty() && outcome.tests.iter().all(|test| test.passed) {
            Status::Done
        } else {
            Status::Failed
        };
        outcome.settle();
        outcome.elapsed = started.elapsed();
        outcome
    }

    /// After a test binary ran: did it change another test binary, or the
    /// checker itself? Whatever it changed is removed (cargo builds it
    /// again) and its own result does not count.
    fn catch_tampering(&self, build: &mut Build, outcome: &mut Outcome) {
        let mut changed = build.ledger.changed();
        for binary in &changed {
            build.ledger.forget(binary);
            let _ = std::fs::remove_file(binary);
        }
        if let Some((checker, identity)) = &mut build.checker {
            let now = Identity::of(checker).ok();
            if now.as_ref() != Some(identity) {
                if seal::uplifted_by_cargo(checker) {
                    // Another `cargo checker` (or a maintainer's build)
                    // rebuilt it: cargo links what it builds into place.
                    if let Some(now) = now {
                        *identity = now;
                    }
                } else {
                    // cargo rebuilds the checker at the next `cargo checker`.
                    let _ = std::fs::remove_file(&*checker);
                    if let Some(target) = checker.parent() {
                        seal::invalidate(target.parent().unwrap_or(target), "checker", &[]);
                    }
                    changed.push(checker.clone());
                    build.checker = None;
                }
            }
        }
        if !changed.is_empty() {
            build.ledger.save();
            let files = changed.iter().map(|path| self.relative(path)).collect();
            outcome.mark_modified(
                files,
                "while its tests ran, its code replaced files it does not own (test binaries of other exercises, or the checker); they were removed and are built again (if you ran cargo yourself meanwhile, check again)",
            );
        }
    }

    fn relative(&self, path: &Path) -> PathBuf {
        crate::manifest::relative(&self.workbook.root, path)
    }

    /// Runs one test binary; returns whether it hit the deadline.
    fn run_binary(
        &self,
        job: &Job,
        binary: &TestExecutable,
        dir: &Path,
        left: Duration,
        timeout: Duration,
        outcome: &mut Outcome,
    ) -> bool {
        let listed = match process::run(
            self.test_command(binary, dir, &["--list", "--format", "terse"]),
            LIST_TIMEOUT.min(left.max(Duration::from_secs(1))),
            Tail::default(),
            Tail::default(),
        ) {
            Ok(listing) => {
                libtest::listed_tests(&listing.stdout.lines().map(String::from).collect::<Vec<_>>())
            }
            Err(error) => {
                outcome.notes.push(format!(
                    "could not start {}: {error}",
                    binary.executable.display()
                ));
                return false;
            }
        };
        let run = match process::run(
            self.test_command(binary, dir, &["--color", "never"]),
            left,
            LibtestOutput::expecting(&listed),
            Tail::default(),
        ) {
            Ok(run) => run,
            Err(error) => {
                outcome.notes.push(format!(
                    "could not start {}: {error}",
                    binary.executable.display()
                ));
                return false;
            }
        };
        let report = &run.stdout;
        let prefix = wrapper_prefix(job, binary);
        let first = outcome.tests.len();
        for name in &listed {
            let display = prefix
                .as_deref()
                .and_then(|p| name.strip_prefix(p))
                .unwrap_or(name)
                .to_string();
            let state = report
                .results
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, state)| *state);
            let failure = match state {
                Some(TestState::Passed) | Some(TestState::Ignored) => None,
                Some(TestState::Failed) => Some(failure_of(report, name)),
                None => Some(unfinished(run.exit, timeout)),
            };
            outcome.tests.push(TestResult {
                name: display,
                passed: state == Some(TestState::Passed),
                failure,
            });
        }
        let reason = unconfirmed(report, run.exit, &outcome.tests[first..]);
        if let Some(reason) = reason {
            // libtest never confirmed the passes of this run: the `ok` lines
            // may be anybody's, so none of them counts.
            for test in outcome.tests[first..].iter_mut().filter(|t| t.passed) {
                test.passed = false;
                let verdict = if run.exit == Exit::TimedOut {
                    "does not count: another test did not finish, so libtest never confirmed this pass"
                } else {
                    "reported `ok`, but libtest never confirmed it"
                };
                test.failure = Some(Failure {
                    message: format!("{verdict}.\n{reason}"),
                    location: None,
                    output: String::new(),
                    secondary: run.exit == Exit::TimedOut,
                    unreported: true,
                });
            }
        }
        let cut: usize = report.outputs.values().map(|o| o.cut_bytes).sum();
        if cut > 0 {
            outcome.notes.push(format!(
                "the tests printed {} in all; only the start and the end of each test's output were kept",
                human_bytes(run.output_bytes),
            ));
        }
        // What the tests wrote past libtest's capture is never shown; only
        // its last lines are kept, for a crash report. Say what was cut.
        let uncaptured = report.stray.dropped_bytes + run.stderr.dropped_bytes;
        if uncaptured > 0 {
            outcome.notes.push(format!(
                "the tests also wrote to stdout and stderr outside libtest's capture (a child process, or `io::stdout()`): {} of it was cut, only its end kept",
                human_bytes(uncaptured),
            ));
        }
        if let Exit::Signal(signal) = run.exit {
            outcome.notes.push(format!(
                "the test binary crashed (signal {signal}){}",
                last_words(report, &run.stderr)
            ));
        }
        run.exit == Exit::TimedOut
    }

    fn test_command(&self, binary: &TestExecutable, dir: &Path, args: &[&str]) -> Command {
        let mut command = match &self.sandbox {
            Some(sandbox) => sandbox.command(&binary.executable),
            None => Command::new(&binary.executable),
        };
        for (name, value) in self.env.iter().chain(&self.test_env) {
            command.env(name, value);
        }
        command.args(args);
        if let Some(filter) = &self.filter {
            command.arg(filter);
        }
        command
            .current_dir(dir)
            .env("CARGO_MANIFEST_DIR", dir)
            // Long backtraces bury the message a learner needs.
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LIB_BACKTRACE", "0")
            .env("INSTA_UPDATE", "no")
            .env_remove("INSTA_FORCE_PASS")
            // Output capture must stay on: the report is read from it.
            .env_remove("RUST_TEST_NOCAPTURE")
            .env_remove("RUST_TEST_SHUFFLE");
        command
    }

    /// Test names in the order the test files define them (the order the
    /// exercise teaches), found by their `fn name(`.
    fn source_order(&self, job: &Job) -> Vec<String> {
        let dir = self.workbook.path(&job.exercise.dir);
        let mut names = Vec::new();
        for file in &job.exercise.tests {
            let Ok(text) = std::fs::read_to_string(dir.join(file)) else {
                continue;
            };
            for line in text.lines() {
                let line = line.trim_start();
                let rest = line
                    .strip_prefix("async fn ")
                    .or_else(|| line.strip_prefix("fn "));
                if let Some(name) = rest.and_then(|rest| rest.split('(').next()) {
                    names.push(name.trim().to_string());
                }
            }
        }
        names
    }
}

/// The checker's own binary as it is now.
fn checker_identity() -> Option<(PathBuf, Identity)> {
    let exe = std::env::current_exe().ok()?;
    let identity = Identity::of(&exe).ok()?;
    Some((exe, identity))
}

/// The solution's test binary wraps the lesson's test file in a module named
/// after it (`mod hello;`), so its tests are called `hello::name`.
fn wrapper_prefix(job: &Job, binary: &TestExecutable) -> Option<String> {
    (job.side == Side::Solution)
        .then(|| {
            binary
                .src_path
                .file_stem()
                .map(|stem| format!("{}::", stem.to_string_lossy()))
        })
        .flatten()
}

fn sort_by_source_order(tests: &mut [TestResult], order: &[String]) {
    let position = |name: &str| {
        let short = name.rsplit("::").next().unwrap_or(name);
        order.iter().position(|n| n == short).unwrap_or(usize::MAX)
    };
    tests.sort_by_key(|test| position(&test.name));
}
