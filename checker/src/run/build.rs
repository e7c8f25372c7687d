//! Building exercises with cargo: one `cargo build --tests --keep-going` for
//! every selected package, with its progress read from cargo's own bar.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::cargo::BuildMessages;
use super::process::{self, Exit, LineSink, Tail};

/// How long cargo may build before the checker gives up (a first build of
/// the whole workbook takes minutes on a small machine).
const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What to build, and where.
pub struct Request<'a> {
    pub cargo: &'a OsStr,
    pub root: &'a Path,
    /// Always named: an inherited `CARGO_TARGET_DIR` may be shared with
    /// another checkout, whose artifacts cargo would take for this one's.
    pub target_dir: &'a Path,
    pub packages: Vec<&'a str>,
    pub color: bool,
    /// Variables for cargo and everything it starts (build scripts, rustc).
    pub env: &'a [(String, String)],
}

/// Builds the test binaries of `request.packages` in one cargo run, telling
/// `on_progress` how far it got. Compiler errors are results, not failures;
/// a cargo that cannot work at all is an error.
pub fn cargo(request: &Request, on_progress: Option<OnProgress>) -> Result<BuildMessages> {
    let mut command = Command::new(request.cargo);
    command
        .current_dir(request.root)
        .args(["build", "--tests", "--keep-going", "--message-format"])
        .arg(if request.color {
            "json-diagnostic-rendered-ansi"
        } else {
            "json"
        })
        .arg("--manifest-path")
        .arg(request.root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(request.target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TERM_COLOR", "never")
        .env("CARGO_TERM_PROGRESS_WHEN", "always")
        .env("CARGO_TERM_PROGRESS_WIDTH", "100");
    for (name, value) in request.env {
        command.env(name, value);
    }
    for package in &request.packages {
        command.args(["--package", package]);
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
    .with_context(|| format!("cannot start cargo ({})", request.cargo.to_string_lossy()))?;
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
            .filter(|line| !line.trim_start().starts_with("Compiling") && !line.trim().is_empty())
            .collect();
        bail!(
            "cargo could not build the exercises:\n{}",
            detail.join("\n")
        );
    }
    Ok(messages)
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

/// Build progress for a terminal; for other output (a script, CI, an
/// editor's task), the wait for cargo's lock and, for a long build, a line
/// every few seconds, so that a first build of minutes is not silent.
pub fn build_feedback(terminal: bool) -> OnProgress {
    if terminal {
        return progress_line();
    }
    let lock = lock_notice();
    let slow = slow_build_lines();
    Arc::new(move |progress: &BuildProgress| {
        lock(progress);
        slow(progress);
    })
}

/// How long a build goes before a line says how far it got, and how often.
const SLOW_BUILD_FIRST: Duration = Duration::from_secs(5);
const SLOW_BUILD_EVERY: Duration = Duration::from_secs(10);

/// `   Building 37/141: axum`, once the build has taken a while, then every
/// few seconds; a quick build says nothing.
fn slow_build_lines() -> OnProgress {
    let started = std::time::Instant::now();
    let next = std::sync::Mutex::new(started + SLOW_BUILD_FIRST);
    Arc::new(move |progress: &BuildProgress| {
        if progress.waiting_for_lock || progress.total == 0 {
            return;
        }
        let mut next = next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        if now >= *next {
            *next = now + SLOW_BUILD_EVERY;
            eprintln!(
                "   Building {}/{}: {} ({} s so far)",
                progress.done,
                progress.total,
                progress.current,
                started.elapsed().as_secs()
            );
        }
    })
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
