//! `check`: build, run, grade, remember, show.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use super::Context;
use crate::cli::CheckFormat;
use crate::integrity;
use crate::manifest::Exercise;
use crate::outcome::{Outcome, Status};
use crate::provenance::{self, Kind, Provenance};
use crate::render;
use crate::run::{self, Job, Runner};

/// What `--stage` and `--seed` ask of a black-box exercise's grader.
#[derive(Debug, Clone, Default)]
pub struct Blackbox {
    pub stage: Option<String>,
    pub seed: Option<u64>,
}

/// The variables the capstone's grader reads (see testkit/grader).
const SEED_VAR: &str = "GRADER_SEED";
const STAGE_VAR: &str = "GRADER_STAGE";

impl Blackbox {
    fn asked(&self) -> bool {
        self.stage.is_some() || self.seed.is_some()
    }

    /// `--stage` and `--seed` make sense for one black-box exercise, and a
    /// stage it has.
    fn validate(&self, exercises: &[&Exercise]) -> Result<()> {
        if !self.asked() {
            return Ok(());
        }
        let flag = if self.stage.is_some() {
            "--stage"
        } else {
            "--seed"
        };
        let [exercise] = exercises else {
            anyhow::bail!(
                "{flag} is for one black-box exercise: name it, e.g. `cargo checker check capstone {flag} ...`"
            );
        };
        if exercise.stages.is_empty() {
            anyhow::bail!(
                "{flag} is for a black-box exercise (the capstone); {} has no stages",
                exercise.id
            );
        }
        if let Some(stage) = &self.stage
            && !exercise.stages.contains(stage)
        {
            anyhow::bail!(
                "{} has no stage `{stage}`: its stages are {}",
                exercise.id,
                exercise.stages.join(", ")
            );
        }
        Ok(())
    }

    /// The grader's variables, and the libtest filter that keeps one stage.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(seed) = self.seed {
            env.push((SEED_VAR.to_string(), seed.to_string()));
        }
        if let Some(stage) = &self.stage {
            env.push((STAGE_VAR.to_string(), stage.clone()));
        }
        env
    }

    pub fn filter(&self) -> Option<String> {
        self.stage.as_ref().map(|stage| format!("{stage}::"))
    }
}

