//! Building exercises with cargo and running their test binaries.
//!
//! One `cargo build --tests --keep-going` builds every selected package, so a
//! starter that does not compile costs only its own verdict. Then each test
//! binary runs directly (not through `cargo test`), under a deadline, in its
//! own process group, with its output read into bounded sinks.

pub mod cargo;
pub mod libtest;
pub mod process;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::manifest::{Exercise, Workbook};
use crate::outcome::{Failure, Outcome, Status, TestResult};
use cargo::{BuildMessages, TestExecutable};
use libtest::{LibtestOutput, TestState};
use process::{Exit, LineSink, Tail};

/// How long cargo may build before the checker gives up (a first build of
/// the whole workbook takes minutes on a small machine).
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
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

impl Job<'_> {
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
}

pub struct Runner<'a> {
    workbook: &'a Workbook,
    cargo: OsString,
    color: bool,
    timeout: Option<Duration>,
}

/// What the build left for each package.
pub struct Build {
    messages: BuildMessages,
}

impl<'a> Runner<'a> {
    pub fn new(workbook: &'a Workbook, color: bool, timeout: Option<Duration>) -> Runner<'a> {
        Runner {
            workbook,
            // `cargo run` tells the program which cargo started it.
            cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            color,
            timeout,
        }
    }

    /// Builds every job's package in one cargo run, telling `on_progress`
    /// how far it got.
    pub fn build(&self, jobs: &[Job], on_progress: Option<OnProgress>) -> Result<Build> {
        let mut command = Command::new(&self.cargo);
        command
            .current_dir(&self.workbook.root)
            .args(["build", "--tests", "--keep-going", "--message-format"])
            .arg(if self.color {
                "json-diagnostic-rendered-ansi"
            } else {
                "json"
            })
            .arg("--manifest-path")
            .arg(self.workbook.root.join("Cargo.toml"))
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_TERM_PROGRESS_WHEN", "always")
            .env("CARGO_TERM_PROGRESS_WIDTH", "100");
        for job in jobs {
            if job.package().is_empty() {
                bail!(
                    "{} has no solution package: run `cargo checker dev check`",
                    job.exercise.id
                );
            }
            command.args(["--package", job.package()]);
        }
        let finished = process::run(
            command,
            BUILD_TIMEOUT,
            BuildMessages::default(),
            CargoStderr {
                on_progress,
                ..CargoStderr::default()
            },
        )
        .with_context(|| format!("cannot start cargo ({})", self.cargo.to_string_lossy()))?;
        let messages = finished.stdout;
        if finished.exit == Exit::TimedOut {
            bail!(
                "cargo was still building after {} minutes and was stopped",
                BUILD_TIMEOUT.as_secs() / 60
            );
        }
        if messages.success != Some(true) && messages.errors.is_empty() {
            // Nothing the learner wrote failed: cargo itself could not work
            // (a broken Cargo.toml, a missing dependency, no disk space).
            let detail: Vec<&str> = finished
                .stderr
                .tail
                .lines()
                .filter(|line| {
                    !line.trim_start().starts_with("Compiling") && !line.trim().is_empty()
                })
                .collect();
            bail!(
                "cargo could not build the exercises:\n{}",
                detail.join("\n")
            );
        }
        Ok(Build { messages })
    }

    /// Runs one job's tests from a finished build and grades them.
    pub fn test(&self, job: &Job, build: &Build) -> Outcome {
        let started = Instant::now();
        let dir = self.workbook.path(job.dir());
        let compile_errors: Vec<_> = build
            .messages
            .errors
            .iter()
            .filter(|error| error.package_dir == dir)
            .cloned()
            .collect();
        let known_tests = self.source_order(job);
        if !compile_errors.is_empty() {
            return Outcome {
                id: job.exercise.id.clone(),
                status: Status::CompileError,
                tests: Vec::new(),
                compile_errors,
                notes: Vec::new(),
                tests_modified: Vec::new(),
                elapsed: started.elapsed(),
            };
        }
        let timeout = self
            .timeout
            .unwrap_or(Duration::from_secs(job.exercise.timeout_secs));
        let deadline = started + timeout;
        let mut outcome = Outcome {
            id: job.exercise.id.clone(),
            status: Status::Failed,
            tests: Vec::new(),
            compile_errors: Vec::new(),
            notes: Vec::new(),
            tests_modified: Vec::new(),
            elapsed: Duration::ZERO,
        };
        let mut timed_out = false;
        for test_file in &job.exercise.tests {
            let src = dir.join(test_file);
            let Some(binary) = build
                .messages
                .executables
                .iter()
                .find(|exe| exe.src_path == src)
            else {
                outcome.notes.push(format!(
                    "cargo built no test binary for {}: is it a test target of {}?",
                    job.dir().join(test_file).display(),
                    job.package()
                ));
                continue;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            timed_out |= self.run_binary(job, binary, &dir, left, timeout, &mut outcome);
        }
        sort_by_source_order(&mut outcome.tests, &known_tests);
        outcome.status = if timed_out {
            Status::TimedOut
        } else if !outcome.tests.is_empty() && outcome.tests.iter().all(|test| test.passed) {
            Status::Done
        } else {
            Status::Failed
        };
        outcome.elapsed = started.elapsed();
        outcome
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
            LibtestOutput::default(),
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
        let mut unreported = 0;
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
                None => {
                    unreported += 1;
                    Some(unfinished(run.exit, timeout))
                }
            };
            outcome.tests.push(TestResult {
                name: display,
                passed: state == Some(TestState::Passed),
                failure,
            });
        }
        let reason = unconfirmed(report, run.exit, &outcome.tests[first..]);
        if let Some(reason) = reason.filter(|_| unreported == 0) {
            // Every test claims a result, yet libtest never confirmed them:
            // the `ok` lines may be anybody's, so no pass counts from this run.
            // (A test that never reported explains a cut-short run itself.)
            for test in outcome.tests[first..].iter_mut().filter(|t| t.passed) {
                test.passed = false;
                test.failure = Some(Failure {
                    message: format!("reported `ok`, but libtest never confirmed it.\n{reason}"),
                    location: None,
                    output: String::new(),
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
        let mut command = Command::new(&binary.executable);
        command
            .args(args)
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

fn failure_of(report: &LibtestOutput, name: &str) -> Failure {
    let Some(captured) = report.outputs.get(name) else {
        return Failure {
            message: "the test failed without a message".into(),
            location: None,
            output: String::new(),
        };
    };
    match captured.panic(name) {
        Some(panic) => {
            let output = captured.text();
            Failure {
                message: if panic.message.is_empty() {
                    "the test panicked".into()
                } else {
                    panic.message
                },
                // A helper's own line (the testkit's) says nothing to the
                // learner; its message names the test line instead.
                location: Some(panic.location).filter(|l| !l.starts_with("testkit/")),
                output,
            }
        }
        None => Failure {
            message: "the test failed (it returned an error or did not panic as expected)".into(),
            location: None,
            output: captured.text(),
        },
    }
}

/// Why the passes of a run cannot be believed, if they cannot. libtest ends
/// every run it finishes with a summary that counts them, then exits with 0
/// if all passed and 101 if not; a run without that ended early (the code
/// called `std::process::exit`), and a summary that disagrees with the result
/// lines means the tests printed lines of their own that look like
/// libtest's. (A run stopped at the time limit is never done and says so.)
fn unconfirmed(report: &LibtestOutput, exit: Exit, tests: &[TestResult]) -> Option<String> {
    let passed = tests.iter().filter(|test| test.passed).count();
    match (report.summary, exit) {
        (_, Exit::TimedOut) => None,
        (None, _) if passed == 0 => None,
        (None, Exit::Signal(signal)) => Some(format!(
            "The test binary crashed (signal {signal}) before libtest printed its summary."
        )),
        (Some(summary), Exit::Signal(signal)) if summary.ok => Some(format!(
            "Every test passed, then the test binary crashed (signal {signal}): something that \
             ran after the tests (a thread, a destructor) brought the process down."
        )),
        (None, Exit::Success) => Some(
            "The test binary exited with code 0 before libtest printed its summary: something \
             in the code called `std::process::exit`, or printed lines that imitate libtest's."
                .into(),
        ),
        (None, Exit::Code(code)) => Some(format!(
            "The test binary exited with code {code} before libtest printed its summary: \
             something in the code called `std::process::exit`."
        )),
        (Some(summary), _) if summary.passed != passed => Some(format!(
            "libtest counted {} passing tests, but the output reported {passed}: the tests \
             printed lines that imitate libtest's.",
            summary.passed
        )),
        (Some(summary), Exit::Code(code)) if summary.ok => Some(format!(
            "Every test passed, then the test binary exited with code {code} instead of 0: \
             something that ran after the tests (a thread, a destructor) ended the process."
        )),
        (Some(summary), Exit::Success) if !summary.ok => Some(
            "libtest reported failures, yet the test binary exited with code 0: something in \
             the code called `std::process::exit`."
                .into(),
        ),
        _ => None,
    }
}

fn unfinished(exit: Exit, timeout: Duration) -> Failure {
    let message = match exit {
        Exit::TimedOut => format!(
            "did not finish: the tests were stopped after {} s. Look for a loop that never ends, \
             a lock that is never released, or a request that never gets an answer",
            timeout.as_secs()
        ),
        Exit::Signal(signal) => {
            format!("did not finish: the test binary crashed (signal {signal})")
        }
        Exit::Code(code) => format!(
            "did not report: the test binary exited with code {code} while the tests ran \
             (does the code call `std::process::exit`?)"
        ),
        Exit::Success => "did not report: the test binary exited with code 0 while the tests \
                          ran (does the code call `std::process::exit`?)"
            .into(),
    };
    Failure {
        message,
        location: None,
        output: String::new(),
    }
}

fn last_words(report: &LibtestOutput, stderr: &Tail) -> String {
    let last = report
        .stray
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.trim().is_empty())
        .last();
    last.map(|line| format!(": {line}")).unwrap_or_default()
}

pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// What a running build has got to, for progress displays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildProgress {
    /// Units (crates, test binaries) built so far, and in all, as cargo counts them.
    pub done: usize,
    pub total: usize,
    /// What cargo works on now.
    pub current: String,
    /// Another cargo (a second checker, an editor's build) holds a lock this
    /// build needs.
    pub waiting_for_lock: bool,
    /// What that lock guards, in words: "the build folder", "the package cache".
    pub lock: String,
}

impl BuildProgress {
    /// The line that says what the build waits for.
    pub fn waiting_line(&self) -> String {
        format!(
            "Waiting for another cargo to finish with {} (another checker or an editor?)",
            self.lock
        )
    }
}

/// Receives build progress, from cargo's reader thread.
pub type OnProgress = Arc<dyn Fn(&BuildProgress) + Send + Sync>;

/// Draws build progress as one line on stderr.
fn progress_line() -> OnProgress {
    Arc::new(|progress: &BuildProgress| {
        let text = if progress.waiting_for_lock {
            format!("   {}", progress.waiting_line())
        } else {
            format!(
                "   Building {}/{}: {}",
                progress.done, progress.total, progress.current
            )
        };
        let text: String = text.chars().take(100).collect();
        eprint!("\r\x1b[2K{text}");
    })
}

/// Build progress for a terminal, or only the wait for cargo's lock for
/// other output.
pub fn build_feedback(terminal: bool) -> OnProgress {
    if terminal {
        progress_line()
    } else {
        lock_notice()
    }
}

/// Says once, in a line of its own, that the build waits for another cargo:
/// for output that is not a terminal (a script, CI, an editor's task), where
/// a checker that waits in silence looks hung. Cargo takes its locks for a
/// moment whenever other cargos run; only a wait that lasts is worth a line.
fn lock_notice() -> OnProgress {
    let state = Arc::new(std::sync::Mutex::new(LockWait::default()));
    let state_of_build = Arc::clone(&state);
    Arc::new(move |progress: &BuildProgress| {
        let mut wait = state_of_build
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !progress.waiting_for_lock {
            wait.end();
            return;
        }
        let Some(this_wait) = wait.begin(progress.waiting_line()) else {
            return;
        };
        // Once the build is over, its callback and this state are gone, and
        // the thread says nothing.
        let state = Arc::downgrade(&state_of_build);
        std::thread::spawn(move || {
            std::thread::sleep(LOCK_NOTICE_DELAY);
            let Some(state) = state.upgrade() else {
                return;
            };
            let mut wait = state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(line) = wait.due(this_wait) {
                eprintln!("{line}...");
            }
        });
    })
}

const LOCK_NOTICE_DELAY: Duration = Duration::from_secs(1);

/// The waits of one build for cargo's locks, for [`lock_notice`].
#[derive(Debug, Default)]
struct LockWait {
    /// The wait under way: its line, and which wait it is.
    current: Option<(String, u64)>,
    waits: u64,
    said: bool,
}

impl LockWait {
    /// A wait begins: the number to hand to [`LockWait::due`] once the
    /// delay is over, unless a wait is already under way or was told.
    fn begin(&mut self, line: String) -> Option<u64> {
        if self.current.is_some() || self.said {
            return None;
        }
        self.waits += 1;
        self.current = Some((line, self.waits));
        Some(self.waits)
    }

    fn end(&mut self) {
        self.current = None;
    }

    /// The line to say, if wait `number` is still under way.
    fn due(&mut self, number: u64) -> Option<String> {
        let (line, _) = self.current.as_ref().filter(|(_, n)| *n == number)?;
        self.said = true;
        Some(line.clone())
    }
}

/// cargo's human output: kept for error reports, and read for its progress
/// bar (`Building [===>  ] 12/140: axum`), which it draws when asked to even
/// into a pipe.
#[derive(Default)]
struct CargoStderr {
    tail: Tail,
    progress: BuildProgress,
    on_progress: Option<OnProgress>,
}

impl LineSink for CargoStderr {
    fn line(&mut self, line: &str) {
        // The progress bar redraws itself with carriage returns: one line
        // holds many states, the last is the newest.
        for segment in line.split('\r') {
            let segment = segment.replace("\x1b[K", "");
            let trimmed = segment.trim();
            if trimmed.is_empty() {
                continue;
            }
            let before = self.progress.clone();
            if let Some(bar) = trimmed.strip_prefix("Building [") {
                self.read_bar(bar);
            } else if let Some(what) = trimmed.strip_prefix("Compiling ") {
                self.progress.current = what.split(' ').next().unwrap_or(what).to_string();
                self.progress.waiting_for_lock = false;
            } else if let Some(what) = trimmed.strip_prefix("Blocking waiting for file lock on ") {
                self.progress.waiting_for_lock = true;
                self.progress.lock = match what.trim() {
                    "build directory" | "artifact directory" => "the build folder".into(),
                    "package cache" => "the package cache".into(),
                    other => format!("the {other}"),
                };
            } else {
                self.tail.line(trimmed);
            }
            if let Some(on_progress) = self
                .on_progress
                .as_ref()
                .filter(|_| self.progress != before)
            {
                on_progress(&self.progress);
            }
        }
    }
}

impl CargoStderr {
    /// Reads `=====>   ] 137/141: server-hello, testkit`.
    fn read_bar(&mut self, bar: &str) {
        let Some((_, counts)) = bar.split_once("] ") else {
            return;
        };
        let (numbers, current) = counts.split_once(": ").unwrap_or((counts, ""));
        if let Some((done, total)) = numbers.split_once('/') {
            self.progress.done = done.trim().parse().unwrap_or(self.progress.done);
            self.progress.total = total.trim().parse().unwrap_or(self.progress.total);
        }
        if !current.is_empty() {
            self.progress.current = current.trim().to_string();
        }
        self.progress.waiting_for_lock = false;
    }
}

/// Clears the build progress line, if one may have been drawn.
pub fn clear_progress_line() {
    if crate::term::stderr_is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn graded(passed: &[bool]) -> Vec<TestResult> {
        passed
            .iter()
            .enumerate()
            .map(|(n, passed)| TestResult {
                name: format!("t{n}"),
                passed: *passed,
                failure: None,
            })
            .collect()
    }

    #[test]
    fn passes_count_only_when_libtests_summary_and_exit_code_agree() {
        let ok = "test t0 ... ok\ntest t1 ... ok\n\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s";
        let two = graded(&[true, true]);
        assert_eq!(unconfirmed(&libtest::parse(ok), Exit::Success, &two), None);
        // No summary: the process left early.
        let cut = "test t0 ... ok\ntest t1 ... ok";
        assert!(unconfirmed(&libtest::parse(cut), Exit::Success, &two).is_some());
        assert!(unconfirmed(&libtest::parse(cut), Exit::Code(3), &two).is_some());
        // Nothing passed: nothing to doubt, each test says why it failed.
        assert_eq!(
            unconfirmed(&libtest::parse(""), Exit::Success, &graded(&[false])),
            None
        );
        // Stopped at the time limit: that verdict says it already.
        assert_eq!(
            unconfirmed(&libtest::parse(cut), Exit::TimedOut, &two),
            None
        );
        // Crashed before the summary, or after it.
        assert!(unconfirmed(&libtest::parse(cut), Exit::Signal(11), &two).is_some());
        let reason = unconfirmed(&libtest::parse(ok), Exit::Signal(6), &two).unwrap();
        assert!(reason.contains("crashed (signal 6)"), "{reason}");
        // libtest counted one pass, the lines claimed two.
        let one = "test t0 ... ok\ntest t1 ... ok\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s";
        let reason = unconfirmed(&libtest::parse(one), Exit::Code(101), &two).unwrap();
        assert!(reason.contains("counted 1 passing tests"), "{reason}");
        // All passed, then something ended the process with another code.
        let reason = unconfirmed(&libtest::parse(ok), Exit::Code(7), &two).unwrap();
        assert!(reason.contains("code 7 instead of 0"), "{reason}");
    }

    #[test]
    fn only_a_wait_for_a_lock_that_outlasts_the_delay_is_told_and_only_once() {
        let mut waits = LockWait::default();
        // A wait that ends before its delay is over: nothing to say.
        let first = waits.begin("Waiting for the package cache".into()).unwrap();
        waits.end();
        assert_eq!(waits.due(first), None);
        // A wait still under way when its delay is over is told,
        let second = waits.begin("Waiting for the build folder".into()).unwrap();
        assert_eq!(waits.begin("again".into()), None, "one wait, one timer");
        assert_eq!(waits.due(first), None, "the first wait's timer is stale");
        assert_eq!(
            waits.due(second).as_deref(),
            Some("Waiting for the build folder")
        );
        // once per build.
        waits.end();
        assert_eq!(waits.begin("Waiting for the build folder".into()), None);
    }

    #[test]
    fn cargo_progress_is_read_from_its_redrawn_bar() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let mut stderr = CargoStderr {
            on_progress: Some(Arc::new(move |p: &BuildProgress| {
                record.lock().unwrap().push(p.clone())
            })),
            ..CargoStderr::default()
        };
        stderr.line("   Compiling testkit v0.1.0 (/w/testkit)");
        stderr.line("    Building [====> ] 137/141: server-hello, testkit      \r    Building [=====>] 138/141: testkit    \r   Compiling server-json v0.0.0 (/w/json)");
        stderr.line("    Blocking waiting for file lock on build directory");
        stderr.line("error: failed to parse manifest at `/w/Cargo.toml`");
        let seen = seen.lock().unwrap();
        let last_bar = seen.iter().rfind(|p| p.total > 0).unwrap();
        assert_eq!((last_bar.done, last_bar.total), (138, 141));
        assert_eq!(
            seen.iter().rfind(|p| !p.waiting_for_lock).unwrap().current,
            "server-json"
        );
        assert!(seen.last().unwrap().waiting_for_lock);
        assert_eq!(seen.last().unwrap().lock, "the build folder");
        assert_eq!(
            stderr.tail.lines().collect::<Vec<_>>(),
            ["error: failed to parse manifest at `/w/Cargo.toml`"]
        );
    }
}
