//! `book`: an exercise's section, opened in the rendered book (built first
//! when stale, mdBook installed on first use) or printed in the terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::Context;
use crate::book;
use crate::manifest::Exercise;

/// Why the book cannot open yet, for callers that ask before installing.
pub const NOT_INSTALLED: &str = "the rendered book needs mdBook, which is not installed here";

pub fn run(context: &Context, id: Option<&str>, print: bool) -> Result<ExitCode> {
    let progress = context.store.load()?;
    let exercise = context.exercise_or_current(id, &progress)?;
    if print || !std::io::stdout().is_terminal() {
        print!("{}", book::section_text(&context.workbook, exercise)?);
        return Ok(ExitCode::SUCCESS);
    }
    match open(context, exercise, true, &mut |line| eprintln!("   {line}")) {
        Ok(page) => println!("Opened {} in your browser.", page.display()),
        Err(error) => {
            eprintln!("note: {error:#}. Here is the section as text:\n");
            print!("{}", book::section_text(&context.workbook, exercise)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Opens the exercise's page in the browser, building the book first when
/// needed, and installing mdBook if `install` allows; `on_line` hears what
/// is going on.
pub fn open(
    context: &Context,
    exercise: &Exercise,
    install: bool,
    on_line: &mut dyn FnMut(&str),
) -> Result<PathBuf> {
    if !book::renders(exercise) {
        // An instructor's own lesson: its page is theirs, outside the book.
        anyhow::bail!(
            "{} is not in the workbook's book; its section is {}",
            exercise.id,
            exercise.book_page()
        );
    }
    let mdbook = match book::mdbook() {
        Some(mdbook) => mdbook,
        None if !install => anyhow::bail!(NOT_INSTALLED),
        None => {
            on_line(&format!(
                "Installing mdBook {} with cargo (once; a few minutes)...",
                book::MDBOOK_VERSION
            ));
            book::install(on_line)?
        }
    };
    if book::is_stale(&context.workbook) {
        on_line("Building the book...");
        book::build(&context.workbook, &mdbook)?;
    }
    let page = book::page(&context.workbook, exercise);
    book::open_in_browser(&page)?;
    Ok(page)
}
