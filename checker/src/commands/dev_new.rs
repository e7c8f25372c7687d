//! `dev new lesson NAME` and `dev new exercise LESSON NAME`: scaffold every
//! file a lesson or an exercise needs, laid out as the existing ones are, so
//! that `dev check` passes at once. The scaffolded exercise's solution is
//! its starter, on purpose: `dev verify` fails on it until its author writes
//! the reference solution, so an exercise cannot ship half written.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};

use super::Context;
use crate::UsageError;
use crate::manifest::{BOOK_SRC_DIR, LESSON_FILE, LESSONS_DIR, Lesson, SOLUTIONS_DIR, Workbook};

mod edits;
mod templates;

use templates::Names;

/// `dev new exercise LESSON NAME`.
pub fn exercise(
    context: &Context,
    lesson_id: &str,
    name: &str,
    title: Option<&str>,
) -> Result<ExitCode> {
    let workbook = &context.workbook;
    check_name("exercise", name)?;
    let Some(lesson) = workbook.lesson(lesson_id) else {
        bail!(UsageError(format!(
            "no lesson is called `{lesson_id}`: `cargo checker list` shows every lesson, and `cargo checker dev new lesson {lesson_id}` makes a new one"
        )));
    };
    if !is_own(lesson) {
        bail!(UsageError(format!(
            "lesson `{lesson_id}` lives outside the workbook ({}, a [[lessons]] entry in workbook.toml): `dev new` scaffolds the workbook's own lessons only; copy one of its exercises instead",
            lesson.dir.display()
        )));
    }
    let id = format!("{lesson_id}/{name}");
    if workbook.exercise(&id).is_some() {
        bail!(UsageError(format!(
            "exercise `{id}` already exists: choose another name, or edit {}",
            lesson.dir.join(name).display()
        )));
    }
    let names = Names::new(lesson, name, title);
    if workbook.exercises().any(|e| e.package == names.package) {
        bail!(UsageError(format!(
            "the package name `{}` is taken by another exercise: choose another name",
            names.package
        )));
    }
    // The lesson's dependency list comes from a sibling, so that switching
    // exercises never rebuilds a dependency.
    let sibling = lesson
        .exercises
        .first()
        .map(|first| fs::read_to_string(workbook.path(first.dir.join("Cargo.toml"))))
        .transpose()
        .context("cannot read the lesson's first exercise's Cargo.toml")?;
    let dependencies = match &sibling {
        Some(text) => edits::dependency_sections(text),
        None => templates::no_dependencies(has_workspace_lints(workbook)),
    };
    let files = templates::exercise_files(&names, &dependencies);
    refuse_existing(
        workbook,
        [&names.dir, &names.solution_dir, &names.copy_dir]
            .into_iter()
            .map(PathBuf::as_path)
            .chain(files.iter().map(|(path, _)| path.as_path())),
    )?;

    let lesson_manifest = lesson.dir.join(LESSON_FILE);
    let listed =
        edits::list_exercise(&read(workbook, &lesson_manifest)?, name).with_context(|| {
            format!(
                "cannot add `{name}` to `exercises` in {}: add it by hand",
                lesson_manifest.display()
            )
        })?;
    let summary_path = Path::new(BOOK_SRC_DIR).join("SUMMARY.md");
    let summary = edits::summary_with_section(
        &read(workbook, &summary_path).unwrap_or_default(),
        &lesson.book,
        &names.title,
        &names.section,
    );

    for (path, text) in &files {
        create(workbook, path, text)?;
    }
    write(workbook, &lesson_manifest, &listed)?;
    write(workbook, &summary_path, &summary)?;
    let sums = record_checksums(&workbook.root, lesson_id)?;
    let locked = lock_new_packages(&workbook.root);

    println!("Created exercise `{id}`:");
    for (path, _) in &files {
        println!("  created  {}", path.display());
    }
    for path in [&lesson_manifest, &summary_path, &sums] {
        println!("  changed  {}", path.display());
    }
    if locked {
        println!("  updated  Cargo.lock");
    }
    let starter = names.dir.join("src/lib.rs");
    println!("\nNext, replacing every `TODO (author)`:");
    println!(
        "  1. the test, {}; then `cargo checker dev checksums`",
        names.test_file().display()
    );
    println!(
        "  2. the solution, {} (until it passes, `dev verify` fails on purpose)",
        names.solution_dir.join("src/lib.rs").display()
    );
    println!(
        "  3. the starter, {}, and its copy, {}",
        starter.display(),
        names.copy_dir.join("src/lib.rs").display()
    );
    println!(
        "  4. the hints in {}, and the section {}",
        names.dir.join("exercise.toml").display(),
        Path::new(BOOK_SRC_DIR).join(&names.section).display()
    );
    println!("  5. `cargo checker dev check` and `cargo checker dev verify {id}`");
    Ok(ExitCode::SUCCESS)
}

