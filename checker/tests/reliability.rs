//! The checker against hostile learner code and faults, end to end: the real
//! binary on private copies of `tests/fixtures/hostile`, a workbook whose
//! exercises spin, deadlock, start a child that ignores SIGTERM or one that
//! leaves the process group, never answer a client, flood stdout and stderr,
//! and stall their build. Each test holds one promise: nothing hangs, no
//! process survives, memory stays bounded, progress is never lost or torn.
//!
//! Processes are found by markers nothing else uses: a sleep duration
//! (`sleep 5001.123450`) that the fixture's children take from
//! `HOSTILE_MARKER` or `HOSTILE_BUILD_MARKER`, and the copy's own path, which
//! the command line of every cargo, rustc, build script and test binary of
//! the copy holds. Waits poll a condition under a deadline; no test sleeps
//! to let something happen.
//!
//! Linux only: the tests read /proc and use pgrep, setsid and setpriv, and
//! only on Linux does the checker find a child that left the process group.
#![cfg(target_os = "linux")]

mod common;
use common::copy_tree;
#[path = "common/env.rs"]
mod env;
#[path = "common/pty.rs"]
mod pty;
#[path = "common/report.rs"]
mod report;
use report::exercise;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use portable_pty::CommandBuilder;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hostile");
const CHECKER: &str = env!("CARGO_BIN_EXE_checker");
const PROGRESS: &str = ".workbook-progress.json";
/// A bound on waiting for something to happen (the first build of a copy
/// takes seconds; a loaded machine more): it bounds a broken run.
const PATIENCE: Duration = Duration::from_secs(120);
/// How long a process the checker killed may take to disappear.
const DYING: Duration = Duration::from_secs(10);
/// Polling interval of the waits.
const POLL: Duration = Duration::from_millis(10);

/// A private copy of the fixture in `TEMP/workbook`, building in its own
/// `target/`: cargo's hashes ignore where a workspace lies, so copies that
/// shared a target folder would share (and race for) one test binary.
struct Workbook {
    dir: tempfile::TempDir,
    root: PathBuf,
}

/// What one finished run of the checker printed.
#[derive(Debug)]
struct Run {
    /// `None` when a signal ended it.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Workbook {
    fn new() -> Workbook {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path().join("workbook");
        copy_tree(Path::new(FIXTURE), &root);
        Workbook { dir, root }
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The checker with `args`, run through `wrapper` (a program and its
    /// arguments, which end with the checker's path) if there is one.
    fn command(&self, wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut command = Command::new(program);
                command.args(rest).arg(CHECKER);
                command
            }
            None => Command::new(CHECKER),
        };
        command.args(args).current_dir(&self.root);
        env::prepare(&mut command, env);
        command
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.spawn(args, env).wait()
    }

    fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Running {
        Running::start(self.command(&[], args, env))
    }

    fn progress(&self) -> Value {
        serde_json::from_slice(&self.progress_bytes()).expect("progress is JSON")
    }

    fn progress_bytes(&self) -> Vec<u8> {
        std::fs::read(self.path(PROGRESS)).expect("a progress file")
    }

    /// Files beside the progress file whose name starts with `prefix`.
    fn progress_siblings(&self, prefix: &str) -> Vec<PathBuf> {
        let wanted = format!("{PROGRESS}{prefix}");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(&wanted))
            .map(|entry| entry.path())
            .collect();
        found.sort();
        found
    }

    /// Patterns for any process of this copy: its cargo, rustc, build
    /// scripts and test binaries all name a file in it.
    fn own_processes(&self) -> String {
        literal(&self.root.display().to_string())
    }
}

