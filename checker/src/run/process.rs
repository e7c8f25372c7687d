//! Starting a child process that may misbehave: it may hang, flood its output
//! or leave children behind. Each child gets its own process group so that a
//! timeout or Ctrl-C stops the whole tree, and its output is read line by line
//! into bounded sinks, so a flood costs time but never memory.
//!
//! A process group does not hold everything: a test can start a child in a
//! group or session of its own (`setsid`, `process_group(0)`) and let it be
//! orphaned. So each child (but cargo) also carries a marker in its
//! environment, which its descendants inherit wherever they go; on Linux,
//! stopping a run also kills every process that still carries the run's
//! marker. Only a descendant that both leaves the group and clears its
//! environment escapes.

use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Lines longer than this are cut; the rest of the line is counted, not kept.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// How long to wait for the output pipes to close once the child has exited
/// (a grandchild that escaped the process group may hold them open).
const PIPE_GRACE: Duration = Duration::from_secs(2);
/// The environment variable that marks every process a run started.
pub const MARKER_VAR: &str = "WORKBOOK_CHECKER_RUN";

/// Receives a child's output one line at a time.
pub trait LineSink: Default + Send + 'static {
    fn line(&mut self, line: &str);

    /// The stream has ended, or the run is over and the sink is taken:
    /// complete whatever is pending. May be called more than once.
    fn finish(&mut self) {}
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Code(i32),
    /// Killed by a signal it did not ask for (a crash, or an outside kill).
    Signal(i32),
    TimedOut,
}

/// A finished child: how it ended, what its sinks collected, how much it wrote.
pub struct Finished<O, E> {
    pub exit: Exit,
    pub stdout: O,
    pub stderr: E,
    pub output_bytes: u64,
}

/// Runs `command` to completion or until `timeout`, then kills its process
/// group and every process carrying its marker (also on success: nothing it
/// started outlives it).
pub fn run<O: LineSink, E: LineSink>(
    mut command: Command,
    timeout: Duration,
    stdout: O,
    stderr: E,
) -> io::Result<Finished<O, E>> {
    let marker = new_marker();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !is_cargo(&command) {
        command.env(MARKER_VAR, &marker);
    }
    own_process_group(&mut command);
    let mut child = {
        // Spawning and registering under one lock: Ctrl-C cannot come
        // between them and miss the child.
        let mut running = running();
        if running.exiting {
            drop(running);
            wait_for_exit();
        }
        let child = command.spawn()?;
        running.runs.push(Tracked {
            group: child.id(),
            marker: marker.clone(),
        });
        child
    };
    let group = child.id();

    let stdout = Arc::new(Mutex::new(stdout));
    let stderr = Arc::new(Mutex::new(stderr));
    let (done_tx, done_rx) = mpsc::channel();
    let out_pipe = child.stdout.take().expect("stdout is piped");
    let err_pipe = child.stderr.take().expect("stderr is piped");
    spawn_reader(out_pipe, Arc::clone(&stdout), done_tx.clone());
    spawn_reader(err_pipe, Arc::clone(&stderr), done_tx);

    let exit = wait_with_timeout(child, timeout);
    stop_tree(group, &marker);
    let exiting = {
        let mut running = running();
        running.runs.retain(|run| run.group != group);
        running.exiting
    };
    if exiting {
        // The checker is exiting and killed this run on its way out: what
        // the run looks like now is no result, so nobody may grade it.
        wait_for_exit();
    }
    let exit = exit?;

    let mut output_bytes = 0;
    let deadline = Instant::now() + PIPE_GRACE;
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left) {
            Ok(bytes) => output_bytes += bytes,
            Err(_) => break,
        }
    }
    Ok(Finished {
        exit,
        stdout: take(stdout),
        stderr: take(stderr),
        output_bytes,
    })
}

/// Helpers that cargo's build starts on purpose to outlive it (an `sccache`
/// server, say) must not be hunted down: only what tests start is marked.
/// A build's process group is killed all the same.
fn is_cargo(command: &Command) -> bool {
    std::path::Path::new(command.get_program())
        .file_stem()
        .is_some_and(|stem| stem == "cargo")
}

/// What a sink holds now. A reader still blocked on a pipe that an escaped
/// grandchild holds open keeps writing into the empty sink left behind.
fn take<S: LineSink>(sink: Arc<Mutex<S>>) -> S {
    let mut guard = sink.lock().unwrap_or_else(|e| e.into_inner());
    guard.finish();
    std::mem::take(&mut *guard)
}

/// Waits for `child` until `timeout`, then kills its group. A thread blocks
/// in `wait` meanwhile, so an exit is seen at once, not at the next poll.
#[cfg(unix)]
fn wait_with_timeout(child: Child, timeout: Duration) -> io::Result<Exit> {
    let pid = child.id();
    let (done, exited) = mpsc::channel();
    thread::spawn(move || {
        let mut child = child;
        let _ = done.send(child.wait());
    });
    match exited.recv_timeout(timeout) {
        Ok(status) => Ok(exit_of(status?)),
        Err(_) => {
            // The child leads its group: this kills it and all it started
            // (and the child by its pid, should it have left the group; it
            // is not reaped yet, so the pid is still its own).
            send_kill(&[format!("-{pid}"), pid.to_string()]);
            let _ = exited.recv();
            Ok(Exit::TimedOut)
        }
    }
}

