//! The book, one key away: an exercise's section opened in the rendered book
//! (built first when its sources are newer, mdBook installed on first use),
//! or printed in the terminal with its listings in place, for a learner
//! without mdBook, a browser or a network.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};

use crate::manifest::{Exercise, Workbook};

/// The mdBook the book is written for (the project's test command installs
/// the same).
pub const MDBOOK_VERSION: &str = "0.5.4";
/// Where `mdbook build book` puts the rendered book (book/book.toml).
const BUILD_DIR: &str = "book/build";
/// What the book's pages include: newer files make the rendered book stale.
const SOURCES: [&str; 4] = [
    "book/src",
    "book/starters",
    "book/listings/src",
    "book/book.toml",
];

/// The section's Markdown file (an external lesson's is in its own folder).
pub fn section(workbook: &Workbook, exercise: &Exercise) -> PathBuf {
    workbook.path(&exercise.book_dir).join(&exercise.book)
}

/// Whether the rendered book has the section: an external lesson's pages
/// are not part of it (`book/src` is the workbook's).
pub fn renders(exercise: &Exercise) -> bool {
    !exercise.is_external()
}

/// The section's page in the rendered book.
pub fn page(workbook: &Workbook, exercise: &Exercise) -> PathBuf {
    let mut page = workbook.path(BUILD_DIR).join(&exercise.book);
    page.set_extension("html");
    page
}

/// The section as Markdown, every `{{#include}}` replaced by what it shows.
pub fn section_text(workbook: &Workbook, exercise: &Exercise) -> Result<String> {
    if crate::manifest::is_web_address(&exercise.book) {
        return Ok(format!(
            "{}'s section is on the web: {}\n",
            exercise.id, exercise.book
        ));
    }
    let path = section(workbook, exercise);
    let text = fs::read_to_string(&path)
        .with_context(|| format!("cannot read the book section {}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        out.push_str(&expand_line(dir, line));
        out.push('\n');
    }
    Ok(out)
}

/// mdBook's `{{#...}}` directives on a line: where each starts and ends,
/// and for an include (`include`, `rustdoc_include`) its target.
fn directives(line: &str) -> Vec<(usize, usize, Option<&str>)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = line[from..].find("{{#").map(|at| from + at) {
        let Some(end) = line[start + 3..].find("}}").map(|at| start + 3 + at) else {
            break;
        };
        let body = &line[start + 3..end];
        let target = body
            .strip_prefix("include ")
            .or_else(|| body.strip_prefix("rustdoc_include "))
            .map(str::trim);
        found.push((start, end + 2, target));
        from = end + 2;
    }
    found
}

/// The targets of the includes on a line (`path` or `path:anchor`).
pub fn includes(line: &str) -> Vec<String> {
    directives(line)
        .into_iter()
        .filter_map(|(_, _, target)| target.map(String::from))
        .collect()
}

/// One line with its includes expanded (an include that cannot be read is
/// left as it is, with a note, so the rest still reads); other directives
/// (`{{#title}}`) show nothing.
fn expand_line(dir: &Path, line: &str) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for (start, end, target) in directives(line) {
        out.push_str(&line[shown..start]);
        if let Some(target) = target {
            match include(dir, target) {
                Ok(text) => out.push_str(text.trim_end_matches('\n')),
                Err(error) => out.push_str(&format!("[{error}]")),
            }
        }
        shown = end;
    }
    out.push_str(&line[shown..]);
    out
}

/// What mdBook shows for `path`, `path:anchor`, `path:N`, `path:N:M`,
/// `path:N:` or `path::M` (lines counted from 1).
fn include(dir: &Path, target: &str) -> Result<String> {
    let (file, selector) = match target.split_once(':') {
        Some((file, selector)) => (file, Some(selector)),
        None => (target, None),
    };
    let text = fs::read_to_string(dir.join(file))
        .map_err(|_| anyhow::anyhow!("{file} could not be read"))?;
    let lines: Vec<&str> = text.lines().collect();
    let is_marker = |line: &str| line.contains("ANCHOR:") || line.contains("ANCHOR_END:");
    let kept: Vec<&str> = match selector {
        None | Some("") => lines.into_iter().filter(|l| !is_marker(l)).collect(),
        Some(selector) if selector.starts_with(|c: char| c.is_ascii_digit() || c == ':') => {
            let (from, to) = selector.split_once(':').unwrap_or((selector, selector));
            let from = from.parse::<usize>().unwrap_or(1).max(1);
            let to = to.parse::<usize>().unwrap_or(lines.len()).min(lines.len());
            lines
                .get(from - 1..to)
                .unwrap_or_default()
                .iter()
                .copied()
                .filter(|l| !is_marker(l))
                .collect()
        }
        Some(anchor) => {
            let start = lines
                .iter()
                .position(|l| l.trim_end().ends_with(&format!("ANCHOR: {anchor}")));
            let end = lines
                .iter()
                .position(|l| l.trim_end().ends_with(&format!("ANCHOR_END: {anchor}")));
            match (start, end) {
                (Some(start), Some(end)) if start < end => lines[start + 1..end]
                    .iter()
                    .copied()
                    .filter(|l| !is_marker(l))
                    .collect(),
                _ => bail!("{file} has no anchor `{anchor}`"),
            }
        }
    };
    Ok(dedent(&kept))
}

