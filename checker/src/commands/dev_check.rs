//! `dev check`: the manifests agree with the files. Every exercise has its
//! starter, tests, solution, hints and book section; the crates of a lesson
//! list the same dependencies; the book's includes and links resolve;
//! nothing stray lies in the lesson and solution folders.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::integrity;
use crate::manifest::{
    BOOK_SRC_DIR, EXERCISE_FILE, LESSON_FILE, LESSONS_DIR, SOLUTIONS_DIR, Workbook, is_web_address,
    normalize,
};
use crate::term;

pub(super) mod listings;
mod messages;

/// Fewer hints than this and a stuck learner has nowhere to go but the answer.
const MIN_HINTS: usize = 2;

pub fn run(context: &Context) -> Result<ExitCode> {
    let workbook = &context.workbook;
    let mut problems = Vec::new();
    check_exercises(workbook, &mut problems);
    check_stray_folders(workbook, &mut problems);
    let book = check_book(workbook, &mut problems);
    listings::check(workbook, &mut problems);
    messages::check(workbook, &mut problems);
    if problems.is_empty() {
        println!(
            "{} {} lessons, {} exercises; {} book pages, {} includes and {} links resolve.",
            term::pass_mark(),
            workbook.lessons.len(),
            workbook.exercises().count(),
            book.pages,
            book.includes,
            book.links
        );
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        println!("{} {problem}", term::fail_mark());
    }
    println!(
        "\n{} found: fix them and run `cargo checker dev check` again.",
        crate::commands::plural(problems.len(), "problem")
    );
    Ok(ExitCode::from(1))
}

fn check_exercises(workbook: &Workbook, problems: &mut Vec<String>) {
    let summary =
        fs::read_to_string(workbook.path(BOOK_SRC_DIR).join("SUMMARY.md")).unwrap_or_default();
    let mut packages = HashSet::new();
    for lesson in &workbook.lessons {
        let chapter = lesson.book_dir.join(&lesson.book);
        // An external lesson's pages may live on the web, out of our sight.
        if !is_web_address(&lesson.book) && !workbook.path(&chapter).is_file() {
            problems.push(format!(
                "lesson {}: its chapter {} does not exist",
                lesson.id,
                chapter.display()
            ));
        }
        check_checksums(workbook, lesson, problems);
    }
    for lesson in &workbook.lessons {
        check_dependencies(workbook, lesson, problems);
    }
    for exercise in workbook.exercises() {
        let id = &exercise.id;
        for file in &exercise.edit {
            require(workbook, problems, id, "starter file", file);
            let relative = file.strip_prefix(&exercise.dir).unwrap_or(file);
            require(
                workbook,
                problems,
                id,
                "solution file",
                &exercise.solution_dir.join(relative),
            );
        }
        for test in &exercise.tests {
            require(
                workbook,
                problems,
                id,
                "test file",
                &exercise.dir.join(test),
            );
            check_solution_test(workbook, exercise, test, problems);
        }
        let section = exercise.book_dir.join(&exercise.book);
        let in_book = exercise.book_dir == Path::new(BOOK_SRC_DIR);
        if is_web_address(&exercise.book) {
            // An external lesson's page on the web: nothing here to check.
        } else if !workbook.path(&section).is_file() {
            problems.push(format!(
                "{id}: its book section {} does not exist",
                section.display()
            ));
        } else if in_book && !summary.contains(&format!("({})", exercise.book)) {
            problems.push(format!(
                "{id}: its book section {} is not listed in SUMMARY.md",
                exercise.book
            ));
        }
        if exercise.hints.len() < MIN_HINTS {
            problems.push(format!(
                "{id}: {} lists {}; give at least {MIN_HINTS}, each saying a little more",
                exercise.dir.join(EXERCISE_FILE).display(),
                crate::commands::plural(exercise.hints.len(), "hint")
            ));
        }
        if exercise.solution_package.is_empty() {
            problems.push(format!(
                "{id}: {} has no Cargo.toml",
                exercise.solution_dir.display()
            ));
        }
        for package in [&exercise.package, &exercise.solution_package] {
            if !package.is_empty() && !packages.insert(package.clone()) {
                problems.push(format!("{id}: the package name `{package}` is used twice"));
            }
        }
    }
}

/// The tables of a Cargo.toml that name dependencies.
const DEPENDENCY_TABLES: [&str; 4] = [
    "dependencies",
    "dev-dependencies",
    "build-dependencies",
    "target",
];

