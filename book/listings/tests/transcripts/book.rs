//! The book's pages, and the checks that hold a transcript on a page to the
//! real output: every failure names the page and the line.

use std::path::PathBuf;

/// One Markdown page of the book, such as `server/hello.md`.
pub struct Page {
    /// The path a maintainer opens: `book/src/server/hello.md`.
    pub shown: String,
    lines: Vec<String>,
}

impl Page {
    /// Reads `book/src/<name>`, or `<name>` in the folder that
    /// `TRANSCRIPTS_BOOK_SRC` names: a copy of `book/src` in which to break a
    /// transcript and see the test catch it.
    pub fn open(name: &str) -> Page {
        let src = std::env::var_os("TRANSCRIPTS_BOOK_SRC").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../src"),
            PathBuf::from,
        );
        let path = src.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!("cannot read the book page {}: {error}", path.display())
        });
        Page {
            shown: format!("book/src/{name}"),
            lines: text
                .lines()
                .map(|line| line.trim_end().to_string())
                .collect(),
        }
    }

    /// Fails unless the page holds `real` as consecutive lines, each the
    /// same as the real line or differing only where the output varies from
    /// run to run (a date, a UUID, a duration). `what` says where `real`
    /// came from.
    #[track_caller]
    pub fn assert_block(&self, what: &str, real: &str) {
        let expected = trimmed_lines(real);
        let Some(last_start) = self.lines.len().checked_sub(expected.len()) else {
            panic!(
                "{} is shorter than the transcript of {what}:\n{real}",
                self.shown
            );
        };
        // The start where most lines agree is where the transcript is.
        let (start, agreeing) = (0..=last_start)
            .map(|start| {
                let agreeing = expected
                    .iter()
                    .enumerate()
                    .filter(|(offset, line)| same_line(&self.lines[start + offset], line))
                    .count();
                (start, agreeing)
            })
            .max_by_key(|&(start, agreeing)| (agreeing, std::cmp::Reverse(start)))
            .expect("a page has lines");
        if agreeing == expected.len() {
            return;
        }
        let indented = indent(real);
        if agreeing == 0 {
            panic!(
                "{} has no transcript of {what}; the real output is:\n{indented}",
                self.shown
            );
        }
        let offset = (0..expected.len())
            .find(|&offset| !same_line(&self.lines[start + offset], expected[offset]))
            .expect("some line disagrees");
        panic!(
            "{}:{}: the transcript of {what} is not the real output\n  \
             the book: {}\n  real:     {}\nThe whole real output:\n{indented}",
            self.shown,
            start + offset + 1,
            shown_line(&self.lines[start + offset]),
            shown_line(expected[offset]),
        )
    }

    /// Fails unless the page holds `real` somewhere in its text (whitespace,
    /// line breaks included, may differ). `what` says where `real` came from.
    #[track_caller]
    pub fn assert_fragment(&self, what: &str, real: &str) {
        let text = collapse(&self.lines.join(" "));
        let real = collapse(real);
        if text.contains(&real) {
            return;
        }
        let (number, line) = self.nearest_line(&real);
        panic!(
            "{}:{number}: the page does not show {what} as it really is\n  \
             real:     {real}\n  the book: {}\n(the nearest line of the page)",
            self.shown,
            shown_line(line)
        )
    }

    /// Fails unless the page quotes `real` as inline code (`` `real` ``, or
    /// ``` `` real `` ``` when it holds a backtick; a quote may run over a
    /// line break), and unless every quote of the page that is nearly
    /// `real` is `real`: a quote edited wrong where the page quotes it twice
    /// must not hide behind the right one. `what` says where `real` came
    /// from.
    #[track_caller]
    pub fn assert_quote(&self, what: &str, real: &str) {
        let real = collapse(real);
        let spans = code_spans(&self.lines.join("\n"));
        if let Some((line, near)) = spans
            .iter()
            .find(|(_, span)| *span != real && nearly(span, &real))
        {
            panic!(
                "{}:{line}: the page quotes {what} wrong\n  \
                 real:     {real}\n  the book: {near}",
                self.shown,
            );
        }
        if spans.iter().any(|(_, span)| *span == real) {
            return;
        }
        let (number, line) = self.nearest_line(&real);
        panic!(
            "{}:{number}: the page does not quote {what} as it really is\n  \
             real:     {real}\n  the book: {}\n(the nearest line of the page)",
            self.shown,
            shown_line(line)
        )
    }

    /// The commands of the page's `console` blocks, in order: each with its
    /// line number, its text after `$ `, and the lines printed under it.
    pub fn console_commands(&self) -> Vec<(usize, &str, Vec<&str>)> {
        let mut commands: Vec<(usize, &str, Vec<&str>)> = Vec::new();
        for (number, line) in self.console_lines() {
            if let Some(command) = line.strip_prefix("$ ") {
                commands.push((number, command, Vec::new()));
            } else if let Some((_, _, printed)) = commands.last_mut() {
                printed.push(line);
            }
        }
        commands
    }

    /// Every line of the page's `console` blocks, with its number.
    pub fn console_lines(&self) -> Vec<(usize, &str)> {
        let mut lines = Vec::new();
        let mut in_block = false;
        for (index, line) in self.lines.iter().enumerate() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block && line.trim_start() == "```console";
            } else if in_block {
                lines.push((index + 1, line.as_str()));
            }
        }
        lines
    }

    /// The line that shares the most words with `wanted`, and its number.
    fn nearest_line(&self, wanted: &str) -> (usize, &str) {
        let words: Vec<&str> = wanted.split_whitespace().collect();
        self.lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                let shared = line
                    .split_whitespace()
                    .filter(|word| words.contains(word))
                    .count();
                (shared, std::cmp::Reverse(index), line)
            })
            .max()
            .map(|(_, std::cmp::Reverse(index), line)| (index + 1, line.as_str()))
            .unwrap_or((1, ""))
    }
}

