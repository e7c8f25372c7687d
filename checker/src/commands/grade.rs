//! `grade`: grades learners' work from the instructor's own checkout, so
//! that a grade rests on nothing a learner could have changed.
//!
//! For each learner: a fresh copy of the instructor's tree, into which only
//! each exercise's `edit` files are taken from the learner's tree (plain
//! files, no links, at most 1 MiB); their tests, manifests, testkit, build
//! settings and checker are the instructor's. Each learner builds in a build
//! folder no other learner's code ran in: a copy of a warm build of the
//! starters, made once. Test binaries run in a PID namespace of their own
//! where the kernel allows it, so nothing a learner's code starts outlives
//! its grading. Edited files that use what tampering needs are flagged for
//! review; they are not marked down.

mod copy;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use colored::Colorize;

use super::Context;
use crate::integrity::review;
use crate::manifest::{Exercise, Workbook};
use crate::outcome::{Outcome, Status};
use crate::provenance::{self, Kind, Provenance, Tree};
use crate::render;
use crate::run::seal::{self, Identity};
use crate::run::{self, Job, Runner, sandbox::Sandbox};
use crate::term;

/// What `grade` was asked.
pub struct Request {
    pub learners: Vec<String>,
    pub out: PathBuf,
    pub junit: bool,
    /// Exercises or lessons to grade; empty: all.
    pub only: Vec<String>,
    pub timeout: Option<u64>,
}

