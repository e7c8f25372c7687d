//! The learner's progress: one small JSON file at the workbook root, ignored
//! by git. It only caches what the tests said, so deleting it loses nothing a
//! `check --all` cannot rebuild (except which hints were shown).
//!
//! Several checkers may run at once (watch mode in one terminal, a
//! `check --all` in another). Every change is a read-modify-write under a
//! lock file beside the progress, and every write replaces the file
//! atomically, so no checker loses another's change and no reader ever sees
//! half a file. A write that fails (a read-only folder, a full disk) leaves
//! the old file whole and says why.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::manifest::{Exercise, Lesson, Workbook};
use crate::outcome::{Outcome, Status};

pub const PROGRESS_FILE: &str = ".workbook-progress.json";
const FORMAT_VERSION: u32 = 1;
/// How long a checker waits for the progress lock before saying that it
/// waits (another checker holds it for milliseconds while it saves).
const QUIET_WAIT: Duration = Duration::from_millis(250);

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
    /// The elective lessons the learner took, by lesson id: `goto` one of
    /// their exercises takes it. Until then `check --all`, `next` and the
    /// totals pass it by, and nothing of it is built.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub electives: BTreeSet<String>,
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

    /// The lock file that serialises changes to the progress.
    pub fn lock_path(&self) -> PathBuf {
        self.sibling(".lock")
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    }

    /// Reads the progress. A file that cannot be read as progress (cut
    /// short, garbage, not UTF-8, a newer format) is moved aside (never
    /// deleted) and a warning says so: the learner starts over from what the
    /// tests say, not from an error.
    pub fn load(&self) -> Result<Progress> {
        // Another checker may move the same broken file aside first.
        for _ in 0..3 {
            let bytes = match fs::read(&self.path) {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == ErrorKind::NotFound => {
                    return Ok(Progress::fresh());
                }
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("cannot read {}", self.path.display()));
                }
            };
            let problem = match serde_json::from_slice::<Progress>(&bytes) {
                Ok(progress) if progress.version <= FORMAT_VERSION => return Ok(progress),
                Ok(progress) => format!(
                    "it was written by a newer checker (format {}, this one reads {FORMAT_VERSION})",
                    progress.version
                ),
                Err(error) if bytes.iter().all(u8::is_ascii_whitespace) => {
                    format!("it is empty ({error})")
                }
                Err(error) => format!("it is not valid progress ({error})"),
            };
            let backup = self.backup_path();
            match fs::rename(&self.path, &backup) {
                Ok(()) => {}
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                Err(error) => {
                    return Err(error).with_context(|| {
                        format!(
                            "{} could not be read ({problem}), and cannot be moved aside",
                            self.path.display()
                        )
                    });
                }
            }
            crate::term::warn(&format!(
                "{} could not be read: {problem}. It was kept as {}; run `cargo checker check --all` to rebuild your progress.",
                PROGRESS_FILE,
                backup.file_name().unwrap_or_default().to_string_lossy()
            ));
            return Ok(Progress::fresh());
        }
        Ok(Progress::fresh())
    }

    /// `.workbook-progress.json.broken-SECONDS`, with a count if that is taken.
    fn backup_path(&self) -> PathBuf {
        let stamp = now();
        let mut backup = self.sibling(&format!(".broken-{stamp}"));
        let mut n = 1;
        while backup.exists() {
            n += 1;
            backup = self.sibling(&format!(".broken-{stamp}-{n}"));
        }
        backup
    }

    /// Loads the newest progress, applies `change` and saves it, holding the
    /// lock throughout: two checkers that change progress at once both keep
    /// their change.
    pub fn update<T>(&self, change: impl FnOnce(&mut Progress) -> T) -> Result<T> {
        let lock = self.lock()?;
        let mut progress = self.load()?;
        let result = change(&mut progress);
        SAVES.pass(|| self.write(&progress, &lock))?;
        Ok(result)
    }

    /// Takes the progress lock, waiting for another checker that holds it
    /// (and saying so if that takes a while). Where files cannot be locked,
    /// changes go on unlocked: the atomic replace still keeps the file whole.
    fn lock(&self) -> Result<Lock> {
        let path = self.lock_path();
        let file = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => file,
            // A lock file left in a folder that is now read-only still locks.
            Err(error) => fs::File::open(&path).map_err(|_| self.save_error(error))?,
        };
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { held: Some(file) }),
                Err(fs::TryLockError::WouldBlock) if started.elapsed() < QUIET_WAIT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(fs::TryLockError::WouldBlock) => break,
                Err(fs::TryLockError::Error(_)) => return Ok(Lock { held: None }),
            }
        }
        crate::run::clear_progress_line();
        eprintln!(
            "Waiting for another checker to finish saving progress (it holds {})...",
            path.display()
        );
        Ok(Lock {
            held: file.lock().is_ok().then_some(file),
        })
    }

    /// Writes to a temporary file beside the target, then renames it over:
    /// a crash, Ctrl-C or a full disk leaves the old file whole.
    fn write(&self, progress: &Progress, lock: &Lock) -> Result<()> {
        let text = serde_json::to_string_pretty(progress).expect("progress always serialises");
        // Under the lock one name is enough, and a leftover of a checker
        // killed while saving is replaced rather than piling up.
        let temp = if lock.held.is_some() {
            self.sibling(".tmp")
        } else {
            self.sibling(&format!(".tmp-{}", std::process::id()))
        };
        let result = write_new(&temp, text.as_bytes()).and_then(|()| fs::rename(&temp, &self.path));
        if let Err(error) = result {
            let _ = fs::remove_file(&temp);
            return Err(self.save_error(error));
        }
        Ok(())
    }

    /// Why progress could not be saved, in words a learner can act on.
    fn save_error(&self, error: io::Error) -> anyhow::Error {
        let folder = self.path.parent().unwrap_or(Path::new("."));
        let why = match error.kind() {
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                format!("the folder {} is read-only for you", folder.display())
            }
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => "the disk is full".to_string(),
            ErrorKind::FileTooLarge => "a file size limit (ulimit -f) stops the write".to_string(),
            _ => "writing failed".to_string(),
        };
        anyhow!(
            "cannot save progress to {}: {why} ({error}). Your previous progress is unchanged.",
            self.path.display()
        )
    }
}