/// A checker running in the background, its output collected as it comes.
struct Running {
    child: Child,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<String>>,
    stderr_lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the checker starts");
        let mut out = child.stdout.take().unwrap();
        let stdout = thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = out.read_to_end(&mut bytes);
            bytes
        });
        let err = child.stderr.take().unwrap();
        let (lines, stderr_lines) = mpsc::channel();
        let stderr = thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = lines.send(line);
            }
            all
        });
        Running {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
            stderr_lines,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the checker prints a line holding `text` on stderr.
    fn wait_for_stderr(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "the checker never printed {text:?} on stderr; it printed:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {}", self.pid());
    }

    fn wait(self) -> Run {
        self.wait_sampling(|_| {})
    }

    /// Waits, calling `sample` with the checker's pid every few
    /// milliseconds while it runs.
    fn wait_sampling(mut self, mut sample: impl FnMut(u32)) -> Run {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            sample(self.child.id());
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the checker was still running after {PATIENCE:?}");
            }
            thread::sleep(POLL);
        };
        let stdout = self.stdout.take().unwrap().join().unwrap();
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: self.stderr.take().unwrap().join().unwrap(),
        }
    }

    /// Waits, and says how much memory the checker used at most (VmHWM, in
    /// KiB), read from /proc while it ran.
    fn wait_measuring_memory(self) -> (Run, u64) {
        let mut peak = 0;
        let run = self.wait_sampling(|pid| {
            if let Some(hwm) = high_water_mark_kib(pid) {
                peak = peak.max(hwm);
            }
        });
        (run, peak)
    }
}

impl Drop for Running {
    /// A test that fails half-way stops its checker politely (its Ctrl-C
    /// handler stops what it started), then for good.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + DYING;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(POLL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn high_water_mark_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A sleep duration no other process uses (with `sleep_of`, a pattern for
/// the processes that sleep it).
fn marker() -> String {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}.{}0",
        5000 + COUNT.fetch_add(1, Ordering::SeqCst),
        std::process::id()
    )
}

/// `sleep MARKER` itself, and the shells and `setsid` that start it.
fn sleep_of(marker: &str) -> String {
    format!("sleep {}$", literal(marker))
}

/// An extended regular expression that matches `text` literally.
fn literal(text: &str) -> String {
    let mut pattern = String::new();
    for c in text.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// Processes whose command line matches `pattern`, as `PID COMMAND LINE`.
fn processes(pattern: &str) -> Vec<String> {
    let found = Command::new("pgrep")
        .args(["-a", "-f", "--", pattern])
        .output()
        .expect("pgrep runs");
    String::from_utf8_lossy(&found.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Waits until a process matching `pattern` runs; returns their pids.
fn wait_for_process(pattern: &str) -> Vec<u32> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = processes(pattern);
        if !found.is_empty() {
            return found
                .iter()
                .filter_map(|line| line.split_whitespace().next()?.parse().ok())
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no process matching {pattern:?} appeared"
        );
        thread::sleep(POLL);
    }
}

/// Fails unless every process matching `patterns` is gone (killed
/// processes get a moment to disappear).
fn assert_none_left(patterns: &[String]) {
    let deadline = Instant::now() + DYING;
    loop {
        let left: Vec<String> = patterns.iter().flat_map(|p| processes(p)).collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            // Clean up before failing, so that one failure leaves no mess.
            for pid in left
                .iter()
                .filter_map(|line| line.split_whitespace().next())
            {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
            panic!("these processes outlived the checker:\n{}", left.join("\n"));
        }
        thread::sleep(POLL);
    }
}

/// Kills whatever matches its patterns when a test fails, so that a
/// failure (a checker that let a process escape) leaves no mess behind.
struct Leftovers(Vec<String>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        if thread::panicking() {
            for line in self.0.iter().flat_map(|pattern| processes(pattern)) {
                if let Some(pid) = line.split_whitespace().next() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
        }
    }
}

/// Records, in the background, every pid matching `pattern` until stopped.
struct Watcher {
    stop: Arc<AtomicBool>,
    seen: thread::JoinHandle<Vec<String>>,
}

impl Watcher {
    fn start(pattern: String) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let seen = thread::spawn(move || {
            let mut seen: Vec<String> = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                for process in processes(&pattern) {
                    if !seen.contains(&process) {
                        seen.push(process);
                    }
                }
                thread::sleep(POLL);
            }
            seen
        });
        Watcher { stop, seen }
    }

    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.seen.join().unwrap()
    }
}

fn json(run: &Run) -> Value {
    report::parse(&run.stdout, &run.stderr)
}