pub fn run(context: &Context, request: Request) -> Result<ExitCode> {
    let instructor = &context.workbook;
    let mut selected: Vec<&Exercise> = Vec::new();
    for target in &request.only {
        selected.extend(instructor.select(target)?);
    }
    if request.only.is_empty() {
        // An elective is graded when the instructor names it with --only:
        // whether a learner took it is theirs to say, not their tree's.
        selected = instructor.exercises().filter(|e| !e.elective).collect();
    }
    let ids: BTreeSet<&str> = selected.iter().map(|e| e.id.as_str()).collect();
    let work = instructor.path("target").join("grade");
    fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    fs::create_dir_all(&request.out)
        .with_context(|| format!("cannot create {}", request.out.display()))?;
    let learners = resolve_learners(&request.learners, &work)?;

    let sandbox = match Sandbox::probe() {
        Ok(sandbox) => Some(sandbox),
        Err(why) => {
            term::warn(&format!(
                "no PID namespace for the tests ({why}): a process a learner's code starts \
                 outside its process group, with its environment cleared, may outlive grading"
            ));
            None
        }
    };

    let tree = work.join("tree");
    let target = work.join("target");
    let warm = work.join("warm");
    let started = Instant::now();
    eprintln!("Building the starters once, to warm the build folder every learner starts from...");
    let mut stash = warm_up(context, &tree, &target, &warm, &ids, sandbox.clone())?;
    eprintln!("  ready in {:.1} s", started.elapsed().as_secs_f64());
    let instructor_sources = sources_digest(&instructor.root);
    // What every learner is graded against, taken once: grading stops if
    // the instructor's checkout changes (below).
    let instructor_tree = Tree::of(&instructor.root);
    let digests = provenance::digests(instructor, selected.iter().copied());

    let mut graded = 0;
    for learner in &learners {
        let started = Instant::now();
        let outcomes = grade_one(
            context,
            learner,
            &tree,
            &target,
            &warm,
            &ids,
            sandbox.clone(),
            request.timeout,
        )
        .with_context(|| format!("grading {} failed", learner.name))?;
        let (exercises, mut outcomes) = outcomes;
        let tampered = stash.changed();
        if let Some(changed) = &tampered {
            // This learner's code wrote into the build every learner starts
            // from: its grade is void, and the next learner gets a new one.
            for outcome in &mut outcomes {
                outcome.mark_modified(
                    vec![changed.clone()],
                    "its code wrote into the build folder the checker keeps for every learner",
                );
                outcome.settle();
            }
        }
        if sources_digest(&instructor.root) != instructor_sources {
            bail!(
                "while {}'s tests ran, the instructor's checkout at {} changed: grading stopped. \
                 Grade in an account or container of its own (see the instructor guide)",
                learner.name,
                instructor.root.display()
            );
        }
        let provenance = Provenance {
            kind: Kind::Grade,
            generated_at: provenance::now(),
            checker_commit: instructor_tree.commit.clone(),
            learner_name: Some(learner.name.clone()),
            learner: learner.tree.clone(),
            instructor: Some(instructor_tree.clone()),
        };
        let head = render::json::Graded {
            provenance: &provenance,
            digests: &digests,
        };
        write_reports(
            &request,
            learner,
            &head,
            &context.workbook,
            &exercises,
            &outcomes,
        )?;
        print_line(learner, &exercises, &outcomes, started.elapsed());
        graded += 1;
        if tampered.is_some() {
            eprintln!("  the warm build was changed: building it again");
            stash = warm_up(context, &tree, &target, &warm, &ids, sandbox.clone())?;
        }
    }
    println!(
        "\nGraded {} into {} (one JSON report per learner{}).",
        term::plural(graded, "learner"),
        request.out.display(),
        if request.junit { ", and JUnit XML" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// A learner's tree, by the name their reports take.
struct Learner {
    name: String,
    root: PathBuf,
    /// Its commit, as the report says it.
    tree: Tree,
}

/// Folders are read where they are; anything else is a git repository to
/// clone (a URL, or a path to a repository).
fn resolve_learners(sources: &[String], work: &Path) -> Result<Vec<Learner>> {
    let mut learners: Vec<Learner> = Vec::new();
    let clones = work.join("clones");
    for source in sources {
        let base = source
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()
            .unwrap_or(source)
            .trim_end_matches(".git")
            .to_string();
        let mut name: String = base
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if name.is_empty() || name.starts_with('.') {
            name = format!("learner{}", learners.len() + 1);
        }
        let mut unique = name.clone();
        let mut n = 2;
        while learners.iter().any(|l| l.name == unique) {
            unique = format!("{name}-{n}");
            n += 1;
        }
        let path = Path::new(source);
        let (root, tree) = if path.is_dir() && !path.join("HEAD").is_file() {
            (path.to_path_buf(), Tree::commit_only(path))
        } else {
            let into = clones.join(&unique);
            if into.exists() {
                fs::remove_dir_all(&into)?;
            }
            fs::create_dir_all(&clones)?;
            let output = Command::new("git")
                .args([
                    "clone",
                    "--quiet",
                    "--depth",
                    "1",
                    "--no-recurse-submodules",
                    "--",
                ])
                .arg(source)
                .arg(&into)
                .env("GIT_TERMINAL_PROMPT", "0")
                .stdin(Stdio::null())
                .output()
                .with_context(|| "cannot start git to clone a learner's repository")?;
            if !output.status.success() {
                bail!(
                    "`{source}` is neither a folder nor a repository git can clone: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            // A fresh clone has no uncommitted changes.
            let mut tree = Tree::commit_only(&into);
            tree.uncommitted_changes = tree.commit.as_ref().map(|_| false);
            (into, tree)
        };
        learners.push(Learner {
            name: unique,
            root,
            tree,
        });
    }
    Ok(learners)
}

/// The files of a build folder as they were when it was stashed.
struct Stash {
    files: Vec<(PathBuf, Identity)>,
}

impl Stash {
    fn of(dir: &Path) -> Stash {
        let mut files = Vec::new();
        walk(dir, &mut files);
        Stash { files }
    }

    /// The first file that is not as stashed, if any.
    fn changed(&self) -> Option<PathBuf> {
        self.files
            .iter()
            .find(|(path, identity)| Identity::of(path).ok().as_ref() != Some(identity))
            .map(|(path, _)| path.clone())
    }
}

fn walk(dir: &Path, files: &mut Vec<(PathBuf, Identity)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => walk(&path, files),
            Ok(kind) if kind.is_file() => {
                if let Ok(identity) = Identity::of(&path) {
                    files.push((path, identity));
                }
            }
            _ => {}
        }
    }
}

/// Builds the instructor's starters in `tree`/`target` and keeps that build
/// as `warm`: every learner's build starts from a copy of it, with the
/// dependencies compiled and the same paths (cargo's records hold them).
fn warm_up(
    context: &Context,
    tree: &Path,
    target: &Path,
    warm: &Path,
    ids: &BTreeSet<&str>,
    sandbox: Option<Sandbox>,
) -> Result<Stash> {
    fresh_tree(&context.workbook.root, tree)?;
    if target.exists() {
        fs::remove_dir_all(target)?;
    }
    let workbook = Workbook::load(tree)?;
    let exercises: Vec<&Exercise> = workbook
        .exercises()
        .filter(|e| ids.contains(e.id.as_str()))
        .collect();
    let runner = runner(context, &workbook, target, sandbox, None);
    let jobs = Job::starters(&exercises);
    let show = term::stderr_is_terminal();
    let build = runner.build(&jobs, Some(run::build_feedback(show)));
    if show {
        run::clear_progress_line();
    }
    build?;
    copy::exact(target, warm)
        .with_context(|| format!("cannot keep the warm build in {}", warm.display()))?;
    Ok(Stash::of(warm))
}

fn fresh_tree(instructor: &Path, tree: &Path) -> Result<()> {
    if tree.exists() {
        fs::remove_dir_all(tree).with_context(|| format!("cannot empty {}", tree.display()))?;
    }
    copy::workbook(instructor, tree)
        .with_context(|| format!("cannot copy the workbook to {}", tree.display()))
}

fn runner<'a>(
    context: &Context,
    workbook: &'a Workbook,
    target: &Path,
    sandbox: Option<Sandbox>,
    timeout: Option<u64>,
) -> Runner<'a> {
    Runner::new(workbook, context.color, timeout.map(Duration::from_secs))
        .target_dir(target.to_path_buf())
        // Every learner's build starts from scratch: incremental data would
        // only cost time and room.
        .env(vec![("CARGO_INCREMENTAL".into(), "0".into())])
        .sandbox(sandbox)
}

/// Grades one learner: the instructor's tree with the learner's edited
/// files, built from the warm build.
#[allow(clippy::too_many_arguments)]
fn grade_one(
    context: &Context,
    learner: &Learner,
    tree: &Path,
    target: &Path,
    warm: &Path,
    ids: &BTreeSet<&str>,
    sandbox: Option<Sandbox>,
    timeout: Option<u64>,
) -> Result<(Vec<Exercise>, Vec<Outcome>)> {
    fresh_tree(&context.workbook.root, tree)?;
    let workbook = Workbook::load(tree)?;
    let exercises: Vec<Exercise> = workbook
        .exercises()
        .filter(|e| ids.contains(e.id.as_str()))
        .cloned()
        .collect();
    let mut notes: Vec<Vec<String>> = Vec::new();
    let mut reviews = Vec::new();
    for exercise in &exercises {
        let mut taken = Vec::new();
        let mut starters = Vec::new();
        for file in &exercise.edit {
            let starter = fs::read_to_string(tree.join(file)).unwrap_or_default();
            match copy::learner_file(&learner.root, file) {
                Ok(bytes) => {
                    // An untouched starter stays as copied, dates and all,
                    // so its warm build is used.
                    if bytes != starter.as_bytes() {
                        fs::write(tree.join(file), bytes)?;
                    }
                    starters.push((file.clone(), starter));
                }
                Err(copy::Refused::Missing) => {
                    taken.push(format!(
                        "{} is missing from the learner's tree: graded as the starter",
                        file.display()
                    ));
                }
                Err(copy::Refused::NotAFile) => {
                    taken.push(format!("{} is not a plain file in the learner's tree (a link?): graded as the starter", file.display()));
                }
                Err(copy::Refused::TooLarge(bytes)) => {
                    taken.push(format!(
                        "{} is {} in the learner's tree, more than a source file may weigh: graded as the starter",
                        file.display(),
                        run::human_bytes(bytes)
                    ));
                }
            }
        }
        reviews.push(review::scan_files(tree, &starters));
        notes.push(taken);
    }
    copy::exact(warm, target)
        .with_context(|| format!("cannot copy the warm build to {}", target.display()))?;
    // The checker made this copy itself and nothing ran since: its ledger
    // may vouch for the copies as for the originals.
    let mut ledger = seal::Ledger::load(target);
    ledger.reseal();
    ledger.save();
    let refs: Vec<&Exercise> = exercises.iter().collect();
    let runner = runner(context, &workbook, target, sandbox, timeout);
    let jobs = Job::starters(&refs);
    let mut build = runner.build(&jobs, None)?;
    let mut outcomes = Vec::new();
    for ((job, notes), review) in jobs.iter().zip(notes).zip(reviews) {
        let mut outcome = runner.test(job, &mut build);
        outcome.notes.extend(notes);
        outcome.review = review;
        outcome.settle();
        outcomes.push(outcome);
    }
    Ok((exercises, outcomes))
}

/// A digest of what grades everyone, in the instructor's own checkout.
fn sources_digest(root: &Path) -> String {
    let dirs: Vec<PathBuf> = ["lessons", "solutions", "testkit", ".cargo"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let files = [PathBuf::from("Cargo.toml"), PathBuf::from("workbook.toml")];
    seal::digest_sources(root, &dirs, &files, &[], &[]).0
}

fn write_reports(
    request: &Request,
    learner: &Learner,
    graded: &render::json::Graded,
    workbook: &Workbook,
    exercises: &[Exercise],
    outcomes: &[Outcome],
) -> Result<()> {
    let refs: Vec<&Exercise> = exercises.iter().collect();
    let json = request.out.join(format!("{}.json", learner.name));
    fs::write(&json, render::json::check(graded, &refs, outcomes) + "\n")
        .with_context(|| format!("cannot write {}", json.display()))?;
    if request.junit {
        let xml = request.out.join(format!("{}.xml", learner.name));
        fs::write(&xml, render::junit::check(workbook, &refs, outcomes))
            .with_context(|| format!("cannot write {}", xml.display()))?;
    }
    Ok(())
}

fn print_line(learner: &Learner, exercises: &[Exercise], outcomes: &[Outcome], took: Duration) {
    let summary = crate::grade::Summary::of(outcomes.iter().map(|outcome| crate::grade::Grade {
        status: Some(outcome.status),
        tests_passed: outcome.tests_passed(),
        tests_total: outcome.tests_total(),
    }));
    let modified: Vec<&str> = exercises
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| o.status == Status::Modified)
        .map(|(e, _)| e.id.as_str())
        .collect();
    let review: Vec<&str> = exercises
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| !o.review.is_empty())
        .map(|(e, _)| e.id.as_str())
        .collect();
    let mut line = format!(
        "{:<24} {}/{} exercises done, {:>5.1}%  ({:.1} s)",
        learner.name.bold(),
        summary.exercises_done,
        summary.exercises_total,
        summary.percent,
        took.as_secs_f64()
    );
    if !modified.is_empty() {
        line.push_str(&format!(
            "\n    {} {}",
            "not graded (tampering):".red().bold(),
            modified.join(", ")
        ));
    }
    if !review.is_empty() {
        line.push_str(&format!(
            "\n    {} {}",
            "flagged for review:".yellow().bold(),
            review.join(", ")
        ));
    }
    println!("{line}");
}
