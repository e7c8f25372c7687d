//! A class: every learner's results against one list of lessons and
//! exercises, with the figures the gradebook shows.

use std::collections::BTreeSet;

use anyhow::{Result, bail};

use super::load::LearnerReport;
use crate::UsageError;
use crate::grade::{Grade, Summary};
use crate::outcome::Status;

#[derive(Debug)]
pub struct Class {
    /// Every lesson any report holds, in the order the reports give them.
    pub lessons: Vec<Lesson>,
    /// Sorted by name.
    pub learners: Vec<LearnerReport>,
}

#[derive(Debug)]
pub struct Lesson {
    pub id: String,
    pub title: String,
    pub exercises: Vec<Exercise>,
}

#[derive(Debug)]
pub struct Exercise {
    pub id: String,
    pub title: String,
}

/// Where a learner is with an exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Done,
    /// Started and not done: the exercises worth an instructor's help.
    Stuck,
    /// Not started: `report` says so; in a `check` or `grade` report, an
    /// exercise that builds and passes no test is where its starter is.
    NotStarted,
    /// The learner's report does not hold it (graded with `--only`, say).
    Missing,
}

impl Stage {
    pub fn of(grade: Option<&Grade>) -> Stage {
        match grade {
            None => Stage::Missing,
            Some(grade) => match grade.status {
                None => Stage::NotStarted,
                Some(Status::Done) => Stage::Done,
                Some(Status::Failed) if grade.tests_passed == 0 => Stage::NotStarted,
                Some(_) => Stage::Stuck,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Done => "done",
            Stage::Stuck => "stuck",
            Stage::NotStarted => "not started",
            Stage::Missing => "not graded",
        }
    }
}

/// How many learners are at each stage of one exercise.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub done: usize,
    pub stuck: usize,
    pub not_started: usize,
    pub missing: usize,
}

impl Class {
    pub fn new(mut learners: Vec<LearnerReport>) -> Result<Class> {
        // As a person reads a list of names: `bob` before `Carol`.
        learners.sort_by(|a, b| {
            (a.name.to_lowercase(), &a.name, &a.file).cmp(&(
                b.name.to_lowercase(),
                &b.name,
                &b.file,
            ))
        });
        for pair in learners.windows(2) {
            if pair[0].name == pair[1].name {
                bail!(UsageError(format!(
                    "{} and {} are both reports of `{}`: give one report per learner",
                    pair[0].file.display(),
                    pair[1].file.display(),
                    pair[0].name
                )));
            }
        }
        let mut lessons: Vec<Lesson> = Vec::new();
        let mut seen = BTreeSet::new();
        for report in &learners {
            for results in &report.lessons {
                let index = match lessons.iter().position(|lesson| lesson.id == results.id) {
                    Some(index) => index,
                    None => {
                        lessons.push(Lesson {
                            id: results.id.clone(),
                            title: results.id.clone(),
                            exercises: Vec::new(),
                        });
                        lessons.len() - 1
                    }
                };
                let lesson = &mut lessons[index];
                // `report` knows the lesson's title; `check` and `grade` only its id.
                if let Some(title) = &results.title {
                    lesson.title.clone_from(title);
                }
                for exercise in &results.exercises {
                    if seen.insert(exercise.id.clone()) {
                        lesson.exercises.push(Exercise {
                            id: exercise.id.clone(),
                            title: exercise.title.clone(),
                        });
                    }
                }
            }
        }
        Ok(Class { lessons, learners })
    }

    pub fn exercises(&self) -> impl Iterator<Item = &Exercise> {
        self.lessons.iter().flat_map(|lesson| &lesson.exercises)
    }

