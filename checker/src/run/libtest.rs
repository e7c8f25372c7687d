//! Reads the human output of a libtest binary (stable Rust has no
//! machine-readable test output): `test NAME ... ok|FAILED|ignored` lines and
//! the `---- NAME stdout ----` blocks of the `failures:` section.
//!
//! The tests' own code writes to the same stream (a child process, or
//! `io::stdout()`, which libtest does not capture), so everything here is
//! bounded, whatever it prints: each test's output keeps its start and its
//! end, at most [`MAX_BLOCKS`] outputs are kept, and the names of results fit
//! in [`NAMES_BUDGET`]. A line that
//! imitates libtest's cannot turn a failure into a pass: a test reported
//! twice with different results has failed.

use std::collections::{HashMap, VecDeque};

use super::process::LineSink;

/// How much of the start and of the end of one test's captured output is
/// kept. The end matters most: a panic message comes last.
const HEAD_BYTES: usize = 8 * 1024;
const TAIL_BYTES: usize = 8 * 1024;
/// What a kept line costs beyond its text (its newline, its allocation), so
/// that a flood of empty lines is bounded like any other.
const LINE_COST: usize = 32;
/// How many bytes of test names (results and output blocks) one run may
/// hold; a real test binary uses a few kilobytes.
pub const NAMES_BUDGET: usize = 4 << 20;
/// How many tests' outputs one run may hold (each up to `HEAD_BYTES +
/// TAIL_BYTES`, and a name up to a line's length), apart from the names
/// budget: a flood of fake results cannot crowd out the real failures.
const MAX_BLOCKS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestState {
    Passed,
    Failed,
    Ignored,
}

/// What one run of a test binary reported.
#[derive(Debug, Default)]
pub struct LibtestOutput {
    /// Results in the order they were first reported, one per test.
    pub results: Vec<(String, TestState)>,
    /// Where each test is in `results`.
    index: HashMap<String, usize>,
    /// Captured output of failed tests, by name (complete once the stream
    /// is finished).
    pub outputs: HashMap<String, CapturedOutput>,
    /// libtest's closing `test result:` line (the last one seen): a run
    /// without it ended early, whatever its results said.
    pub summary: Option<Summary>,
    /// libtest has begun its `failures:` section, where output blocks are.
    in_failures: bool,
    block: Block,
    /// Bytes of names held in `results` and `index`.
    names_bytes: usize,
    /// Result lines and output blocks left out because the run had named
    /// too many tests already (only output imitating libtest's does that).
    pub dropped_names: u64,
    /// Lines that are not libtest's own (output of child processes, crashes).
    pub stray: super::process::Tail,
    /// The tests `--list` named: results and output blocks of any other name
    /// are the tests' own output imitating libtest's, and cost no budget.
    expected: Option<std::collections::HashSet<String>>,
}

/// Which test's output block the lines belong to. The open block is kept
/// out of `outputs`, so that a line costs no lookup.
#[derive(Debug, Default)]
enum Block {
    #[default]
    None,
    Test(String, CapturedOutput),
    /// A block past the budget: its lines are dropped.
    Dropped,
}

#[derive(Debug, Default, Clone)]
pub struct CapturedOutput {
    head: Vec<String>,
    head_bytes: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    /// Bytes dropped between the head and the tail.
    pub cut_bytes: usize,
}

impl LineSink for LibtestOutput {
    fn line(&mut self, line: &str) {
        // Output blocks come after the results, in the `failures:` section:
        // one printed earlier is the tests' own output imitating libtest.
        if let Some(name) =
            block_start(line).filter(|name| self.in_failures && self.is_expected(name))
        {
            self.close_block();
            self.block = match self.outputs.remove(name) {
                Some(output) => Block::Test(name.to_string(), output),
                None if self.outputs.len() < MAX_BLOCKS => {
                    Block::Test(name.to_string(), CapturedOutput::default())
                }
                None => {
                    self.dropped_names += 1;
                    Block::Dropped
                }
            };
            return;
        }
        if line == "failures:" || line.starts_with("test result: ") {
            self.close_block();
            self.in_failures |= line == "failures:";
            if let Some(summary) = summary_line(line) {
                self.summary = Some(summary);
            }
            return;
        }
        match &mut self.block {
            Block::Test(_, output) => return output.push(line),
            Block::Dropped => return,
            Block::None => {}
        }
        if let Some((name, state)) = result_line(line) {
            if self.is_expected(name) {
                self.record(name, state);
            } else {
                self.dropped_names += 1;
            }
            return;
        }
        if !line.is_empty() && !line.starts_with("running ") && !line.starts_with("    ") {
            self.stray.line(line);
        }
    }

