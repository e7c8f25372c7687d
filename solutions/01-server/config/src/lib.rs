//! # server/config — reference solution

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use tracing::Level;

// ANCHOR: settings
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
// ANCHOR_END: settings

// ANCHOR: error
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
        let ConfigError {
            variable,
            value,
            expected,
        } = self;
        write!(f, "{variable}={value:?} is not valid: expected {expected}")
    }
}

/// Makes `ConfigError` usable with `?` in a `main` that returns
/// `Result<(), Box<dyn std::error::Error>>`, and with `anyhow`.
impl std::error::Error for ConfigError {}
// ANCHOR_END: error

// ANCHOR: api
impl Config {
    /// Reads the settings through `lookup`, which returns a variable's value,
    /// or `None` when it is not set. See the list on [`Config`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Ok(Config {
            bind_addr: setting(
                &lookup,
                BIND_ADDR_VAR,
                SocketAddr::from(([127, 0, 0, 1], 3000)),
                parse_bind_addr,
                "an IP address and port, like 127.0.0.1:3000",
            )?,
            database_path: setting(
                &lookup,
                DATABASE_PATH_VAR,
                PathBuf::from("app.db"),
                parse_database_path,
                "a file path, like app.db",
            )?,
            log_level: setting(
                &lookup,
                LOG_LEVEL_VAR,
                Level::INFO,
                parse_log_level,
                "one of error, warn, info, debug, trace",
            )?,
        })
    }

    /// Reads the settings from the process environment.
    ///
    /// A value that is not valid UTF-8 counts as not set: `std::env::var`
    /// cannot hand it over as a `String`.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|variable| std::env::var(variable).ok())
    }
}
// ANCHOR_END: api

/// One setting: `default` when `variable` is not set, its parsed value when
/// it is, and a [`ConfigError`] when `parse` rejects the value.
fn setting<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
    parse: fn(&str) -> Option<T>,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let Some(value) = lookup(variable) else {
        return Ok(default);
    };
    parse(&value).ok_or(ConfigError {
        variable,
        value,
        expected,
    })
}

/// `SocketAddr`'s own parser takes `1.2.3.4:80` and `[::1]:80`, never a
/// host name: resolving one would mean a DNS lookup before the server starts.
fn parse_bind_addr(value: &str) -> Option<SocketAddr> {
    value.parse().ok()
}

/// Any text is a path, even the empty string; only that one is a mistake.
fn parse_database_path(value: &str) -> Option<PathBuf> {
    if value.is_empty() {
        None
    } else {
        Some(PathBuf::from(value))
    }
}

/// Exactly the five level names, in any case. (`Level`'s own `FromStr`
/// would also take the numbers 1 to 5, which the documentation does not
/// promise.)
fn parse_log_level(value: &str) -> Option<Level> {
    match value.to_ascii_lowercase().as_str() {
        "error" => Some(Level::ERROR),
        "warn" => Some(Level::WARN),
        "info" => Some(Level::INFO),
        "debug" => Some(Level::DEBUG),
        "trace" => Some(Level::TRACE),
        _ => None,
    }
}
