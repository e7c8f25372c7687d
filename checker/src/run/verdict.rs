//! What one run of a test binary proves: each test's failure in words, and
//! whether its passes can be believed at all.

use std::time::Duration;

use super::libtest::LibtestOutput;
use super::process::{Exit, Tail};
use crate::outcome::{Failure, TestResult};

pub fn failure_of(report: &LibtestOutput, name: &str) -> Failure {
    let Some(captured) = report.outputs.get(name) else {
        return Failure {
            message: "the test failed without a message".into(),
            location: None,
            output: String::new(),
            secondary: false,
            unreported: false,
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
                secondary: false,
                unreported: false,
            }
        }
        None => Failure {
            message: "the test failed (it returned an error or did not panic as expected)".into(),
            location: None,
            output: captured.text(),
            secondary: false,
            unreported: false,
        },
    }
}

/// Why the passes of a run cannot be believed, if they cannot. libtest ends
/// every run it finishes with a summary that counts them, then exits with 0
/// if all passed and 101 if not; a run without that ended early (the code
/// called `std::process::exit`), and a summary that disagrees with the result
/// lines means the tests printed lines of their own that look like
/// libtest's. No summary, no passes: on every path, the time limit included.
pub fn unconfirmed(report: &LibtestOutput, exit: Exit, tests: &[TestResult]) -> Option<String> {
    let passed = tests.iter().filter(|test| test.passed).count();
    match (report.summary, exit) {
        (_, _) if passed == 0 => None,
        (_, Exit::TimedOut) => Some(
            "The tests were stopped at the time limit, before libtest printed its summary: \
             passes count only once libtest has confirmed them, so fix the test that did not \
             finish first."
                .into(),
        ),
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

pub fn unfinished(exit: Exit, timeout: Duration) -> Failure {
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
        secondary: false,
        unreported: true,
    }
}

pub fn last_words(report: &LibtestOutput, stderr: &Tail) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::libtest;

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
        // Stopped at the time limit: no summary, so no pass counts.
        let reason = unconfirmed(&libtest::parse(cut), Exit::TimedOut, &two).unwrap();
        assert!(reason.contains("time limit"), "{reason}");
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
}
