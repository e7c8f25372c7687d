//! Failure messages open with their verdict. The checker shows the first
//! line of a failing test's message beside the test's name, so that line
//! must say what went wrong ("expected 201 Created, got 200 OK"), never
//! repeat the call or the SQL the test made.
//!
//! Checked here, without compiling anything: every message of a `panic!`
//! (and `unreachable!`, `todo!`, `unimplemented!`), an `assert!`, an
//! `.expect(...)` and the testkit's `.fail(...)` in the lessons' test files
//! and in the testkit. A message is named when its first line opens with
//! code: an HTTP request (`GET /slow ...`), SQL (`INSERT INTO ...`), a call
//! (`open_in_memory() should ...`), or a placeholder whose name says it
//! holds one (`{call}`, `{sql}`). So is every `assert_eq!` and `assert_ne!`,
//! and an `assert!` without a message: their first line is the standard
//! library's `assertion `left == right` failed` or the condition's code.
//!
//! A message that must keep such a first line (a fixture showing the
//! standard library's own shapes) is allowed by a comment holding
//! `dev check: allow message` on the line where its macro or method
//! starts, or on the line above.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::manifest::Workbook;

mod lexer;
use lexer::{Kind, Token, tokens};

/// The testkit's sources, if the workbook has a testkit.
const TESTKIT_SRC: &str = "testkit/src";

/// The comment that lets a message keep a first line of code.
const ALLOW: &str = "dev check: allow message";

/// Macros whose first argument is the message.
const PANICS: [&str; 4] = ["panic", "unreachable", "todo", "unimplemented"];

/// Macros that fail with the standard library's comparison text.
const COMPARISONS: [&str; 4] = [
    "assert_eq",
    "assert_ne",
    "debug_assert_eq",
    "debug_assert_ne",
];

/// Methods whose first argument is the message.
const MESSAGE_METHODS: [&str; 3] = ["expect", "expect_err", "fail"];

const HTTP_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// SQL statements' first words, in capitals as SQL is written.
const SQL_KEYWORDS: [&str; 20] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "UPSERT",
    "CREATE",
    "DROP",
    "ALTER",
    "PRAGMA",
    "WITH",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "EXPLAIN",
    "VACUUM",
    "ATTACH",
    "REINDEX",
];

/// SQL in lower case, told from English by the words that follow.
const SQL_OPENINGS: [&str; 10] = [
    "insert into ",
    "insert or ",
    "delete from ",
    "create table ",
    "create index ",
    "create unique index ",
    "create trigger ",
    "drop table ",
    "alter table ",
    "explain query plan ",
];

/// Names of placeholders that hold code: `{call}`, `{sql}`, `{self.shown}`.
const CODE_NAMES: [&str; 12] = [
    "call",
    "calls",
    "sql",
    "statement",
    "stmt",
    "query",
    "request",
    "shown",
    "method",
    "path",
    "url",
    "code",
];

pub fn check(workbook: &Workbook, problems: &mut Vec<String>) {
    for file in files(workbook) {
        let Ok(text) = fs::read_to_string(workbook.path(&file)) else {
            continue;
        };
        for finding in lint(&text) {
            problems.push(format!(
                "{}:{}: {}",
                file.display(),
                finding.line,
                finding.problem
            ));
        }
    }
}

/// Every lesson's test files (all of `tests/`, helpers too) and the
/// testkit's sources, relative to the workbook.
fn files(workbook: &Workbook) -> BTreeSet<PathBuf> {
    let mut files = BTreeSet::new();
    for exercise in workbook.exercises() {
        for test in &exercise.tests {
            files.insert(exercise.dir.join(test));
        }
        rust_files(workbook, &exercise.dir.join("tests"), &mut files);
    }
    rust_files(workbook, Path::new(TESTKIT_SRC), &mut files);
    files
}

fn rust_files(workbook: &Workbook, dir: &Path, files: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = fs::read_dir(workbook.path(dir)) else {
        return;
    };
    for entry in entries.filter_map(|entry| entry.ok()) {
        let path = dir.join(entry.file_name());
        if entry.path().is_dir() {
            rust_files(workbook, &path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.insert(path);
        }
    }
}

/// A message that opens with code, and where.
#[derive(Debug, PartialEq)]
struct Finding {
    line: usize,
    problem: String,
}

/// The messages of `source` whose first line is code rather than a verdict.
fn lint(source: &str) -> Vec<Finding> {
    let tokens = tokens(source);
    let lines: Vec<&str> = source.lines().collect();
    let allowed = |line: usize| {
        let at = |n: usize| n >= 1 && lines.get(n - 1).is_some_and(|l| l.contains(ALLOW));
        at(line) || at(line - 1)
    };
    let mut findings = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let Some(problem) = site_problem(&tokens, index) else {
            continue;
        };
        if !allowed(token.line) {
            findings.push(Finding {
                line: token.line,
                problem,
            });
        }
    }
    findings
}

