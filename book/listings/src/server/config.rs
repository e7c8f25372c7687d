//! Listings for the book section server/config.

use std::collections::HashMap;
use std::process::ExitCode;

use tracing::Level;

// ANCHOR: read_number
/// Reads a whole number from `variable` through `lookup`: `default` when the
/// variable is not set, an error naming the variable and its value when it
/// is set to something that is not a number.
pub fn read_number(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &str,
    default: u64,
) -> Result<u64, String> {
    match lookup(variable) {
        None => Ok(default),
        Some(value) => value
            .parse()
            .map_err(|_| format!("{variable}={value:?} is not a whole number")),
    }
}
// ANCHOR_END: read_number

// ANCHOR: lookups
/// The lookup a real program uses: the process environment.
pub fn process_environment(variable: &str) -> Option<String> {
    std::env::var(variable).ok()
}

/// A lookup for tests: a map that only this test can see.
pub fn map_lookup(variables: HashMap<String, String>) -> impl Fn(&str) -> Option<String> {
    move |variable| variables.get(variable).cloned()
}
// ANCHOR_END: lookups

// ANCHOR: main
/// What `main` does with its settings: read them all first, and refuse to
/// start, with a message and a failure exit status, if one is bad. Nothing
/// has been bound or opened yet, so there is nothing to clean up.
pub fn run() -> ExitCode {
    let setting = read_number(&process_environment, "APP_MAX_UPLOAD_BYTES", 1 << 20);
    let max_upload_bytes = match setting {
        Ok(bytes) => bytes,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    println!("uploads up to {max_upload_bytes} bytes");
    ExitCode::SUCCESS
}
// ANCHOR_END: main

// ANCHOR: logging
/// Prints log events up to `level` (`Level::INFO` prints error, warn and
/// info; `Level::TRACE` prints everything) on standard output.
pub fn init_logging(level: Level) {
    tracing_subscriber::fmt().with_max_level(level).init();
}
// ANCHOR_END: logging
