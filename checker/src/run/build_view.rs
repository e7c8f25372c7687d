//! What of the workspace's `Cargo.toml` one package's build reads.
//!
//! The ledger vouches for a test binary only while the sources it was built
//! from are unchanged, and those include the workspace's manifest. Digested
//! whole, any change to it (a pull that brings a new lesson and its
//! workspace dependencies) would make the checker build every exercise
//! again, though cargo finds nothing to rebuild. A `[workspace.dependencies]`
//! entry reaches a build only through a package that inherits it
//! (`name.workspace = true`); so one package's view is the manifest without
//! the entries that neither it nor its path dependencies (the testkit, say)
//! inherit.
//!
//! A view is text made to be digested, never read back. A manifest that does
//! not parse has no view: the caller digests its bytes as they are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The tables of a manifest that list dependencies.
const DEPENDENCY_TABLES: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];

/// The view of the workspace manifest at `root` from the package in
/// `package_dir` (both absolute), or `None` when the workspace manifest does
/// not parse.
pub fn manifest_view(root: &Path, package_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let mut manifest: toml::Table = text.parse().ok()?;
    let inherited = inherited(root, &manifest, package_dir);
    if let Some(workspace) = manifest
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        && let Some(dependencies) = workspace
            .get_mut("dependencies")
            .and_then(toml::Value::as_table_mut)
    {
        dependencies.retain(|key, _| inherited.contains(key));
        // A table left empty reads as no table.
        if dependencies.is_empty() {
            workspace.remove("dependencies");
        }
    }
    // Comments and layout are gone, and `toml::Table` keeps its keys sorted:
    // only what cargo reads is left.
    Some(manifest.to_string())
}

