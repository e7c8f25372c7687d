//! What of the workspace's `Cargo.toml` and `Cargo.lock` one package's
//! build reads.
//!
//! The ledger vouches for a test binary only while the sources it was built
//! from are unchanged, and those include the two workspace files. Digested
//! whole, any change to them (a pull that brings a new lesson and its
//! dependencies) would make the checker build every exercise again, though
//! cargo finds nothing to rebuild. Digested as one package sees them, they
//! change only when something its build reads changes: the locked packages
//! it depends on (names, versions, sources, checksums and their own
//! dependencies, however the lock spells them), and the manifest, but for
//! the workspace dependencies that none of those packages is.
//!
//! A view is text made to be digested, never read back. Files that do not
//! parse, or a package the lock does not hold, have no view: the caller
//! digests their bytes as they are.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;

/// The views of this process: watch mode checks again and again with the
/// same workspace files.
static VIEWS: Mutex<Views> = Mutex::new(Views::new());

/// `package`'s view of the workspace's `manifest` and `lock` (their bytes),
/// or `None` when they are to be digested whole.
pub fn of(manifest: &[u8], lock: &[u8], package: &str) -> Option<View> {
    VIEWS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .of(manifest, lock, package)
}

/// The views of one pair of files, kept while the files stay the same:
/// a check digests every exercise's sources two or three times, and
/// parsing a lock file of a few thousand lines each time would cost more
/// than the rest of the digests together.
#[derive(Default)]
pub struct Views {
    cached: Option<Cached>,
}

impl Views {
    pub const fn new() -> Views {
        Views { cached: None }
    }
}

/// What one package's build reads of the workspace files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub manifest: String,
    pub lock: String,
}

struct Cached {
    manifest: Vec<u8>,
    lock: Vec<u8>,
    workspace: Option<Workspace>,
    views: HashMap<String, Option<View>>,
}

impl Views {
    /// `package`'s view of the workspace's `manifest` and `lock` (their
    /// bytes), or `None` when they are to be digested whole.
    pub fn of(&mut self, manifest: &[u8], lock: &[u8], package: &str) -> Option<View> {
        let fresh = self
            .cached
            .as_ref()
            .is_some_and(|cached| cached.manifest == manifest && cached.lock == lock);
        if !fresh {
            self.cached = Some(Cached {
                manifest: manifest.to_vec(),
                lock: lock.to_vec(),
                workspace: Workspace::parse(manifest, lock),
                views: HashMap::new(),
            });
        }
        let cached = self.cached.as_mut()?;
        let workspace = cached.workspace.as_ref()?;
        cached
            .views
            .entry(package.to_string())
            .or_insert_with(|| workspace.view(package))
            .clone()
    }
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

#[derive(Deserialize)]
struct LockFile {
    #[serde(default)]
    package: Vec<Locked>,
}

#[derive(Deserialize)]
struct Locked {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    checksum: String,
    #[serde(default)]
    dependencies: Vec<String>,
}

struct Workspace {
    manifest: toml::Table,
    packages: Vec<Locked>,
    /// Each package's dependencies, as indices into `packages`; `None` for a
    /// dependency the lock does not hold.
    dependencies: Vec<Vec<Option<usize>>>,
}

impl Workspace {
    fn parse(manifest: &[u8], lock: &[u8]) -> Option<Workspace> {
        let manifest: toml::Table = std::str::from_utf8(manifest).ok()?.parse().ok()?;
        let lock: LockFile = toml::from_str(std::str::from_utf8(lock).ok()?).ok()?;
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, locked) in lock.package.iter().enumerate() {
            by_name.entry(&locked.name).or_default().push(index);
        }
        let dependencies = lock
            .package
            .iter()
            .map(|locked| {
                locked
                    .dependencies
                    .iter()
                    .map(|reference| resolve(&lock.package, &by_name, reference))
                    .collect()
            })
            .collect();
        Some(Workspace {
            manifest,
            packages: lock.package,
            dependencies,
        })
    }

