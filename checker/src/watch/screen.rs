//! Drawing watch mode: the state becomes lines that fit the terminal. The
//! verdict comes first, the first failure in full, every other failure on one
//! line; the header and the key line are always visible.

use colored::Colorize;

use super::app::{App, Busy, Confirm, Filter, ListState, View, Watching};
use crate::grade::{Grade, Summary};
use crate::outcome::{Outcome, Status};
use crate::render::text::{mark, verdict};
use crate::term;

pub fn render(app: &App, width: u16, height: u16) -> Vec<String> {
    let (width, height) = (usize::from(width.max(20)), usize::from(height.max(6)));
    let mut lines = header(app);
    let body = match &app.view {
        View::Exercise => exercise(app),
        View::Confirm(confirm) => {
            let mut body = exercise(app);
            body.push(String::new());
            body.push(question(app, *confirm).yellow().bold().to_string());
            body
        }
        View::List(list) => self::list(app, list, height.saturating_sub(lines.len() + 2)),
        View::Solution { lines, scroll } => solution(lines, *scroll),
        View::Summary(outcomes) => summary(app, outcomes),
    };
    let body: Vec<String> = body.iter().flat_map(|line| wrap(line, width)).collect();
    let footer = footer(app, width);
    let room = height.saturating_sub(lines.len() + footer.len());
    if body.len() > room {
        let shown = room.saturating_sub(1);
        lines.extend(body.iter().take(shown).cloned());
        lines.push(
            format!(
                "... {} more lines: `cargo checker check` prints them all",
                body.len() - shown
            )
            .dimmed()
            .to_string(),
        );
    } else {
        lines.extend(body);
        lines.resize(height - footer.len(), String::new());
    }
    lines.extend(footer);
    lines.iter().map(|line| cut(line, width)).collect()
}

fn header(app: &App) -> Vec<String> {
    let workbook = &app.context.workbook;
    let all = Summary::of(
        app.progress
            .taken(workbook)
            .map(|e| Grade::of(&app.progress, e)),
    );
    let exercise = app.exercise();
    let lesson = workbook
        .lesson(&exercise.lesson)
        .expect("an exercise's lesson exists");
    let done_in_lesson = lesson
        .exercises
        .iter()
        .filter(|e| app.progress.is_done(&e.id))
        .count();
    vec![
        format!(
            "{} {} {}/{} · {} {} {}/{}",
            workbook.title.bold(),
            term::bar(all.exercises_done, all.exercises_total, 16),
            all.exercises_done,
            all.exercises_total,
            lesson.id,
            term::bar(done_in_lesson, lesson.exercises.len(), 10),
            done_in_lesson,
            lesson.exercises.len()
        ),
        String::new(),
    ]
}

fn exercise(app: &App) -> Vec<String> {
    let exercise = app.exercise();
    let root = &app.context.workbook.root;
    let mut lines = vec![format!("{} · {}", exercise.id.bold(), exercise.title)];
    for file in &exercise.edit {
        lines.push(format!("  edit  {}", term::file_link(root, file)));
    }
    lines.push(format!("  read  {}", exercise.book_page()));
    lines.push(match &app.watching {
        Watching::Files => "  runs  on every save (r: now)".dimmed().to_string(),
        Watching::Manual => "  runs  when you press r".dimmed().to_string(),
        Watching::Failed(error) => format!(
            "  File watching failed ({error}): restart with `cargo checker --manual-run`, then press r to check."
        )
        .red()
        .to_string(),
    });
    lines.push(String::new());
    match (&app.busy, &app.outcome) {
        (Some(busy), _) => lines.push(working(busy)),
        (None, _) if app.error.is_some() => {
            lines.push(format!("{} The check could not run:", term::fail_mark()));
            lines.extend(
                app.error
                    .iter()
                    .flat_map(|error| error.lines().map(|line| format!("  {line}"))),
            );
        }
        (None, None) => lines.push(
            "Not checked yet: save the file, or press r."
                .dimmed()
                .to_string(),
        ),
        (None, Some(outcome)) => verdict_lines(app, outcome, &mut lines),
    }
    lines
}