#[cfg(not(unix))]
fn wait_with_timeout(mut child: Child, timeout: Duration) -> io::Result<Exit> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(exit_of(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Exit::TimedOut);
        }
        thread::sleep(pause);
        // Short polls keep a fast test fast; longer ones keep a slow one cheap.
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn exit_of(status: ExitStatus) -> Exit {
    if status.success() {
        return Exit::Success;
    }
    if let Some(code) = status.code() {
        return Exit::Code(code);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return Exit::Signal(signal);
        }
    }
    Exit::Code(-1)
}

fn spawn_reader<R: Read + Send + 'static, S: LineSink>(
    mut pipe: R,
    sink: Arc<Mutex<S>>,
    done: mpsc::Sender<u64>,
) {
    thread::spawn(move || {
        let mut lines = Lines::default();
        let mut buffer = vec![0u8; READ_BYTES];
        let mut total = 0u64;
        while let Some(read) = read_some(&mut pipe, &mut buffer) {
            total += read as u64;
            // One lock per read, not per line: a flood of short lines is
            // mostly locking otherwise.
            let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
            lines.feed(&buffer[..read], &mut |line| sink.line(line));
        }
        let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
        lines.finish(&mut |line| sink.line(line));
        sink.finish();
        drop(sink);
        let _ = done.send(total);
    });
}

const READ_BYTES: usize = 64 * 1024;