fn first_failure(exercise: &Value) -> String {
    exercise["tests"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Replaces the progress file the way a checker does (a whole new file).
fn write_progress(workbook: &Workbook, progress: &Value) {
    let temp = workbook.path(".test-progress");
    std::fs::write(&temp, serde_json::to_vec_pretty(progress).unwrap()).unwrap();
    std::fs::rename(&temp, workbook.path(PROGRESS)).unwrap();
}

#[test]
fn check_all_over_hostile_code_stops_every_runaway_and_rebuilds_garbage_progress() {
    let workbook = Workbook::new();
    // Not even UTF-8: the worst a crash or a bad editor can leave.
    let garbage = [0xff, 0x00, 0xfe, b'{', 0x80, b'\n'];
    std::fs::write(workbook.path(PROGRESS), garbage).unwrap();
    let marker = marker();
    let _leftovers = Leftovers(vec![sleep_of(&marker), workbook.own_processes()]);
    // The children that ignore SIGTERM or leave the process group live for
    // a moment only; the watcher proves they were there.
    let children = Watcher::start(format!("^{}", sleep_of(&marker)));
    let started = Instant::now();
    let run = workbook
        .spawn(
            &["check", "--all", "--timeout", "1", "--format", "json"],
            &[("HOSTILE_MARKER", &marker)],
        )
        .wait();
    let elapsed = started.elapsed();
    let children = children.stop();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let document = json(&run);

    for id in [
        "runaway/spin",
        "runaway/deadlock",
        "runaway/stubborn",
        "runaway/silent",
    ] {
        let exercise = exercise(&document, id);
        assert_eq!(exercise["status"], "timed_out", "{id}: {exercise:#}");
        assert!(
            first_failure(exercise).contains("stopped after 1 s"),
            "{id}: {exercise:#}"
        );
    }
    let escape = exercise(&document, "runaway/escape");
    assert_eq!(escape["status"], "failed", "{escape:#}");
    assert!(first_failure(escape).contains("start_helper should return the helper's id"));
    for (id, status) in [
        ("calm/greet", "failed"),
        ("calm/double", "failed"),
        ("builds/slow", "failed"),
        ("forgery/exits", "failed"),
        ("forgery/forges", "failed"),
        // Its code replaced the calm lesson's test binaries as it ran.
        ("cheats/replaces", "modified"),
    ] {
        assert_eq!(exercise(&document, id)["status"], status, "{id}");
    }
    // The floods are cut short by the time limit, or finish within it.
    for id in ["floods/captured", "floods/raw"] {
        let status = &exercise(&document, id)["status"];
        assert!(
            status == "timed_out" || status == "failed",
            "{id}: {status}"
        );
    }

    assert!(
        children
            .iter()
            .any(|c| c.ends_with(&format!(" sleep {marker}"))),
        "the stubborn child never appeared, so this proves nothing: {children:?}"
    );
    assert_none_left(&[sleep_of(&marker), workbook.own_processes()]);
    assert!(
        elapsed < Duration::from_secs(60),
        "nineteen exercises, five of them hanging for 1 s, took {elapsed:?}"
    );

    // The garbage was kept aside, and the check rebuilt the progress.
    assert!(
        run.stderr.contains("could not be read") && run.stderr.contains("check --all"),
        "{}",
        run.stderr
    );
    let backups = workbook.progress_siblings(".broken-");
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read(&backups[0]).unwrap(), garbage);
    let progress = workbook.progress();
    let recorded = progress["exercises"].as_object().unwrap();
    assert_eq!(recorded.len(), 19, "{progress:#}");
    assert_eq!(recorded["runaway/spin"]["status"], "timed_out");
    assert_eq!(recorded["calm/double"]["tests_total"], 2);
}

#[test]
fn floods_of_hundreds_of_megabytes_on_stdout_and_stderr_cost_time_not_memory() {
    let workbook = Workbook::new();
    let _leftovers = Leftovers(vec![workbook.own_processes()]);
    let (run, peak_kib) = workbook
        .spawn(
            &["check", "floods", "--timeout", "100", "--format", "json"],
            &[],
        )
        .wait_measuring_memory();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    // 300 MiB went through the checker; it kept a few of them at most.
    assert!(
        peak_kib < 48 * 1024,
        "the checker's memory peaked at {peak_kib} KiB"
    );
    assert!(peak_kib > 0, "the checker's memory was never read");
    assert!(run.stdout.len() < 64 * 1024, "{} bytes", run.stdout.len());
    let document = json(&run);

    // println! and eprintln!, which libtest captures: start and end kept.
    let captured = exercise(&document, "floods/captured");
    assert_eq!(captured["status"], "failed", "{captured:#}");
    assert_eq!(
        first_failure(captured),
        "chatty() returned false after its flood"
    );
    let note = captured["notes"][0].as_str().unwrap_or_default();
    let printed: f64 = note
        .strip_prefix("the tests printed ")
        .and_then(|rest| rest.split(" MiB").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no note says how much was printed: {captured:#}"));
    assert!(printed > 128.0, "{note}");

    // Straight to the file descriptors, with fake libtest lines, one line
    // of 64 MiB and millions of empty ones: the fake pass does not count.
    let raw = exercise(&document, "floods/raw");
    assert_eq!(raw["status"], "failed", "{raw:#}");
    assert_eq!(raw["tests"][0]["passed"], false, "{raw:#}");
    assert_eq!(first_failure(raw), "shout() returned false after its flood");
}

#[test]
fn a_flood_straight_to_stdout_and_stderr_says_how_much_of_it_was_cut() {
    let workbook = Workbook::new();
    let _leftovers = Leftovers(vec![workbook.own_processes()]);
    let run = workbook.run(
        &[
            "check",
            "floods/raw",
            "--timeout",
            "100",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let document = json(&run);
    let raw = exercise(&document, "floods/raw");
    let note = raw["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|note| note.contains("outside libtest's capture"))
        .unwrap_or_else(|| panic!("no note of the uncaptured flood: {raw:#}"));
    // More than 64 MiB went to stderr alone; a few KiB were kept.
    let cut: f64 = note
        .split(" MiB of it was cut")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the note does not say how much was cut: {note}"));
    assert!(cut > 64.0, "{note}");
}

#[test]
fn a_pass_counts_only_when_libtests_own_summary_confirms_it() {
    let workbook = Workbook::new();
    let run = workbook.run(&["check", "forgery", "--format", "json"], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let document = json(&run);

    // The code printed an `ok` line for every test, then exited with 0
    // before any test could fail.
    let forges = exercise(&document, "forgery/forges");
    assert_eq!(forges["status"], "failed", "{forges:#}");
    assert_eq!(forges["tests_passed"], 0, "{forges:#}");
    let message = first_failure(forges);
    assert!(
        message.contains("libtest never confirmed it")
            && message.contains("exited with code 0 before libtest printed its summary")
            && message.contains("std::process::exit"),
        "{message}"
    );

    // The code ended the process, with success, in the middle of a test.
    let exits = exercise(&document, "forgery/exits");
    assert_eq!(exits["status"], "failed", "{exits:#}");
    let message = first_failure(exits);
    assert!(
        message.contains("exited with code 0 while the tests ran")
            && message.contains("std::process::exit"),
        "{message}"
    );

    let progress = workbook.progress();
    for id in ["forgery/forges", "forgery/exits"] {
        assert_eq!(progress["exercises"][id]["status"], "failed", "{id}");
    }

    // Graded the same way, the reference solutions pass: libtest confirms
    // real passes.
    // (`forgery/hangs` is left out: its starter hangs on purpose, which
    // `dev verify` rightly refuses in a real exercise.)
    for id in [
        "forgery/forges",
        "forgery/exits",
        "forgery/partial",
        "forgery/names",
    ] {
        let verify = workbook.run(&["dev", "verify", id], &[]);
        assert_eq!(
            verify.code,
            Some(0),
            "{id}: {}\n{}",
            verify.stdout,
            verify.stderr
        );
    }
    let verify = workbook.run(&["dev", "verify", "forgery/forges"], &[]);
    assert!(verify.stdout.contains("solution 2/2"), "{}", verify.stdout);
}

#[test]
fn ctrl_c_during_a_test_run_stops_the_tests_and_leaves_progress_as_it_was() {
    let workbook = Workbook::new();
    assert_eq!(workbook.run(&["hint", "calm/greet"], &[]).code, Some(0));
    let before = workbook.progress_bytes();
    let marker = marker();
    let _leftovers = Leftovers(vec![sleep_of(&marker), workbook.own_processes()]);
    let running = workbook.spawn(
        &["check", "runaway/stubborn", "--timeout", "100"],
        &[("HOSTILE_MARKER", &marker)],
    );
    // The test is running: its child that ignores SIGTERM is there.
    wait_for_process(&format!("^{}", sleep_of(&marker)));
    running.signal("INT");
    let run = running.wait();
    assert_eq!(run.code, Some(130), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Interrupted: the running tests were stopped. Your progress is unchanged."),
        "{}",
        run.stderr
    );
    assert_none_left(&[sleep_of(&marker), workbook.own_processes()]);
    assert_eq!(workbook.progress_bytes(), before, "progress changed");
    assert_eq!(workbook.progress_siblings(".tmp"), Vec::<PathBuf>::new());
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let (Ok(None), Some(pid)) = (self.child.try_wait(), self.pid()) {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let deadline = Instant::now() + DYING;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(POLL);
            }
            let _ = self.child.kill();
        }
    }
}

/// A checker in a pseudo-terminal, as a learner runs it.
struct Terminal {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: Arc<Mutex<Vec<u8>>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Terminal {
    fn start(workbook: &Workbook, args: &[&str], env: &[(&str, &str)]) -> Terminal {
        let mut command = CommandBuilder::new(CHECKER);
        command.args(args);
        command.cwd(workbook.root());
        command.env("TERM", "xterm-256color");
        command.env("NO_COLOR", "1");
        for name in env::REMOVED {
            command.env_remove(name);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let output = Arc::new(Mutex::new(Vec::new()));
        let feed = Arc::clone(&output);
        let pty = pty::spawn(command, 24, 120, move |bytes| {
            feed.lock().unwrap().extend_from_slice(bytes)
        });
        Terminal {
            child: pty.child,
            writer: pty.writer,
            output,
            _master: pty.master,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.output().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {text:?}:\n{}",
                self.output()
            );
            thread::sleep(POLL);
        }
    }

    fn press_ctrl_c(&mut self) {
        self.writer.write_all(b"\x03").unwrap();
        self.writer.flush().unwrap();
    }

    fn wait_exit(&mut self) -> u32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.exit_code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the checker did not exit:\n{}", self.output());
            }
            thread::sleep(POLL);
        }
    }
}

#[test]
fn ctrl_c_in_a_terminal_during_a_build_stops_cargo_clears_the_line_and_the_next_check_builds() {
    let workbook = Workbook::new();
    let marker = marker();
    let _leftovers = Leftovers(vec![sleep_of(&marker), workbook.own_processes()]);
    let mut terminal = Terminal::start(
        &workbook,
        &["check", "builds/slow"],
        &[("HOSTILE_BUILD_MARKER", &marker)],
    );
    // The build script is running (and waits on its child)...
    wait_for_process(&format!("^{}", sleep_of(&marker)));
    // ...and the progress line shows it.
    terminal.wait_for("Building");
    // Ctrl-C from the terminal reaches the checker, not the build: cargo
    // runs in a process group of its own.
    terminal.press_ctrl_c();
    assert_eq!(terminal.wait_exit(), 130, "{}", terminal.output());
    // The terminal's last words may arrive a moment after the exit.
    terminal.wait_for("Interrupted");
    let output = terminal.output();
    let after_bar = &output[output.rfind("Building").unwrap()..];
    let cleared = after_bar
        .find("\r\x1b[2K")
        .expect("the progress line is cleared");
    let said = after_bar
        .find("Interrupted")
        .expect("it says it was interrupted");
    assert!(cleared < said, "{after_bar:?}");
    assert_none_left(&[sleep_of(&marker), workbook.own_processes()]);

    // Nothing is left locked or half built.
    let run = workbook.run(&["check", "builds/slow", "--format", "json"], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(exercise(&json(&run), "builds/slow")["status"], "failed");
}

#[test]
fn a_second_checker_waits_for_cargos_build_lock_and_says_so() {
    let workbook = Workbook::new();
    let marker = marker();
    let _leftovers = Leftovers(vec![sleep_of(&marker), workbook.own_processes()]);
    // The first checker's build holds cargo's lock on target/ while its
    // build script waits on `sleep MARKER`.
    let first = workbook.spawn(
        &["check", "builds/slow", "--format", "json"],
        &[("HOSTILE_BUILD_MARKER", &marker)],
    );
    let sleeping = wait_for_process(&format!("^{}", sleep_of(&marker)));
    let mut second = Terminal::start(&workbook, &["check", "calm/greet"], &[]);
    second.wait_for("Waiting for another cargo");
    // Without a terminal (a script, CI) it says so in a line of its own.
    let third = workbook.spawn(&["check", "calm/double", "--format", "json"], &[]);
    third.wait_for_stderr("Waiting for another cargo to finish with the build folder");
    // Let the first build go on.
    for pid in sleeping {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let first = first.wait();
    assert_eq!(first.code, Some(1), "{}", first.stderr);
    assert_eq!(exercise(&json(&first), "builds/slow")["status"], "failed");
    assert_eq!(second.wait_exit(), 1, "{}", second.output());
    let third = third.wait();
    assert_eq!(exercise(&json(&third), "calm/double")["status"], "failed");
    assert_eq!(third.stderr.matches("Waiting for another cargo").count(), 1);
    // Its report may arrive a moment after the exit.
    second.wait_for("calm/greet · Greet: 0 of 1 test pass");
    let progress = workbook.progress();
    assert_eq!(progress["exercises"]["builds/slow"]["status"], "failed");
    assert_eq!(progress["exercises"]["calm/greet"]["status"], "failed");
}

#[test]
fn a_checker_waits_for_the_progress_lock_and_no_change_is_lost() {
    let workbook = Workbook::new();
    assert_eq!(workbook.run(&["goto", "calm/greet"], &[]).code, Some(0));
    // This test plays another checker that is saving progress.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(workbook.path(".workbook-progress.json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let running = workbook.spawn(&["hint", "calm/double"], &[]);
    running.wait_for_stderr("Waiting for another checker to finish saving progress");
    let mut progress = workbook.progress();
    progress["current"] = "runaway/spin".into();
    write_progress(&workbook, &progress);
    lock.unlock().unwrap();

    let run = running.wait();
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let progress = workbook.progress();
    assert_eq!(
        progress["current"], "runaway/spin",
        "the other change is kept"
    );
    assert_eq!(progress["exercises"]["calm/double"]["hints_shown"], 1);
}

#[test]
fn ten_checkers_changing_progress_at_once_lose_nothing() {
    let workbook = Workbook::new();
    let ids = [
        "calm/greet",
        "calm/double",
        "runaway/spin",
        "runaway/deadlock",
        "runaway/stubborn",
        "runaway/silent",
        "runaway/escape",
        "floods/captured",
        "floods/raw",
        "builds/slow",
    ];
    for _ in 0..2 {
        let running: Vec<Running> = ids
            .iter()
            .map(|id| workbook.spawn(&["hint", id], &[]))
            .collect();
        for run in running {
            let run = run.wait();
            assert_eq!(run.code, Some(0), "{}", run.stderr);
        }
    }
    let progress = workbook.progress();
    for id in ids {
        assert_eq!(
            progress["exercises"][id]["hints_shown"], 2,
            "{id} lost a hint: {progress:#}"
        );
    }
}

#[test]
fn a_cut_short_empty_garbage_or_future_progress_file_is_kept_aside_and_work_goes_on() {
    let cases: [(&str, &[u8]); 4] = [
        (
            "cut short",
            br#"{"version": 1, "exercises": {"calm/greet": {"status": "do"#,
        ),
        ("empty", b""),
        ("garbage", &[0xff, 0xfe, 0x00, 0x80, b'}', 0xc3]),
        (
            "from a newer checker",
            br#"{"version": 99, "exercises": {}, "something": "new"}"#,
        ),
    ];
    for (what, content) in cases {
        let workbook = Workbook::new();
        std::fs::write(workbook.path(PROGRESS), content).unwrap();
        let run = workbook.run(&["list"], &[]);
        assert_eq!(run.code, Some(0), "{what}: {}", run.stderr);
        assert!(
            run.stderr.contains("could not be read")
                && run
                    .stderr
                    .contains("It was kept as .workbook-progress.json.broken-")
                && run.stderr.contains("cargo checker check --all"),
            "{what}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("checker itself failed"), "{what}");
        let backups = workbook.progress_siblings(".broken-");
        assert_eq!(backups.len(), 1, "{what}: {backups:?}");
        assert_eq!(std::fs::read(&backups[0]).unwrap(), content, "{what}");

        let hint = workbook.run(&["hint", "calm/greet"], &[]);
        assert_eq!(hint.code, Some(0), "{what}: {}", hint.stderr);
        assert_eq!(
            workbook.progress()["exercises"]["calm/greet"]["hints_shown"],
            1,
            "{what}"
        );
    }
}

#[test]
fn progress_still_applies_after_the_repository_moves_and_a_lesson_is_renamed() {
    let mut workbook = Workbook::new();
    let run = workbook.run(&["check", "calm", "--format", "json"], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(workbook.run(&["hint", "calm/greet"], &[]).code, Some(0));
    let statuses = |workbook: &Workbook| -> Vec<(String, String, u64)> {
        let run = workbook.run(&["list", "--format", "json"], &[]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        json(&run)["exercises"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap().to_string(),
                    e["status"].as_str().unwrap().to_string(),
                    e["tests_passed"].as_u64().unwrap_or(0),
                )
            })
            .filter(|(id, _, _)| id.starts_with("calm/"))
            .collect()
    };
    let before = statuses(&workbook);
    assert_eq!(
        before,
        [
            ("calm/greet".to_string(), "failed".to_string(), 0),
            ("calm/double".to_string(), "failed".to_string(), 0),
        ]
    );

    // The whole repository moves.
    let moved = workbook.dir.path().join("moved-elsewhere");
    std::fs::rename(&workbook.root, &moved).unwrap();
    workbook.root = moved;
    assert_eq!(statuses(&workbook), before);

    // The lesson's folders are renumbered (its id stays).
    for base in ["lessons", "solutions"] {
        std::fs::rename(
            workbook.path(&format!("{base}/01-calm")),
            workbook.path(&format!("{base}/05-calm")),
        )
        .unwrap();
    }
    assert_eq!(statuses(&workbook), before);

    // An exercise is renamed: it starts afresh, the others keep their
    // progress, and the old record is kept, not thrown away.
    for base in ["lessons", "solutions"] {
        std::fs::rename(
            workbook.path(&format!("{base}/05-calm/double")),
            workbook.path(&format!("{base}/05-calm/twice")),
        )
        .unwrap();
    }
    let lesson = workbook.path("lessons/05-calm/lesson.toml");
    let text = std::fs::read_to_string(&lesson).unwrap();
    std::fs::write(&lesson, text.replace("\"double\"", "\"twice\"")).unwrap();
    assert_eq!(
        statuses(&workbook),
        [
            ("calm/greet".to_string(), "failed".to_string(), 0),
            ("calm/twice".to_string(), "not_started".to_string(), 0),
        ]
    );
    assert_eq!(workbook.run(&["hint", "calm/greet"], &[]).code, Some(0));
    let progress = workbook.progress();
    assert_eq!(progress["exercises"]["calm/greet"]["hints_shown"], 2);
    assert_eq!(progress["exercises"]["calm/double"]["status"], "failed");
}

/// Whether the tests run as root, who may write into read-only folders.
fn running_as_root() -> bool {
    let id = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&id.stdout).trim() == "0"
}

#[test]
fn a_read_only_checkout_gives_a_clear_error_and_keeps_the_old_progress() {
    use std::os::unix::fs::PermissionsExt;
    let workbook = Workbook::new();
    assert_eq!(workbook.run(&["hint", "calm/greet"], &[]).code, Some(0));
    let before = workbook.progress_bytes();
    // Root writes into any folder: then the checker runs as `nobody`, for
    // whom the copy (owned by root) is read-only. Otherwise the copy is
    // made read-only for its owner.
    let as_root = running_as_root();
    let wrapper: &[&str] = if as_root {
        for dir in [workbook.dir.path(), workbook.root()] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]
    } else {
        std::fs::set_permissions(workbook.root(), std::fs::Permissions::from_mode(0o555)).unwrap();
        &[]
    };
    let run_read_only = |args: &[&str]| Running::start(workbook.command(wrapper, args, &[])).wait();

    // With the lock file a checker left there, and without: then taking
    // the lock fails first.
    let with_lock = run_read_only(&["hint", "calm/greet"]);
    let lock = workbook.path(".workbook-progress.json.lock");
    assert!(lock.exists());
    let without_lock = if as_root {
        std::fs::remove_file(&lock).unwrap();
        run_read_only(&["hint", "calm/greet"])
    } else {
        std::fs::set_permissions(workbook.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_file(&lock).unwrap();
        std::fs::set_permissions(workbook.root(), std::fs::Permissions::from_mode(0o555)).unwrap();
        run_read_only(&["hint", "calm/greet"])
    };
    let list = run_read_only(&["list"]);
    if !as_root {
        std::fs::set_permissions(workbook.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for hint in [with_lock, without_lock] {
        assert_eq!(hint.code, Some(2), "{hint:?}");
        assert_eq!(hint.stderr.lines().count(), 1, "one line: {}", hint.stderr);
        assert!(
            hint.stderr.contains("cannot save progress")
                && hint.stderr.contains("is read-only for you")
                && hint.stderr.contains("Your previous progress is unchanged"),
            "{}",
            hint.stderr
        );
    }
    assert_eq!(workbook.progress_bytes(), before);
    assert_eq!(workbook.progress_siblings(".tmp"), Vec::<PathBuf>::new());
    // Reading needs no write: the list still shows the progress.
    assert_eq!(list.code, Some(0), "{list:?}");
    assert!(list.stdout.contains("calm/greet"), "{}", list.stdout);
}

#[test]
fn a_check_whose_result_cannot_be_saved_still_shows_its_verdict() {
    let workbook = Workbook::new();
    assert_eq!(workbook.run(&["hint", "calm/greet"], &[]).code, Some(0));
    let before = workbook.progress_bytes();
    // The build and the tests need to write, so no permission or size
    // limit can fail the save alone: a folder where the new progress file
    // is written does.
    std::fs::create_dir(workbook.path(".workbook-progress.json.tmp")).unwrap();
    let run = workbook.run(&["check", "calm/double"], &[]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stdout.contains("calm/double") && run.stdout.contains("0 of 2 tests pass"),
        "the verdict is shown: {run:?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(
        run.stderr.contains("the result above was not recorded")
            && run.stderr.contains("cannot save progress")
            && run.stderr.contains("Your previous progress is unchanged"),
        "{}",
        run.stderr
    );
    assert_eq!(workbook.progress_bytes(), before);
}

#[test]
fn a_full_disk_while_saving_gives_a_clear_error_and_keeps_the_old_progress() {
    let workbook = Workbook::new();
    assert_eq!(workbook.run(&["hint", "calm/greet"], &[]).code, Some(0));
    let before = workbook.progress_bytes();
    // No room to write a single byte of a file: writes fail as on a full
    // disk (with EFBIG rather than ENOSPC), for root too. SIGXFSZ, which
    // would kill the checker at the first byte, is ignored, and ignored
    // signals stay ignored across exec.
    let wrapper = ["sh", "-c", "trap '' XFSZ; ulimit -f 0; exec \"$@\"", "sh"];
    let run = Running::start(workbook.command(&wrapper, &["hint", "calm/greet"], &[])).wait();
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(
        run.stderr.contains("cannot save progress")
            && run.stderr.contains("Your previous progress is unchanged"),
        "{}",
        run.stderr
    );
    assert_eq!(workbook.progress_bytes(), before);
    assert_eq!(workbook.progress_siblings(".tmp"), Vec::<PathBuf>::new());
    // With room again, the same command works.
    assert_eq!(workbook.run(&["hint", "calm/greet"], &[]).code, Some(0));
    assert_eq!(
        workbook.progress()["exercises"]["calm/greet"]["hints_shown"],
        2
    );
}
