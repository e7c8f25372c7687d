//! The environment the checker under test runs in: nothing from the shell
//! that runs the tests may change what it sees. Included with `#[path]` by
//! the test binaries that start the checker on the hostile fixture.

use std::process::Command;

/// What the tests' environment may hold that would change what they see.
pub const REMOVED: [&str; 9] = [
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "WORKBOOK_ROOT",
    "CLICOLOR_FORCE",
    "HOSTILE_MARKER",
    "HOSTILE_BUILD_MARKER",
    "RUST_BACKTRACE",
    "RUST_TEST_THREADS",
    "RUST_TEST_NOCAPTURE",
];

/// Clears what could change the checker's view, turns colour off, and sets
/// `env`.
pub fn prepare(command: &mut Command, env: &[(&str, &str)]) {
    for name in REMOVED {
        command.env_remove(name);
    }
    command.env("NO_COLOR", "1");
    for (name, value) in env {
        command.env(name, value);
    }
}
