//! A failed step, told as a teacher would: the verdict first (the checker
//! shows that line beside the scenario's name), then the request as a `curl`
//! command, what was expected, what came back, and a hint.

use std::fmt;

#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub verdict: String,
    /// The request that got the wrong answer, as a runnable `curl` command.
    pub request: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(verdict: impl Into<String>) -> Failure {
        Failure {
            verdict: verdict.into(),
            ..Failure::default()
        }
    }

    pub fn request(mut self, curl: impl Into<String>) -> Failure {
        self.request = Some(curl.into());
        self
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Failure {
        self.expected = Some(expected.into());
        self
    }

    pub fn actual(mut self, actual: impl Into<String>) -> Failure {
        self.actual = Some(actual.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.verdict.trim_end())?;
        for (label, text) in [
            ("request", &self.request),
            ("expected", &self.expected),
            ("got", &self.actual),
            ("hint", &self.hint),
        ] {
            if let Some(text) = text {
                write!(f, "\n{label}:")?;
                let text = text.trim_end();
                if text.contains('\n') {
                    for line in text.lines() {
                        write!(f, "\n    {line}")?;
                    }
                } else {
                    write!(f, " {text}")?;
                }
            }
        }
        Ok(())
    }
}

/// `ensure!(condition, failure)`: returns the failure when the condition
/// does not hold.
#[macro_export]
macro_rules! ensure {
    ($condition:expr, $failure:expr $(,)?) => {
        if !$condition {
            return Err($failure);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_comes_first_and_long_parts_are_indented() {
        let failure = Failure::new("expected 201 Created, got 200 OK")
            .request("curl -i http://127.0.0.1:1/register")
            .expected("201 Created")
            .actual("200 OK\n{\"id\": 1}");
        assert_eq!(
            failure.to_string(),
            "expected 201 Created, got 200 OK\nrequest: curl -i http://127.0.0.1:1/register\nexpected: 201 Created\ngot:\n    200 OK\n    {\"id\": 1}"
        );
    }
}
