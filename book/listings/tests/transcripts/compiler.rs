//! What rustc says about code that does not compile: the code is compiled
//! (type-checked only) with the rustc of this test's toolchain, against the
//! axum this workspace built, as a library of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

/// rustc's diagnostics for `source`, which must not compile, without colour.
pub fn errors_of(source: &str) -> String {
    let folder = tempfile::tempdir().expect("a temporary folder is made");
    let axum = axum_library(folder.path());
    let (compiles, errors) = check(folder.path(), &axum, source);
    assert!(
        !compiles,
        "the code the book shows failing compiles:\n{source}"
    );
    errors
}

/// The `deps` folder of the build this test binary belongs to.
fn deps() -> PathBuf {
    let binary = std::env::current_exe().expect("a test knows its own binary");
    binary
        .parent()
        .expect("a test binary lies in target/<profile>/deps")
        .to_path_buf()
}

/// The rustc next to the cargo that runs the tests (the toolchain that built
/// the libraries), or the one on the `PATH`.
fn rustc() -> PathBuf {
    std::env::var_os("CARGO")
        .map(|cargo| PathBuf::from(cargo).with_file_name("rustc"))
        .filter(|rustc| rustc.exists())
        .unwrap_or_else(|| PathBuf::from("rustc"))
}

/// An axum library in the build's `deps` that a program using it compiles
/// against (the build may hold several, built with other features).
fn axum_library(scratch: &Path) -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(deps())
        .expect("the build's deps folder is readable")
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("libaxum-") && name.ends_with(".rlib")
        })
        .collect();
    candidates.sort();
    // The axum of the workspace, with its `macros` feature.
    let control = "#[axum::debug_handler] async fn root() {} \
                   pub fn app() -> axum::Router { \
                   axum::Router::new().route(\"/\", axum::routing::get(root)) }";
    candidates
        .into_iter()
        .find(|axum| check(scratch, axum, control).0)
        .unwrap_or_else(|| {
            panic!(
                "no axum library in {} compiles a program that uses axum",
                deps().display()
            )
        })
}

/// Whether `source` compiles against `axum`, and what rustc printed.
fn check(scratch: &Path, axum: &Path, source: &str) -> (bool, String) {
    let file = scratch.join("book.rs");
    std::fs::write(&file, source).expect("the source is written");
    let output = Command::new(rustc())
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "lib",
            "--crate-name",
            "book",
        ])
        .args(["--emit", "metadata", "--color", "never", "--out-dir"])
        .arg(scratch)
        .arg("-L")
        .arg(format!("dependency={}", deps().display()))
        .arg("--extern")
        .arg(format!("axum={}", axum.display()))
        .arg(&file)
        .output()
        .expect("rustc runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