/// Reads what is there; `None` at the end of the stream (or an error).
fn read_some(pipe: &mut impl Read, buffer: &mut [u8]) -> Option<usize> {
    loop {
        match pipe.read(buffer) {
            Ok(0) => return None,
            Ok(read) => return Some(read),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// Calls `on_line` for every line (without its newline, cut to
/// [`MAX_LINE_BYTES`]); returns how many bytes were read.
#[cfg(test)]
fn read_lines(mut pipe: impl Read, mut on_line: impl FnMut(&str)) -> u64 {
    let mut lines = Lines::default();
    let mut buffer = vec![0u8; READ_BYTES];
    let mut total = 0u64;
    while let Some(read) = read_some(&mut pipe, &mut buffer) {
        total += read as u64;
        lines.feed(&buffer[..read], &mut on_line);
    }
    lines.finish(&mut on_line);
    total
}

/// Splits a byte stream into lines, whatever the sizes of the reads; a line
/// longer than [`MAX_LINE_BYTES`] is cut, the rest of it counted only.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, bytes: &[u8], on_line: &mut impl FnMut(&str)) {
        for piece in bytes.split_inclusive(|byte| *byte == b'\n') {
            match piece.strip_suffix(b"\n") {
                // The common case: a whole line within one read, not copied.
                Some(content) if self.partial.is_empty() => {
                    emit(&content[..content.len().min(MAX_LINE_BYTES)], on_line);
                }
                Some(content) => {
                    self.append(content);
                    emit(&self.partial, on_line);
                    self.partial.clear();
                }
                None => self.append(piece),
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        let room = MAX_LINE_BYTES.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The last line, if the stream did not end with a newline.
    fn finish(&mut self, on_line: &mut impl FnMut(&str)) {
        if !self.partial.is_empty() {
            emit(&self.partial, on_line);
            self.partial.clear();
        }
    }
}

fn emit(line: &[u8], on_line: &mut impl FnMut(&str)) {
    let text = String::from_utf8_lossy(line);
    on_line(text.strip_suffix('\r').unwrap_or(&text));
}

/// A run in progress: its process group and its marker.
#[derive(Debug, Clone)]
struct Tracked {
    group: u32,
    marker: String,
}

/// The runs in progress, for Ctrl-C and quitting.
struct Running {
    runs: Vec<Tracked>,
    /// Set by [`kill_all_children`]: the checker is on its way out.
    exiting: bool,
}

fn running() -> std::sync::MutexGuard<'static, Running> {
    static RUNNING: Mutex<Running> = Mutex::new(Running {
        runs: Vec::new(),
        exiting: false,
    });
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// A marker no other run of any checker uses: this checker's process id and
/// a count.
fn new_marker() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// Kills every running child's process tree, for a checker that is about to
/// exit (Ctrl-C, a signal, quitting watch mode). From then on no child
/// starts, and a thread whose run was killed waits for the exit instead of
/// grading what is left of the run: progress never records a run that
/// Ctrl-C cut short. Not for cancelling a run and going on.
pub fn kill_all_children() {
    let runs = {
        let mut running = running();
        running.exiting = true;
        running.runs.clone()
    };
    for run in runs {
        stop_tree(run.group, &run.marker);
    }
}

/// Parks the calling thread until the process exits.
fn wait_for_exit() -> ! {
    loop {
        thread::park();
    }
}

/// Kills what is left of a run: its process group, and whatever carries its
/// marker (a descendant that left the group), until none is left.
#[cfg(target_os = "linux")]
fn stop_tree(group: u32, marker: &str) {
    // Usually nothing is left, and reading /proc costs less than starting
    // `kill`. A process being killed still shows up for a moment; a few
    // rounds also catch one that forked while the last round ran.
    for _ in 0..10 {
        let left = leftovers(group, marker);
        if left.is_empty() {
            return;
        }
        let mut targets = vec![format!("-{group}")];
        targets.extend(left.iter().map(u32::to_string));
        send_kill(&targets);
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_tree(group: u32, _marker: &str) {
    send_kill(&[format!("-{group}")]);
}

/// Live processes in process group `group` or whose environment holds
/// `MARKER_VAR=marker`, read from /proc.
#[cfg(target_os = "linux")]
fn leftovers(group: u32, marker: &str) -> Vec<u32> {
    let wanted = format!("{MARKER_VAR}={marker}");
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter(|pid| {
            // `PID (NAME) STATE PPID PGRP ...`; the name may hold anything.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, fields)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut fields = fields.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let pgrp = fields.nth(1).and_then(|pgrp| pgrp.parse::<u32>().ok());
            // A zombie is dead already; its parent or init reaps it.
            if state == "Z" || state == "X" {
                return false;
            }
            // Other users' processes cannot be read, and one that has
            // exited reads as empty: neither matches.
            pgrp == Some(group)
                || std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                    environ
                        .split(|byte| *byte == 0)
                        .any(|entry| entry == wanted.as_bytes())
                })
        })
        .collect()
}

#[cfg(unix)]
fn own_process_group(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

#[cfg(not(unix))]
fn own_process_group(_command: &mut Command) {}

/// `kill -KILL -- TARGETS`: a pid, or minus a process group id (a child
/// started by [`run`] leads its own group, so this reaches everything it
/// started). `kill(1)` does it without `unsafe` code or a dependency.
#[cfg(unix)]
fn send_kill(targets: &[String]) {
    let _ = Command::new("kill")
        .args(["-KILL", "--"])
        .args(targets)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(not(unix))]
fn send_kill(_targets: &[String]) {}

/// Keeps the last lines of a stream, up to a byte budget. Each line costs
/// its bytes and its newline, so a flood of empty lines is bounded too.
#[derive(Debug, Default)]
pub struct Tail {
    lines: std::collections::VecDeque<String>,
    bytes: usize,
    pub dropped_lines: u64,
    /// Bytes of the dropped lines, newlines included.
    pub dropped_bytes: u64,
}

impl Tail {
    const BUDGET: usize = 64 * 1024;

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }
}

impl LineSink for Tail {
    fn line(&mut self, line: &str) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line.to_string());
        while self.bytes > Self::BUDGET {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len() + 1;
            self.dropped_lines += 1;
            self.dropped_bytes += old.len() as u64 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_lines_splits_lines_across_reads_and_cuts_long_ones() {
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        let input = format!("one\ntwo\r\n{long}\nlast");
        let mut lines = Vec::new();
        let total = read_lines(input.as_bytes(), |line| lines.push(line.to_string()));
        assert_eq!(total, input.len() as u64);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "one");
        assert_eq!(lines[1], "two");
        assert_eq!(lines[2].len(), MAX_LINE_BYTES);
        assert_eq!(lines[3], "last");
    }

    #[test]
    fn tail_keeps_the_newest_lines_within_its_budget() {
        let mut tail = Tail::default();
        for n in 0..100_000 {
            tail.line(&format!("line {n}"));
        }
        assert!(tail.bytes <= Tail::BUDGET);
        assert!(tail.dropped_lines > 0);
        assert_eq!(tail.lines().last(), Some("line 99999"));
    }

    #[test]
    fn a_flood_of_empty_lines_is_bounded_and_counted() {
        let mut tail = Tail::default();
        for _ in 0..1_000_000 {
            tail.line("");
        }
        assert!(tail.lines.len() <= Tail::BUDGET);
        assert_eq!(tail.dropped_bytes + tail.bytes as u64, 1_000_000);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_that_left_the_group_is_found_by_its_marker() {
        use std::os::unix::process::{CommandExt, ExitStatusExt};
        let marker = new_marker();
        // In a group of its own, as a test's `setsid` child would be.
        let mut escaped = Command::new("sleep")
            .arg("60")
            .env(MARKER_VAR, &marker)
            .process_group(0)
            .spawn()
            .unwrap();
        let other = Command::new("sleep")
            .arg("60")
            .env(MARKER_VAR, format!("{marker}0"))
            .spawn()
            .unwrap();
        // A process shows its environment once its exec is complete, a
        // moment after `spawn` returns.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut marked = leftovers(u32::MAX / 2, &marker);
        while marked.is_empty() && Instant::now() < deadline {
            thread::yield_now();
            marked = leftovers(u32::MAX / 2, &marker);
        }
        assert_eq!(marked, vec![escaped.id()]);
        stop_tree(u32::MAX / 2, &marker);
        assert_eq!(escaped.wait().unwrap().signal(), Some(9));
        let mut other = other;
        assert_eq!(other.try_wait().unwrap(), None, "another marker is spared");
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
