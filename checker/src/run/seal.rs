//! What was built is what is graded.
//!
//! cargo decides that an artifact is up to date by modification times, and
//! code under test runs with the learner's rights: it can replace a test
//! binary in `target/` (its own path is `current_exe()`), or rewrite a test
//! file, let a build use it, and put the old bytes back with an old date.
//! cargo would then run the forged binary again and again.
//!
//! So the checker keeps a ledger beside the build: for every test binary it
//! saw built, the binary's identity (on Unix the inode and its change time,
//! which no program can set back) and a digest of the sources it was built
//! from. A binary that cargo calls fresh but that differs from its entry, or
//! whose sources are no longer the ones it was built from, is rebuilt. While
//! tests run, every binary in the ledger (and the checker itself) is watched:
//! a run that changes one is caught in the act.
//!
//! The ledger is a file the learner's code could rewrite too, so this stops
//! accidents and the forgeries we know, not a determined author who reads
//! this source: grades an instructor can trust come from `grade`, which
//! builds in a tree the learner's code never ran in.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The ledger's file, inside the target folder.
const LEDGER_FILE: &str = "checker-ledger.json";
/// Files larger than this are no sources; they count by size and date.
const MAX_HASHED_BYTES: u64 = 4 << 20;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    size: u64,
    modified_ns: i128,
    /// Unix: the inode, its device and its change time, which moves on every
    /// write and rename and cannot be set by a program. Elsewhere a digest.
    #[serde(default)]
    inode: u64,
    #[serde(default)]
    device: u64,
    #[serde(default)]
    changed_ns: i128,
    #[serde(default)]
    digest: String,
}

impl Identity {
    pub fn of(path: &Path) -> io::Result<Identity> {
        let meta = fs::metadata(path)?;
        let modified_ns = meta
            .modified()
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |since| since.as_nanos() as i128);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(Identity {
                size: meta.len(),
                modified_ns,
                inode: meta.ino(),
                device: meta.dev(),
                changed_ns: i128::from(meta.ctime()) * 1_000_000_000
                    + i128::from(meta.ctime_nsec()),
                digest: String::new(),
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Identity {
                size: meta.len(),
                modified_ns,
                inode: 0,
                device: 0,
                changed_ns: 0,
                digest: sha256_hex(&fs::read(path)?),
            })
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub identity: Identity,
    /// The digest of the sources the binary was built from.
    pub inputs: String,
    /// The test file the binary was built from (`tests/hello.rs`).
    #[serde(default)]
    pub source: Option<PathBuf>,
    /// The digest of `Cargo.lock` when cargo last built the binary or found
    /// it fresh: the versions it was built against.
    #[serde(default)]
    pub lock: String,
}

/// The test binaries the checker saw built, by path.
#[derive(Debug, Default)]
pub struct Ledger {
    path: PathBuf,
    entries: BTreeMap<PathBuf, Entry>,
}

impl Ledger {
    /// The ledger of the build in `target_dir`; empty when there is none or
    /// it cannot be read (then every fresh binary is rebuilt once).
    pub fn load(target_dir: &Path) -> Ledger {
        let path = target_dir.join(LEDGER_FILE);
        let entries = fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Ledger { path, entries }
    }

    /// Whether the ledger holds `binary`, unchanged since it was recorded.
    pub fn holds(&self, binary: &Path) -> bool {
        self.entries
            .get(binary)
            .is_some_and(|entry| as_recorded(binary, entry))
    }

    /// Whether `binary` is what the ledger says was built from `inputs`.
    pub fn vouches_for(&self, binary: &Path, inputs: &str) -> bool {
        self.entries
            .get(binary)
            .is_some_and(|entry| entry.inputs == inputs && as_recorded(binary, entry))
    }

    /// Records that `binary`, as it is now, was built from `source` and the
    /// sources whose digest is `inputs`, with the lock whose digest is `lock`.
    pub fn record(&mut self, binary: &Path, source: &Path, inputs: String, lock: &str) {
        match Identity::of(binary) {
            Ok(identity) => {
                let entry = Entry {
                    identity,
                    inputs,
                    source: Some(source.to_path_buf()),
                    lock: lock.to_string(),
                };
                self.entries.insert(binary.to_path_buf(), entry);
            }
            Err(_) => self.forget(binary),
        }
    }

    /// The binary built from the test file `source` out of the sources
    /// whose digest is `inputs`, with the lock whose digest is `lock`, if
    /// the ledger holds one, unchanged since.
    pub fn built_from(&self, source: &Path, inputs: &str, lock: &str) -> Option<PathBuf> {
        self.entries
            .iter()
            .filter(|(_, entry)| {
                entry.source.as_deref() == Some(source)
                    && entry.inputs == inputs
                    && entry.lock == lock
            })
            .find(|(binary, entry)| as_recorded(binary, entry))
            .map(|(binary, _)| binary.clone())
    }

    /// Takes every binary as it is now: for a copy of a build folder that
    /// the checker made itself, at the same path, before anything ran.
    pub fn reseal(&mut self) {
        for (path, entry) in &mut self.entries {
            if let Ok(identity) = Identity::of(path) {
                entry.identity = identity;
            }
        }
    }

