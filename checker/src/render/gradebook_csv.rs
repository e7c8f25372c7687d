//! The gradebook as CSV (RFC 4180): a row per learner; after the learner's
//! name, their overall percentage and exercises done, then each lesson's
//! percentage followed by its exercises' scores. Every score is a percentage
//! from 0 to 100 with one decimal, so a spreadsheet or an LMS reads numbers
//! (a `2/3` would become a date); an empty cell is an exercise or lesson
//! the learner's report does not hold.

use crate::commands::gradebook::class::Class;

pub fn render(class: &Class) -> String {
    let mut header = vec![
        "learner".to_string(),
        "percent".to_string(),
        "exercises_done".to_string(),
        "exercises_total".to_string(),
    ];
    for lesson in &class.lessons {
        header.push(lesson.id.clone());
        header.extend(lesson.exercises.iter().map(|exercise| exercise.id.clone()));
    }
    let mut out = String::new();
    push_row(&mut out, &header);
    for learner in &class.learners {
        let overall = class.summary(learner, class.exercises());
        let mut row = vec![
            learner.name.clone(),
            percent(overall.as_ref().map(|summary| summary.percent)),
            overall
                .as_ref()
                .map(|summary| summary.exercises_done.to_string())
                .unwrap_or_default(),
            overall
                .as_ref()
                .map(|summary| summary.exercises_total.to_string())
                .unwrap_or_default(),
        ];
        for lesson in &class.lessons {
            let summary = class.summary(learner, &lesson.exercises);
            row.push(percent(summary.map(|summary| summary.percent)));
            for exercise in &lesson.exercises {
                let grade = class.grade(learner, &exercise.id);
                row.push(percent(
                    grade.map(|grade| (grade.score() * 1000.0).round() / 10.0),
                ));
            }
        }
        push_row(&mut out, &row);
    }
    out
}

fn percent(value: Option<f64>) -> String {
    value.map(|value| format!("{value:.1}")).unwrap_or_default()
}

/// RFC 4180: fields joined by commas, records ended by CRLF.
fn push_row(out: &mut String, fields: &[String]) {
    let fields: Vec<String> = fields.iter().map(|field| field_text(field)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// A field is quoted when it holds a comma, a quote or a line break, with
/// its quotes doubled. A text that starts like a formula (`=`, `+`, `-`, `@`)
/// gets a leading `'` first: a learner's name comes from a folder or a
/// repository they may have named, and a spreadsheet would run it.
fn field_text(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_string()
    };
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_fields_are_left_alone() {
        assert_eq!(field_text("alice"), "alice");
        assert_eq!(field_text("server/hello"), "server/hello");
        assert_eq!(field_text("66.7"), "66.7");
        assert_eq!(field_text(""), "");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_with_quotes_doubled() {
        assert_eq!(field_text("Doe, Jane"), "\"Doe, Jane\"");
        assert_eq!(field_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field_text("two\nlines"), "\"two\nlines\"");
        assert_eq!(field_text("cr\r"), "\"cr\r\"");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(
            field_text("=HYPERLINK(\"x\")"),
            "\"'=HYPERLINK(\"\"x\"\")\""
        );
        assert_eq!(field_text("+1"), "'+1");
        assert_eq!(field_text("@sum"), "'@sum");
    }

    #[test]
    fn records_end_with_crlf() {
        let mut out = String::new();
        push_row(&mut out, &["a".into(), "b,c".into(), String::new()]);
        assert_eq!(out, "a,\"b,c\",\r\n");
    }
}