    fn view(&self, package: &str) -> Option<View> {
        // A workspace member is locked without a source.
        let start = self
            .packages
            .iter()
            .position(|locked| locked.name == package && locked.source.is_empty())?;
        let mut closure = BTreeSet::from([start]);
        let mut queue = vec![start];
        while let Some(index) = queue.pop() {
            for &found in self.dependencies[index].iter().flatten() {
                if closure.insert(found) {
                    queue.push(found);
                }
            }
        }

        let mut lock = String::new();
        for &index in &closure {
            let locked = &self.packages[index];
            let dependencies: Vec<String> = self.dependencies[index]
                .iter()
                .zip(&locked.dependencies)
                .map(|(found, reference)| match found {
                    Some(found) => {
                        let dependency = &self.packages[*found];
                        format!("{}@{}", dependency.name, dependency.version)
                    }
                    None => format!("unlocked {reference}"),
                })
                .collect();
            lock.push_str(&format!(
                "{}@{} {} {} [{}]\n",
                locked.name,
                locked.version,
                locked.source,
                locked.checksum,
                dependencies.join(", ")
            ));
        }

        let used: BTreeSet<&str> = closure
            .iter()
            .map(|&index| self.packages[index].name.as_str())
            .collect();
        let mut manifest = self.manifest.clone();
        if let Some(workspace) = manifest
            .get_mut("workspace")
            .and_then(toml::Value::as_table_mut)
            && let Some(dependencies) = workspace
                .get_mut("dependencies")
                .and_then(toml::Value::as_table_mut)
        {
            dependencies.retain(|key, entry| {
                let name = entry
                    .get("package")
                    .and_then(toml::Value::as_str)
                    .unwrap_or(key);
                used.contains(name)
            });
            // A table left empty reads as no table.
            if dependencies.is_empty() {
                workspace.remove("dependencies");
            }
        }
        Some(View {
            manifest: manifest.to_string(),
            lock,
        })
    }
}