fn working(busy: &Busy) -> String {
    let seconds = busy.started.elapsed().as_secs();
    let build = &busy.build;
    let what = if build.waiting_for_lock {
        format!("Waiting for another cargo to finish with {}", build.lock)
    } else if busy.all && busy.tested > 0 {
        format!("Testing: {} checked", busy.tested)
    } else if build.total > 0 && build.done < build.total {
        format!("Building {}/{}: {}", build.done, build.total, build.current)
    } else {
        "Running the tests".to_string()
    };
    format!("{} {what} ({seconds} s)", "⟳".cyan().bold())
}

fn verdict_lines(app: &App, outcome: &Outcome, lines: &mut Vec<String>) {
    lines.push(format!("{} {}", mark(outcome.status), verdict(outcome)));
    // Hints come first when asked for: the learner wants to read them now.
    if app.show_hints {
        hints(app, lines);
    }
    if !outcome.tests_modified.is_empty() {
        let files: Vec<String> = outcome
            .tests_modified
            .iter()
            .map(|file| file.display().to_string())
            .collect();
        lines.push(
            format!(
                "Files that grade it are not as the workbook gave them ({}): it scores 0 until they are restored.",
                files.join(", ")
            )
            .yellow()
            .to_string(),
        );
    }
    match outcome.status {
        Status::Done => done(app, outcome, lines),
        Status::CompileError => {
            lines.push(String::new());
            lines.push(
                "It does not compile. Fix the first error first:"
                    .bold()
                    .to_string(),
            );
            for error in &outcome.compile_errors {
                lines.push(format!(
                    "  {}:{}:{}: {}",
                    error.file, error.line, error.column, error.headline
                ));
            }
        }
        Status::Failed | Status::TimedOut | Status::Modified => {
            failures(outcome, lines);
        }
    }
    for note in &outcome.notes {
        lines.push(format!("{} {note}", "note:".yellow()));
    }
    for flag in &outcome.review {
        lines.push(format!("{} {}", "note:".yellow(), flag.describe()));
    }
}

fn done(app: &App, outcome: &Outcome, lines: &mut Vec<String>) {
    let exercise = app.exercise();
    let lesson = app
        .context
        .workbook
        .lesson(&exercise.lesson)
        .expect("an exercise's lesson exists");
    let done = lesson
        .exercises
        .iter()
        .filter(|e| app.progress.is_done(&e.id))
        .count();
    lines.push(String::new());
    lines.push(format!(
        "{} {}/{} points. Lesson {}: {done} of {} exercises done.",
        "Well done!".green().bold(),
        outcome.tests_passed(),
        outcome.tests_total(),
        lesson.id,
        lesson.exercises.len()
    ));
    lines.push(
        "Press s to compare with the reference solution, or n for the next exercise.".to_string(),
    );
}

fn failures(outcome: &Outcome, lines: &mut Vec<String>) {
    let mut failing = outcome.failures();
    let Some(first) = failing.next() else { return };
    let failure = first
        .failure
        .as_ref()
        .expect("a failing test has a failure");
    // From the workbook's root, as `check` shows it: one way to name a file.
    let location = failure
        .location
        .as_deref()
        .map(|l| format!(" (at {l})"))
        .unwrap_or_default();
    lines.push(String::new());
    lines.push(format!(
        "{} {}{}",
        "First failure:".red().bold(),
        first.name.bold(),
        location.dimmed()
    ));
    lines.extend(failure.message.lines().map(|line| format!("  {line}")));
    let others: Vec<String> = failing
        .map(|test| {
            let headline = test.failure.as_ref().map_or("failed", |f| f.headline());
            format!(
                "  {} {} {}",
                term::fail_mark(),
                test.name,
                format!("— {headline}").dimmed()
            )
        })
        .collect();
    if !others.is_empty() {
        lines.push(String::new());
        lines.push("Also failing:".bold().to_string());
        lines.extend(others);
    }
}