/// A lesson's record (`tests.sha256`) without the line of the workspace's
/// `Cargo.toml`, whose view stands for it: every lesson's record holds that
/// line, so a new workspace dependency changes every record.
pub fn record_view(record: &str) -> String {
    record
        .lines()
        .filter(|line| {
            line.split_once("  ")
                .is_none_or(|(_, path)| path != "Cargo.toml")
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The workspace dependencies that the package in `package_dir`, and every
/// package it depends on by path, inherit. A member whose manifest cannot be
/// read inherits nothing here; its own bytes are digested with its folder.
fn inherited(root: &Path, workspace: &toml::Table, package_dir: &Path) -> BTreeSet<String> {
    let entries = workspace
        .get("workspace")
        .and_then(|workspace| workspace.get("dependencies"))
        .and_then(toml::Value::as_table);
    let mut inherited = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut queue: Vec<PathBuf> = vec![package_dir.to_path_buf()];
    while let Some(dir) = queue.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let Some(manifest) = std::fs::read_to_string(dir.join("Cargo.toml"))
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
        else {
            continue;
        };
        for (key, dependency) in dependencies(&manifest) {
            if let Some(path) = dependency.get("path").and_then(toml::Value::as_str) {
                queue.push(dir.join(path));
            }
            let inherits = dependency
                .get("workspace")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            if !inherits {
                continue;
            }
            inherited.insert(key.clone());
            let entry_path = entries
                .and_then(|entries| entries.get(key))
                .and_then(|entry| entry.get("path"))
                .and_then(toml::Value::as_str);
            if let Some(path) = entry_path {
                queue.push(root.join(path));
            }
        }
    }
    inherited
}

/// Every dependency a manifest lists, by its key: its dependency tables,
/// and the same tables under `[target.'cfg(...)']`.
fn dependencies(manifest: &toml::Table) -> Vec<(&String, &toml::Value)> {
    let mut tables: Vec<&toml::Table> = DEPENDENCY_TABLES
        .iter()
        .filter_map(|name| manifest.get(*name).and_then(toml::Value::as_table))
        .collect();
    if let Some(targets) = manifest.get("target").and_then(toml::Value::as_table) {
        for target in targets.values().filter_map(toml::Value::as_table) {
            tables.extend(
                DEPENDENCY_TABLES
                    .iter()
                    .filter_map(|name| target.get(*name).and_then(toml::Value::as_table)),
            );
        }
    }
    tables.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE: &str = r#"
[workspace]
members = ["lessons/*/*", "testkit"]

[workspace.dependencies]
axum = "0.8"
serde = { version = "1", features = ["derive"] }
reqwest = "0.13"
testkit = { path = "testkit" }
"#;

    const HELLO: &str = r#"
[package]
name = "server-hello"
edition.workspace = true

[dependencies]
axum.workspace = true

[dev-dependencies]
testkit.workspace = true
"#;

    const TESTKIT: &str = r#"
[package]
name = "testkit"

[target.'cfg(unix)'.dependencies]
reqwest = { workspace = true }
"#;

    const SHOP: &str = r#"
[package]
name = "shop"

[dependencies]
serde.workspace = true
"#;

    struct Tree(tempfile::TempDir);

    impl Tree {
        fn new(workspace: &str) -> Tree {
            let tree = Tree(tempfile::tempdir().unwrap());
            tree.write("Cargo.toml", workspace);
            tree.write("lessons/01-server/hello/Cargo.toml", HELLO);
            tree.write("lessons/02-shop/shop/Cargo.toml", SHOP);
            tree.write("testkit/Cargo.toml", TESTKIT);
            tree
        }

        fn write(&self, relative: &str, text: &str) {
            let path = self.0.path().join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn view(&self, package: &str) -> Option<String> {
            let root = self.0.path();
            manifest_view(root, &root.join(package))
        }
    }

    const HELLO_DIR: &str = "lessons/01-server/hello";
    const SHOP_DIR: &str = "lessons/02-shop/shop";

    #[test]
    fn a_package_sees_the_workspace_dependencies_it_and_its_path_dependencies_inherit() {
        let tree = Tree::new(WORKSPACE);
        let hello = tree.view(HELLO_DIR).expect("a view");
        // Its own, the testkit's (under a target table), not the shop's.
        assert!(hello.contains("axum = \"0.8\""), "{hello}");
        assert!(hello.contains("reqwest = \"0.13\""), "{hello}");
        assert!(hello.contains("testkit"), "{hello}");
        assert!(!hello.contains("serde"), "{hello}");
        assert!(hello.contains("lessons/*/*"), "{hello}");
        let shop = tree.view(SHOP_DIR).expect("a view");
        assert!(shop.contains("serde") && !shop.contains("axum"), "{shop}");
    }

    #[test]
    fn a_new_lesson_and_its_workspace_dependencies_change_no_other_packages_view() {
        let tree = Tree::new(WORKSPACE);
        let (hello, shop) = (tree.view(HELLO_DIR), tree.view(SHOP_DIR));
        tree.write(
            "Cargo.toml",
            &WORKSPACE.replace(
                "[workspace.dependencies]\n",
                "[workspace.dependencies]\n# The elective only.\nasync-graphql = \"7.2.1\"\n",
            ),
        );
        tree.write(
            "lessons/08-graphql/schema/Cargo.toml",
            "[package]\nname = \"graphql-schema\"\n\n[dependencies]\nasync-graphql.workspace = true\n",
        );
        assert_eq!(tree.view(HELLO_DIR), hello);
        assert_eq!(tree.view(SHOP_DIR), shop);
        assert_ne!(tree.view("lessons/08-graphql/schema"), shop);

        // The first workspace dependency of a workspace that had none.
        let bare = "[workspace]\nmembers = [\"lessons/*/*\"]\n";
        let tree = Tree::new(bare);
        let before = tree.view(SHOP_DIR);
        tree.write(
            "Cargo.toml",
            &format!("{bare}\n[workspace.dependencies]\nasync-graphql = \"7.2.1\"\n"),
        );
        assert_eq!(tree.view(SHOP_DIR), before);
    }

    #[test]
    fn a_change_to_what_a_package_builds_with_changes_its_view() {
        let tree = Tree::new(WORKSPACE);
        let before = tree.view(HELLO_DIR);
        let changes = [
            WORKSPACE.replace("axum = \"0.8\"", "axum = \"0.8.1\""),
            WORKSPACE.replace("reqwest = \"0.13\"", "reqwest = \"0.12\""),
            WORKSPACE.replace("[workspace]", "[profile.dev]\nopt-level = 1\n\n[workspace]"),
            WORKSPACE.replace(
                "[workspace]",
                "[patch.crates-io]\nbytes = { path = \"b\" }\n\n[workspace]",
            ),
        ];
        for workspace in changes {
            tree.write("Cargo.toml", &workspace);
            assert_ne!(tree.view(HELLO_DIR), before, "{workspace}");
        }
    }

    #[test]
    fn a_workspace_manifest_that_does_not_parse_has_no_view() {
        let tree = Tree::new("[workspace");
        assert_eq!(tree.view(HELLO_DIR), None);
        // A member that cannot be read inherits nothing, and breaks nothing.
        let tree = Tree::new(WORKSPACE);
        tree.write(&format!("{SHOP_DIR}/Cargo.toml"), "[package");
        let shop = tree.view(SHOP_DIR).expect("a view");
        assert!(!shop.contains("serde"), "{shop}");
    }

    #[test]
    fn a_record_is_seen_without_the_workspace_manifests_line() {
        let record = "aaaa  lessons/01-server/hello/tests/hello.rs\n\
                      bbbb  Cargo.toml\n\
                      cccc  .cargo/config.toml\n\
                      dddd  lessons/01-server/hello/Cargo.toml\n";
        assert_eq!(
            record_view(record),
            "aaaa  lessons/01-server/hello/tests/hello.rs\n\
             cccc  .cargo/config.toml\n\
             dddd  lessons/01-server/hello/Cargo.toml\n"
        );
        assert_eq!(
            record_view(record),
            record_view(&record.replace("bbbb", "eeee"))
        );
        assert_ne!(
            record_view(record),
            record_view(&record.replace("dddd", "ffff"))
        );
    }
}