/// Every crate of a lesson, starters and solutions, lists the same
/// dependencies with the same features: cargo resolves features for what
/// it builds, so one crate with more would build its dependencies again
/// whenever the checker moves to it or away from it.
fn check_dependencies(
    workbook: &Workbook,
    lesson: &crate::manifest::Lesson,
    problems: &mut Vec<String>,
) {
    let crates = lesson
        .exercises
        .iter()
        .flat_map(|exercise| [&exercise.dir, &exercise.solution_dir])
        .map(|dir| dir.join("Cargo.toml"));
    let mut first: Option<(PathBuf, toml::Table)> = None;
    for manifest in crates {
        // A missing or broken Cargo.toml is reported where it is read.
        let Ok(text) = fs::read_to_string(workbook.path(&manifest)) else {
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        let dependencies: toml::Table = DEPENDENCY_TABLES
            .iter()
            .filter_map(|name| Some((name.to_string(), table.get(*name)?.clone())))
            .collect();
        let Some((first_manifest, first_dependencies)) = &first else {
            first = Some((manifest, dependencies));
            continue;
        };
        let differences = differences(first_dependencies, &dependencies);
        if !differences.is_empty() {
            problems.push(format!(
                "lesson {}: {} lists other dependencies than {} ({}): give every crate of a lesson, starters and solutions, the same list, or switching exercises rebuilds dependencies",
                lesson.id,
                manifest.display(),
                first_manifest.display(),
                differences.join("; ")
            ));
        }
    }
}

/// What `other` adds to, lacks from or changes in `reference`, by table.
fn differences(reference: &toml::Table, other: &toml::Table) -> Vec<String> {
    let empty = toml::Table::new();
    let mut found = Vec::new();
    for name in DEPENDENCY_TABLES {
        let ours = reference
            .get(name)
            .and_then(toml::Value::as_table)
            .unwrap_or(&empty);
        let theirs = other
            .get(name)
            .and_then(toml::Value::as_table)
            .unwrap_or(&empty);
        let added: Vec<&str> = theirs
            .keys()
            .filter(|k| !ours.contains_key(*k))
            .map(String::as_str)
            .collect();
        let missing: Vec<&str> = ours
            .keys()
            .filter(|k| !theirs.contains_key(*k))
            .map(String::as_str)
            .collect();
        let changed: Vec<&str> = ours
            .iter()
            .filter(|(k, v)| theirs.get(*k).is_some_and(|w| w != *v))
            .map(|(k, _)| k.as_str())
            .collect();
        for (what, names) in [("adds", added), ("lacks", missing), ("changes", changed)] {
            if !names.is_empty() {
                let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                found.push(format!("[{name}] {what} {}", names.join(", ")));
            }
        }
    }
    found
}

/// The record of what grades the lesson must match the files, or learners'
/// checks would all be flagged as tampered with.
fn check_checksums(
    workbook: &Workbook,
    lesson: &crate::manifest::Lesson,
    problems: &mut Vec<String>,
) {
    let path = lesson.dir.join(integrity::SUMS_FILE);
    let expected = match integrity::render(workbook, lesson) {
        Ok(text) => text,
        Err(_) => return, // a missing test file is reported on its own
    };
    let stale = match std::fs::read_to_string(workbook.path(&path)) {
        Ok(actual) => actual != expected,
        Err(_) => true,
    };
    if stale {
        problems.push(format!(
            "{} does not match the test files: run `cargo checker dev checksums` after changing tests",
            path.display()
        ));
    }
}

fn require(workbook: &Workbook, problems: &mut Vec<String>, id: &str, what: &str, path: &Path) {
    if !workbook.path(path).exists() {
        problems.push(format!("{id}: {what} {} does not exist", path.display()));
    }
}

/// The solution's test file must run the lesson's test file itself (through
/// `#[path]`), never a copy that could drift.
fn check_solution_test(
    workbook: &Workbook,
    exercise: &crate::manifest::Exercise,
    test: &Path,
    problems: &mut Vec<String>,
) {
    let wrapper = exercise.solution_dir.join(test);
    let Ok(text) = fs::read_to_string(workbook.path(&wrapper)) else {
        problems.push(format!(
            "{}: solution test file {} does not exist",
            exercise.id,
            wrapper.display()
        ));
        return;
    };
    let included = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("#[path = \""))
        .filter_map(|rest| rest.split('"').next())
        .map(|path| {
            normalize(
                &workbook
                    .path(&wrapper)
                    .parent()
                    .unwrap_or(Path::new(""))
                    .join(path),
            )
        })
        .collect::<Vec<_>>();
    let expected = normalize(&workbook.path(exercise.dir.join(test)));
    if !included.contains(&expected) {
        problems.push(format!(
            "{}: {} must include the lesson's test file with #[path = \"...{}\"]",
            exercise.id,
            wrapper.display(),
            exercise.dir.join(test).display()
        ));
    }
}

/// The folders holding a lesson's folder and its solutions' folder:
/// `lessons` and `solutions`, or an external folder's pair beside each other.
fn bases(lesson: &crate::manifest::Lesson) -> [PathBuf; 2] {
    let lessons = lesson
        .dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let solutions = lessons
        .parent()
        .map(|base| base.join(SOLUTIONS_DIR))
        .unwrap_or_else(|| PathBuf::from(SOLUTIONS_DIR));
    [lessons, solutions]
}

