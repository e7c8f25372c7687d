//! Starting a child process that may misbehave: it may hang, flood its output
//! or leave children behind. Each child gets its own process group so that a
//! timeout or Ctrl-C stops the whole tree, and its output is read line by line
//! into bounded sinks, so a flood costs time but never memory.

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

/// Receives a child's output one line at a time.
pub trait LineSink: Default + Send + 'static {
    fn line(&mut self, line: &str);
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
/// group (also on success: nothing it started outlives it).
pub fn run<O: LineSink, E: LineSink>(
    mut command: Command,
    timeout: Duration,
    stdout: O,
    stderr: E,
) -> io::Result<Finished<O, E>> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    own_process_group(&mut command);
    let mut child = command.spawn()?;
    let group = child.id();
    active_groups()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(group);

    let stdout = Arc::new(Mutex::new(stdout));
    let stderr = Arc::new(Mutex::new(stderr));
    let (done_tx, done_rx) = mpsc::channel();
    let out_pipe = child.stdout.take().expect("stdout is piped");
    let err_pipe = child.stderr.take().expect("stderr is piped");
    spawn_reader(out_pipe, Arc::clone(&stdout), done_tx.clone());
    spawn_reader(err_pipe, Arc::clone(&stderr), done_tx);

    let exit = wait_with_timeout(&mut child, timeout)?;
    kill_group(group);
    active_groups()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|g| *g != group);

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

/// What a sink holds now. A reader still blocked on a pipe that an escaped
/// grandchild holds open keeps writing into the empty sink left behind.
fn take<S: Default>(sink: Arc<Mutex<S>>) -> S {
    let mut guard = sink.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *guard)
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> io::Result<Exit> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(exit_of(status));
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
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
    pipe: R,
    sink: Arc<Mutex<S>>,
    done: mpsc::Sender<u64>,
) {
    thread::spawn(move || {
        let bytes = read_lines(pipe, |line| {
            sink.lock().unwrap_or_else(|e| e.into_inner()).line(line)
        });
        let _ = done.send(bytes);
    });
}

/// Calls `on_line` for every line (without its newline, cut to
/// [`MAX_LINE_BYTES`]); returns how many bytes were read.
pub fn read_lines(mut pipe: impl Read, mut on_line: impl FnMut(&str)) -> u64 {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut line: Vec<u8> = Vec::new();
    let mut total = 0u64;
    loop {
        let read = match pipe.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        total += read as u64;
        for piece in buffer[..read].split_inclusive(|byte| *byte == b'\n') {
            let (content, ends_line) = match piece.strip_suffix(b"\n") {
                Some(content) => (content, true),
                None => (piece, false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(line.len());
            line.extend_from_slice(&content[..content.len().min(room)]);
            if ends_line {
                emit(&mut line, &mut on_line);
            }
        }
    }
    if !line.is_empty() {
        emit(&mut line, &mut on_line);
    }
    total
}

fn emit(line: &mut Vec<u8>, on_line: &mut impl FnMut(&str)) {
    let text = String::from_utf8_lossy(line);
    on_line(text.strip_suffix('\r').unwrap_or(&text));
    line.clear();
}

/// Process groups of the children running now, for the Ctrl-C handler.
fn active_groups() -> &'static Mutex<Vec<u32>> {
    static GROUPS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    &GROUPS
}

/// Kills every running child's process group (used on Ctrl-C).
pub fn kill_all_children() {
    let groups = active_groups()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    for group in groups {
        kill_group(group);
    }
}

#[cfg(unix)]
fn own_process_group(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

#[cfg(not(unix))]
fn own_process_group(_command: &mut Command) {}

/// Kills the process group `group` (a child started by [`run`] leads its own
/// group, so this reaches everything it started). `kill(1)` does it without
/// `unsafe` code or a dependency.
#[cfg(unix)]
fn kill_group(group: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(not(unix))]
fn kill_group(_group: u32) {}

/// Keeps the last lines of a stream, up to a byte budget.
#[derive(Debug, Default)]
pub struct Tail {
    lines: std::collections::VecDeque<String>,
    bytes: usize,
    pub dropped_lines: u64,
}

impl Tail {
    const BUDGET: usize = 64 * 1024;

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }
}

impl LineSink for Tail {
    fn line(&mut self, line: &str) {
        self.bytes += line.len();
        self.lines.push_back(line.to_string());
        while self.bytes > Self::BUDGET {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len();
            self.dropped_lines += 1;
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
}