    pub fn forget(&mut self, binary: &Path) {
        self.entries.remove(binary);
    }

    /// Binaries in the ledger that are no longer as recorded, leaving out
    /// those that another checker rebuilt meanwhile (its ledger on disk
    /// vouches for them).
    pub fn changed(&self) -> Vec<PathBuf> {
        let mut changed: Vec<PathBuf> = self
            .entries
            .iter()
            .filter(|(path, entry)| Identity::of(path).is_ok_and(|now| now != entry.identity))
            .map(|(path, _)| path.clone())
            .collect();
        if !changed.is_empty() {
            let on_disk = Ledger::load(self.path.parent().unwrap_or(Path::new(".")));
            changed.retain(|path| !on_disk.holds(path));
        }
        changed
    }

    /// Writes the ledger, replacing the file whole. A ledger that cannot be
    /// written costs rebuilds, never a grade: no error.
    pub fn save(&self) {
        let Ok(json) = serde_json::to_vec_pretty(&self.entries) else {
            return;
        };
        let temporary = self
            .path
            .with_extension(format!("json.{}", std::process::id()));
        if fs::write(&temporary, json).is_ok() && fs::rename(&temporary, &self.path).is_err() {
            let _ = fs::remove_file(&temporary);
        }
    }
}

/// Whether the file at `binary` is the one `entry` recorded.
fn as_recorded(binary: &Path, entry: &Entry) -> bool {
    Identity::of(binary).is_ok_and(|now| now == entry.identity)
}

/// Digests of every file below `dirs` (their `target` folders aside) and of
/// `files`, which is what a build of them reads: one of them all, and one of
/// all but `apart` (the learner's own files), from one reading of each file.
/// Missing paths count as missing. A file in `views` counts by the text
/// given for it there (what of it the build reads), not by its bytes.
pub fn digest_sources(
    root: &Path,
    dirs: &[PathBuf],
    files: &[PathBuf],
    apart: &[PathBuf],
    views: &[(PathBuf, String)],
) -> (String, String) {
    let mut found = Vec::new();
    for dir in dirs {
        collect(&root.join(dir), &mut found);
    }
    found.extend(files.iter().map(|file| root.join(file)));
    found.sort();
    found.dedup();
    let apart: Vec<PathBuf> = apart.iter().map(|file| root.join(file)).collect();
    let (mut all, mut rest) = (Sha256::new(), Sha256::new());
    for path in &found {
        let kept_apart = apart.contains(path);
        let mut update = |bytes: &[u8]| {
            all.update(bytes);
            if !kept_apart {
                rest.update(bytes);
            }
        };
        update(path.to_string_lossy().as_bytes());
        update(&[0]);
        if let Some((_, view)) = views.iter().find(|(file, _)| root.join(file) == *path) {
            update(b"view\0");
            update(&(view.len() as u64).to_le_bytes());
            update(view.as_bytes());
            continue;
        }
        match fs::metadata(path) {
            Ok(meta) if meta.len() > MAX_HASHED_BYTES => {
                let identity = Identity::of(path).ok();
                update(format!("{identity:?}").as_bytes());
            }
            Ok(_) => match fs::read(path) {
                Ok(bytes) => {
                    update(&(bytes.len() as u64).to_le_bytes());
                    update(&bytes);
                }
                Err(_) => update(b"unreadable"),
            },
            Err(_) => update(b"missing"),
        }
    }
    (hex(&all.finalize()), hex(&rest.finalize()))
}

/// The digest of the workspace's `Cargo.lock` as it is now.
pub fn lock_digest(root: &Path) -> String {
    match fs::read(root.join("Cargo.lock")) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(_) => "missing".to_string(),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if entry.file_name() != "target" {
                collect(&path, found);
            }
        } else {
            found.push(path);
        }
    }
}

/// Whether `program` (the checker, in `target/debug/`) is as cargo leaves
/// what it builds: a hard link of a file in `deps/`. A program written over
/// it by other code is not.
pub fn uplifted_by_cargo(program: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (Ok(meta), Some(dir), Some(name)) = (
            fs::metadata(program),
            program.parent(),
            program
                .file_name()
                .map(|name| name.to_string_lossy().into_owned()),
        ) else {
            return false;
        };
        if meta.nlink() < 2 {
            return false;
        }
        let Ok(entries) = fs::read_dir(dir.join("deps")) else {
            return false;
        };
        entries.filter_map(Result::ok).any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .strip_prefix(&name)
                .is_some_and(|rest| rest.starts_with('-'))
                && entry
                    .metadata()
                    .is_ok_and(|other| other.ino() == meta.ino())
        })
    }
    #[cfg(not(unix))]
    {
        let _ = program;
        false
    }
}

