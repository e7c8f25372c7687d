//! The gradebook as one HTML page that needs nothing else: no network, no
//! files beside it (its CSS and JS are inline), so it can be mailed or
//! opened from a USB stick. The page is rendered here in full; its script
//! only sorts and filters the table that is already there.

use std::fmt::Write as _;

use super::junit::escape;
use crate::commands::gradebook::class::{Class, Counts, Stage};

const STYLE: &str = include_str!("gradebook_html/style.css");
const SCRIPT: &str = include_str!("gradebook_html/script.js");

pub fn render(class: &Class) -> String {
    let mut page = String::new();
    page.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Gradebook</title>\n<style>\n",
    );
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n");
    page.push_str(&body(class));
    page.push_str("<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</html>\n");
    page
}

/// Everything between `<body>` and the script: what the snapshot holds.
pub fn body(class: &Class) -> String {
    let mut out = String::new();
    let exercises = class.exercises().count();
    let _ = writeln!(
        out,
        "<body>\n<h1>Gradebook</h1>\n<p class=\"lede\">{}, {} in {}.</p>",
        crate::term::plural(class.learners.len(), "learner"),
        crate::term::plural(exercises, "exercise"),
        crate::term::plural(class.lessons.len(), "lesson"),
    );
    out.push_str(&legend());
    out.push_str(&lessons(class));
    out.push_str(&stuck(class));
    out.push_str(&table(class));
    out.push_str("</body>\n");
    out
}

fn legend() -> String {
    let mut out = String::from("<p class=\"legend\">");
    for stage in [Stage::Done, Stage::Stuck, Stage::NotStarted] {
        let _ = write!(
            out,
            "<span class=\"swatch {}\"></span>{} ",
            class_of(stage),
            stage.as_str()
        );
    }
    out.push_str(
        "<small>(stuck: started and not done; not started: as the starter left it, \
         building and passing no test)</small></p>\n",
    );
    out
}

/// Per lesson, a stacked bar per exercise: how many learners are done,
/// stuck, not started.
fn lessons(class: &Class) -> String {
    let mut out = String::from("<section id=\"lessons\">\n<h2>Progress by lesson</h2>\n");
    for lesson in &class.lessons {
        let mean = class
            .lesson_mean(lesson)
            .map(|mean| format!("class mean {mean:.1}%"))
            .unwrap_or_else(|| "no one graded".to_string());
        let _ = writeln!(
            out,
            "<figure class=\"lesson\" data-lesson=\"{}\">\n<figcaption>{} <small>({}): {}</small></figcaption>",
            escape(&lesson.id),
            escape(&lesson.title),
            escape(&lesson.id),
            mean
        );
        for exercise in &lesson.exercises {
            let counts = class.counts(&exercise.id);
            let graded = counts.done + counts.stuck + counts.not_started;
            let _ = writeln!(
                out,
                "<div class=\"bar-row\"><span class=\"label\" title=\"{}\">{}</span>\
                 <div class=\"bar\" role=\"img\" aria-label=\"{}: {}\">{}</div>\
                 <span class=\"counts\">{}/{} done</span></div>",
                escape(&exercise.id),
                escape(&exercise.title),
                escape(&exercise.title),
                escape(&describe(counts)),
                segments(counts, graded),
                counts.done,
                graded
            );
        }
        out.push_str("</figure>\n");
    }
    out.push_str("</section>\n");
    out
}

fn segments(counts: Counts, graded: usize) -> String {
    if graded == 0 {
        return String::new();
    }
    let mut out = String::new();
    for (stage, count) in [
        (Stage::Done, counts.done),
        (Stage::Stuck, counts.stuck),
        (Stage::NotStarted, counts.not_started),
    ] {
        if count > 0 {
            let width = count as f64 * 100.0 / graded as f64;
            let _ = write!(
                out,
                "<span class=\"{}\" style=\"width:{width:.2}%\" title=\"{count} {}\"></span>",
                class_of(stage),
                stage.as_str()
            );
        }
    }
    out
}

fn describe(counts: Counts) -> String {
    let mut parts = vec![
        format!("{} done", counts.done),
        format!("{} stuck", counts.stuck),
        format!("{} not started", counts.not_started),
    ];
    if counts.missing > 0 {
        parts.push(format!("{} not graded", counts.missing));
    }
    parts.join(", ")
}

