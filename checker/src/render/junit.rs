//! `check --format junit`: JUnit XML, which CI systems and LMS graders read.

use std::fmt::Write as _;

use crate::manifest::{Exercise, Workbook};
use crate::outcome::Outcome;

pub fn check(workbook: &Workbook, exercises: &[&Exercise], outcomes: &[Outcome]) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors, mut seconds) = (0, 0, 0, 0.0);
    for (exercise, outcome) in exercises.iter().zip(outcomes) {
        let time = outcome.elapsed.as_secs_f64();
        seconds += time;
        if !outcome.compile_errors.is_empty() {
            tests += 1;
            errors += 1;
            let rendered: Vec<String> = outcome
                .compile_errors
                .iter()
                .map(|e| e.rendered.clone())
                .collect();
            let detail = strip_ansi(&rendered.join("\n"));
            one_error(
                &mut suites,
                &exercise.id,
                time,
                "build",
                "does not compile",
                &detail,
            );
            continue;
        }
        if outcome.status == crate::outcome::Status::Modified {
            // Whatever the tests said, nothing of it counts: one error.
            tests += 1;
            errors += 1;
            let files: Vec<String> = outcome
                .tests_modified
                .iter()
                .map(|file| file.display().to_string())
                .collect();
            let detail = format!("{}\n{}", files.join("\n"), outcome.notes.join("\n"));
            let message = "not graded: files that grade it were changed";
            one_error(
                &mut suites,
                &exercise.id,
                time,
                "integrity",
                message,
                &detail,
            );
            continue;
        }
        let failed = outcome.failures().count();
        tests += outcome.tests_total();
        failures += failed;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{time:.3}\">",
            escape(&exercise.id),
            outcome.tests_total()
        );
        for test in &outcome.tests {
            let _ = write!(
                suites,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(&exercise.id),
                escape(&test.name)
            );
            match &test.failure {
                None => suites.push_str(" />\n"),
                Some(failure) => {
                    let _ = write!(
                        suites,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                        escape(failure.headline()),
                        escape(&failure.message)
                    );
                }
            }
        }
        suites.push_str("  </testsuite>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" \
         errors=\"{errors}\" time=\"{seconds:.3}\">\n{suites}</testsuites>\n",
        escape(&workbook.title)
    )
}

/// A suite of one test case that is an error: the exercise could not be
/// graded test by test.
fn one_error(suites: &mut String, id: &str, time: f64, case: &str, message: &str, detail: &str) {
    let _ = write!(
        suites,
        "  <testsuite name=\"{id}\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"{time:.3}\">\n    \
         <testcase classname=\"{id}\" name=\"{case}\" time=\"{time:.3}\">\n      \
         <error message=\"{message}\">{}</error>\n    </testcase>\n  </testsuite>\n",
        escape(detail),
        id = escape(id),
    );
}

/// Text in an element or a quoted attribute, of XML or of HTML (the
/// gradebook's page uses it too).
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {}
            c => out.push(c),
        }
    }
    out
}

/// Removes terminal colour codes (rustc's rendered errors carry them).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_any_text_safe_in_attributes_and_elements() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }

    #[test]
    fn strip_ansi_removes_colour_codes() {
        assert_eq!(strip_ansi("\x1b[1m\x1b[38;5;9merror\x1b[0m: x"), "error: x");
    }
}
