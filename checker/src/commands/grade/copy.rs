//! Copying trees for `grade`: the instructor's workbook (its sources, never
//! its build or progress), a warm build folder, and single learner files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a copy of a workbook leaves out: builds, progress, git's own data.
fn skipped(name: &str) -> bool {
    matches!(name, "target" | ".git" | "build" | "node_modules")
        || name.starts_with(".workbook-progress")
}

/// Copies the workbook at `from` to `to` (which must not exist yet): every
/// file but builds, progress and git's data. Links are copied as links.
pub fn workbook(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skipped(&name.to_string_lossy()) {
            continue;
        }
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            workbook(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            copy_link(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
            // cargo judges freshness by dates: a copy dated like its
            // original lets the warm build stay warm for unchanged files.
            if let Ok(modified) = entry.metadata().and_then(|meta| meta.modified()) {
                fs::File::options()
                    .write(true)
                    .open(&target)?
                    .set_modified(modified)?;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn copy_link(from: &Path, to: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(fs::read_link(from)?, to)
}

#[cfg(not(unix))]
fn copy_link(_from: &Path, _to: &Path) -> io::Result<()> {
    Ok(())
}

/// Copies a whole folder as it is (a build folder): `cp -a`, which keeps
/// modification times (cargo's freshness depends on them) and shares blocks
/// where the file system can.
pub fn exact(from: &Path, to: &Path) -> io::Result<()> {
    if to.exists() {
        fs::remove_dir_all(to)?;
    }
    let status = Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(from)
        .arg(to)
        .stdin(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`cp -a {} {}` failed ({status})",
            from.display(),
            to.display()
        )))
    }
}

/// The most a learner's edited file may weigh: source code, not data.
pub const MAX_LEARNER_FILE: u64 = 1 << 20;

/// Why a learner's file was not taken, when it was not.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Missing,
    NotAFile,
    TooLarge(u64),
}

/// Reads one of the learner's edited files: a plain file (no link, which
/// could point anywhere on the instructor's machine) of at most
/// [`MAX_LEARNER_FILE`] bytes.
pub fn learner_file(root: &Path, file: &Path) -> Result<Vec<u8>, Refused> {
    let path: PathBuf = root.join(file);
    // A link anywhere on the way could lead out of the learner's tree.
    let mut walked = root.to_path_buf();
    for part in file.components() {
        walked.push(part);
        match fs::symlink_metadata(&walked) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(Refused::NotAFile),
            Ok(_) => {}
            Err(_) => return Err(Refused::Missing),
        }
    }
    let meta = fs::symlink_metadata(&path).map_err(|_| Refused::Missing)?;
    if !meta.is_file() {
        return Err(Refused::NotAFile);
    }
    if meta.len() > MAX_LEARNER_FILE {
        return Err(Refused::TooLarge(meta.len()));
    }
    fs::read(&path).map_err(|_| Refused::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learner_file_is_taken_only_as_a_plain_small_file_inside_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("learner");
        fs::create_dir_all(root.join("ex/src")).unwrap();
        fs::write(root.join("ex/src/lib.rs"), "pub fn a() {}").unwrap();
        assert_eq!(
            learner_file(&root, Path::new("ex/src/lib.rs")).unwrap(),
            b"pub fn a() {}"
        );
        assert_eq!(
            learner_file(&root, Path::new("ex/src/main.rs")),
            Err(Refused::Missing)
        );
        fs::write(dir.path().join("secret"), "instructor's").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret"), root.join("ex/src/link.rs"))
                .unwrap();
            assert_eq!(
                learner_file(&root, Path::new("ex/src/link.rs")),
                Err(Refused::NotAFile)
            );
            std::os::unix::fs::symlink(root.join("ex/src"), root.join("ex/alias")).unwrap();
            assert_eq!(
                learner_file(&root, Path::new("ex/alias/lib.rs")),
                Err(Refused::NotAFile)
            );
        }
        fs::write(
            root.join("ex/src/big.rs"),
            vec![b'/'; MAX_LEARNER_FILE as usize + 1],
        )
        .unwrap();
        assert!(matches!(
            learner_file(&root, Path::new("ex/src/big.rs")),
            Err(Refused::TooLarge(_))
        ));
    }

    #[test]
    fn a_workbook_copy_leaves_out_builds_progress_and_git() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        for folder in ["target/debug", ".git", "lessons/a/src", "book/build"] {
            fs::create_dir_all(from.join(folder)).unwrap();
        }
        fs::write(from.join("lessons/a/src/lib.rs"), "x").unwrap();
        fs::write(from.join(".workbook-progress.json"), "{}").unwrap();
        fs::write(from.join("target/debug/t"), "x").unwrap();
        let to = dir.path().join("to");
        workbook(&from, &to).unwrap();
        assert!(to.join("lessons/a/src/lib.rs").is_file());
        for gone in ["target", ".git", "book/build", ".workbook-progress.json"] {
            assert!(!to.join(gone).exists(), "{gone} was copied");
        }
    }
}
