//! The learner's shop as a process: started with the contract's environment,
//! its output read line by line (the announcement on standard output; all of
//! it kept for the secrets check and for a crash report), stopped with
//! SIGTERM, and always killed in the end.
//!
//! The shop stays in the grader's process group: when the checker stops the
//! grader (time limit, Ctrl-C) it kills the group, the shop with it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::failure::Failure;

/// How long a shop may take to announce that it listens.
pub const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a shop may take to exit after SIGTERM, or after a bad start.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most output kept per process (its start and its end survive).
const OUTPUT_LIMIT: usize = 4 << 20;
const ANNOUNCEMENT: &str = "listening on http://";

/// Everything a shop wrote, both streams interleaved by line as read.
#[derive(Debug, Clone, Default)]
pub struct Output(Arc<Mutex<OutputInner>>);

#[derive(Debug, Default)]
struct OutputInner {
    stdout: Vec<String>,
    stderr: Vec<String>,
    kept: usize,
    dropped: usize,
}

impl Output {
    fn push(&self, stderr: bool, line: String) {
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if inner.kept + line.len() > OUTPUT_LIMIT {
            inner.dropped += line.len();
            return;
        }
        inner.kept += line.len();
        if stderr {
            inner.stderr.push(line);
        } else {
            inner.stdout.push(line);
        }
    }

    /// Every line written to standard output and standard error.
    pub fn all_lines(&self) -> Vec<String> {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.stdout.iter().chain(&inner.stderr).cloned().collect()
    }

    /// The last lines of standard error (then of standard output), for a
    /// message about a shop that died.
    pub fn last_words(&self, lines: usize) -> String {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let source = if inner.stderr.is_empty() {
            &inner.stdout
        } else {
            &inner.stderr
        };
        let start = source.len().saturating_sub(lines);
        let mut text: String = source[start..]
            .iter()
            .map(|line| format!("{}\n", clip(line, 300)))
            .collect();
        if text.is_empty() {
            text = "(it wrote nothing)".into();
        }
        text
    }

    /// Whether standard error holds an announcement (that belonged on
    /// standard output).
    pub fn announced_on_stderr(&self) -> bool {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.stderr.iter().any(|line| line.contains(ANNOUNCEMENT))
    }

    pub fn stderr_text(&self) -> String {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.stderr.join("\n")
    }
}

