//! An instructor's own lessons, kept outside the workbook so that updating
//! the workbook never touches them. A `[[lessons]]` entry of `workbook.toml`
//! names a folder laid out like the workbook's own:
//!
//! ```text
//! my-course/
//!   lessons/01-shop/lesson.toml, cart/...   <- path = "../my-course/lessons"
//!   solutions/01-shop/cart/...              <- beside it, mirrored
//!   book/shop/cart.md                       <- the pages (optional)
//! ```
//!
//! Its crates build in the workbook's cargo workspace, which cargo only
//! knows from the root `Cargo.toml`: the checker says which line is missing
//! rather than leave the instructor to cargo's "package not found".

use std::path::{Component, Path, PathBuf};

use anyhow::{Result, bail};
use serde::Deserialize;

use super::{Lesson, SOLUTIONS_DIR, Source, normalize, read_toml, relative, slashed};

/// Where an external lesson's own pages live, beside its `lessons/`.
const BOOK_DIR: &str = "book";

/// A `[[lessons]]` entry of `workbook.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LessonsEntry {
    /// The lessons folder, relative to the workbook root or absolute.
    path: PathBuf,
}

/// The folders of an entry: its lessons, the `solutions/` and `book/` beside them.
pub(super) fn source(root: &Path, entry: &LessonsEntry, manifest: &Path) -> Result<Source> {
    let lessons = normalize(&root.join(&entry.path));
    if !lessons.is_dir() {
        bail!(
            "{}: the [[lessons]] folder `{}` does not exist ({}): check out your lessons there or correct `path`",
            manifest.display(),
            entry.path.display(),
            lessons.display()
        );
    }
    let base = lessons.parent().unwrap_or(&lessons);
    Ok(Source {
        lessons: relative(root, &lessons),
        solutions: relative(root, &base.join(SOLUTIONS_DIR)),
        book: relative(root, &base.join(BOOK_DIR)),
    })
}

/// Every crate of `lessons` (starters and solutions) must be a member of the
/// workbook's workspace, and one outside the root folder must name the root
/// in `package.workspace`, since cargo looks for it in the crate's parents.
pub(super) fn require_members(root: &Path, lessons: &[Lesson]) -> Result<()> {
    let cargo_toml = root.join("Cargo.toml");
    let members = members(&cargo_toml)?;
    let crates = lessons
        .iter()
        .flat_map(|lesson| &lesson.exercises)
        .flat_map(|exercise| [&exercise.dir, &exercise.solution_dir]);
    for dir in crates {
        let absolute = normalize(&root.join(dir));
        let manifest = absolute.join("Cargo.toml");
        if !manifest.is_file() {
            continue; // a missing solution is `dev check`'s to report
        }
        let is_member = members
            .iter()
            .any(|pattern| matches(&normalize(&root.join(pattern)), &absolute));
        if !is_member {
            let folder = dir.parent().and_then(Path::parent).unwrap_or(dir);
            bail!(
                "{} is not in the cargo workspace: add \"{}/*/*\" to `members` in the workbook's Cargo.toml",
                slashed(dir),
                slashed(folder),
            );
        }
        if !absolute.starts_with(normalize(root)) {
            require_workspace_key(root, &absolute, &manifest)?;
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct CargoToml {
    package: Package,
}

#[derive(Deserialize)]
struct Package {
    workspace: Option<PathBuf>,
}

fn require_workspace_key(root: &Path, crate_dir: &Path, manifest: &Path) -> Result<()> {
    let file: CargoToml = read_toml(manifest)?;
    let points_home = file
        .package
        .workspace
        .is_some_and(|key| normalize(&crate_dir.join(key)) == normalize(root));
    if !points_home {
        bail!(
            "{}: add `workspace = \"{}\"` under [package]: the crate lies outside the workbook's folder, so cargo cannot find the workspace by itself",
            slashed(&relative(root, manifest)),
            slashed(&relative(crate_dir, root))
        );
    }
    Ok(())
}

/// The `members` patterns of the root `Cargo.toml`.
fn members(cargo_toml: &Path) -> Result<Vec<String>> {
    let table: toml::Table = read_toml(cargo_toml)?;
    Ok(table
        .get("workspace")
        .and_then(|workspace| workspace.get("members"))
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str)
        .map(String::from)
        .collect())
}

/// Whether `path` is one of the folders the cargo glob `pattern` names
/// (`*` and `?` within a folder name, as in `lessons/*/*`).
fn matches(pattern: &Path, path: &Path) -> bool {
    let pattern: Vec<Component> = pattern.components().collect();
    let path: Vec<Component> = path.components().collect();
    pattern.len() == path.len()
        && pattern.iter().zip(&path).all(|(p, c)| {
            wildcard(
                p.as_os_str().to_string_lossy().as_bytes(),
                c.as_os_str().to_string_lossy().as_bytes(),
            )
        })
}

fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_globs_match_folder_by_folder() {
        let matches = |pattern: &str, path: &str| matches(Path::new(pattern), Path::new(path));
        assert!(matches("/w/lessons/*/*", "/w/lessons/01-a/hello"));
        assert!(matches("/c/lessons/0?-*/*", "/c/lessons/01-a/hello"));
        assert!(!matches("/w/lessons/*/*", "/w/lessons/01-a"));
        assert!(!matches("/w/lessons/*/*", "/c/lessons/01-a/hello"));
        assert!(matches("/c/lessons/01-a/hello", "/c/lessons/01-a/hello"));
    }

    #[test]
    fn paths_beside_the_root_are_written_from_the_root() {
        assert_eq!(
            relative(Path::new("/t/wb"), Path::new("/t/course/lessons/01-a")),
            PathBuf::from("../course/lessons/01-a")
        );
        assert_eq!(
            relative(Path::new("/t/wb"), Path::new("/t/wb/lessons/01-a")),
            PathBuf::from("lessons/01-a")
        );
        assert_eq!(
            normalize(Path::new("/t/wb/../course/./x")),
            PathBuf::from("/t/course/x")
        );
        assert_eq!(normalize(Path::new("../../x")), PathBuf::from("../../x"));
    }
}