/// The package a lock's dependency names: `"name"` when one version of it
/// is locked, `"name version"` when more are, `"name version (source)"`
/// when one version comes from more than one source.
fn resolve(
    packages: &[Locked],
    by_name: &HashMap<&str, Vec<usize>>,
    reference: &str,
) -> Option<usize> {
    let mut parts = reference.splitn(3, ' ');
    let name = parts.next()?;
    let version = parts.next();
    let source = parts
        .next()
        .map(|source| source.trim_start_matches('(').trim_end_matches(')'));
    let mut matching = by_name.get(name)?.iter().copied().filter(|&index| {
        let locked = &packages[index];
        version.is_none_or(|version| locked.version == version)
            && source.is_none_or(|source| locked.source == source)
    });
    let found = matching.next()?;
    // A reference that fits two packages is none cargo writes.
    matching.next().is_none().then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[workspace]
members = ["lessons/*/*"]

[workspace.dependencies]
axum = "0.8"
serde = { version = "1", features = ["derive"] }
"#;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "axum"
version = "0.8.9"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"
dependencies = [
 "hashbrown",
]

[[package]]
name = "hashbrown"
version = "0.16.1"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"

[[package]]
name = "serde"
version = "1.0.228"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "cccc"

[[package]]
name = "server-hello"
version = "0.0.0"
dependencies = [
 "axum",
]

[[package]]
name = "shop"
version = "0.0.0"
dependencies = [
 "serde",
]
"#;

    fn view(manifest: &str, lock: &str, package: &str) -> Option<View> {
        Views::default().of(manifest.as_bytes(), lock.as_bytes(), package)
    }

    /// What a pull of a new lesson does to the two files: a workspace
    /// dependency, packages in the lock, and a second version of a crate
    /// that makes the lock spell the first one with its version.
    fn with_new_lesson() -> (String, String) {
        let manifest = MANIFEST.replace(
            "[workspace.dependencies]\n",
            "[workspace.dependencies]\n# The elective only.\nasync-graphql = \"7.2.1\"\n",
        );
        let lock = LOCK
            .replace(" \"hashbrown\",\n", " \"hashbrown 0.16.1\",\n")
            .replace(
                "[[package]]\nname = \"hashbrown\"",
                "[[package]]\nname = \"async-graphql\"\nversion = \"7.2.1\"\n\
                 source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                 checksum = \"dddd\"\ndependencies = [\n \"hashbrown 0.17.1\",\n]\n\n\
                 [[package]]\nname = \"hashbrown\"\nversion = \"0.17.1\"\n\
                 source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
                 checksum = \"eeee\"\n\n[[package]]\nname = \"hashbrown\"",
            );
        (manifest, lock)
    }

    #[test]
    fn a_package_sees_its_own_dependencies_and_the_workspace_dependencies_they_are() {
        let view = view(MANIFEST, LOCK, "server-hello").expect("a view");
        assert_eq!(
            view.lock,
            "axum@0.8.9 registry+https://github.com/rust-lang/crates.io-index aaaa [hashbrown@0.16.1]\n\
             hashbrown@0.16.1 registry+https://github.com/rust-lang/crates.io-index bbbb []\n\
             server-hello@0.0.0   [axum@0.8.9]\n"
        );
        assert!(
            view.manifest.contains("axum = \"0.8\""),
            "{}",
            view.manifest
        );
        assert!(!view.manifest.contains("serde"), "{}", view.manifest);
        assert!(view.manifest.contains("lessons/*/*"), "{}", view.manifest);
    }

    #[test]
    fn a_new_lesson_and_its_dependencies_change_no_other_packages_view() {
        let (manifest, lock) = with_new_lesson();
        assert_eq!(
            view(&manifest, &lock, "server-hello"),
            view(MANIFEST, LOCK, "server-hello")
        );
        assert_eq!(view(&manifest, &lock, "shop"), view(MANIFEST, LOCK, "shop"));
        // The first workspace dependency of a workspace that had none.
        let bare = "[workspace]\nmembers = [\"lessons/*/*\"]\n";
        let first = format!("{bare}\n[workspace.dependencies]\nasync-graphql = \"7.2.1\"\n");
        assert_eq!(view(&first, &lock, "shop"), view(bare, LOCK, "shop"));
    }

    #[test]
    fn any_change_to_what_a_package_builds_with_changes_its_view() {
        let before = view(MANIFEST, LOCK, "server-hello");
        let changes = [
            (
                MANIFEST.replace("axum = \"0.8\"", "axum = \"0.8.1\""),
                LOCK.to_string(),
            ),
            (
                MANIFEST.replace("[workspace]", "[profile.dev]\nopt-level = 1\n\n[workspace]"),
                LOCK.to_string(),
            ),
            (MANIFEST.to_string(), LOCK.replace("0.16.1", "0.16.2")),
            (MANIFEST.to_string(), LOCK.replace("bbbb", "ffff")),
            (
                MANIFEST.to_string(),
                LOCK.replace(" \"axum\",\n]", " \"axum\",\n \"serde\",\n]"),
            ),
        ];
        for (manifest, lock) in changes {
            assert_ne!(
                view(&manifest, &lock, "server-hello"),
                before,
                "{manifest}\n{lock}"
            );
        }
    }

    #[test]
    fn files_that_do_not_parse_or_an_unknown_package_have_no_view() {
        assert_eq!(view("[workspace", LOCK, "server-hello"), None);
        assert_eq!(view(MANIFEST, "[[package]]\nname = ", "server-hello"), None);
        assert_eq!(view(MANIFEST, LOCK, "no-such-package"), None);
        // A registry crate of the same name is no workspace member.
        assert_eq!(view(MANIFEST, LOCK, "axum"), None);
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

    #[test]
    fn views_are_kept_while_the_files_stay_the_same() {
        let mut views = Views::default();
        let first = views.of(MANIFEST.as_bytes(), LOCK.as_bytes(), "server-hello");
        assert_eq!(
            views.of(MANIFEST.as_bytes(), LOCK.as_bytes(), "server-hello"),
            first
        );
        let (manifest, lock) = with_new_lesson();
        assert_eq!(
            views.of(manifest.as_bytes(), lock.as_bytes(), "server-hello"),
            first
        );
        let changed = LOCK.replace("aaaa", "abab");
        assert_ne!(
            views.of(MANIFEST.as_bytes(), changed.as_bytes(), "server-hello"),
            first
        );
    }
}
