//! # server/config — settings from the environment
//!
//! Read the server's settings (bind address, database path, log level) from
//! environment variables, with a default for each one that is not set, and
//! turn a bad value into an error that names the variable, the value, and
//! what would be valid. The book's section "Configuration" explains why the
//! settings are read through a `lookup` function rather than straight from
//! the process environment.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use tracing::Level;

/// The variable that sets [`Config::bind_addr`].
pub const BIND_ADDR_VAR: &str = "APP_BIND_ADDR";
/// The variable that sets [`Config::database_path`].
pub const DATABASE_PATH_VAR: &str = "APP_DATABASE_PATH";
/// The variable that sets [`Config::log_level`].
pub const LOG_LEVEL_VAR: &str = "APP_LOG_LEVEL";

/// The server's settings, each read from one environment variable:
///
/// - `APP_BIND_ADDR` sets `bind_addr`: an IP address and a port, such as
///   `0.0.0.0:8080` or `[::1]:8080` (no host names). Default: `127.0.0.1:3000`.
///   When it is not valid, `expected` is
///   `an IP address and port, like 127.0.0.1:3000`.
/// - `APP_DATABASE_PATH` sets `database_path`: any path that is not empty.
///   Default: `app.db`. When it is empty, `expected` is
///   `a file path, like app.db`.
/// - `APP_LOG_LEVEL` sets `log_level`: `error`, `warn`, `info`, `debug` or
///   `trace`, in any case (`WARN` is fine). Default: `info`. When it is not
///   valid, `expected` is `one of error, warn, info, debug, trace`.
///
/// A variable that is not set takes its default. A variable that is set,
/// even to the empty string, must hold a valid value: anything else is a
/// [`ConfigError`], never a silent fallback to the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the server listens.
    pub bind_addr: SocketAddr,
    /// The SQLite database file.
    pub database_path: PathBuf,
    /// The most detailed log level that is printed.
    pub log_level: Level,
}

/// A setting whose value is not valid.
///
/// Its `Display` text is one line, made of the variable, `=`, the value in
/// double quotes as Rust's `{:?}` formats a string, ` is not valid: expected `,
/// and `expected`:
///
/// ```text
/// APP_LOG_LEVEL="verbose" is not valid: expected one of error, warn, info, debug, trace
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable, such as `APP_LOG_LEVEL`.
    pub variable: &'static str,
    /// The value it had, exactly as it was found.
    pub value: String,
    /// What a valid value looks like (see the list on [`Config`]).
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // TODO: write the one-line message described above.
        let _ = f;
        todo!("format a ConfigError")
    }
}

/// Makes `ConfigError` usable with `?` in a `main` that returns
/// `Result<(), Box<dyn std::error::Error>>`, and with `anyhow`.
impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the settings through `lookup`, which returns a variable's value,
    /// or `None` when it is not set. See the list on [`Config`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        // TODO: for each variable: not set -> the default; set -> parse it,
        // or return a ConfigError naming the variable, the value and what is valid.
        let _ = lookup;
        todo!("read the settings through lookup")
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        // TODO: read the same settings, looking the variables up in the
        // process environment.
        todo!("read the settings from the environment")
    }
}