    fn finish(&mut self) {
        self.close_block();
    }
}

impl LibtestOutput {
    /// A reader that believes only results of the tests `--list` named.
    pub fn expecting(names: &[String]) -> LibtestOutput {
        LibtestOutput {
            expected: Some(names.iter().cloned().collect()),
            ..LibtestOutput::default()
        }
    }

    fn is_expected(&self, name: &str) -> bool {
        self.expected
            .as_ref()
            .is_none_or(|expected| expected.contains(name))
    }

    fn close_block(&mut self) {
        if let Block::Test(name, output) = std::mem::take(&mut self.block) {
            self.outputs.insert(name, output);
        }
        self.block = Block::None;
    }

    fn record(&mut self, name: &str, state: TestState) {
        if let Some(&at) = self.index.get(name) {
            // libtest reports a test once: a second, different report is
            // the tests' own output imitating it, and a failure wins.
            let known = &mut self.results[at].1;
            if *known != state {
                *known = TestState::Failed;
            }
            return;
        }
        if !self.take_names(2 * name.len()) {
            self.dropped_names += 1;
            return;
        }
        self.index.insert(name.to_string(), self.results.len());
        self.results.push((name.to_string(), state));
    }

    /// Books `bytes` of names (plus their bookkeeping) if the budget allows.
    fn take_names(&mut self, bytes: usize) -> bool {
        let cost = bytes + 2 * LINE_COST;
        if self.names_bytes + cost > NAMES_BUDGET {
            return false;
        }
        self.names_bytes += cost;
        true
    }
}

/// The counts of libtest's `test result: ok. 3 passed; 1 failed; ...` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub ok: bool,
    pub passed: usize,
    pub failed: usize,
    pub ignored: usize,
}

fn summary_line(line: &str) -> Option<Summary> {
    let rest = line.strip_prefix("test result: ")?;
    let (verdict, counts) = rest.split_once(". ")?;
    let mut summary = Summary {
        ok: verdict == "ok",
        passed: 0,
        failed: 0,
        ignored: 0,
    };
    for count in counts.split("; ") {
        let (number, what) = count.split_once(' ')?;
        let Ok(number) = number.parse() else {
            continue;
        };
        match what {
            "passed" => summary.passed = number,
            "failed" => summary.failed = number,
            "ignored" => summary.ignored = number,
            _ => {}
        }
    }
    Some(summary)
}

fn block_start(line: &str) -> Option<&str> {
    let name = line.strip_prefix("---- ")?;
    name.strip_suffix(" stdout ----")
        .or_else(|| name.strip_suffix(" stderr ----"))
}

fn result_line(line: &str) -> Option<(&str, TestState)> {
    let rest = line.strip_prefix("test ")?;
    let (name, verdict) = rest.rsplit_once(" ... ")?;
    let state = match verdict {
        "ok" => TestState::Passed,
        "FAILED" => TestState::Failed,
        v if v.starts_with("ignored") => TestState::Ignored,
        _ => return None,
    };
    Some((name, state))
}

/// Test names from `--list --format terse` (`name: test` lines).
pub fn listed_tests(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

/// The panic that failed a test, read from its captured output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    /// `tests/hello.rs:23:5`
    pub location: String,
    pub message: String,
}

impl CapturedOutput {
    fn push(&mut self, line: &str) {
        let cost = line.len() + LINE_COST;
        if self.tail.is_empty() && self.head_bytes + cost <= HEAD_BYTES {
            self.head_bytes += cost;
            self.head.push(line.to_string());
            return;
        }
        self.tail_bytes += cost;
        self.tail.push_back(line.to_string());
        while self.tail_bytes > TAIL_BYTES {
            let Some(old) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= old.len() + LINE_COST;
            self.cut_bytes += old.len() + 1;
        }
    }

