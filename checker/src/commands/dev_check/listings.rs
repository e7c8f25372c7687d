//! The book's "Your task" listings come from copies of the starters, kept
//! where learners never edit them: the copy of
//! `lessons/01-server/hello/src/lib.rs` is
//! `book/starters/01-server/hello/src/lib.rs`. Only the copies carry
//! mdBook's `ANCHOR` markers, so the book never shows a learner's
//! half-done code and a learner who deletes a comment cannot break it.
//!
//! Checked here: every copy is its starter plus marker lines and nothing
//! else; every copy belongs to a file learners edit; no file learners edit
//! carries a marker; no book page includes a file learners edit.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::manifest::{BOOK_SRC_DIR, LESSONS_DIR, Workbook};

/// Where the copies live, mirroring `lessons/`.
pub const STARTER_COPIES_DIR: &str = "book/starters";

/// What the problems below ask for, said once.
const COPY_RULE: &str =
    "a copy is its starter plus `// ANCHOR` lines and nothing else: make the same edit in both";

pub fn check(workbook: &Workbook, problems: &mut Vec<String>) {
    // Every file learners edit, with the path of its copy.
    let starters: BTreeMap<PathBuf, PathBuf> = workbook
        .exercises()
        .flat_map(|exercise| exercise.edit.iter())
        .filter_map(|starter| Some((starter.clone(), copy_of(starter)?)))
        .collect();
    for (starter, copy) in &starters {
        // A missing starter is reported with the exercise.
        let Ok(text) = fs::read_to_string(workbook.path(starter)) else {
            continue;
        };
        if let Some((number, line)) = numbered_lines(&text).find(|(_, line)| is_marker(line)) {
            problems.push(format!(
                "{}:{number}: learners edit this file, so it must carry no ANCHOR marker (`{}`): put the markers in its copy, {}, and include the copy in the book",
                starter.display(),
                shown(line),
                copy.display()
            ));
        }
        // A starter without a copy is fine as long as the book does not show it.
        let Ok(listing) = fs::read_to_string(workbook.path(copy)) else {
            continue;
        };
        if let Some(difference) = first_difference(&text, &listing) {
            problems.push(difference.describe(starter, copy));
        }
    }
    check_orphans(workbook, &starters, problems);
    check_book_includes(workbook, &starters, problems);
}

/// `lessons/L/E/src/lib.rs` -> `book/starters/L/E/src/lib.rs`.
fn copy_of(starter: &Path) -> Option<PathBuf> {
    let inside = starter.strip_prefix(LESSONS_DIR).ok()?;
    Some(Path::new(STARTER_COPIES_DIR).join(inside))
}

/// A copy whose starter is gone (an exercise renamed or removed) would keep
/// showing code no learner sees.
fn check_orphans(
    workbook: &Workbook,
    starters: &BTreeMap<PathBuf, PathBuf>,
    problems: &mut Vec<String>,
) {
    for file in files_under(&workbook.path(STARTER_COPIES_DIR)) {
        let copy = file.strip_prefix(&workbook.root).unwrap_or(&file);
        let inside = copy.strip_prefix(STARTER_COPIES_DIR).unwrap_or(copy);
        let starter = Path::new(LESSONS_DIR).join(inside);
        if !starters.contains_key(&starter) {
            problems.push(format!(
                "{}: it is the copy of {}, but no exercise lists that file in `edit`: move the copy beside its starter's path, or remove it",
                copy.display(),
                starter.display()
            ));
        }
    }
}

/// The book shows what it includes: a file learners edit would show their
/// work in progress instead of the exercise.
fn check_book_includes(
    workbook: &Workbook,
    starters: &BTreeMap<PathBuf, PathBuf>,
    problems: &mut Vec<String>,
) {
    let edited: BTreeMap<PathBuf, (&PathBuf, &PathBuf)> = starters
        .iter()
        .map(|(starter, copy)| (super::normalize(&workbook.path(starter)), (starter, copy)))
        .collect();
    let src = workbook.path(BOOK_SRC_DIR);
    for page in super::markdown_files(&src) {
        let Ok(text) = fs::read_to_string(&page) else {
            continue;
        };
        let shown_page = page.strip_prefix(&workbook.root).unwrap_or(&page);
        let dir = page.parent().unwrap_or(&src);
        for (number, line) in numbered_lines(&text) {
            for include in super::includes(line) {
                let path = include.split(':').next().unwrap_or_default();
                if let Some((starter, copy)) = edited.get(&super::normalize(&dir.join(path))) {
                    problems.push(format!(
                        "{}:{number}: it includes {}, which learners edit, so the book would show their half-done work: include its copy, {}, instead",
                        shown_page.display(),
                        starter.display(),
                        copy.display()
                    ));
                }
            }
        }
    }
}

