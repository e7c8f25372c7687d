//! The configuration, read once from `SHOP_*` environment variables
//! (lesson server/config): a variable that is set but empty, or set to a
//! value that cannot be used, is an error that names it, never a silent
//! default.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tracing::Level;

use crate::accounts::{check_email, check_password};

/// Everything the shop is told by its environment.
///
/// Deliberately not `Debug`: it holds three secrets, and a `{:?}` in a log
/// line would print them.
pub struct Config {
    pub bind_addr: SocketAddr,
    pub database_path: PathBuf,
    /// The gateway's base URL, without a trailing `/`.
    pub payment_url: String,
    pub payment_api_key: String,
    pub payment_timeout: Duration,
    pub token_secret: String,
    pub admin_email: String,
    pub admin_password: String,
    pub run_jobs: bool,
    pub log_level: Level,
}

/// Why the configuration cannot be used: which variable, and what is wrong
/// with it (never its value, which may be a secret).
#[derive(Debug)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// The shortest token secret: HS256's key should be as long as its hash.
const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// The configuration of this process's environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// The configuration `lookup` gives, `None` meaning "not set".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env(lookup);

        let bind_addr = match env.optional("SHOP_BIND_ADDR")? {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(text) => text
                .parse()
                .map_err(|_| error("SHOP_BIND_ADDR", "must be IP:port, such as 127.0.0.1:3000"))?,
        };
        let database_path = PathBuf::from(env.required("SHOP_DATABASE_PATH")?);

        let payment_url = env.required("SHOP_PAYMENT_URL")?;
        let scheme_ok = payment_url.starts_with("http://") || payment_url.starts_with("https://");
        if !scheme_ok || payment_url.ends_with('/') {
            return Err(error(
                "SHOP_PAYMENT_URL",
                "must be http://host:port (or https://), without a trailing /",
            ));
        }
        let payment_api_key = env.required("SHOP_PAYMENT_API_KEY")?;

        let payment_timeout = match env.optional("SHOP_PAYMENT_TIMEOUT_MS")? {
            None => Duration::from_millis(2000),
            Some(text) => match text.parse::<u64>() {
                Ok(ms) if ms >= 1 && text.bytes().all(|b| b.is_ascii_digit()) => {
                    Duration::from_millis(ms)
                }
                _ => {
                    return Err(error(
                        "SHOP_PAYMENT_TIMEOUT_MS",
                        "must be a whole number of milliseconds, at least 1",
                    ));
                }
            },
        };

        let token_secret = env.required("SHOP_TOKEN_SECRET")?;
        if token_secret.len() < MIN_SECRET_BYTES {
            return Err(error(
                "SHOP_TOKEN_SECRET",
                &format!("must be at least {MIN_SECRET_BYTES} bytes long"),
            ));
        }

        let admin_email = env.required("SHOP_ADMIN_EMAIL")?;
        check_email(&admin_email).map_err(|rule| error("SHOP_ADMIN_EMAIL", rule))?;
        let admin_password = env.required("SHOP_ADMIN_PASSWORD")?;
        check_password(&admin_password).map_err(|rule| error("SHOP_ADMIN_PASSWORD", rule))?;

        let run_jobs = match env.optional("SHOP_RUN_JOBS")?.as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(_) => return Err(error("SHOP_RUN_JOBS", "must be exactly true or false")),
        };
        let log_level = match env.optional("SHOP_LOG_LEVEL")?.as_deref() {
            None | Some("info") => Level::INFO,
            Some("error") => Level::ERROR,
            Some("warn") => Level::WARN,
            Some("debug") => Level::DEBUG,
            Some("trace") => Level::TRACE,
            Some(_) => {
                return Err(error(
                    "SHOP_LOG_LEVEL",
                    "must be error, warn, info, debug or trace",
                ));
            }
        };

        Ok(Config {
            bind_addr,
            database_path,
            payment_url,
            payment_api_key,
            payment_timeout,
            token_secret,
            admin_email,
            admin_password,
            run_jobs,
            log_level,
        })
    }
}

fn error(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.to_string(),
    }
}

/// The environment, read through a lookup function (so that tests can
/// give one of their own).
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The variable's value; an error if it is not set or empty.
    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name)?
            .ok_or_else(|| error(name, "is required and not set"))
    }

    /// The variable's value, `None` if it is not set; an error if it is set
    /// but empty.
    fn optional(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match (self.0)(name) {
            None => Ok(None),
            Some(value) if value.is_empty() => Err(error(name, "is set but empty")),
            Some(value) => Ok(Some(value)),
        }
    }
}