/// What is wrong with the message of the macro or method call starting at
/// `tokens[index]`, if a message starts there and something is.
fn site_problem(tokens: &[Token], index: usize) -> Option<String> {
    let name = tokens[index].ident()?;
    let punct = |offset: usize| tokens.get(index + offset).and_then(Token::punct);
    let is_macro = punct(1) == Some('!') && matches!(punct(2), Some('(' | '[' | '{'));
    let is_method = index > 0
        && tokens[index - 1].punct() == Some('.')
        && punct(1) == Some('(')
        && MESSAGE_METHODS.contains(&name);
    let message = if is_macro && COMPARISONS.contains(&name) {
        let op = if name.ends_with("_eq") { "==" } else { "!=" };
        return Some(format!(
            "`{name}!` fails with the standard library's `assertion `left {op} right` failed` as its first line, not a verdict: write `assert!(actual {op} expected, \"<the verdict>...\")` and show both values in the message"
        ));
    } else if is_macro && (name == "assert" || name == "debug_assert") {
        let args = arguments(tokens, index + 3);
        if args.len() < 2 {
            return Some(format!(
                "`{name}!` without a message fails with `assertion failed: <the condition's code>`: give it a message that opens with the verdict"
            ));
        }
        args.into_iter().skip(1).collect::<Vec<_>>()
    } else if is_macro && PANICS.contains(&name) {
        arguments(tokens, index + 3)
    } else if is_method {
        message_of_argument(arguments(tokens, index + 2).into_iter().next()?)
    } else {
        return None;
    };
    let (format, rest) = message.split_first()?;
    let format = literal(format)?;
    let first = first_line(&format)?;
    let what = opens_with_code(first, rest)?;
    Some(format!(
        "a failure message opens with {what} (`{}`): the checker shows this line beside the test's name, so open with the verdict and put the code after it",
        shorten(first)
    ))
}

/// `"text", args...` from an argument that is a literal or `&format!(...)`.
fn message_of_argument(argument: Vec<Token>) -> Vec<Vec<Token>> {
    let start = argument
        .iter()
        .position(|token| token.punct() != Some('&'))
        .unwrap_or(0);
    let rest = &argument[start..];
    let is_format = rest.first().and_then(Token::ident) == Some("format")
        && rest.get(1).and_then(Token::punct) == Some('!')
        && rest.get(2).and_then(Token::punct) == Some('(');
    if is_format {
        return arguments(rest, 3);
    }
    vec![rest.to_vec()]
}