fn hints(app: &App, lines: &mut Vec<String>) {
    let exercise = app.exercise();
    let shown = app
        .progress
        .record(&exercise.id)
        .map_or(0, |r| r.hints_shown);
    // The newest hint only: the failure must stay in sight. `cargo checker
    // hint` prints them all.
    for (index, hint) in exercise
        .hints
        .iter()
        .enumerate()
        .take(shown)
        .skip(shown.saturating_sub(1))
    {
        lines.push(String::new());
        lines.push(
            format!("Hint {} of {}:", index + 1, exercise.hints.len())
                .yellow()
                .bold()
                .to_string(),
        );
        lines.extend(hint.trim().lines().map(|line| format!("  {line}")));
    }
}

fn question(app: &App, confirm: Confirm) -> String {
    match confirm {
        Confirm::Reset => format!(
            "Reset {} to its starter? Your changes to it will be lost. (y/n)",
            app.exercise().id
        ),
        Confirm::Solution => {
            "The exercise is not done yet: seeing the solution now spoils it. Show it anyway? (y/n)"
                .to_string()
        }
    }
}

fn list(app: &App, list: &ListState, room: usize) -> Vec<String> {
    let filter = match list.filter {
        Filter::All => "all",
        Filter::Pending => "not done",
        Filter::Done => "done",
    };
    let search = if list.searching {
        format!("search: {}▏", list.query)
    } else if list.query.is_empty() {
        "/ search".to_string()
    } else {
        format!("search: {} (/ to change)", list.query)
    };
    let mut lines = vec![
        format!("{} · {search} · f filter: {filter}", "Exercises".bold()),
        String::new(),
    ];
    let shown = app.listed(list);
    if shown.is_empty() {
        lines.push("No exercise matches.".dimmed().to_string());
        return lines;
    }
    let rows = room.saturating_sub(lines.len()).max(1);
    let first = list.cursor.saturating_sub(rows - 1);
    for (index, exercise) in shown.iter().enumerate().skip(first).take(rows) {
        let grade = Grade::of(&app.progress, exercise);
        let (mark, status) = match grade.status {
            None => (term::pending_mark(), "not started".to_string()),
            Some(_) if grade.is_done() => (term::pass_mark(), "done".to_string()),
            Some(status) => (
                term::fail_mark(),
                format!(
                    "{}/{} {}",
                    grade.tests_passed,
                    grade.tests_total,
                    status.as_str()
                ),
            ),
        };
        let pointer = if index == list.cursor { "▶" } else { " " };
        let row = format!(
            "{pointer} {mark} {:<22} {:<26} {status}",
            exercise.id, exercise.title
        );
        lines.push(if index == list.cursor {
            row.bold().to_string()
        } else {
            row
        });
    }
    lines
}

fn solution(lines: &[String], scroll: usize) -> Vec<String> {
    let mut shown = vec!["Reference solution".bold().to_string(), String::new()];
    shown.extend(lines.iter().skip(scroll).cloned());
    shown
}

fn summary(app: &App, outcomes: &[Outcome]) -> Vec<String> {
    let mut lines = vec!["Every exercise, checked:".bold().to_string(), String::new()];
    for outcome in outcomes {
        lines.push(format!(
            "{} {:<26} {}",
            mark(outcome.status),
            outcome.id,
            verdict(outcome)
        ));
    }
    let summary = Summary::of(
        app.progress
            .taken(&app.context.workbook)
            .map(|e| Grade::of(&app.progress, e)),
    );
    lines.push(String::new());
    lines.push(format!(
        "{} of {} exercises done, {}%. Press any key to go back.",
        summary.exercises_done, summary.exercises_total, summary.percent
    ));
    lines
}