pub fn run(
    context: &Context,
    target: Option<&str>,
    all: bool,
    format: CheckFormat,
    timeout: Option<u64>,
    blackbox: Blackbox,
) -> Result<ExitCode> {
    let progress = context.store.load()?;
    let exercises: Vec<&Exercise> = if all {
        progress.taken(&context.workbook).collect()
    } else {
        match target {
            Some(target) => context.workbook.select(target)?,
            None => vec![context.exercise_or_current(None, &progress)?],
        }
    };
    blackbox.validate(&exercises)?;
    let show = format == CheckFormat::Text && crate::term::stderr_is_terminal();
    let outcomes = check_with(
        context,
        &exercises,
        timeout,
        &blackbox,
        Some(run::build_feedback(show)),
        &mut |_| {},
    );
    if show {
        run::clear_progress_line();
    }
    let Checked {
        outcomes,
        not_saved,
    } = outcomes?;
    let progress = context.store.load()?;
    match format {
        CheckFormat::Text => {
            print!(
                "{}",
                render::text::outcomes(&context.workbook, &progress, &exercises, &outcomes)
            );
        }
        CheckFormat::Json => {
            let provenance = Provenance::of_workbook(Kind::Check, &context.workbook.root);
            let digests = provenance::digests(&context.workbook, exercises.iter().copied());
            let graded = render::json::Graded {
                provenance: &provenance,
                digests: &digests,
            };
            println!("{}", render::json::check(&graded, &exercises, &outcomes));
        }
        CheckFormat::Junit => print!(
            "{}",
            render::junit::check(&context.workbook, &exercises, &outcomes)
        ),
    }
    if all && format == CheckFormat::Text {
        print!("{}", electives_left_out(context, &progress));
    }
    if let Some(error) = not_saved {
        // The verdict stands; only its record is missing.
        return Err(error.context("the result above was not recorded"));
    }
    // A pass from modified tests is no pass.
    let all_done = outcomes
        .iter()
        .all(|outcome| outcome.status == Status::Done);
    Ok(if all_done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The electives `check --all` left out, and how to take one: nothing of
/// them was built.
fn electives_left_out(context: &Context, progress: &crate::progress::Progress) -> String {
    progress
        .untaken(&context.workbook)
        .map(|(lesson, first)| {
            format!(
                "Not checked: the elective {} ({}), which you have not taken. `cargo checker goto {}` takes it.\n",
                lesson.id,
                crate::term::plural(lesson.exercises.len(), "exercise"),
                first.id
            )
        })
        .collect()
}

/// What in the exercise's edited files is worth a look, compared with the
/// starters at `baseline`: a file git cannot give the starter of (no git,
/// an unknown commit) is not scanned, or the starter's own text would be
/// flagged.
fn review(context: &Context, exercise: &Exercise, baseline: &str) -> Vec<integrity::review::Flag> {
    let files: Vec<_> = exercise
        .edit
        .iter()
        .filter_map(|file| {
            let starter = integrity::baseline::file_at(&context.workbook, baseline, file)?;
            Some((file.clone(), starter))
        })
        .collect();
    integrity::review::scan_files(&context.workbook.root, &files)
}

/// What a check found, and whether it could be recorded.
pub struct Checked {
    pub outcomes: Vec<Outcome>,
    /// Why the outcomes are not in the progress file (a read-only folder, a
    /// full disk): they are still worth showing.
    pub not_saved: Option<anyhow::Error>,
}

/// Builds and tests `exercises` (the learner's side), tells `on_build` how
/// the build goes and `on_tested` each outcome as it comes, and records the
/// outcomes in the progress file.
pub fn check(
    context: &Context,
    exercises: &[&Exercise],
    timeout: Option<u64>,
    on_build: Option<run::OnProgress>,
    on_tested: &mut dyn FnMut(&Outcome),
) -> Result<Checked> {
    check_with(
        context,
        exercises,
        timeout,
        &Blackbox::default(),
        on_build,
        on_tested,
    )
}

/// [`check`], with a black-box exercise's stage or seed. One stage's result
/// is shown, never recorded: only the whole grading is the exercise's.
pub fn check_with(
    context: &Context,
    exercises: &[&Exercise],
    timeout: Option<u64>,
    blackbox: &Blackbox,
    on_build: Option<run::OnProgress>,
    on_tested: &mut dyn FnMut(&Outcome),
) -> Result<Checked> {
    let runner = Runner::new(
        &context.workbook,
        context.color,
        timeout.map(Duration::from_secs),
    )
    .test_env(blackbox.env())
    .filter(blackbox.filter());
    let jobs = Job::starters(exercises);
    let mut build = runner.build(&jobs, on_build)?;
    // The commit the starters come from, if git knows it (a learner could
    // point the progress file elsewhere; `grade` trusts no such thing).
    // Where git does not know it, the comparisons below find nothing to say.
    let baseline = context.store.load()?.baseline;
    let mut outcomes = Vec::new();
    for job in &jobs {
        let mut outcome = runner.test(job, &mut build);
        let modified = integrity::modified(&context.workbook, job.exercise, baseline.as_deref());
        if !modified.is_empty() {
            outcome.mark_modified(
                modified,
                "files that grade it differ from the workbook as it was given, or are new",
            );
        }
        if let Some(commit) = baseline.as_deref() {
            outcome.review = review(context, job.exercise, commit);
        }
        if let Some(stage) = &blackbox.stage {
            outcome.notes.push(format!(
                "only the `{stage}` stage ran: this result is not recorded; `cargo checker check {}` grades the whole shop",
                job.exercise.lesson
            ));
            if outcome.status == Status::Done {
                // One stage passing is not the exercise done.
                outcome.status = Status::Failed;
            }
        }
        outcome.settle();
        on_tested(&outcome);
        outcomes.push(outcome);
    }
    if blackbox.stage.is_some() {
        return Ok(Checked {
            outcomes,
            not_saved: None,
        });
    }
    let not_saved = context
        .store
        .update(|progress| {
            for outcome in &outcomes {
                progress.store(outcome);
            }
            // Checking an elective's exercise by name chooses it, as `goto` does.
            for exercise in exercises {
                progress.take(exercise);
            }
        })
        .err();
    Ok(Checked {
        outcomes,
        not_saved,
    })
}