/// Every save of this process passes through one gate, which a checker
/// about to exit (Ctrl-C) closes: closing waits for a save under way and
/// lets no other begin, so an exit never races a save, and the checker can
/// say truly whether this run changed the progress.
struct SaveGate {
    /// Whether a save went through.
    saved: Mutex<bool>,
}

static SAVES: SaveGate = SaveGate::new();

impl SaveGate {
    const fn new() -> SaveGate {
        SaveGate {
            saved: Mutex::new(false),
        }
    }

    fn pass<T>(&self, save: impl FnOnce() -> Result<T>) -> Result<T> {
        let mut saved = self.saved.lock().unwrap_or_else(PoisonError::into_inner);
        let result = save()?;
        *saved = true;
        Ok(result)
    }

    /// Waits for a save under way, then keeps every later one waiting for
    /// good; says whether any save went through.
    fn close(&self) -> bool {
        keep_closed(self.saved.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `close`, unless a save is under way.
    #[cfg(test)]
    fn try_close(&self) -> Option<bool> {
        match self.saved.try_lock() {
            Ok(saved) => Some(keep_closed(saved)),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                Some(keep_closed(poisoned.into_inner()))
            }
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }
}

/// Holds the gate shut for the rest of the process (it is about to exit).
fn keep_closed(saved: std::sync::MutexGuard<'_, bool>) -> bool {
    let any = *saved;
    std::mem::forget(saved);
    any
}

/// Closes this process's save gate (see [`SaveGate`]): for a checker about
/// to exit. Says whether this process saved progress.
pub fn close_saves() -> bool {
    SAVES.close()
}

/// The progress lock, released when dropped; `None` where files cannot be
/// locked.
struct Lock {
    held: Option<fs::File>,
}

/// Creates `path` afresh (a file or link already there is removed, never
/// followed) and writes `bytes` and a newline to disk.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()
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

    /// Whether the learner takes this lesson: every lesson does but an
    /// elective they have not opened.
    pub fn takes(&self, lesson: &Lesson) -> bool {
        !lesson.elective || self.electives.contains(&lesson.id)
    }

    /// Whether the learner takes this exercise's lesson (see [`Progress::takes`]).
    pub fn takes_exercise(&self, exercise: &Exercise) -> bool {
        !exercise.elective || self.electives.contains(&exercise.lesson)
    }

    /// The lessons the learner takes, in order.
    pub fn lessons<'w>(&self, workbook: &'w Workbook) -> impl Iterator<Item = &'w Lesson> {
        workbook.lessons.iter().filter(|lesson| self.takes(lesson))
    }

    /// The exercises of the lessons the learner takes, in order: what
    /// `check --all` checks and the totals count.
    pub fn taken<'w>(&self, workbook: &'w Workbook) -> impl Iterator<Item = &'w Exercise> {
        self.lessons(workbook)
            .flat_map(|lesson| lesson.exercises.iter())
    }

    /// The electives not taken, each with the exercise `goto` takes it by.
    pub fn untaken<'w>(
        &self,
        workbook: &'w Workbook,
    ) -> impl Iterator<Item = (&'w Lesson, &'w Exercise)> {
        workbook
            .lessons
            .iter()
            .filter(|lesson| !self.takes(lesson))
            .filter_map(|lesson| Some((lesson, lesson.exercises.first()?)))
    }

    /// The exercises `next` walks through from `current`: those of the
    /// lessons taken, and of `current`'s own lesson, which counts as chosen.
    pub fn route<'w>(
        &self,
        workbook: &'w Workbook,
        current: &str,
    ) -> impl Iterator<Item = &'w Exercise> {
        let lesson = workbook.exercise(current).map(|e| e.lesson.clone());
        workbook
            .exercises()
            .filter(move |e| self.takes_exercise(e) || Some(&e.lesson) == lesson.as_ref())
    }

    /// Takes the elective `exercise` belongs to, if it is one; `true` if
    /// that is new.
    pub fn take(&mut self, exercise: &Exercise) -> bool {
        exercise.elective && self.electives.insert(exercise.lesson.clone())
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
    fn closing_the_save_gate_waits_for_a_save_under_way_and_lets_none_begin() {
        let gate = SaveGate::new();
        let (entered, saving) = std::sync::mpsc::channel();
        let (finish, finishing) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|scope| {
            let gate = &gate;
            scope.spawn(move || {
                gate.pass(|| {
                    entered.send(()).unwrap();
                    finishing.recv().unwrap();
                    Ok(())
                })
                .unwrap()
            });
            saving.recv().unwrap();
            assert_eq!(gate.try_close(), None, "a save is under way");
            finish.send(()).unwrap();
        });
        assert_eq!(gate.try_close(), Some(true), "closes once the save is done");
        // Closed for good: a save that began now would wait until the exit.
        assert_eq!(gate.try_close(), None);
        assert!(!SaveGate::new().close(), "nothing was saved");
    }

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
    fn garbage_that_is_not_even_utf8_is_kept_aside_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let garbage = [0xff, 0xfe, 0x00, b'{', 0x80];
        for _ in 0..2 {
            fs::write(store.path(), garbage).unwrap();
            assert!(store.load().unwrap().exercises.is_empty());
        }
        let backups: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".broken-"))
            .map(|e| fs::read(e.path()).unwrap())
            .collect();
        assert_eq!(
            backups,
            vec![garbage.to_vec(), garbage.to_vec()],
            "two backups, none overwritten"
        );
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
