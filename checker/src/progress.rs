//! The learner's progress: one small JSON file at the workbook root, ignored
//! by git. It only caches what the tests said, so deleting it loses nothing a
//! `check --all` cannot rebuild (except which hints were shown).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::outcome::{Outcome, Status};

pub const PROGRESS_FILE: &str = ".workbook-progress.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Progress {
    pub version: u32,
    /// The exercise the learner works on.
    #[serde(default)]
    pub current: Option<String>,
    /// The commit the workbook was at on first use: `reset` restores starters from it.
    #[serde(default)]
    pub baseline: Option<String>,
    /// By exercise id. Ids no longer in the workbook are kept but ignored,
    /// so renaming or removing an exercise upstream never breaks progress.
    #[serde(default)]
    pub exercises: BTreeMap<String, Record>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Record {
    /// `None` until the exercise has been checked.
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub tests_passed: usize,
    #[serde(default)]
    pub tests_total: usize,
    #[serde(default)]
    pub hints_shown: usize,
    /// Unix seconds of the last check.
    #[serde(default)]
    pub checked_at: u64,
    /// The last check ran tests that differ from the workbook's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tests_modified: bool,
}

/// Where the progress file lives.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            path: root.join(PROGRESS_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the progress. A file that cannot be read as progress is moved
    /// aside (never deleted) and a warning says so: the learner starts over
    /// from what the tests say, not from an error.
    pub fn load(&self) -> Result<Progress> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Progress::fresh());
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", self.path.display()));
            }
        };
        let problem = match serde_json::from_str::<Progress>(&text) {
            Ok(progress) if progress.version <= FORMAT_VERSION => return Ok(progress),
            Ok(progress) => format!(
                "it was written by a newer checker (format {}, this one reads {FORMAT_VERSION})",
                progress.version
            ),
            Err(error) => format!("it is not valid progress ({error})"),
        };
        let backup = self.backup_path();
        fs::rename(&self.path, &backup)
            .with_context(|| format!("cannot move the unreadable {} aside", self.path.display()))?;
        crate::term::warn(&format!(
            "{} could not be read: {problem}. It was kept as {}; run `cargo checker check --all` to rebuild your progress.",
            PROGRESS_FILE,
            backup.file_name().unwrap_or_default().to_string_lossy()
        ));
        Ok(Progress::fresh())
    }

    fn backup_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".broken-{}", now()));
        PathBuf::from(name)
    }

    /// Loads the newest progress, applies `change` and saves it atomically,
    /// so two checkers that both write lose as little as possible.
    pub fn update<T>(&self, change: impl FnOnce(&mut Progress) -> T) -> Result<T> {
        let mut progress = self.load()?;
        let result = change(&mut progress);
        self.save(&progress)?;
        Ok(result)
    }

    /// Writes to a temporary file beside the target, then renames it over:
    /// a crash or a full disk leaves the old file whole.
    pub fn save(&self, progress: &Progress) -> Result<()> {
        let text = serde_json::to_string_pretty(progress).expect("progress always serialises");
        let mut temp = self.path.as_os_str().to_owned();
        temp.push(format!(".tmp-{}", std::process::id()));
        let temp = PathBuf::from(temp);
        let written = fs::File::create(&temp).and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        });
        let result = written.and_then(|()| fs::rename(&temp, &self.path));
        if let Err(error) = result {
            let _ = fs::remove_file(&temp);
            return Err(error).with_context(|| {
                format!(
                    "cannot save progress to {} (your previous progress is unchanged)",
                    self.path.display()
                )
            });
        }
        Ok(())
    }
}

impl Progress {
    fn fresh() -> Progress {
        Progress {
            version: FORMAT_VERSION,
            ..Progress::default()
        }
    }

    pub fn record(&self, id: &str) -> Option<&Record> {
        self.exercises.get(id)
    }

    /// Stores what a check found.
    pub fn store(&mut self, outcome: &Outcome) {
        let record = self.exercises.entry(outcome.id.clone()).or_default();
        record.status = Some(outcome.status);
        record.tests_passed = outcome.tests_passed();
        // A build error hides how many tests there are: keep the last count.
        if outcome.status != Status::CompileError {
            record.tests_total = outcome.tests_total();
        }
        record.checked_at = now();
        record.tests_modified = !outcome.tests_modified.is_empty();
    }

    pub fn is_done(&self, id: &str) -> bool {
        self.record(id).and_then(|record| record.status) == Some(Status::Done)
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let progress = Store::new(dir.path()).load().unwrap();
        assert!(progress.exercises.is_empty());
        assert_eq!(progress.version, FORMAT_VERSION);
    }

    #[test]
    fn saved_progress_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store
            .update(|progress| {
                progress.current = Some("server/hello".into());
                progress
                    .exercises
                    .entry("server/hello".into())
                    .or_default()
                    .hints_shown = 2;
            })
            .unwrap();
        let progress = store.load().unwrap();
        assert_eq!(progress.current.as_deref(), Some("server/hello"));
        assert_eq!(progress.exercises["server/hello"].hints_shown, 2);
    }

    #[test]
    fn a_corrupt_file_is_kept_aside_and_progress_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        fs::write(store.path(), "{ not json").unwrap();
        let progress = store.load().unwrap();
        assert!(progress.exercises.is_empty());
        let backups: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".broken-"))
            .collect();
        assert_eq!(backups.len(), 1);
        assert_eq!(fs::read_to_string(backups[0].path()).unwrap(), "{ not json");
    }

    #[test]
    fn a_file_from_a_newer_format_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        fs::write(store.path(), r#"{"version": 99, "exercises": {}}"#).unwrap();
        assert!(store.load().unwrap().exercises.is_empty());
        assert!(!store.path().exists());
    }

    #[test]
    fn unknown_exercises_and_fields_are_kept_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        fs::write(
            store.path(),
            r#"{"version":1,"exercises":{"old/renamed":{"status":"done","tests_passed":3,"tests_total":3}},"future_field":true}"#,
        )
        .unwrap();
        let progress = store.load().unwrap();
        assert!(progress.is_done("old/renamed"));
    }
}
