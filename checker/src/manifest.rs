//! The workbook described as data: `workbook.toml` at the root, a
//! `lesson.toml` per lesson folder under `lessons/`, an `exercise.toml` per
//! exercise folder. Adding a lesson means adding a folder, never code.
//! `[[lessons]]` entries in `workbook.toml` add an instructor's own lessons
//! from folders outside `lessons/` (see `external`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

mod external;

pub const WORKBOOK_FILE: &str = "workbook.toml";
pub const LESSON_FILE: &str = "lesson.toml";
pub const EXERCISE_FILE: &str = "exercise.toml";
pub const LESSONS_DIR: &str = "lessons";
pub const SOLUTIONS_DIR: &str = "solutions";
pub const BOOK_SRC_DIR: &str = "book/src";
/// Each lesson's record of what grades it (see `integrity::record`).
pub const SUMS_FILE: &str = "tests.sha256";
/// Every exercise's tests lean on the testkit: editing it could pass them all.
pub const SHARED_TEST_DIR: &str = "testkit";
/// What the whole workspace builds with: a `[patch]` or a `rustc-wrapper`
/// there could swap anything.
pub const WORKSPACE_FILES: [&str; 2] = ["Cargo.toml", ".cargo/config.toml"];
const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// The whole workbook: its root folder and its lessons, in order.
#[derive(Debug, Clone)]
pub struct Workbook {
    pub root: PathBuf,
    pub title: String,
    pub lessons: Vec<Lesson>,
}

#[derive(Debug, Clone)]
pub struct Lesson {
    pub id: String,
    pub title: String,
    /// The lesson folder, relative to the root (`lessons/01-server`).
    pub dir: PathBuf,
    /// The chapter, relative to `book_dir`.
    pub book: String,
    /// The folder `book` paths are relative to, relative to the root:
    /// `book/src`, or an external lesson's own `book/` folder.
    pub book_dir: PathBuf,
    /// Taken by choice: `next` and `check --all` pass it by until the
    /// learner opens one of its exercises (see `Progress::takes`).
    pub elective: bool,
    pub exercises: Vec<Exercise>,
}