fn check_stray_folders(workbook: &Workbook, problems: &mut Vec<String>) {
    // Per pair of base folders, the lesson folders expected in them.
    let mut expected_lessons: std::collections::BTreeMap<[PathBuf; 2], BTreeSet<PathBuf>> = [(
        [PathBuf::from(LESSONS_DIR), PathBuf::from(SOLUTIONS_DIR)],
        BTreeSet::new(),
    )]
    .into();
    for lesson in &workbook.lessons {
        let folder = lesson
            .dir
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        let bases = bases(lesson);
        expected_lessons
            .entry(bases.clone())
            .or_default()
            .insert(folder.clone());
        let exercises: BTreeSet<PathBuf> = lesson
            .exercises
            .iter()
            .filter_map(|e| e.dir.file_name().map(PathBuf::from))
            .collect();
        for base in &bases {
            for entry in subfolders(&workbook.path(base.join(&folder))) {
                if !exercises.contains(&entry) {
                    problems.push(format!(
                        "stray folder {}: no exercise `{}` in {}",
                        base.join(&folder).join(&entry).display(),
                        entry.display(),
                        lesson.dir.join(LESSON_FILE).display()
                    ));
                }
            }
        }
    }
    for (bases, expected) in &expected_lessons {
        for base in bases {
            for entry in subfolders(&workbook.path(base)) {
                if !expected.contains(&entry) {
                    problems.push(format!(
                        "stray folder {}: it has no {LESSON_FILE} under {}/",
                        base.join(&entry).display(),
                        bases[0].display()
                    ));
                }
            }
        }
    }
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| PathBuf::from(entry.file_name()))
        .filter(|name| !name.to_string_lossy().starts_with('.') && name != Path::new("target"))
        .collect();
    names.sort();
    names
}

#[derive(Default)]
struct BookCounts {
    pages: usize,
    includes: usize,
    links: usize,
}

/// mdBook warns about a missing include and renders a dead link without a
/// word; here both are errors.
fn check_book(workbook: &Workbook, problems: &mut Vec<String>) -> BookCounts {
    let mut counts = BookCounts::default();
    let src = workbook.path(BOOK_SRC_DIR);
    for page in markdown_files(&src) {
        counts.pages += 1;
        let Ok(text) = fs::read_to_string(&page) else {
            continue;
        };
        let shown = page
            .strip_prefix(&workbook.root)
            .unwrap_or(&page)
            .display()
            .to_string();
        let dir = page.parent().unwrap_or(&src);
        for (line_number, line) in text.lines().enumerate() {
            let at = format!("{shown}:{}", line_number + 1);
            for include in includes(line) {
                counts.includes += 1;
                check_include(dir, &include, &at, problems);
            }
            for link in links(line) {
                counts.links += 1;
                let target = link.split('#').next().unwrap_or_default();
                if !target.is_empty() && !dir.join(target).exists() {
                    problems.push(format!("{at}: the link to {link} leads nowhere"));
                }
            }
        }
    }
    counts
}

fn check_include(dir: &Path, include: &str, at: &str, problems: &mut Vec<String>) {
    let (path, anchor) = match include.split_once(':') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (include, None),
    };
    let Ok(text) = fs::read_to_string(dir.join(path)) else {
        problems.push(format!("{at}: the included file {path} does not exist"));
        return;
    };
    let Some(anchor) =
        anchor.filter(|a| !a.is_empty() && !a.chars().next().is_some_and(|c| c.is_ascii_digit()))
    else {
        return;
    };
    let has = |marker: &str| {
        text.lines()
            .any(|line| line.trim_end().ends_with(&format!("{marker}: {anchor}")))
    };
    if !has("ANCHOR") || !has("ANCHOR_END") {
        problems.push(format!(
            "{at}: {path} has no `ANCHOR: {anchor}` ... `ANCHOR_END: {anchor}` pair"
        ));
    }
}

/// `{{#include path:anchor}}` and `{{#rustdoc_include ...}}` on a line.
fn includes(line: &str) -> Vec<String> {
    crate::book::includes(line)
}

/// Relative Markdown links `[text](target)`; web links and in-page anchors are not files.
fn links(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].trim();
        let external =
            target.contains("://") || target.starts_with("mailto:") || target.starts_with('#');
        if !external && !target.is_empty() {
            found.push(target.to_string());
        }
        rest = &after[end + 1..];
    }
    found
}

fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
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
    fn includes_are_found_with_their_anchors() {
        assert_eq!(
            includes("x {{#include ../a.rs:app}} y {{#rustdoc_include b.rs}} {{#title T}}"),
            vec!["../a.rs:app", "b.rs"]
        );
    }

    #[test]
    fn only_relative_links_are_checked() {
        assert_eq!(
            links("[a](hello.md) [b](https://docs.rs) [c](#top) [d](../x.md#part)"),
            vec!["hello.md", "../x.md#part"]
        );
    }

    #[test]
    fn normalize_resolves_parent_folders() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }
}
