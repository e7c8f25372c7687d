//! Edits to files authors also edit by hand (`lesson.toml`, `SUMMARY.md`),
//! made as text so that their comments and layout stay as they were.

use anyhow::{Result, bail};

/// The sibling's dependency tables and `[lints]`, as written, each with the
/// comment above it; its `[package]`, `[lib]`, `[[bin]]` and the like are
/// its own.
pub fn dependency_sections(cargo_toml: &str) -> String {
    let mut kept = String::new();
    let mut comments = String::new();
    let mut keep = false;
    for line in cargo_toml.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            let header = trimmed.trim_start_matches('[').trim_end_matches(']');
            let table = header.split('.').next().unwrap_or_default().trim();
            keep = !trimmed.starts_with("[[")
                && matches!(
                    table,
                    "dependencies" | "dev-dependencies" | "build-dependencies" | "target" | "lints"
                );
            if keep {
                kept.push('\n');
                kept.push_str(&comments);
            }
            comments.clear();
        }
        if trimmed.starts_with('#') {
            comments.push_str(line);
            comments.push('\n');
        } else if trimmed.is_empty() {
            comments.clear();
        } else if keep {
            // Comments inside a kept table stay where they were.
            kept.push_str(&std::mem::take(&mut comments));
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// `lesson.toml` with `name` added at the end of its `exercises` list, in
/// the list's own layout (one line, or one name a line).
pub fn list_exercise(manifest: &str, name: &str) -> Result<String> {
    let Some(key) = manifest
        .lines()
        .scan(0, |offset, line| {
            let start = *offset;
            *offset += line.len() + 1;
            Some((start, line))
        })
        .find(|(_, line)| {
            line.trim_start()
                .strip_prefix("exercises")
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|(start, _)| start)
    else {
        bail!("it has no `exercises = [...]` line");
    };
    let Some(open) = manifest[key..].find('[').map(|at| key + at) else {
        bail!("its `exercises` is not a list");
    };
    let Some(close) = manifest[open..].find(']').map(|at| open + at) else {
        bail!("its `exercises` list is not closed");
    };
    let inside = &manifest[open + 1..close];
    let entry = format!("\"{name}\"");
    let edited = if inside.contains('\n') {
        // One name a line: a new line before the `]`'s line, as indented as the last.
        let line_start = manifest[..close].rfind('\n').map_or(0, |at| at + 1);
        let before = manifest[open + 1..line_start].trim_end();
        let indent = before
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .map(|line| &line[..line.len() - line.trim_start().len()])
            .unwrap_or("    ");
        let comma = if before.is_empty() || before.ends_with(',') {
            ""
        } else {
            ","
        };
        format!(
            "{}{comma}\n{indent}{entry},\n{}",
            &manifest[..open + 1 + before.len()],
            &manifest[line_start..]
        )
    } else if inside.trim().is_empty() {
        format!("{}[{entry}]{}", &manifest[..open], &manifest[close + 1..])
    } else {
        let items = inside.trim_end().trim_end_matches(',');
        format!(
            "{}[{items}, {entry}]{}",
            &manifest[..open],
            &manifest[close + 1..]
        )
    };
    // Read it back: the edit must have added exactly this name.
    let names = |text: &str| -> Option<Vec<String>> {
        let table: toml::Table = text.parse().ok()?;
        table
            .get("exercises")?
            .as_array()?
            .iter()
            .map(|value| value.as_str().map(str::to_string))
            .collect()
    };
    match (names(manifest), names(&edited)) {
        (Some(mut before), Some(after)) => {
            before.push(name.to_string());
            if before != after {
                bail!("the edited list does not read back as the old one plus `{name}`");
            }
        }
        _ => bail!("the edited file does not read back as a list of names"),
    }
    Ok(edited)
}

/// `SUMMARY.md` with the exercise's section listed last under its lesson's
/// chapter (at the end when the chapter is not listed).
pub fn summary_with_section(summary: &str, chapter: &str, title: &str, section: &str) -> String {
    let mut lines: Vec<String> = summary.lines().map(str::to_string).collect();
    let entry = |indent: &str| format!("{indent}- [{title}]({section})");
    match find_entry(&lines, chapter) {
        Some(at) => {
            let end = block_end(&lines, at);
            let indent = if end > at + 1 {
                indentation(&lines[at + 1]).to_string()
            } else {
                format!("{}    ", indentation(&lines[at]))
            };
            lines.insert(end, entry(&indent));
        }
        None => lines.push(entry("")),
    }
    lines.join("\n") + "\n"
}

/// `SUMMARY.md` with a lesson's chapter after the chapter `after` and its
/// sections (at the end when there is none to follow).
pub fn summary_with_chapter(
    summary: &str,
    after: Option<&str>,
    title: &str,
    chapter: &str,
) -> String {
    let mut lines: Vec<String> = summary.lines().map(str::to_string).collect();
    let entry = format!("- [{title}]({chapter})");
    match after.and_then(|after| find_entry(&lines, after)) {
        Some(at) => {
            let end = block_end(&lines, at);
            lines.splice(end..end, [String::new(), entry]);
        }
        None => {
            if lines.last().is_some_and(|line| !line.trim().is_empty()) {
                lines.push(String::new());
            }
            lines.push(entry);
        }
    }
    lines.join("\n") + "\n"
}

/// The line that links to `page`.
fn find_entry(lines: &[String], page: &str) -> Option<usize> {
    let link = format!("]({page})");
    lines.iter().position(|line| line.contains(&link))
}

/// The line after the entry at `at` and the entries nested under it.
fn block_end(lines: &[String], at: usize) -> usize {
    let depth = indentation(&lines[at]).len();
    let mut end = at + 1;
    while end < lines.len()
        && !lines[end].trim().is_empty()
        && indentation(&lines[end]).len() > depth
    {
        end += 1;
    }
    end
}

fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_joins_the_list_in_its_own_layout() {
        assert_eq!(
            list_exercise("id = \"x\"\nexercises = [\"a\", \"b\"]\n", "c").unwrap(),
            "id = \"x\"\nexercises = [\"a\", \"b\", \"c\"]\n"
        );
        assert_eq!(
            list_exercise("exercises = []\n", "c").unwrap(),
            "exercises = [\"c\"]\n"
        );
        assert_eq!(
            list_exercise("exercises = [\n    \"a\",\n    \"b\"\n]\n# end\n", "c").unwrap(),
            "exercises = [\n    \"a\",\n    \"b\",\n    \"c\",\n]\n# end\n"
        );
        assert_eq!(
            list_exercise("exercises = [\n  \"a\",\n]\n", "c").unwrap(),
            "exercises = [\n  \"a\",\n  \"c\",\n]\n"
        );
        assert!(list_exercise("title = \"x\"\n", "c").is_err());
    }

    #[test]
    fn a_section_is_listed_last_under_its_chapter() {
        let summary =
            "# Summary\n\n- [One](one/index.md)\n    - [A](one/a.md)\n\n- [Two](two/index.md)\n";
        assert_eq!(
            summary_with_section(summary, "one/index.md", "B", "one/b.md"),
            "# Summary\n\n- [One](one/index.md)\n    - [A](one/a.md)\n    - [B](one/b.md)\n\n- [Two](two/index.md)\n"
        );
        assert_eq!(
            summary_with_section(summary, "two/index.md", "C", "two/c.md"),
            "# Summary\n\n- [One](one/index.md)\n    - [A](one/a.md)\n\n- [Two](two/index.md)\n    - [C](two/c.md)\n"
        );
    }

    #[test]
    fn a_chapter_follows_the_last_lessons_sections() {
        let summary = "- [One](one/index.md)\n    - [A](one/a.md)\n\n# For instructors\n";
        assert_eq!(
            summary_with_chapter(summary, Some("one/index.md"), "Two", "two/index.md"),
            "- [One](one/index.md)\n    - [A](one/a.md)\n\n- [Two](two/index.md)\n\n# For instructors\n"
        );
        assert_eq!(
            summary_with_chapter("# Summary\n", None, "Two", "two/index.md"),
            "# Summary\n\n- [Two](two/index.md)\n"
        );
    }

    #[test]
    fn only_the_dependency_tables_and_lints_are_copied() {
        let sibling = "[package]\nname = \"a\"\n\n# A program.\n[[bin]]\nname = \"a\"\n\n# Shared.\n[dependencies]\nserde.workspace = true\n\n[dev-dependencies]\ntokio.workspace = true\n\n[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n\n[lints]\nworkspace = true\n";
        assert_eq!(
            dependency_sections(sibling),
            "\n# Shared.\n[dependencies]\nserde.workspace = true\n\n[dev-dependencies]\ntokio.workspace = true\n\n[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n\n[lints]\nworkspace = true\n"
        );
    }
}
