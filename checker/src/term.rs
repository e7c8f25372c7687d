//! The one place that decides how things look in a terminal: colour, symbols,
//! links and progress bars.

pub mod screen;

use std::io::IsTerminal;

use colored::{ColoredString, Colorize};

use crate::cli::ColorChoice;

/// Turns colour on or off for the whole run. `NO_COLOR` wins over `auto`.
pub fn init(choice: ColorChoice) -> bool {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    colored::control::set_override(on);
    on
}

pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

pub fn warn(message: &str) {
    eprintln!("{} {message}", "warning:".yellow().bold());
}

pub fn pass_mark() -> ColoredString {
    "✓".green().bold()
}

pub fn fail_mark() -> ColoredString {
    "✗".red().bold()
}

pub fn pending_mark() -> ColoredString {
    "·".dimmed()
}

/// `[#####-----]` for `done` of `total`.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        (done * width).div_ceil(total).min(width)
    };
    let filled = if done < total {
        filled.min(width - 1)
    } else {
        filled
    };
    format!(
        "[{}{}]",
        "#".repeat(filled).green(),
        "-".repeat(width - filled).dimmed()
    )
}

/// A path as a clickable link (OSC 8) where colour is on, plain otherwise.
pub fn file_link(root: &std::path::Path, relative: &std::path::Path) -> String {
    let shown = relative.display().to_string();
    if !colored::control::SHOULD_COLORIZE.should_colorize() {
        return shown;
    }
    let absolute = root.join(relative);
    format!(
        "\x1b]8;;file://{}\x1b\\{shown}\x1b]8;;\x1b\\",
        absolute.display()
    )
}

/// `1 test`, `2 tests`.
pub fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}