/// The string a lone literal argument holds.
fn literal(argument: &[Token]) -> Option<String> {
    match argument {
        [token] => match &token.kind {
            Kind::Str(value) => Some(value.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The first line of a message that says something, as the checker shows it.
fn first_line(message: &str) -> Option<&str> {
    message.lines().map(str::trim).find(|line| !line.is_empty())
}

fn shorten(line: &str) -> String {
    const LIMIT: usize = 60;
    if line.chars().count() <= LIMIT {
        return line.to_string();
    }
    let cut: String = line.chars().take(LIMIT).collect();
    format!("{cut}...")
}

/// The kind of code `line` opens with, if it does. `args` are the format
/// arguments, to tell what a placeholder holds.
fn opens_with_code(line: &str, args: &[Vec<Token>]) -> Option<String> {
    if let Some(placeholder) = leading_placeholder(line) {
        let name = placeholder.split(':').next().unwrap_or_default().trim();
        let holds = placeholder_expression(name, args);
        let last_name = holds
            .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
            .find(|part| !part.is_empty())
            .unwrap_or_default();
        let code_name = |name: &str| CODE_NAMES.contains(&name.to_lowercase().as_str());
        return (code_name(name) || code_name(last_name))
            .then(|| format!("a placeholder that holds code (`{holds}`)"));
    }
    let code = line.trim_start_matches(['`', '"', '\'']);
    let word: String = code
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let after = &code[word.len()..];
    if HTTP_METHODS.contains(&word.as_str())
        && (after.starts_with(" /") || after.starts_with(" {") || after.starts_with(" http"))
    {
        return Some("an HTTP request".to_string());
    }
    let ends_word = after
        .chars()
        .next()
        .is_none_or(|c| c.is_whitespace() || matches!(c, '(' | ';' | '`'));
    if SQL_KEYWORDS.contains(&word.as_str()) && ends_word {
        return Some("SQL".to_string());
    }
    let lower = code.to_lowercase();
    if SQL_OPENINGS
        .iter()
        .any(|opening| lower.starts_with(opening))
        || (lower.starts_with("select ") && lower.contains(" from "))
        || (lower.starts_with("update ") && lower.contains(" set "))
        || lower.starts_with("pragma ")
    {
        return Some("SQL".to_string());
    }
    if opens_with_a_call(code) {
        return Some("a call".to_string());
    }
    None
}

/// `{name}`, `{name:?}`, `{}` or `{0}` at the start of `line`: what is
/// between the braces.
fn leading_placeholder(line: &str) -> Option<&str> {
    let inside = line.strip_prefix('{')?;
    if inside.starts_with('{') {
        return None; // `{{` is a brace, not a placeholder
    }
    let end = inside.find('}')?;
    Some(&inside[..end])
}

/// The code the placeholder `{name}` shows: the name itself (an inline
/// argument), or the format argument it refers to (`{}` at the start is the
/// first positional one).
fn placeholder_expression(name: &str, args: &[Vec<Token>]) -> String {
    let positional: Vec<&Vec<Token>> = args.iter().filter(|arg| !is_named(arg)).collect();
    let argument = if name.is_empty() {
        positional.first().copied().map(Vec::as_slice)
    } else if let Ok(number) = name.parse::<usize>() {
        positional.get(number).copied().map(Vec::as_slice)
    } else {
        args.iter()
            .find(|arg| is_named(arg) && arg[0].ident() == Some(name))
            .map(|arg| &arg[2..])
    };
    match argument {
        Some(tokens) => tokens.iter().map(|token| token.text.as_str()).collect(),
        None => name.to_string(),
    }
}

/// `name = value`, as a format argument.
fn is_named(argument: &[Token]) -> bool {
    argument.len() > 2
        && argument[0].ident().is_some()
        && argument[1].punct() == Some('=')
        && argument[2].punct() != Some('=')
}

/// `name(`, `path::name(`, `value.method(`, `name!(`, `Type::<T>::name(`.
fn opens_with_a_call(code: &str) -> bool {
    let mut chars = code.chars().peekable();
    loop {
        let Some(&first) = chars.peek() else {
            return false;
        };
        if !(first.is_alphabetic() || first == '_') {
            return false;
        }
        while chars
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            chars.next();
        }
        if chars.peek() == Some(&'!') {
            chars.next();
        }
        match chars.next() {
            Some('(') => return true,
            Some('.') => {}
            Some(':') if chars.next() == Some(':') => {
                if chars.peek() == Some(&'<') {
                    // A turbofish: skip to its end and expect `::` or `(`.
                    for c in chars.by_ref() {
                        if c == '>' {
                            break;
                        }
                    }
                    match chars.next() {
                        Some('(') => return true,
                        Some(':') if chars.next() == Some(':') => {}
                        _ => return false,
                    }
                }
            }
            _ => return false,
        }
    }
}

/// The arguments of the call whose `(` is just before `tokens[start]`, each
/// as its tokens, split at the commas outside any bracket.
fn arguments(tokens: &[Token], start: usize) -> Vec<Vec<Token>> {
    let mut args = Vec::new();
    let mut current = Vec::new();
    let mut depth = 0usize;
    for token in tokens.iter().skip(start) {
        match token.punct() {
            Some('(' | '[' | '{') => depth += 1,
            Some(')' | ']' | '}') if depth == 0 => break,
            Some(')' | ']' | '}') => depth -= 1,
            Some(',') if depth == 0 => {
                args.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(token.clone());
    }
    if !current.is_empty() {
        args.push(current);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines `lint` names in `source`.
    fn flagged(source: &str) -> Vec<usize> {
        lint(source)
            .into_iter()
            .map(|finding| finding.line)
            .collect()
    }

    #[test]
    fn a_message_that_opens_with_a_request_is_named_with_its_line() {
        let source = "fn t() {\n    assert!(\n        done,\n        \"\\nGET /slow was still in flight\\n\"\n    );\n}\n";
        let findings = lint(source);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].line, 2);
        assert!(
            findings[0].problem.contains("an HTTP request")
                && findings[0]
                    .problem
                    .contains("`GET /slow was still in flight`"),
            "{}",
            findings[0].problem
        );
    }

    #[test]
    fn messages_that_open_with_sql_are_named() {
        assert_eq!(
            flagged(
                r#"
panic!("INSERT INTO orders VALUES (1)\nshould be accepted");
x.expect("PRAGMA foreign_keys = ON failed");
panic!("\n  select id from customers\n");
panic!("delete from customers where id = 1");
"#
            ),
            [2, 3, 4, 5]
        );
    }

    #[test]
    fn messages_that_open_with_a_call_are_named() {
        assert_eq!(
            flagged(
                r#"
panic!("\nopen_in_memory() should return a database, but failed:\n  {error}\n");
panic!("Config::from_env() should read the environment");
panic!("`db.execute(sql)` failed");
panic!("Vec::<u8>::new() is empty");
panic!("format!(x) is not a call to make here");
"#
            ),
            [2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn a_placeholder_named_for_code_is_named_and_one_named_for_words_is_not() {
        let source = r#"
panic!("\n{call}\nshould succeed");
panic!("\n{}\nshould be accepted ({why})", self.shown);
panic!("{0:?} failed", sql);
reply.fail(&format!("{request} answered 500", request = summary));
panic!("\n{problem}\n  request:  {request}");
reply.fail(&format!("{situation}, so the answer should be 200"));
panic!("{} of {} transfers failed", failures.len(), attempts.len());
"#;
        assert_eq!(flagged(source), [2, 3, 4, 5]);
    }

    #[test]
    fn the_testkits_fail_and_expect_are_read_through_format() {
        let source = r#"
reply.fail(&format!("GET /slow works for {work} ms"));
reply.fail("POST /notes answered 500");
connection.execute_batch(sql).expect(&format!("INSERT failed: {sql}"));
reply.fail(&format!("expected status {}, got {}", a, b));
"#;
        assert_eq!(flagged(source), [2, 3, 4]);
    }

    #[test]
    fn comparisons_and_asserts_without_a_message_are_named() {
        let source = "assert_eq!(a, b, \"the verdict\");\nassert_ne!(a, b);\nassert!(ok);\nassert!(matches!(x, Some(_)));\n";
        assert_eq!(flagged(source), [1, 2, 3, 4]);
        assert!(lint(source)[0].problem.contains("left == right"));
    }

    #[test]
    fn verdicts_are_left_alone() {
        let source = r#"
panic!("\nexpected status 200 OK, got 404 Not Found\n  request:  GET /\n");
assert!(total == sent, "{} updates were lost: GET /hits says {total}", sent - total);
x.expect("the test opens an in-memory database");
panic!("the database refused an insert it should accept (a total of zero is allowed)\n  statement: INSERT INTO orders ...");
panic!("`serve` panicked: {message}");
panic!("Update the schema, then select the customers");
panic!("After the shutdown signal the server still accepted connections");
panic!("{{\"error\": 1}} is the body");
todo!();
unreachable!();
"#;
        assert_eq!(flagged(source), Vec::<usize>::new());
    }

    #[test]
    fn code_outside_a_message_is_left_alone() {
        let source = r##"
// panic!("GET /slow in a comment");
/* assert_eq!(a, b); /* nested */ panic!("SELECT 1"); */
let sql = "SELECT count(*) FROM orders";
let reply = server.get("/slow").send().await;
let quote = '"'; let open = '('; let escaped = '\''; fn f<'a>(x: &'a str) {}
let url = format!("GET {path}");
println!("GET /slow");
let raw = r#"panic!("SELECT 1")"#;
"##;
        assert_eq!(flagged(source), Vec::<usize>::new());
    }

    #[test]
    fn raw_strings_and_line_continuations_are_read_as_the_message_they_make() {
        let source = "panic!(r#\"\nSELECT \"x\" FROM t\n\"#);\npanic!(\"\\\n     DELETE FROM t\");\npanic!(\"ok so \\\n     far\");\n";
        assert_eq!(flagged(source), [1, 4]);
    }

    #[test]
    fn lines_are_counted_across_multi_line_strings_and_comments() {
        let source = "/* one\ntwo */\nlet a = \"x\ny\";\npanic!(\"GET /\");\n";
        assert_eq!(flagged(source), [5]);
    }

    #[test]
    fn a_comment_allows_a_message_on_its_line_or_the_next() {
        let source = format!(
            "assert_eq!(a, b); // {ALLOW}: the fixture shows std's text\n// {ALLOW}\npanic!(\"GET /\");\nassert_eq!(c, d);\n"
        );
        assert_eq!(flagged(&source), [4]);
    }
}
