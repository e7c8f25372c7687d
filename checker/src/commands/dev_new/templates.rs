//! The texts `dev new` writes. Every placeholder an author must replace says
//! `TODO (author)`; the starter's `// TODO:` is the one line learners read,
//! and it states the goal, never the way.

use std::path::{Path, PathBuf};

use crate::commands::dev_check::listings::STARTER_COPIES_DIR;
use crate::manifest::{LESSONS_DIR, Lesson, SOLUTIONS_DIR};

/// Every name one exercise is known by.
pub struct Names {
    /// `basics/shout`.
    pub id: String,
    pub title: String,
    /// `lessons/01-basics/shout`.
    pub dir: PathBuf,
    /// `solutions/01-basics/shout`.
    pub solution_dir: PathBuf,
    /// `book/starters/01-basics/shout`.
    pub copy_dir: PathBuf,
    /// The section, relative to `book/src`: `basics/shout.md`.
    pub section: String,
    /// `basics-shout`; the solution's is this plus `-solution`.
    pub package: String,
    /// `basics_shout`: the package's crate name.
    pub krate: String,
    /// `shout`: the test file's stem, its module and the starter's function.
    pub item: String,
    /// From the section's folder up to `book/` (`../../`).
    pub to_book: String,
}

impl Names {
    pub fn new(lesson: &Lesson, name: &str, title: Option<&str>) -> Names {
        let folder = lesson
            .dir
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        let chapter_dir = Path::new(&lesson.book)
            .parent()
            .map(|dir| dir.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let section = if chapter_dir.is_empty() {
            format!("{name}.md")
        } else {
            format!("{chapter_dir}/{name}.md")
        };
        let depth = Path::new(&section).components().count();
        let package = format!("{}-{name}", lesson.id);
        Names {
            id: format!("{}/{name}", lesson.id),
            title: title.map_or_else(|| title_from(name), str::to_string),
            dir: Path::new(LESSONS_DIR).join(&folder).join(name),
            solution_dir: Path::new(SOLUTIONS_DIR).join(&folder).join(name),
            copy_dir: Path::new(STARTER_COPIES_DIR).join(&folder).join(name),
            section,
            krate: package.replace('-', "_"),
            package,
            item: name.replace('-', "_"),
            to_book: "../".repeat(depth),
        }
    }

    /// Relative to the exercise folder: `tests/shout.rs`.
    fn test_name(&self) -> String {
        format!("tests/{}.rs", self.item)
    }

    /// Relative to the root.
    pub fn test_file(&self) -> PathBuf {
        self.dir.join(self.test_name())
    }
}

/// `n-plus-one` -> `N plus one`.
pub fn title_from(name: &str) -> String {
    let words = name.replace(['-', '_'], " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Every file of a new exercise, relative to the root, with its text.
/// `dependencies` is the lesson's shared dependency list (and `[lints]`).
pub fn exercise_files(names: &Names, dependencies: &str) -> Vec<(PathBuf, String)> {
    let starter = starter(names);
    vec![
        (
            names.dir.join("Cargo.toml"),
            cargo_toml(&names.package, dependencies),
        ),
        (names.dir.join("exercise.toml"), exercise_toml(names)),
        (names.dir.join("src/lib.rs"), starter.clone()),
        (names.test_file(), test_file(names)),
        (
            names.solution_dir.join("Cargo.toml"),
            cargo_toml(&format!("{}-solution", names.package), dependencies),
        ),
        (
            names.solution_dir.join("src/lib.rs"),
            not_a_solution(&starter),
        ),
        (
            names.solution_dir.join(names.test_name()),
            solution_test(names),
        ),
        (
            names.copy_dir.join("src/lib.rs"),
            starter_copy(names, &starter),
        ),
        (
            Path::new(crate::manifest::BOOK_SRC_DIR).join(&names.section),
            section(names),
        ),
    ]
}

fn cargo_toml(package: &str, dependencies: &str) -> String {
    format!(
        r#"[package]
name = "{package}"
version = "0.0.0"
edition.workspace = true
publish.workspace = true

# The checker runs only the tests in tests/; no unit tests or doctests to build.
[lib]
test = false
doctest = false
{dependencies}"#
    )
}

/// For a lesson's first exercise: no dependency yet, and the workspace's
/// lints when it has some.
pub fn no_dependencies(workspace_lints: bool) -> String {
    let mut text = String::from(
        "\n# Every exercise of the lesson lists the same dependencies (see the root\n\
         # Cargo.toml): list them here, and `dev new exercise` copies them to the next.\n",
    );
    if workspace_lints {
        text.push_str("\n[lints]\nworkspace = true\n");
    }
    text
}

fn exercise_toml(names: &Names) -> String {
    format!(
        r#"title = "{title}"
# The files the learner edits, relative to this folder.
edit = ["src/lib.rs"]
# The test files that grade the exercise, relative to this folder.
tests = ["{test}"]
# The book section that teaches it, relative to book/src.
book = "{section}"
# Hints unlock one at a time with `cargo checker hint`: each says a little more.
hints = [
    "TODO (author): the first hint: the idea to look for, no code.",
    "TODO (author): the second hint: the API that does it, and where the book shows it.",
    "TODO (author): the third hint: nearly the answer.",
]
"#,
        title = names.title.replace('\\', "\\\\").replace('"', "\\\""),
        test = names.test_name(),
        section = names.section,
    )
}

fn starter(names: &Names) -> String {
    format!(
        r#"//! # {id} — {title}
//!
//! TODO (author): what the learner builds here, in a sentence or two. The
//! book's section "{title}" explains every piece they need.
//!
//! Run `cargo checker check` when you think you are done.

{body}"#,
        id = names.id,
        title = names.title,
        body = starter_item(names),
    )
}

/// The part of the starter the book shows.
fn starter_item(names: &Names) -> String {
    format!(
        r#"/// TODO (author): what `{item}` does once it is written.
pub fn {item}() -> u32 {{
    // TODO: make `{item}()` return the answer the tests expect.
    0
}}
"#,
        item = names.item
    )
}

/// The copy the book includes: the starter with anchors around its item.
fn starter_copy(names: &Names, starter: &str) -> String {
    let item = starter_item(names);
    starter.replace(
        &item,
        &format!(
            "// ANCHOR: {anchor}\n{item}// ANCHOR_END: {anchor}\n",
            anchor = names.item
        ),
    )
}

/// The scaffolded solution is the starter, so that `dev verify` fails until
/// the author writes the real one.
fn not_a_solution(starter: &str) -> String {
    format!(
        "// NOT A SOLUTION YET. `cargo checker dev new` put the starter here, so that\n\
         // `cargo checker dev verify` reports this exercise's solution failing until\n\
         // its reference solution is written: replace this file with it (the same\n\
         // public API as the starter).\n\n{starter}"
    )
}

fn test_file(names: &Names) -> String {
    format!(
        r#"//! Tests for {id}.
//!
//! TODO (author): one test per behaviour the section teaches. Each failure
//! message opens with its verdict (`expected 42, got 0`), never with the
//! call the test made: the checker shows that first line beside the test's
//! name. After changing this file, run `cargo checker dev checksums`.

use {krate}::{item};

#[test]
fn {item}_returns_the_answer() {{
    let got = {item}();
    assert!(got == 42, "expected 42, got {{got}}");
}}
"#,
        id = names.id,
        krate = names.krate,
        item = names.item,
    )
}

/// The solution runs the lesson's test file itself, never a copy.
fn solution_test(names: &Names) -> String {
    let up = "../".repeat(names.solution_dir.components().count() + 1);
    format!(
        "extern crate {krate}_solution as {krate};\n#[path = \"{up}{test}\"]\nmod {item};\n",
        krate = names.krate,
        test = names.test_file().to_string_lossy().replace('\\', "/"),
        item = names.item,
    )
}

fn section(names: &Names) -> String {
    format!(
        r#"# {title}

> **Exercise** `{id}` · edit `{starter}` ·
> start it with `cargo checker goto {id}`

TODO (author): teach what the exercise needs. Show code only through
includes, as below: examples from `book/listings`, never the answer.

## Your task

TODO (author): what to build, and how the tests check it.

```rust,ignore
{{{{#include {to_book}starters/{copy}:{anchor}}}}}
```

## Try it

TODO (author): how to see the finished exercise at work. For an HTTP
exercise, an `examples/serve.rs` and a `console` block of the commands to
run, each with what it prints (see "Adding a lesson" in the instructor guide).
"#,
        title = names.title,
        id = names.id,
        starter = names
            .dir
            .join("src/lib.rs")
            .to_string_lossy()
            .replace('\\', "/"),
        to_book = names.to_book,
        copy = names
            .copy_dir
            .join("src/lib.rs")
            .strip_prefix(STARTER_COPIES_DIR)
            .unwrap_or(Path::new(""))
            .to_string_lossy()
            .replace('\\', "/"),
        anchor = names.item,
    )
}

pub fn lesson_manifest(number: u32, id: &str, title: &str, chapter: &str) -> String {
    format!(
        r#"# Lesson {number:02}. The checker discovers every `lessons/*/lesson.toml` and orders
# lessons by folder name; `exercises` gives the order inside the lesson.
id = "{id}"
title = "{title}"
# The lesson's chapter, relative to book/src.
book = "{chapter}"
# `cargo checker dev new exercise {id} NAME` adds one.
exercises = []
"#,
        title = title.replace('\\', "\\\\").replace('"', "\\\""),
    )
}

pub fn chapter(id: &str, title: &str) -> String {
    format!(
        "# {title}\n\n\
         TODO (author): what this lesson is about and why it matters, then a map of\n\
         its exercises. `cargo checker dev new exercise {id} NAME` adds one.\n"
    )
}

/// Rust's keywords, strict and reserved: none can name a module or a function.
pub fn is_keyword(word: &str) -> bool {
    const KEYWORDS: [&str; 51] = [
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    KEYWORDS.contains(&word)
}