    pub fn grade<'a>(&self, learner: &'a LearnerReport, exercise: &str) -> Option<&'a Grade> {
        learner
            .lessons
            .iter()
            .flat_map(|lesson| &lesson.exercises)
            .find(|result| result.id == exercise)
            .map(|result| &result.grade)
    }

    /// The learner's summary over `exercises`, counting only those their
    /// report holds; `None` when it holds none of them.
    pub fn summary<'a>(
        &self,
        learner: &LearnerReport,
        exercises: impl IntoIterator<Item = &'a Exercise>,
    ) -> Option<Summary> {
        let grades: Vec<Grade> = exercises
            .into_iter()
            .filter_map(|exercise| self.grade(learner, &exercise.id).copied())
            .collect();
        (!grades.is_empty()).then(|| Summary::of(grades))
    }

    pub fn counts(&self, exercise: &str) -> Counts {
        let mut counts = Counts::default();
        for learner in &self.learners {
            match Stage::of(self.grade(learner, exercise)) {
                Stage::Done => counts.done += 1,
                Stage::Stuck => counts.stuck += 1,
                Stage::NotStarted => counts.not_started += 1,
                Stage::Missing => counts.missing += 1,
            }
        }
        counts
    }

    /// The class's mean of the learners' lesson percentages (those graded on it).
    pub fn lesson_mean(&self, lesson: &Lesson) -> Option<f64> {
        let percents: Vec<f64> = self
            .learners
            .iter()
            .filter_map(|learner| self.summary(learner, &lesson.exercises))
            .map(|summary| summary.percent)
            .collect();
        (!percents.is_empty())
            .then(|| (percents.iter().sum::<f64>() / percents.len() as f64 * 10.0).round() / 10.0)
    }

    /// Exercises some learner is stuck on, most learners first (then in
    /// workbook order), each with who.
    pub fn stuck(&self) -> Vec<(&Exercise, Vec<&str>)> {
        let mut stuck: Vec<(&Exercise, Vec<&str>)> = self
            .exercises()
            .map(|exercise| {
                let who = self
                    .learners
                    .iter()
                    .filter(|learner| Stage::of(self.grade(learner, &exercise.id)) == Stage::Stuck)
                    .map(|learner| learner.name.as_str())
                    .collect();
                (exercise, who)
            })
            .filter(|(_, who): &(_, Vec<&str>)| !who.is_empty())
            .collect();
        // A stable sort keeps workbook order among equals.
        stuck.sort_by_key(|(_, who)| std::cmp::Reverse(who.len()));
        stuck
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::load::{ExerciseResult, LessonResults};
    use super::*;

    fn learner(name: &str, results: &[(&str, Option<Status>, usize, usize)]) -> LearnerReport {
        let mut lessons: Vec<LessonResults> = Vec::new();
        for &(id, status, tests_passed, tests_total) in results {
            let lesson = id.split('/').next().unwrap().to_string();
            let result = ExerciseResult {
                id: id.to_string(),
                title: id.to_uppercase(),
                grade: Grade {
                    status,
                    tests_passed,
                    tests_total,
                },
            };
            match lessons.iter_mut().find(|l| l.id == lesson) {
                Some(l) => l.exercises.push(result),
                None => lessons.push(LessonResults {
                    id: lesson,
                    title: None,
                    exercises: vec![result],
                }),
            }
        }
        LearnerReport {
            name: name.to_string(),
            file: PathBuf::from(format!("{name}.json")),
            lessons,
        }
    }

    const DONE: Option<Status> = Some(Status::Done);
    const FAILED: Option<Status> = Some(Status::Failed);
    const BROKEN: Option<Status> = Some(Status::CompileError);

    fn class() -> Class {
        Class::new(vec![
            learner(
                "carol",
                &[
                    ("a/one", DONE, 2, 2),
                    ("a/two", FAILED, 1, 4),
                    ("b/three", BROKEN, 0, 0),
                ],
            ),
            learner(
                "alice",
                &[
                    ("a/one", DONE, 2, 2),
                    ("a/two", DONE, 4, 4),
                    ("b/three", FAILED, 2, 4),
                ],
            ),
            // Graded on lesson a only, and a/two as its starter left it.
            learner("bob", &[("a/one", FAILED, 1, 2), ("a/two", FAILED, 0, 4)]),
        ])
        .unwrap()
    }

    #[test]
    fn lessons_and_exercises_are_the_union_in_report_order_and_learners_sorted() {
        let class = class();
        let names: Vec<_> = class.learners.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        let ids: Vec<_> = class.exercises().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a/one", "a/two", "b/three"]);
    }

    #[test]
    fn a_lesson_scores_the_mean_of_the_exercises_the_report_holds() {
        let class = class();
        let [alice, bob, carol] = [0, 1, 2].map(|i| &class.learners[i]);
        let a = &class.lessons[0].exercises;
        let b = &class.lessons[1].exercises;
        assert_eq!(class.summary(carol, a).unwrap().percent, 62.5);
        assert_eq!(class.summary(alice, b).unwrap().percent, 50.0);
        assert!(class.summary(bob, b).is_none(), "bob was not graded on b");
        assert_eq!(class.summary(bob, class.exercises()).unwrap().percent, 25.0);
        // The class's mean counts only the learners graded on the lesson.
        assert_eq!(class.lesson_mean(&class.lessons[0]), Some(62.5));
        assert_eq!(class.lesson_mean(&class.lessons[1]), Some(25.0));
    }

    #[test]
    fn stages_tell_started_from_untouched() {
        let class = class();
        assert_eq!(
            class.counts("a/two"),
            Counts {
                done: 1,
                stuck: 1,
                not_started: 1,
                missing: 0
            }
        );
        assert_eq!(
            class.counts("b/three"),
            Counts {
                done: 0,
                stuck: 2,
                not_started: 0,
                missing: 1
            }
        );
        assert_eq!(Stage::of(Some(&Grade::default())), Stage::NotStarted);
        let timed_out = Grade {
            status: Some(Status::TimedOut),
            ..Grade::default()
        };
        assert_eq!(Stage::of(Some(&timed_out)), Stage::Stuck);
    }

    #[test]
    fn the_stuck_list_ranks_by_learners_then_workbook_order() {
        let class = class();
        let stuck: Vec<_> = class
            .stuck()
            .into_iter()
            .map(|(exercise, who)| (exercise.id.as_str(), who))
            .collect();
        assert_eq!(
            stuck,
            [
                ("b/three", vec!["alice", "carol"]),
                ("a/one", vec!["bob"]),
                ("a/two", vec!["carol"])
            ]
        );
    }

    #[test]
    fn two_reports_of_one_learner_are_refused() {
        let error = Class::new(vec![learner("alice", &[]), learner("alice", &[])]).unwrap_err();
        assert!(
            error.to_string().contains("both reports of `alice`"),
            "{error}"
        );
    }
}