#[derive(Debug, Clone)]
pub struct Exercise {
    /// `lesson/exercise`, e.g. `server/hello`: what learners type.
    pub id: String,
    pub lesson: String,
    pub title: String,
    /// The exercise folder, relative to the root.
    pub dir: PathBuf,
    /// The mirrored reference solution folder, relative to the root.
    pub solution_dir: PathBuf,
    /// Files the learner edits, relative to the root.
    pub edit: Vec<PathBuf>,
    /// Test files that grade the exercise, relative to the exercise folder.
    pub tests: Vec<PathBuf>,
    /// The book section, relative to `book_dir`.
    pub book: String,
    /// `book/src`, or an external lesson's own `book/` folder (see [`Lesson::book_dir`]).
    pub book_dir: PathBuf,
    pub hints: Vec<String>,
    pub timeout_secs: u64,
    /// The cargo package names of the starter and of the solution.
    pub package: String,
    pub solution_package: String,
    /// A black-box exercise's stages, in order (`check --stage`): its tests
    /// are named `stage::scenario`. Empty for every other exercise.
    pub stages: Vec<String>,
    /// Its lesson is an elective (see [`Lesson::elective`]).
    pub elective: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkbookFile {
    title: String,
    timeout: Option<u64>,
    #[serde(default)]
    lessons: Vec<external::LessonsEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonFile {
    id: String,
    title: String,
    book: String,
    #[serde(default)]
    elective: bool,
    exercises: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExerciseFile {
    title: String,
    edit: Option<Vec<PathBuf>>,
    tests: Option<Vec<PathBuf>>,
    book: Option<String>,
    hints: Vec<String>,
    timeout: Option<u64>,
    stages: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CargoManifest {
    package: CargoPackage,
}

#[derive(Deserialize)]
struct CargoPackage {
    name: String,
}

impl Workbook {
    /// Finds the workbook root: `start` or the nearest parent holding `workbook.toml`.
    pub fn find_root(start: &Path) -> Result<PathBuf> {
        for dir in start.ancestors() {
            if dir.join(WORKBOOK_FILE).is_file() {
                return Ok(dir.to_path_buf());
            }
        }
        bail!(
            "no {WORKBOOK_FILE} in {} or any parent folder: run the checker inside the workbook's folder",
            start.display()
        )
    }

    /// Reads every manifest under `root`. Any mistake is an error naming the file (and line).
    pub fn load(root: &Path) -> Result<Workbook> {
        let manifest = root.join(WORKBOOK_FILE);
        let file: WorkbookFile = read_toml(&manifest)?;
        let timeout_secs = check_timeout(file.timeout, &manifest)?.unwrap_or(DEFAULT_TIMEOUT_SECS);
        let own = Source {
            lessons: PathBuf::from(LESSONS_DIR),
            solutions: PathBuf::from(SOLUTIONS_DIR),
            book: PathBuf::from(BOOK_SRC_DIR),
        };
        let mut lessons = own.load(root, timeout_secs)?;
        // An instructor's own lessons come after the workbook's, entry by entry.
        for entry in &file.lessons {
            let source = external::source(root, entry, &manifest)?;
            let found = source.load(root, timeout_secs)?;
            external::require_members(root, &found)?;
            lessons.extend(found);
        }
        let workbook = Workbook {
            root: root.to_path_buf(),
            title: file.title,
            lessons,
        };
        workbook.reject_duplicate_ids()?;
        Ok(workbook)
    }

    fn reject_duplicate_ids(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for lesson in &self.lessons {
            if !seen.insert(format!("lesson:{}", lesson.id)) {
                bail!(
                    "{}: lesson id `{}` is used by another lesson too: give each lesson its own id",
                    lesson.dir.join(LESSON_FILE).display(),
                    lesson.id
                );
            }
        }
        Ok(())
    }

    pub fn exercises(&self) -> impl Iterator<Item = &Exercise> {
        self.lessons
            .iter()
            .flat_map(|lesson| lesson.exercises.iter())
    }

    pub fn exercise(&self, id: &str) -> Option<&Exercise> {
        self.exercises().find(|exercise| exercise.id == id)
    }

    pub fn lesson(&self, id: &str) -> Option<&Lesson> {
        self.lessons.iter().find(|lesson| lesson.id == id)
    }

    /// Resolves what a learner typed: an exercise id (`server/hello`), a
    /// lesson id (`server`), or an exercise's own name when only one lesson
    /// has it (`hello`).
    pub fn select(&self, target: &str) -> Result<Vec<&Exercise>> {
        let target = target.trim_end_matches('/');
        if let Some(exercise) = self.exercise(target) {
            return Ok(vec![exercise]);
        }
        if let Some(lesson) = self.lesson(target) {
            return Ok(lesson.exercises.iter().collect());
        }
        let by_name: Vec<&Exercise> = self
            .exercises()
            .filter(|exercise| exercise.id.rsplit('/').next() == Some(target))
            .collect();
        match by_name.len() {
            1 => Ok(by_name),
            0 => bail!(crate::UsageError(format!(
                "no exercise or lesson is called `{target}`: `cargo checker list` shows every id"
            ))),
            _ => bail!(crate::UsageError(format!(
                "`{target}` names an exercise in several lessons: write it in full, e.g. `{}`",
                by_name[0].id
            ))),
        }
    }

    /// Like [`Workbook::select`], for commands that take exactly one exercise.
    pub fn select_one(&self, target: &str) -> Result<&Exercise> {
        let selected = self.select(target)?;
        match selected.as_slice() {
            [exercise] => Ok(exercise),
            _ => bail!(crate::UsageError(format!(
                "`{target}` is a lesson; name one of its exercises, e.g. `{}`",
                selected[0].id
            ))),
        }
    }

    /// `relative` under the root; `..` resolved, so that a path into an
    /// external folder compares equal to the paths cargo reports.
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        normalize(&self.root.join(relative))
    }
}

impl Exercise {
    /// Whether the exercise comes from a `[[lessons]]` folder of
    /// workbook.toml rather than the workbook's own `lessons/`.
    pub fn is_external(&self) -> bool {
        !self.dir.starts_with(LESSONS_DIR)
    }

    /// Where the section is to be read, as shown to the learner: a path
    /// from the root (`book/src/server/hello.md`), or a web address when an
    /// external lesson keeps its pages online.
    pub fn book_page(&self) -> String {
        if is_web_address(&self.book) {
            return self.book.clone();
        }
        slashed(&self.book_dir.join(&self.book))
    }
}

/// An external lesson may keep its pages on the web (`book = "https://..."`):
/// nothing in the workbook can check or render them.
pub fn is_web_address(book: &str) -> bool {
    book.starts_with("https://") || book.starts_with("http://")
}

/// Where one set of lessons lives, each folder relative to the root (or
/// absolute, outside it): the workbook's own, or a `[[lessons]]` entry's.
pub(crate) struct Source {
    pub lessons: PathBuf,
    pub solutions: PathBuf,
    pub book: PathBuf,
}

impl Source {
    /// The lessons of the source, in order of their folder names.
    fn load(&self, root: &Path, timeout_secs: u64) -> Result<Vec<Lesson>> {
        let mut lesson_dirs = Vec::new();
        let lessons_root = normalize(&root.join(&self.lessons));
        let entries = fs::read_dir(&lessons_root).with_context(|| {
            format!("cannot read the lessons folder {}", lessons_root.display())
        })?;
        for entry in entries {
            let path = entry?.path();
            if path.join(LESSON_FILE).is_file() {
                lesson_dirs.push(path);
            }
        }
        // Folder names start with a number (`01-server`): sorting them keeps the order.
        lesson_dirs.sort();
        lesson_dirs
            .iter()
            .map(|dir| load_lesson(root, self, dir, timeout_secs))
            .collect()
    }
}

fn load_lesson(root: &Path, source: &Source, dir: &Path, default_timeout: u64) -> Result<Lesson> {
    let manifest = dir.join(LESSON_FILE);
    let file: LessonFile = read_toml(&manifest)?;
    check_id(&file.id, &manifest)?;
    let rel_dir = relative(root, dir);
    let lesson_folder = dir.file_name().map(PathBuf::from).unwrap_or_default();
    let mut exercises = Vec::new();
    for name in &file.exercises {
        check_id(name, &manifest)?;
        if exercises
            .iter()
            .any(|exercise: &Exercise| exercise.id.ends_with(&format!("/{name}")))
        {
            bail!("{}: exercise `{name}` is listed twice", manifest.display());
        }
        let exercise_dir = dir.join(name);
        if !exercise_dir.join(EXERCISE_FILE).is_file() {
            bail!(
                "{}: exercise `{name}` is listed but {} does not exist",
                manifest.display(),
                relative(root, &exercise_dir.join(EXERCISE_FILE)).display()
            );
        }
        let solution_dir = source.solutions.join(&lesson_folder).join(name);
        let mut exercise = load_exercise(
            root,
            &file.id,
            name,
            &exercise_dir,
            solution_dir,
            default_timeout,
        )?;
        exercise.book_dir = source.book.clone();
        exercise.elective = file.elective;
        exercises.push(exercise);
    }
    Ok(Lesson {
        id: file.id,
        title: file.title,
        dir: rel_dir,
        book: file.book,
        book_dir: source.book.clone(),
        elective: file.elective,
        exercises,
    })
}

fn load_exercise(
    root: &Path,
    lesson: &str,
    name: &str,
    dir: &Path,
    solution_dir: PathBuf,
    default_timeout: u64,
) -> Result<Exercise> {
    let file: ExerciseFile = read_toml(&dir.join(EXERCISE_FILE))?;
    let timeout = check_timeout(file.timeout, &relative(root, &dir.join(EXERCISE_FILE)))?;
    let rel_dir = relative(root, dir);
    let edit = file
        .edit
        .unwrap_or_else(|| vec![PathBuf::from("src/lib.rs")])
        .into_iter()
        .map(|path| rel_dir.join(path))
        .collect();
    let package = package_name(&dir.join("Cargo.toml"))?;
    let solution_manifest = root.join(&solution_dir).join("Cargo.toml");
    // A missing solution is reported by `dev check`; learners can still work.
    let solution_package = package_name(&solution_manifest).unwrap_or_default();
    Ok(Exercise {
        id: format!("{lesson}/{name}"),
        lesson: lesson.to_string(),
        title: file.title,
        dir: rel_dir,
        solution_dir,
        edit,
        tests: file
            .tests
            .unwrap_or_else(|| vec![PathBuf::from(format!("tests/{name}.rs"))]),
        book: file.book.unwrap_or_else(|| format!("{lesson}/{name}.md")),
        book_dir: PathBuf::from(BOOK_SRC_DIR),
        hints: file.hints,
        timeout_secs: timeout.unwrap_or(default_timeout),
        package,
        solution_package,
        stages: file.stages.unwrap_or_default(),
        elective: false,
    })
}

/// The longest time limit a setting may ask for: a day.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// A time limit is 1 s to a day: 0 would stop every test before it began,
/// and a larger one only hides a hang (and overflows a clock).
fn check_timeout(timeout: Option<u64>, manifest: &Path) -> Result<Option<u64>> {
    match timeout {
        Some(secs) if secs == 0 || secs > MAX_TIMEOUT_SECS => bail!(
            "{}: `timeout = {secs}` is out of range: give the seconds the tests may run, from 1 to {MAX_TIMEOUT_SECS}",
            manifest.display()
        ),
        other => Ok(other),
    }
}

fn check_id(id: &str, manifest: &Path) -> Result<()> {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!(
            "{}: `{id}` is not a valid id: use lowercase letters, digits, `-` and `_`",
            manifest.display()
        );
    }
    Ok(())
}

fn package_name(cargo_toml: &Path) -> Result<String> {
    let manifest: CargoManifest = read_toml(cargo_toml)?;
    Ok(manifest.package.name)
}

/// Reads and parses a TOML file; errors name the file and the line.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|error| {
        let line = error
            .span()
            .map(|span| text[..span.start].matches('\n').count() + 1)
            .map(|line| format!(":{line}"))
            .unwrap_or_default();
        anyhow::anyhow!("{}{line}: {}", path.display(), error.message())
    })
}

