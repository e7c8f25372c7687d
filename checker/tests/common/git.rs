//! Git in a fixture copy, for tests of `reset` (which restores starters from
//! git). Included with `#[path]` by the test binaries that need it.

use std::path::Path;
use std::process::Command;

/// Runs `git ARGS` in `dir` as a throwaway identity; fails the test with
/// git's own words if git fails.
pub fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Makes `dir` a repository whose one commit holds all its files.
pub fn commit_all(dir: &Path) {
    git(dir, &["init", "-q"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "workbook"]);
}