    /// The kept lines, with a marker where the middle was cut.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.head.clone();
        if self.cut_bytes > 0 {
            lines.push(format!(
                "[... {} of output cut here ...]",
                super::human_bytes(self.cut_bytes as u64)
            ));
        }
        lines.extend(self.tail.iter().cloned());
        lines
    }

    /// The panic of the test's own thread, else the last panic seen.
    pub fn panic(&self, test_name: &str) -> Option<Panic> {
        let short_name = test_name.rsplit("::").next().unwrap_or(test_name);
        let mut panics = Vec::new();
        let all = self.lines();
        let mut lines = all.iter().peekable();
        while let Some(line) = lines.next() {
            let Some((thread, location)) = panic_line(line) else {
                continue;
            };
            let mut message = Vec::new();
            while let Some(next) = lines.peek() {
                if panic_line(next).is_some() || next.starts_with("note: run with `RUST_BACKTRACE")
                {
                    break;
                }
                message.push(lines.next().expect("peeked").as_str());
            }
            let own = thread == test_name || thread.ends_with(short_name);
            panics.push((
                own,
                Panic {
                    location,
                    message: tidy(&message),
                },
            ));
        }
        let own = panics.iter().rposition(|(own, _)| *own);
        let chosen = own.unwrap_or(panics.len().checked_sub(1)?);
        Some(panics.swap_remove(chosen).1)
    }

    /// Everything the test printed that is not the chosen panic.
    pub fn text(&self) -> String {
        self.lines()
            .iter()
            .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE"))
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    }
}

/// `thread 'name' (123) panicked at tests/x.rs:1:2:` or the older form
/// without the thread id, also with the message on the same line.
fn panic_line(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix("thread '")?;
    let (thread, rest) = rest.split_once('\'')?;
    let (_, location) = rest.split_once("panicked at ")?;
    let location = location.trim_end_matches(':');
    let location = location.split(": ").next().unwrap_or(location).to_string();
    Some((thread.to_string(), location))
}

fn tidy(lines: &[&str]) -> String {
    let text = lines.join("\n");
    text.trim_matches('\n').trim_end().to_string()
}