/// Makes cargo build `package` again from its sources, whatever the dates
/// say: its fingerprints (cargo's record of what is up to date) go, and so do
/// `binaries`.
pub fn invalidate(target_dir: &Path, package: &str, binaries: &[&Path]) {
    for binary in binaries {
        let _ = fs::remove_file(binary);
    }
    let fingerprints = target_dir.join("debug").join(".fingerprint");
    let Ok(entries) = fs::read_dir(&fingerprints) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // `server-hello-0f8537ea47ad93b0`, not `server-hello-solution-...`.
        let ours = name
            .strip_prefix(package)
            .and_then(|rest| rest.strip_prefix('-'));
        if ours.is_some_and(|hash| hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()))
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_rewritten_with_its_old_bytes_and_date_is_no_longer_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("binary");
        fs::write(&file, b"built").unwrap();
        let old = fs::metadata(&file).unwrap().modified().unwrap();
        let before = Identity::of(&file).unwrap();
        assert_eq!(Identity::of(&file).unwrap(), before);
        fs::write(&file, b"forged").unwrap();
        fs::write(&file, b"built").unwrap();
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_ne!(Identity::of(&file).unwrap(), before);
    }

    #[test]
    fn the_digests_of_sources_change_with_any_byte_and_not_with_dates() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("ex/src")).unwrap();
        fs::create_dir_all(dir.path().join("ex/target")).unwrap();
        fs::write(dir.path().join("ex/src/lib.rs"), "fn a() {}").unwrap();
        fs::write(dir.path().join("Cargo.toml"), "[workspace]").unwrap();
        let dirs = [PathBuf::from("ex")];
        let files = [PathBuf::from("Cargo.toml")];
        let apart = [PathBuf::from("ex/src/lib.rs")];
        let digests = || digest_sources(dir.path(), &dirs, &files, &apart, &[]);
        let first = digests();
        fs::write(dir.path().join("ex/target/junk"), "ignored").unwrap();
        assert_eq!(digests(), first);
        // The learner's file counts in the first digest only.
        fs::write(dir.path().join("ex/src/lib.rs"), "fn b() {}").unwrap();
        let edited = digests();
        assert_ne!(edited.0, first.0);
        assert_eq!(edited.1, first.1);
        fs::write(dir.path().join("ex/src/lib.rs"), "fn a() {}").unwrap();
        assert_eq!(digests(), first);
        fs::write(dir.path().join("ex/build.rs"), "fn main() {}").unwrap();
        let added = digests();
        assert!(added.0 != first.0 && added.1 != first.1);
    }

    #[test]
    fn the_ledger_vouches_only_for_a_binary_as_recorded_and_built_from_the_same_sources() {
        let dir = tempfile::tempdir().unwrap();
        let binary = dir.path().join("debug/deps/t-0123");
        fs::create_dir_all(binary.parent().unwrap()).unwrap();
        fs::write(&binary, b"elf").unwrap();
        let mut ledger = Ledger::load(dir.path());
        let test = Path::new("/w/lessons/a/tests/a.rs");
        ledger.record(&binary, test, "sources-1".into(), "lock-1");
        ledger.save();
        let ledger = Ledger::load(dir.path());
        assert!(ledger.vouches_for(&binary, "sources-1"));
        assert!(!ledger.vouches_for(&binary, "sources-2"));
        assert_eq!(
            ledger.built_from(test, "sources-1", "lock-1"),
            Some(binary.clone())
        );
        assert_eq!(ledger.built_from(test, "sources-2", "lock-1"), None);
        // Built against other versions: cargo decides what to rebuild.
        assert_eq!(ledger.built_from(test, "sources-1", "lock-2"), None);
        assert!(ledger.changed().is_empty());
        fs::remove_file(&binary).unwrap();
        fs::write(&binary, b"forged").unwrap();
        assert!(!ledger.vouches_for(&binary, "sources-1"));
        assert_eq!(ledger.built_from(test, "sources-1", "lock-1"), None);
        assert_eq!(ledger.changed(), [binary]);
    }

    #[cfg(unix)]
    #[test]
    fn only_a_program_hard_linked_from_deps_counts_as_built_by_cargo() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("deps")).unwrap();
        let built = dir.path().join("deps/checker-0123456789abcdef");
        fs::write(&built, b"elf").unwrap();
        let program = dir.path().join("checker");
        fs::hard_link(&built, &program).unwrap();
        assert!(uplifted_by_cargo(&program));
        let forged = dir.path().join("checker.forged");
        fs::write(&forged, b"#!/bin/sh\n").unwrap();
        fs::rename(&forged, &program).unwrap();
        assert!(!uplifted_by_cargo(&program));
    }

    #[test]
    fn invalidating_a_package_removes_its_fingerprints_only() {
        let dir = tempfile::tempdir().unwrap();
        let prints = dir.path().join("debug/.fingerprint");
        for name in [
            "server-hello-0f8537ea47ad93b0",
            "server-hello-solution-3a3ee4452ae8aef9",
            "server-hello-x",
        ] {
            fs::create_dir_all(prints.join(name)).unwrap();
        }
        invalidate(dir.path(), "server-hello", &[]);
        let mut left: Vec<String> = fs::read_dir(&prints)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["server-hello-solution-3a3ee4452ae8aef9", "server-hello-x"]
        );
    }
}