/// mdBook removes the indentation an anchored block shares.
fn dedent(lines: &[&str]) -> String {
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The mdBook program: `WORKBOOK_MDBOOK` if set (tests point it nowhere),
/// else `mdbook` on PATH.
fn program() -> PathBuf {
    std::env::var_os("WORKBOOK_MDBOOK").map_or_else(|| PathBuf::from("mdbook"), PathBuf::from)
}

/// The mdBook program, if it is the version the book is written for.
pub fn mdbook() -> Option<PathBuf> {
    let program = program();
    let output = Command::new(&program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&output.stdout);
    (output.status.success() && version.contains(&format!("v{MDBOOK_VERSION}"))).then_some(program)
}

/// Installs mdBook with cargo, telling `on_line` what cargo says (its
/// progress). Offline, the error says how to read the book without it.
pub fn install(on_line: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["install", "mdbook", "--locked", "--version", MDBOOK_VERSION])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start cargo to install mdBook")?;
    let mut last = String::new();
    if let Some(stderr) = child.stderr.take() {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let line = line.trim().to_string();
            if !line.is_empty() {
                on_line(&line);
                last = line;
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "mdBook could not be installed (`cargo install mdbook` said: {last}). Offline? \
             `cargo checker book --print` shows the section in the terminal"
        );
    }
    mdbook().context("mdBook was installed, but `mdbook` is not on PATH: is ~/.cargo/bin on it?")
}

/// Whether the rendered book is missing or older than what it is made of.
pub fn is_stale(workbook: &Workbook) -> bool {
    let Some(built) = modified(&workbook.path(BUILD_DIR).join("index.html")) else {
        return true;
    };
    let mut newest = SystemTime::UNIX_EPOCH;
    for source in SOURCES {
        newest_below(&workbook.path(source), &mut newest);
    }
    // Pages include test files too.
    newest_below(&workbook.path(crate::manifest::LESSONS_DIR), &mut newest);
    newest > built
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|meta| meta.modified()).ok()
}

fn newest_below(path: &Path, newest: &mut SystemTime) {
    let Ok(meta) = fs::metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let Ok(entries) = fs::read_dir(path) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            if entry.file_name() != "target" {
                newest_below(&entry.path(), newest);
            }
        }
    } else if let Ok(time) = meta.modified() {
        *newest = (*newest).max(time);
    }
}

/// `mdbook build book`, its output kept for an error.
pub fn build(workbook: &Workbook, mdbook: &Path) -> Result<()> {
    let output = Command::new(mdbook)
        .arg("build")
        .arg(workbook.path("book"))
        .stdin(Stdio::null())
        .output()
        .context("cannot start mdbook")?;
    if !output.status.success() {
        bail!(
            "`mdbook build book` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Opens `page` in the browser, if this machine has one to show it.
pub fn open_in_browser(page: &Path) -> Result<()> {
    let (program, args): (&str, Vec<&std::ffi::OsStr>) = if cfg!(target_os = "macos") {
        ("open", vec![page.as_os_str()])
    } else if cfg!(windows) {
        (
            "cmd",
            vec![
                "/C".as_ref(),
                "start".as_ref(),
                "".as_ref(),
                page.as_os_str(),
            ],
        )
    } else {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            bail!("there is no display to open a browser on (a remote shell?)");
        }
        ("xdg-open", vec![page.as_os_str()])
    };
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot start {program} to open a browser"))?;
    if !status.success() {
        bail!("{program} could not open a browser ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_show_what_mdbook_shows() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("code.rs"),
            "use a;\n// ANCHOR: app\n    fn app() {\n        // ANCHOR: inner\n        x();\n        // ANCHOR_END: inner\n    }\n// ANCHOR_END: app\nfn last() {}\n",
        )
        .unwrap();
        let d = dir.path();
        assert_eq!(
            include(d, "code.rs:app").unwrap(),
            "fn app() {\n    x();\n}"
        );
        assert_eq!(include(d, "code.rs:inner").unwrap(), "x();");
        assert_eq!(include(d, "code.rs:1").unwrap(), "use a;");
        assert_eq!(include(d, "code.rs:8:").unwrap(), "fn last() {}");
        assert_eq!(
            include(d, "code.rs").unwrap(),
            "use a;\n    fn app() {\n        x();\n    }\nfn last() {}"
        );
        assert!(include(d, "code.rs:nope").is_err());
        assert_eq!(
            expand_line(d, "```rust\n{{#include code.rs:inner}}"),
            "```rust\nx();"
        );
        assert_eq!(
            expand_line(d, "see {{#include missing.rs}} here"),
            "see [missing.rs could not be read] here"
        );
    }
}
