//! The server's settings, read from environment variables. Given: this is
//! the `server/config` exercise's code, for the two settings this server
//! needs (it has no database yet).
//!
//! - `APP_BIND_ADDR`: the IP address and port to listen on, such as
//!   `0.0.0.0:8080` or `[::1]:8080`. Default: `127.0.0.1:3000`. Port `0`
//!   asks the system for any free port.
//! - `APP_LOG_LEVEL`: `error`, `warn`, `info`, `debug` or `trace`, in any
//!   case. Default: `info`.
//!
//! A variable that is not set takes its default; one that is set to anything
//! else than a valid value is a [`ConfigError`].

use std::fmt;
use std::net::SocketAddr;

use tracing::Level;

/// The variable that sets [`Config::bind_addr`].
pub const BIND_ADDR_VAR: &str = "APP_BIND_ADDR";
/// The variable that sets [`Config::log_level`].
pub const LOG_LEVEL_VAR: &str = "APP_LOG_LEVEL";

// ANCHOR: config
/// The server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the server listens (`APP_BIND_ADDR`).
    pub bind_addr: SocketAddr,
    /// The most detailed log level that is printed (`APP_LOG_LEVEL`).
    pub log_level: Level,
}

/// A setting whose value is not valid. Its message names the variable, the
/// value and what would be valid:
///
/// ```text
/// APP_LOG_LEVEL="verbose" is not valid: expected one of error, warn, info, debug, trace
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub expected: &'static str,
}
// ANCHOR_END: config

/// Lets `ConfigError` travel through `?` into a `Box<dyn Error>`.
impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|variable| std::env::var(variable).ok())
    }

    /// Reads the settings through `lookup`, which returns a variable's value,
    /// or `None` when it is not set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Ok(Config {
            bind_addr: setting(
                &lookup,
                BIND_ADDR_VAR,
                SocketAddr::from(([127, 0, 0, 1], 3000)),
                |value| value.parse().ok(),
                "an IP address and port, like 127.0.0.1:3000",
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
}

/// The settings as the variables that would set them:
/// `APP_BIND_ADDR=127.0.0.1:3000 APP_LOG_LEVEL=info`.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = self.log_level.as_str().to_ascii_lowercase();
        write!(
            f,
            "{BIND_ADDR_VAR}={} {LOG_LEVEL_VAR}={level}",
            self.bind_addr
        )
    }
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

/// Exactly the five level names, in any case.
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