/// What a test binary that printed `text` reported.
#[cfg(test)]
pub fn parse(text: &str) -> LibtestOutput {
    let mut output = LibtestOutput::default();
    for line in text.lines() {
        output.line(line);
    }
    output.finish();
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "
running 3 tests
test adds ... ok
test server::says_hello ... FAILED
test slow ... ignored, takes a minute

failures:

---- server::says_hello stdout ----
printed by the test
thread 'tokio-runtime-worker' (77) panicked at src/lib.rs:3:5:
not yet implemented
thread 'server::says_hello' (76) panicked at tests/hello.rs:23:5:

expected status 200 OK, got 404 Not Found
  request:  GET /
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    server::says_hello

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    #[test]
    fn results_are_read_in_order_with_their_states() {
        let output = parse(RUN);
        assert_eq!(
            output.results,
            vec![
                ("adds".to_string(), TestState::Passed),
                ("server::says_hello".to_string(), TestState::Failed),
                ("slow".to_string(), TestState::Ignored),
            ]
        );
        assert_eq!(
            output.summary,
            Some(Summary {
                ok: false,
                passed: 1,
                failed: 1,
                ignored: 1
            })
        );
    }

    #[test]
    fn a_run_that_stopped_before_libtests_summary_has_none() {
        let output = parse("running 2 tests\ntest adds ... ok\ntest exits ... ok\n");
        assert_eq!(output.summary, None);
        let output = parse(
            "test adds ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n",
        );
        assert_eq!(
            output.summary,
            Some(Summary {
                ok: true,
                passed: 1,
                failed: 0,
                ignored: 0
            })
        );
    }

    #[test]
    fn the_failing_threads_own_panic_is_chosen_over_a_workers() {
        let output = parse(RUN);
        let captured = &output.outputs["server::says_hello"];
        let panic = captured.panic("server::says_hello").expect("a panic");
        assert_eq!(panic.location, "tests/hello.rs:23:5");
        assert_eq!(
            panic.message,
            "expected status 200 OK, got 404 Not Found\n  request:  GET /"
        );
        assert!(captured.text().starts_with("printed by the test"));
    }

    #[test]
    fn a_panic_with_its_message_on_the_same_line_is_read() {
        let output = parse(
            "test a ... FAILED\n\nfailures:\n\n---- a stdout ----\nthread 'a' panicked at src/main.rs:2:5:\nboom\n\nfailures:\n    a\n",
        );
        let panic = output.outputs["a"].panic("a").expect("a panic");
        assert_eq!(panic.location, "src/main.rs:2:5");
        assert_eq!(panic.message, "boom");
    }

    #[test]
    fn captured_output_is_bounded() {
        let mut output = LibtestOutput::default();
        output.line("failures:");
        output.line("---- flood stdout ----");
        for _ in 0..100_000 {
            output.line("spam spam spam spam");
        }
        output.line("thread 'flood' panicked at tests/flood.rs:9:5:");
        output.line("the message after the flood");
        output.line("failures:");
        let captured = &output.outputs["flood"];
        assert!(captured.head_bytes <= HEAD_BYTES && captured.tail_bytes <= TAIL_BYTES);
        assert!(captured.cut_bytes > 1_000_000);
        let panic = captured
            .panic("flood")
            .expect("the panic after the flood is kept");
        assert_eq!(panic.message, "the message after the flood");
    }

    #[test]
    fn a_flood_of_empty_lines_in_a_tests_output_is_bounded() {
        let mut output = LibtestOutput::default();
        output.line("failures:");
        output.line("---- quiet stdout ----");
        for _ in 0..1_000_000 {
            output.line("");
        }
        output.finish();
        let captured = &output.outputs["quiet"];
        assert!(captured.head.len() + captured.tail.len() <= (HEAD_BYTES + TAIL_BYTES) / LINE_COST);
        assert!(captured.cut_bytes > 900_000);
    }

    #[test]
    fn output_imitating_libtest_cannot_turn_a_failure_into_a_pass() {
        // The test printed a fake line with `io::stdout()` before failing.
        let output = parse("test adds ... ok\ntest sneaky ... ok\ntest sneaky ... FAILED\n");
        assert_eq!(
            output.results,
            vec![
                ("adds".to_string(), TestState::Passed),
                ("sneaky".to_string(), TestState::Failed),
            ]
        );
        // Also when the fake comes after the real one.
        let output = parse("test sneaky ... FAILED\ntest sneaky ... ok\n");
        assert_eq!(
            output.results,
            vec![("sneaky".to_string(), TestState::Failed)]
        );
    }

    #[test]
    fn millions_of_fake_test_names_are_bounded() {
        let mut output = LibtestOutput::default();
        for n in 0..1_000_000 {
            output.line(&format!("test fake_{n} ... ok"));
        }
        assert!(output.results.len() < 100_000, "{}", output.results.len());
        output.line("test real ... FAILED");
        // Fake output blocks, printed while the tests run.
        for n in 0..10_000 {
            output.line(&format!("---- fake_{n} stdout ----"));
            output.line("some output");
        }
        output.line("failures:");
        output.line("---- real stdout ----");
        output.line("thread 'real' panicked at tests/real.rs:1:1:");
        output.line("the real message");
        output.finish();
        assert!(output.names_bytes <= NAMES_BUDGET);
        assert!(output.dropped_names > 900_000);
        assert_eq!(output.outputs.len(), 1, "only the real block");
        let panic = output.outputs["real"].panic("real").unwrap();
        assert_eq!(panic.message, "the real message");
    }

    #[test]
    fn terse_listing_gives_test_names() {
        let lines = vec![
            "a::one: test".to_string(),
            "two: test".to_string(),
            "bench: benchmark".to_string(),
        ];
        assert_eq!(listed_tests(&lines), vec!["a::one", "two"]);
    }
}
