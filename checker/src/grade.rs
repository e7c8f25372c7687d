//! Points: an exercise scores the share of its tests that pass (partial
//! credit), a lesson or the workbook the mean of its exercises' scores, so a
//! lesson with many tests weighs no more than one with few.

use serde::Serialize;

use crate::manifest::Exercise;
use crate::outcome::Status;
use crate::progress::Progress;

/// Totals over a set of exercises.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub tests_passed: usize,
    pub tests_total: usize,
    pub exercises_done: usize,
    pub exercises_total: usize,
    /// Mean of the exercises' scores, 0 to 100, one decimal.
    pub percent: f64,
}

/// What is known of one exercise's grade.
#[derive(Debug, Clone, Copy, Default)]
pub struct Grade {
    pub status: Option<Status>,
    pub tests_passed: usize,
    pub tests_total: usize,
}

impl Grade {
    pub fn of(progress: &Progress, exercise: &Exercise) -> Grade {
        progress
            .record(&exercise.id)
            .map(|record| {
                // A record from before `Modified` existed says it with a flag.
                let modified = record.tests_modified || record.status == Some(Status::Modified);
                Grade {
                    status: if modified {
                        Some(Status::Modified)
                    } else {
                        record.status
                    },
                    tests_passed: if modified { 0 } else { record.tests_passed },
                    tests_total: record.tests_total,
                }
            })
            .unwrap_or_default()
    }

    /// 0.0 to 1.0.
    pub fn score(&self) -> f64 {
        if self.tests_total == 0 {
            0.0
        } else {
            self.tests_passed as f64 / self.tests_total as f64
        }
    }

    pub fn is_done(&self) -> bool {
        self.status == Some(Status::Done)
    }
}

impl Summary {
    pub fn of(grades: impl IntoIterator<Item = Grade>) -> Summary {
        let mut summary = Summary::default();
        let mut scores = 0.0;
        for grade in grades {
            summary.exercises_total += 1;
            summary.exercises_done += usize::from(grade.is_done());
            summary.tests_passed += grade.tests_passed;
            summary.tests_total += grade.tests_total;
            scores += grade.score();
        }
        if summary.exercises_total > 0 {
            summary.percent = (scores / summary.exercises_total as f64 * 1000.0).round() / 10.0;
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grade(status: Option<Status>, passed: usize, total: usize) -> Grade {
        Grade {
            status,
            tests_passed: passed,
            tests_total: total,
        }
    }

    #[test]
    fn partial_credit_is_the_share_of_passing_tests() {
        assert_eq!(grade(Some(Status::Failed), 1, 4).score(), 0.25);
        assert_eq!(grade(None, 0, 0).score(), 0.0);
    }

    #[test]
    fn a_summary_averages_exercises_not_tests() {
        let summary = Summary::of([
            grade(Some(Status::Done), 2, 2),
            grade(Some(Status::Failed), 0, 10),
            grade(None, 0, 0),
        ]);
        assert_eq!(summary.exercises_done, 1);
        assert_eq!(summary.exercises_total, 3);
        assert_eq!(summary.tests_passed, 2);
        assert_eq!(summary.tests_total, 12);
        assert_eq!(summary.percent, 33.3);
    }

    #[test]
    fn an_empty_summary_is_zero_percent() {
        assert_eq!(Summary::of([]).percent, 0.0);
    }
}