/// `dev new lesson NAME`.
pub fn lesson(context: &Context, name: &str, title: Option<&str>) -> Result<ExitCode> {
    let workbook = &context.workbook;
    check_name("lesson", name)?;
    if let Some(existing) = workbook.lesson(name) {
        bail!(UsageError(format!(
            "lesson `{name}` already exists ({}): choose another name, or add an exercise to it with `cargo checker dev new exercise {name} NAME`",
            existing.dir.display()
        )));
    }
    let number = next_lesson_number(workbook);
    let folder = format!("{number:02}-{name}");
    let title = title.map_or_else(|| templates::title_from(name), str::to_string);
    let dir = Path::new(LESSONS_DIR).join(&folder);
    let chapter = format!("{name}/index.md");
    let files = vec![
        (
            dir.join(LESSON_FILE),
            templates::lesson_manifest(number, name, &title, &chapter),
        ),
        (
            Path::new(BOOK_SRC_DIR).join(&chapter),
            templates::chapter(name, &title),
        ),
    ];
    refuse_existing(
        workbook,
        files
            .iter()
            .map(|(path, _)| path.as_path())
            .chain([dir.as_path(), &Path::new(SOLUTIONS_DIR).join(&folder)]),
    )?;
    let summary_path = Path::new(BOOK_SRC_DIR).join("SUMMARY.md");
    let after = workbook
        .lessons
        .iter()
        .rfind(|lesson| is_own(lesson))
        .map(|last| last.book.as_str());
    let summary = edits::summary_with_chapter(
        &read(workbook, &summary_path).unwrap_or_default(),
        after,
        &title,
        &chapter,
    );

    for (path, text) in &files {
        create(workbook, path, text)?;
    }
    write(workbook, &summary_path, &summary)?;
    let sums = record_checksums(&workbook.root, name)?;

    println!("Created lesson `{name}`:");
    for (path, _) in &files {
        println!("  created  {}", path.display());
    }
    println!("  created  {}", sums.display());
    println!("  changed  {}", summary_path.display());
    println!(
        "\nNext: `cargo checker dev new exercise {name} NAME` adds its first exercise; list the \
         lesson's dependencies in that exercise's Cargo.toml, and the next exercises copy them."
    );
    Ok(ExitCode::SUCCESS)
}

/// Ids become folder, package, crate, module and function names: lowercase
/// letters first, then letters, digits, `-` and `_`, and no Rust keyword.
fn check_name(what: &str, name: &str) -> Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !name.ends_with(['-', '_']);
    if !valid {
        bail!(UsageError(format!(
            "`{name}` is not a valid {what} name: start with a lowercase letter, then use lowercase letters, digits, `-` and `_` (e.g. `rate-limits`)"
        )));
    }
    if templates::is_keyword(&name.replace('-', "_")) {
        bail!(UsageError(format!(
            "`{name}` is a Rust keyword, and the {what}'s name becomes Rust names: choose another"
        )));
    }
    Ok(())
}

/// Whether the lesson is one of the workbook's own, under `lessons/` with
/// its pages in `book/src` (not an instructor's `[[lessons]]` folder).
fn is_own(lesson: &Lesson) -> bool {
    lesson.dir.starts_with(LESSONS_DIR) && lesson.book_dir == Path::new(BOOK_SRC_DIR)
}

/// One more than the highest lesson folder's number (`07-capstone` -> 8).
fn next_lesson_number(workbook: &Workbook) -> u32 {
    workbook
        .lessons
        .iter()
        .filter(|lesson| is_own(lesson))
        .filter_map(|lesson| {
            let folder = lesson.dir.file_name()?.to_string_lossy().into_owned();
            folder.split('-').next()?.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
        + 1
}

/// Nothing is written over: a leftover folder or page is the author's work.
fn refuse_existing<'a>(workbook: &Workbook, paths: impl Iterator<Item = &'a Path>) -> Result<()> {
    for path in paths {
        if workbook.path(path).exists() {
            bail!(UsageError(format!(
                "{} already exists: move it away or choose another name (nothing was written)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Whether the root Cargo.toml has `[workspace.lints]` for crates to inherit.
fn has_workspace_lints(workbook: &Workbook) -> bool {
    fs::read_to_string(workbook.path("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|root| root.get("workspace").and_then(|w| w.get("lints")).is_some())
}

/// The lesson's record of what grades it, written anew from the files now
/// on disk (the manifests are read again, with the new exercise in them).
fn record_checksums(root: &Path, lesson_id: &str) -> Result<PathBuf> {
    let workbook = Workbook::load(root)?;
    let lesson = workbook
        .lesson(lesson_id)
        .with_context(|| format!("lesson `{lesson_id}` is not found after scaffolding it"))?;
    super::dev_checksums::record(&workbook, lesson)?;
    Ok(lesson.dir.join(crate::integrity::SUMS_FILE))
}

/// Adds the new packages to Cargo.lock now. The checker seals Cargo.lock
/// while it builds (it says which versions a build takes), so the first
/// `dev verify` would otherwise see cargo change it and refuse to grade.
/// The new crates list dependencies the lock already holds: no network.
fn lock_new_packages(root: &Path) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let done = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !done {
        crate::term::warn(
            "could not bring Cargo.lock up to date (`cargo metadata --offline` failed): run `cargo metadata --format-version 1 > /dev/null` once before `cargo checker dev verify`",
        );
    }
    done
}

fn read(workbook: &Workbook, path: &Path) -> Result<String> {
    fs::read_to_string(workbook.path(path))
        .with_context(|| format!("cannot read {}", path.display()))
}

fn write(workbook: &Workbook, path: &Path, text: &str) -> Result<()> {
    fs::write(workbook.path(path), text).with_context(|| format!("cannot write {}", path.display()))
}

fn create(workbook: &Workbook, path: &Path, text: &str) -> Result<()> {
    let full = workbook.path(path);
    if let Some(parent) = full.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    write(workbook, path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_become_rust_names_are_refused() {
        for good in ["shout", "n-plus-one", "step_2"] {
            assert!(check_name("exercise", good).is_ok(), "{good}");
        }
        for bad in ["", "Shout", "2fa", "-x", "a/b", "x-", "a b", "type", "self"] {
            assert!(check_name("exercise", bad).is_err(), "{bad:?}");
        }
    }
}