/// Whether a line of the book shows `real`: the same text, or the same but
/// for what changes from run to run.
pub fn same_line(book: &str, real: &str) -> bool {
    book == real || masked(book) == masked(real)
}

/// `line` with what changes between runs replaced by a placeholder: the
/// value of a `date` header, every UUID, and the milliseconds of an
/// `x-response-time` header.
fn masked(line: &str) -> String {
    if let Some(date) = line.strip_prefix("date: ") {
        // `Mon, 03 Nov 2025 09:00:00 GMT`
        if date.len() == 29 && date.ends_with(" GMT") {
            return "date: <date>".to_string();
        }
    }
    if let Some(time) = line.strip_prefix("x-response-time: ")
        && let Some(digits) = time.strip_suffix("ms")
        && !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
    {
        return "x-response-time: <n>ms".to_string();
    }
    mask_uuids(line)
}

/// `text` with every UUID (`67e55044-10b1-426f-9247-bb680e5fe0c8`) replaced
/// by `<uuid>`.
fn mask_uuids(text: &str) -> String {
    const SHAPE: &[u8] = b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    let bytes = text.as_bytes();
    let mut masked = String::new();
    let mut index = 0;
    while index < bytes.len() {
        let candidate = &bytes[index..(index + SHAPE.len()).min(bytes.len())];
        let is_uuid = candidate.len() == SHAPE.len()
            && candidate
                .iter()
                .zip(SHAPE)
                .all(|(byte, shape)| match shape {
                    b'-' => *byte == b'-',
                    _ => byte.is_ascii_hexdigit(),
                });
        if is_uuid {
            masked.push_str("<uuid>");
            index += SHAPE.len();
        } else {
            let character = text[index..]
                .chars()
                .next()
                .expect("index is on a char boundary");
            masked.push(character);
            index += character.len_utf8();
        }
    }
    masked
}

/// The lines of `text`, without the empty lines at its end.
fn trimmed_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// Every inline code span of `text`, with the number of the line where it
/// starts: the text between two runs of the same number of backticks, its
/// whitespace made single spaces and trimmed.
fn code_spans(text: &str) -> Vec<(usize, String)> {
    let mut spans = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        let fence_length = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let fence = &rest[start..start + fence_length];
        let after = &rest[start + fence_length..];
        // The closing fence: the same run of backticks, not part of a longer one.
        let close = after.match_indices(fence).find(|&(index, _)| {
            !after[..index].ends_with('`') && !after[index + fence_length..].starts_with('`')
        });
        let Some((end, _)) = close else { break };
        let offset = text.len() - rest.len() + start;
        let line = text[..offset].matches('\n').count() + 1;
        spans.push((line, collapse(&after[..end])));
        rest = &after[end + fence_length..];
    }
    spans
}

/// Whether `quote` differs from `real` by a few characters only: an edit
/// of the real text rather than another text.
fn nearly(quote: &str, real: &str) -> bool {
    let allowed = (real.chars().count() / 4).max(1);
    let (quote, real): (Vec<char>, Vec<char>) = (quote.chars().collect(), real.chars().collect());
    if quote.len().abs_diff(real.len()) > allowed {
        return false;
    }
    // Levenshtein distance, one row at a time.
    let mut previous: Vec<usize> = (0..=real.len()).collect();
    for (i, &q) in quote.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, &r) in real.iter().enumerate() {
            let substitution = previous[j] + usize::from(q != r);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[real.len()] <= allowed
}

/// `text` with every run of whitespace, line breaks included, made one space.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` indented by four spaces, for a failure message.
pub fn indent(text: &str) -> String {
    trimmed_lines(text)
        .iter()
        .map(|line| format!("    {line}\n"))
        .collect()
}

/// A line as a failure message shows it: an empty one says so.
fn shown_line(line: &str) -> String {
    if line.is_empty() {
        "(an empty line)".to_string()
    } else {
        line.to_string()
    }
}