/// `path` from the root: `lessons/01-server`, or for a folder beside the
/// workbook `../course/lessons/01-shop`, so that what is shown and recorded
/// (tests.sha256) does not depend on where the two are checked out.
pub fn relative(root: &Path, path: &Path) -> PathBuf {
    let root = normalize(root);
    let path = normalize(path);
    if let Ok(inside) = path.strip_prefix(&root) {
        return inside.to_path_buf();
    }
    let common = root
        .components()
        .zip(path.components())
        .take_while(|(a, b)| a == b)
        .count();
    // Nothing in common but the file system's root: an absolute path says it better.
    if common <= 1 || !path.is_absolute() {
        return path;
    }
    let mut out = PathBuf::new();
    for _ in root.components().skip(common) {
        out.push("..");
    }
    out.extend(path.components().skip(common));
    out
}

/// Resolves `.` and `..` without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // Above the file system's root is the root.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

pub fn slashed(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Workbook {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workbook");
        Workbook::load(&root).expect("the fixture workbook loads")
    }

    #[test]
    fn lessons_and_exercises_keep_the_manifest_order_and_defaults() {
        let workbook = fixture();
        assert_eq!(workbook.title, "Fixture Workbook");
        let ids: Vec<&str> = workbook.exercises().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "basics/todo",
                "basics/passing",
                "basics/failing",
                "basics/broken",
                "basics/hanging",
                "basics/flooding"
            ]
        );
        let todo = workbook.exercise("basics/todo").unwrap();
        assert_eq!(todo.dir, PathBuf::from("lessons/01-basics/todo"));
        assert_eq!(todo.solution_dir, PathBuf::from("solutions/01-basics/todo"));
        assert_eq!(
            todo.edit,
            vec![PathBuf::from("lessons/01-basics/todo/src/lib.rs")]
        );
        assert_eq!(todo.package, "basics-todo");
        assert_eq!(todo.solution_package, "basics-todo-solution");
        assert_eq!(
            todo.timeout_secs, 20,
            "workbook.toml's timeout is the default"
        );
        assert_eq!(todo.hints.len(), 2);
    }

    #[test]
    fn select_takes_an_exercise_a_lesson_or_a_unique_short_name() {
        let workbook = fixture();
        assert_eq!(
            workbook.select("basics/failing").unwrap()[0].id,
            "basics/failing"
        );
        assert_eq!(workbook.select("basics").unwrap().len(), 6);
        assert_eq!(workbook.select("failing").unwrap()[0].id, "basics/failing");
        let unknown = workbook.select("nope").unwrap_err();
        assert!(
            unknown.downcast_ref::<crate::UsageError>().is_some(),
            "{unknown}"
        );
        let lesson = workbook.select_one("basics").unwrap_err();
        assert!(lesson.to_string().contains("is a lesson"), "{lesson}");
    }

    #[test]
    fn a_manifest_error_names_the_file_and_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exercise.toml");
        std::fs::write(&path, "title = \"x\"\nhints = []\ncolour = \"red\"\n").unwrap();
        let error = read_toml::<ExerciseFile>(&path).err().unwrap().to_string();
        assert!(error.contains("exercise.toml:3"), "{error}");
        assert!(error.contains("colour"), "{error}");
    }

    #[test]
    fn invalid_ids_are_refused() {
        assert!(check_id("hello-world_2", Path::new("x")).is_ok());
        assert!(check_id("Hello", Path::new("x")).is_err());
        assert!(check_id("a/b", Path::new("x")).is_err());
        assert!(check_id("", Path::new("x")).is_err());
    }
}