fn stuck(class: &Class) -> String {
    let mut out = String::from("<section id=\"stuck\">\n<h2>Where learners are stuck</h2>\n");
    let stuck = class.stuck();
    if stuck.is_empty() {
        out.push_str("<p>No one is stuck: every exercise is done or not started.</p>\n");
    } else {
        out.push_str("<ol>\n");
        for (exercise, who) in stuck {
            let _ = writeln!(
                out,
                "<li><strong>{}</strong> <code>{}</code>: {} ({})</li>",
                escape(&exercise.title),
                escape(&exercise.id),
                crate::term::plural(who.len(), "learner"),
                // Names may hold commas.
                escape(&who.join("; "))
            );
        }
        out.push_str("</ol>\n");
    }
    out.push_str("</section>\n");
    out
}

fn table(class: &Class) -> String {
    let mut out = String::from(
        "<section id=\"learners\">\n<h2>Learners</h2>\n\
         <p><label>Filter learners <input type=\"search\" id=\"filter\" placeholder=\"name\" autocomplete=\"off\"></label> \
         <span id=\"shown\"></span> <small>Click a column's header to sort by it.</small></p>\n\
         <div class=\"scroll\">\n<table id=\"gradebook\">\n<thead>\n<tr>\
         <th data-type=\"text\">Learner</th><th data-type=\"number\">%</th><th data-type=\"number\">Done</th>",
    );
    for lesson in &class.lessons {
        let _ = write!(
            out,
            "<th data-type=\"number\" class=\"lesson\" title=\"{}\">{} %</th>",
            escape(&lesson.title),
            escape(&lesson.id)
        );
        for exercise in &lesson.exercises {
            let _ = write!(
                out,
                "<th data-type=\"number\" title=\"{}\">{}</th>",
                escape(&exercise.title),
                escape(&exercise.id)
            );
        }
    }
    out.push_str("</tr>\n</thead>\n<tbody>\n");
    for learner in &class.learners {
        let overall = class.summary(learner, class.exercises());
        let _ = write!(
            out,
            "<tr><th scope=\"row\" title=\"{}\">{}</th>{}{}",
            escape(&learner.file.display().to_string()),
            escape(&learner.name),
            number_cell(overall.as_ref().map(|summary| summary.percent), ""),
            overall
                .as_ref()
                .map(|summary| format!(
                    "<td data-value=\"{}\">{}/{}</td>",
                    summary.exercises_done, summary.exercises_done, summary.exercises_total
                ))
                .unwrap_or_else(|| "<td data-value=\"\"></td>".to_string())
        );
        for lesson in &class.lessons {
            let summary = class.summary(learner, &lesson.exercises);
            out.push_str(&number_cell(
                summary.map(|summary| summary.percent),
                " class=\"lesson\"",
            ));
            for exercise in &lesson.exercises {
                let grade = class.grade(learner, &exercise.id);
                let stage = Stage::of(grade);
                match grade {
                    None => {
                        let _ = write!(
                            out,
                            "<td data-value=\"\" class=\"{}\" title=\"not in this learner's report\"></td>",
                            class_of(stage)
                        );
                    }
                    Some(grade) => {
                        let score = (grade.score() * 1000.0).round() / 10.0;
                        let status = grade.status.map_or("not_started", |status| status.as_str());
                        let _ = write!(
                            out,
                            "<td data-value=\"{score:.1}\" class=\"{}\" title=\"{}: {}/{} tests\">{score:.1}</td>",
                            class_of(stage),
                            status,
                            grade.tests_passed,
                            grade.tests_total
                        );
                    }
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
    out
}

fn number_cell(value: Option<f64>, attributes: &str) -> String {
    match value {
        Some(value) => format!("<td data-value=\"{value:.1}\"{attributes}>{value:.1}</td>"),
        None => format!("<td data-value=\"\"{attributes}></td>"),
    }
}

fn class_of(stage: Stage) -> &'static str {
    match stage {
        Stage::Done => "done",
        Stage::Stuck => "stuck",
        Stage::NotStarted => "not-started",
        Stage::Missing => "missing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}