fn footer(app: &App, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(notice) = &app.notice {
        // A notice may hold a path or a command: wrapped, never cut.
        lines.extend(wrap(notice, width));
    }
    let keys = match &app.view {
        View::Exercise if app.is_done() => {
            "n next · h hint · l list · c check all · x reset · s solution · b book · q quit"
        }
        View::Exercise => "h hint · l list · c check all · x reset · s solution · b book · q quit",
        View::List(list) if list.searching => "type to search · Enter done · Esc done",
        View::List(_) => "↑↓ move · Enter go · / search · f filter · Esc back",
        View::Confirm(_) => "y yes · n no",
        View::Solution { .. } => "↑↓ PgUp PgDn scroll · Esc back",
        View::Summary(_) => "any key: back",
    };
    lines.push(keys.dimmed().to_string());
    lines
}

/// Wraps a plain line (a message, a hint) at spaces to `width`, indenting
/// the continuation like the line; lines with colour codes are left whole
/// (they are short labels) and cut later.
fn wrap(line: &str, width: usize) -> Vec<String> {
    if line.chars().count() <= width || line.contains('\x1b') {
        return vec![line.to_string()];
    }
    let lead = line.len() - line.trim_start().len();
    let indent = lead + 2;
    let mut lines = Vec::new();
    let mut current = line[..lead].to_string();
    for word in line[lead..].split(' ') {
        let limit = if lines.is_empty() {
            width
        } else {
            width - indent.min(width / 2)
        };
        let started = !current.trim_start().is_empty();
        if started && current.chars().count() + 1 + word.chars().count() > limit {
            lines.push(std::mem::take(&mut current));
        }
        if !current.trim_start().is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    let pad = " ".repeat(indent.min(width / 2));
    lines
        .into_iter()
        .enumerate()
        .map(|(n, text)| {
            if n == 0 {
                text
            } else {
                format!("{pad}{}", text.trim_start())
            }
        })
        .collect()
}

/// Cuts `line` to `width` visible characters, keeping (and closing) the
/// escape sequences of colours and links.
fn cut(line: &str, width: usize) -> String {
    let mut out = String::with_capacity(line.len());
    let mut visible = 0;
    let mut chars = line.chars().peekable();
    let mut cut_short = false;
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            match chars.next() {
                // OSC (links): up to the string terminator ESC \ or BEL.
                Some(']') => {
                    out.push(']');
                    while let Some(c) = chars.next() {
                        out.push(c);
                        if c == '\x07' || (c == '\x1b' && chars.peek() == Some(&'\\')) {
                            if c == '\x1b' {
                                out.push(chars.next().expect("peeked"));
                            }
                            break;
                        }
                    }
                }
                Some(next) => {
                    out.push(next);
                    for c in chars.by_ref() {
                        out.push(c);
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
                None => {}
            }
            continue;
        }
        if visible == width {
            cut_short = true;
            continue;
        }
        visible += 1;
        out.push(c);
    }
    if cut_short && colored::control::SHOULD_COLORIZE.should_colorize() {
        out.push_str("\x1b[0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{cut, wrap};

    #[test]
    fn wrap_breaks_long_plain_lines_at_spaces_with_an_indent() {
        let lines = wrap("  one two three four five six", 12);
        assert_eq!(
            lines,
            ["  one two", "    three", "    four", "    five six"]
        );
        assert_eq!(wrap("one two three", 8), ["one two", "  three"]);
        assert!(lines.iter().all(|line| line.chars().count() <= 12));
        assert_eq!(wrap("short", 12), ["short"]);
    }

    #[test]
    fn cut_counts_only_visible_characters() {
        assert_eq!(cut("hello world", 5), "hello");
        assert_eq!(cut("\x1b[1mbold\x1b[0m text", 6), "\x1b[1mbold\x1b[0m t");
        let link = "\x1b]8;;file:///a\x1b\\a.rs\x1b]8;;\x1b\\";
        assert_eq!(cut(link, 10), link);
        assert_eq!(cut("✓ done", 3), "✓ d");
    }
}