/// Where a copy first strays from its starter, marker lines set aside. Each
/// side is a line number (from 1) and the line, or `None` where that file
/// has already ended.
#[derive(Debug, PartialEq, Eq)]
struct Difference<'a> {
    starter: Option<(usize, &'a str)>,
    copy: Option<(usize, &'a str)>,
}

impl Difference<'_> {
    fn describe(&self, starter_path: &Path, copy_path: &Path) -> String {
        let (starter, copy) = (starter_path.display(), copy_path.display());
        match (self.starter, self.copy) {
            (Some((starter_number, starter_line)), Some((copy_number, copy_line))) => {
                let (starter_shown, copy_shown) = (shown(starter_line), shown(copy_line));
                let invisible = if starter_shown == copy_shown {
                    " (they differ in trailing spaces or line endings)"
                } else {
                    ""
                };
                format!(
                    "{copy}:{copy_number}: the copy differs from its starter here: it has `{copy_shown}` where {starter}:{starter_number} has `{starter_shown}`{invisible}; {COPY_RULE}"
                )
            }
            (Some((starter_number, starter_line)), None) => format!(
                "{copy}: the copy ends where its starter goes on, at {starter}:{starter_number} `{}`; {COPY_RULE}",
                shown(starter_line)
            ),
            (None, Some((copy_number, copy_line))) => format!(
                "{copy}:{copy_number}: the copy goes on after its starter {starter} ends, with `{}`; {COPY_RULE}",
                shown(copy_line)
            ),
            (None, None) => format!("{copy}: the copy and {starter} are the same"),
        }
    }
}

/// `None` when `copy` is `starter` plus marker lines. Markers are set aside
/// on both sides: a marker in the starter is a problem of its own.
fn first_difference<'a>(starter: &'a str, copy: &'a str) -> Option<Difference<'a>> {
    let mut starter_lines = numbered_lines(starter).filter(|(_, line)| !is_marker(line));
    let mut copy_lines = numbered_lines(copy).filter(|(_, line)| !is_marker(line));
    loop {
        let (starter, copy) = (starter_lines.next(), copy_lines.next());
        match (starter, copy) {
            (None, None) => return None,
            (Some((_, a)), Some((_, b))) if a == b => continue,
            _ => return Some(Difference { starter, copy }),
        }
    }
}

/// The lines of `text`, numbered from 1, each with its line ending (so a
/// difference in endings, or in the last line's, is still a difference).
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line))
}

/// A line mdBook treats as an anchor marker and leaves out of every
/// anchored listing: one holding `ANCHOR:` or `ANCHOR_END:` followed by a
/// name (mdBook's own patterns, `ANCHOR:\s*[\w_-]+`).
fn is_marker(line: &str) -> bool {
    ["ANCHOR:", "ANCHOR_END:"].iter().any(|keyword| {
        line.match_indices(keyword).any(|(at, _)| {
            line[at + keyword.len()..]
                .trim_start()
                .starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
        })
    })
}

/// A line as a problem quotes it: without its ending or indentation, and
/// cut short when long.
fn shown(line: &str) -> String {
    const MAX: usize = 80;
    let line = line.trim();
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// Every file below `dir`, sorted; hidden files and folders are skipped.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|entry| entry.ok()) {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_the_lines_mdbook_treats_as_markers() {
        assert!(is_marker("// ANCHOR: app\n"));
        assert!(is_marker("    // ANCHOR_END: app"));
        assert!(is_marker("# ANCHOR:open_connection"));
        assert!(!is_marker("// ANCHOR:\n"), "no name, no marker");
        assert!(!is_marker("/// An ANCHOR is a heavy thing."));
        assert!(!is_marker("    todo!()"));
    }

    #[test]
    fn a_copy_is_its_starter_plus_marker_lines() {
        let starter = "use axum::Router;\n\npub fn app() -> Router {\n    Router::new()\n}\n";
        let copy = "use axum::Router;\n\n// ANCHOR: app\npub fn app() -> Router {\n    Router::new()\n}\n// ANCHOR_END: app\n";
        assert_eq!(first_difference(starter, copy), None);
        assert_eq!(first_difference(starter, starter), None);
    }

    #[test]
    fn the_first_differing_line_is_named_on_both_sides() {
        let starter = "a\nb\n    // TODO: the goal\nd\n";
        let copy = "// ANCHOR: x\na\nb\n    // TODO: the answer\nd\n// ANCHOR_END: x\n";
        let difference = first_difference(starter, copy).unwrap();
        assert_eq!(
            difference,
            Difference {
                starter: Some((3, "    // TODO: the goal\n")),
                copy: Some((4, "    // TODO: the answer\n")),
            }
        );
        assert_eq!(
            difference.describe(
                Path::new("lessons/l/e/src/lib.rs"),
                Path::new("book/starters/l/e/src/lib.rs")
            ),
            format!(
                "book/starters/l/e/src/lib.rs:4: the copy differs from its starter here: it has `// TODO: the answer` where lessons/l/e/src/lib.rs:3 has `// TODO: the goal`; {COPY_RULE}"
            )
        );
    }

    #[test]
    fn a_copy_cut_short_or_running_on_is_a_difference() {
        assert_eq!(
            first_difference("a\nb\n", "a\n// ANCHOR_END: x\n"),
            Some(Difference {
                starter: Some((2, "b\n")),
                copy: None
            })
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n"),
            Some(Difference {
                starter: None,
                copy: Some((2, "b\n"))
            })
        );
        let endings = first_difference("a\r\nb\n", "a\nb\n").unwrap();
        assert!(
            endings
                .describe(Path::new("s"), Path::new("c"))
                .contains("line endings"),
            "{endings:?}"
        );
        assert!(
            first_difference("a\nb", "a\nb\n").is_some(),
            "a missing final newline is a difference"
        );
    }

    #[test]
    fn copies_mirror_the_lessons_folder() {
        assert_eq!(
            copy_of(Path::new("lessons/01-server/hello/src/lib.rs")),
            Some(PathBuf::from("book/starters/01-server/hello/src/lib.rs"))
        );
        assert_eq!(copy_of(Path::new("elsewhere/lib.rs")), None);
    }
}