fn clip(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// How the grader starts a shop: its binary, its environment.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// The environment with `name` set to `value` (or removed, for `None`).
    pub fn with(&self, name: &str, value: Option<&str>) -> Launch {
        let mut launch = self.clone();
        launch.env.retain(|(n, _)| n != name);
        if let Some(value) = value {
            launch.env.push((name.to_string(), value.to_string()));
        }
        launch
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The shell line that starts the shop as the grader did, for messages.
    pub fn command_line(&self) -> String {
        let mut line: Vec<String> = self
            .env
            .iter()
            .map(|(name, value)| {
                // The grader's database lives in a folder removed with the
                // run: a file of the same name here is what to try.
                let value = match name.as_str() {
                    "SHOP_DATABASE_PATH" => Path::new(value)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_else(|| value.clone()),
                    _ => value.clone(),
                };
                format!("{name}={}", crate::http::shell_quote(&value))
            })
            .collect();
        line.push(crate::http::shell_quote(&self.binary.display().to_string()));
        line.join(" ")
    }
}

pub struct Shop {
    child: Child,
    lines: Receiver<(bool, String)>,
    pub output: Output,
    /// `http://127.0.0.1:PORT`, from the announcement.
    pub url: String,
    exited: Option<ExitStatus>,
}

/// What became of a shop that was started.
pub enum Start {
    Listening(Shop),
    /// It exited before announcing; the status and what it wrote.
    Exited(ExitStatus, Output),
    /// It never announced within the time given; it was killed.
    Silent(Output),
}

impl Shop {
    /// Starts the shop and waits for its announcement.
    pub fn start(launch: &Launch, timeout: Duration) -> Result<Start, Failure> {
        // Absolute: the shop runs in its binary's folder.
        let binary = std::path::absolute(&launch.binary).unwrap_or_else(|_| launch.binary.clone());
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .envs(inherited())
            .envs(launch.env.iter().map(|(n, v)| (n, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = binary.parent() {
            command.current_dir(dir);
        }
        let mut child = command.spawn().map_err(|error| {
            Failure::new(format!("could not start the shop: {error}"))
                .expected(format!("a program at {}", launch.binary.display()))
        })?;
        let output = Output::default();
        let (sender, lines) = mpsc::channel();
        for (stderr, stream) in [
            (
                false,
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
            (
                true,
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn Read + Send>),
            ),
        ] {
            let Some(stream) = stream else { continue };
            let output = output.clone();
            let sender = sender.clone();
            std::thread::spawn(move || read_lines(stream, stderr, output, sender));
        }
        drop(sender);
        let mut shop = Shop {
            child,
            lines,
            output,
            url: String::new(),
            exited: None,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match shop.lines.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok((false, line)) => {
                    if let Some(url) = announced_url(&line) {
                        shop.url = url;
                        return Ok(Start::Listening(shop));
                    }
                }
                Ok((true, _)) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Both streams closed: it exited (or closed them).
                    let status = shop.wait_for(EXIT_TIMEOUT);
                    let output = shop.output.clone();
                    return Ok(match status {
                        Some(status) => Start::Exited(status, output),
                        None => Start::Silent(output),
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = shop.child.try_wait() {
                        shop.exited = Some(status);
                        return Ok(Start::Exited(status, shop.output.clone()));
                    }
                    if Instant::now() >= deadline {
                        shop.kill();
                        return Ok(Start::Silent(shop.output.clone()));
                    }
                }
            }
        }
    }

    /// Whether the process has exited, and how.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then up to [`EXIT_TIMEOUT`] for it to exit; killed if it
    /// does not. Returns its exit status, `None` if it had to be killed.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Some(status);
        }
        signal(self.child.id(), "TERM");
        let status = self.wait_for(EXIT_TIMEOUT);
        if status.is_none() {
            self.kill();
        }
        status
    }

    pub fn kill(&mut self) {
        if self.exit_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The URL in an announcement line: `listening on http://127.0.0.1:41234`.
fn announced_url(line: &str) -> Option<String> {
    let rest = line.trim_end().strip_prefix(ANNOUNCEMENT)?;
    let addr: std::net::SocketAddr = rest.parse().ok()?;
    Some(format!("http://{addr}"))
}

fn read_lines(
    stream: Box<dyn Read + Send>,
    stderr: bool,
    output: Output,
    sender: mpsc::Sender<(bool, String)>,
) {
    let mut reader = BufReader::new(stream);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(b'\n', &mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line =
                    strip_ansi(String::from_utf8_lossy(&buffer).trim_end_matches(['\n', '\r']));
                output.push(stderr, line.clone());
                // Nobody listens once the announcement was read: fine.
                let _ = sender.send((stderr, line));
            }
        }
    }
}

/// A line without terminal colour codes (`ESC [ ... m`): a logger that
/// colours its output everywhere would fill messages with them.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.clone().next() == Some('[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// What the shop keeps of the grader's environment: enough to run, nothing
/// of the learner's shell that could change its behaviour (`SHOP_*`,
/// `RUST_LOG`, `DATABASE_URL`...).
fn inherited() -> Vec<(String, String)> {
    ["PATH", "HOME", "TMPDIR", "LANG", "SYSTEMROOT"]
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .chain([("RUST_BACKTRACE".to_string(), "0".to_string())])
        .collect()
}

/// Sends a signal with `kill(1)`: the workspace forbids `unsafe`, and this
/// is rare enough for a process start to cost nothing that matters.
fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Describes an exit status for a learner: `status 1`, `signal 9`.
pub fn describe(status: &ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "an unknown exit status".into(),
    }
}

/// A new folder for a shop's database, removed with the run.
pub fn database_path(dir: &Path, name: &str) -> String {
    dir.join(format!("{name}.sqlite3")).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_taken_out_of_lines() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m ready"),
            "2026  INFO ready"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn only_an_exact_announcement_gives_the_url() {
        assert_eq!(
            announced_url("listening on http://127.0.0.1:41234").as_deref(),
            Some("http://127.0.0.1:41234")
        );
        assert_eq!(announced_url("listening on http://127.0.0.1:0x"), None);
        assert_eq!(announced_url("INFO listening on http://127.0.0.1:4"), None);
        assert_eq!(announced_url("listening on http://localhost:3000"), None);
    }
}
