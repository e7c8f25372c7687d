//! Tests for server/config: settings read through a lookup function.
//!
//! No test touches the real process environment: tests run in parallel
//! threads of one process, and one test's `set_var` would be every other
//! test's surprise. Each test hands `Config::from_lookup` its own little
//! environment instead.

use std::collections::HashMap;
use std::path::PathBuf;

use server_config::{Config, ConfigError};
use tracing::Level;

// ANCHOR: fake_env
/// A lookup that sees only `pairs`, as if they were the whole environment.
fn fake_env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let variables: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    move |name| variables.get(name).cloned()
}
// ANCHOR_END: fake_env

/// Reads the settings from `pairs`, failing the test if that is an error.
#[track_caller]
fn config_from(pairs: &[(&str, &str)]) -> Config {
    match Config::from_lookup(fake_env(pairs)) {
        Ok(config) => config,
        Err(error) => panic!(
            "\nexpected valid settings, got an error\n  environment: {pairs:?}\n  error:       {error:?}\n"
        ),
    }
}

/// Reads the settings from `pairs`, failing the test unless that is an error.
#[track_caller]
fn error_from(pairs: &[(&str, &str)]) -> ConfigError {
    match Config::from_lookup(fake_env(pairs)) {
        Ok(config) => panic!(
            "\nexpected a ConfigError, but the settings were accepted\n  environment: {pairs:?}\n  settings:    {config:?}\n"
        ),
        Err(error) => error,
    }
}

/// Fails unless `actual` is `expected`: `verdict` first, then the
/// environment the settings were read from, and both values.
#[track_caller]
fn assert_settings<T: PartialEq + std::fmt::Debug>(
    actual: T,
    expected: T,
    environment: &[(&str, &str)],
    verdict: &str,
) {
    assert!(
        actual == expected,
        "\n{verdict}\n  environment: {environment:?}\n  expected:    {expected:?}\n  got:         {actual:?}\n"
    );
}

/// The settings of `actual` that differ from `expected`, in words:
/// `log_level is DEBUG, expected INFO`.
fn differences(actual: &Config, expected: &Config) -> String {
    let mut found = Vec::new();
    if actual.bind_addr != expected.bind_addr {
        found.push(format!(
            "bind_addr is {}, expected {}",
            actual.bind_addr, expected.bind_addr
        ));
    }
    if actual.database_path != expected.database_path {
        found.push(format!(
            "database_path is {:?}, expected {:?}",
            actual.database_path, expected.database_path
        ));
    }
    if actual.log_level != expected.log_level {
        found.push(format!(
            "log_level is {}, expected {}",
            actual.log_level, expected.log_level
        ));
    }
    found.join("; ")
}

fn defaults() -> Config {
    Config {
        bind_addr: "127.0.0.1:3000".parse().unwrap(),
        database_path: PathBuf::from("app.db"),
        log_level: Level::INFO,
    }
}

#[test]
fn nothing_set_gives_the_defaults() {
    let config = config_from(&[]);

    let verdict = format!(
        "with no variable set, the settings are not the defaults: {}",
        differences(&config, &defaults())
    );
    assert_settings(config, defaults(), &[], &verdict);
}

#[test]
fn every_variable_set_overrides_every_default() {
    let environment = [
        ("APP_BIND_ADDR", "0.0.0.0:8080"),
        ("APP_DATABASE_PATH", "/var/lib/shop/shop.db"),
        ("APP_LOG_LEVEL", "debug"),
    ];
    let config = config_from(&environment);

    let expected = Config {
        bind_addr: "0.0.0.0:8080".parse().unwrap(),
        database_path: PathBuf::from("/var/lib/shop/shop.db"),
        log_level: Level::DEBUG,
    };
    let verdict = format!(
        "with every variable set, the settings do not all come from their variables: {}",
        differences(&config, &expected)
    );
    assert_settings(config, expected, &environment, &verdict);
}

#[test]
fn one_variable_set_leaves_the_others_at_their_defaults() {
    let environment = [("APP_DATABASE_PATH", "data/test.db")];
    let config = config_from(&environment);

    let expected = Config {
        database_path: PathBuf::from("data/test.db"),
        ..defaults()
    };
    let verdict = format!(
        "with only APP_DATABASE_PATH set, the settings are wrong: {}",
        differences(&config, &expected)
    );
    assert_settings(config, expected, &environment, &verdict);
}

#[test]
fn log_level_is_read_in_any_case() {
    for (value, level) in [
        ("error", Level::ERROR),
        ("WARN", Level::WARN),
        ("Info", Level::INFO),
        ("dEbUg", Level::DEBUG),
        ("Trace", Level::TRACE),
    ] {
        let environment = [("APP_LOG_LEVEL", value)];
        let config = config_from(&environment);

        assert_settings(
            config.log_level,
            level,
            &environment,
            &format!("the log level is {}, expected {level}", config.log_level),
        );
    }
}

#[test]
fn an_ipv6_bind_address_is_accepted() {
    let environment = [("APP_BIND_ADDR", "[::1]:8080")];
    let config = config_from(&environment);

    assert_settings(
        config.bind_addr,
        "[::1]:8080".parse().unwrap(),
        &environment,
        &format!(
            "the bind address is {}, expected [::1]:8080, the IPv6 loopback address, port 8080",
            config.bind_addr
        ),
    );
}

// ANCHOR: bad_value
#[test]
fn a_bind_address_without_a_port_is_an_error_naming_the_variable() {
    let environment = [("APP_BIND_ADDR", "127.0.0.1")];
    let error = error_from(&environment);

    let expected = ConfigError {
        variable: "APP_BIND_ADDR",
        value: "127.0.0.1".to_string(),
        expected: "an IP address and port, like 127.0.0.1:3000",
    };
    assert_settings(
        error,
        expected,
        &environment,
        "the error does not name the variable, its value, and what is valid",
    );
}
// ANCHOR_END: bad_value

#[test]
fn an_unknown_log_level_is_an_error_listing_the_valid_levels() {
    let environment = [("APP_LOG_LEVEL", "verbose")];
    let error = error_from(&environment);

    let expected = ConfigError {
        variable: "APP_LOG_LEVEL",
        value: "verbose".to_string(),
        expected: "one of error, warn, info, debug, trace",
    };
    assert_settings(
        error,
        expected,
        &environment,
        "the error does not name the variable, its value, and what is valid",
    );
}

#[test]
fn a_bind_address_with_a_host_name_is_an_error() {
    // `localhost` resolves without a network (from /etc/hosts), so a parser
    // that looks host names up would accept it.
    let environment = [("APP_BIND_ADDR", "localhost:3000")];
    let error = error_from(&environment);

    let expected = ConfigError {
        variable: "APP_BIND_ADDR",
        value: "localhost:3000".to_string(),
        expected: "an IP address and port, like 127.0.0.1:3000",
    };
    assert_settings(
        error,
        expected,
        &environment,
        "the error for a host name does not name the variable, its value, and what is valid",
    );
}

#[test]
fn a_numeric_log_level_is_an_error() {
    // `tracing::Level`'s own parser takes 1 to 5; the settings take names only.
    for value in ["1", "3", "5"] {
        let environment = [("APP_LOG_LEVEL", value)];
        let error = error_from(&environment);

        let expected = ConfigError {
            variable: "APP_LOG_LEVEL",
            value: value.to_string(),
            expected: "one of error, warn, info, debug, trace",
        };
        assert_settings(
            error,
            expected,
            &environment,
            "the error for a numeric level does not name the variable, its value, and what is \
             valid",
        );
    }
}

#[test]
fn the_error_reports_the_value_exactly_as_it_was_found() {
    let environment = [("APP_LOG_LEVEL", "Verbose")];
    let error = error_from(&environment);

    let expected = ConfigError {
        variable: "APP_LOG_LEVEL",
        value: "Verbose".to_string(),
        expected: "one of error, warn, info, debug, trace",
    };
    assert_settings(
        error,
        expected,
        &environment,
        "the error does not report the value as it was set (`Verbose`, with its capital)",
    );
}

#[test]
fn an_empty_bind_address_or_log_level_is_an_error_not_the_default() {
    for (variable, expected) in [
        (
            "APP_BIND_ADDR",
            "an IP address and port, like 127.0.0.1:3000",
        ),
        ("APP_LOG_LEVEL", "one of error, warn, info, debug, trace"),
    ] {
        let environment = [(variable, "")];
        let error = error_from(&environment);

        let expected = ConfigError {
            variable,
            value: String::new(),
            expected,
        };
        assert_settings(
            error,
            expected,
            &environment,
            &format!(
                "the error for an empty {variable} is not the one expected: a variable that is \
                 set but empty is a mistake to report, not a reason to use the default"
            ),
        );
    }
}

#[test]
fn an_empty_database_path_is_an_error_not_the_default() {
    let environment = [("APP_DATABASE_PATH", "")];
    let error = error_from(&environment);

    let expected = ConfigError {
        variable: "APP_DATABASE_PATH",
        value: String::new(),
        expected: "a file path, like app.db",
    };
    assert_settings(
        error,
        expected,
        &environment,
        "the error for an empty APP_DATABASE_PATH is not the one expected: a variable that \
         is set but empty is a mistake to report, not a reason to use the default",
    );
}

// ANCHOR: message
#[test]
fn the_error_message_names_the_variable_the_value_and_what_is_valid() {
    let error = ConfigError {
        variable: "APP_LOG_LEVEL",
        value: "verbose".to_string(),
        expected: "one of error, warn, info, debug, trace",
    };

    let message = error.to_string();
    let expected =
        r#"APP_LOG_LEVEL="verbose" is not valid: expected one of error, warn, info, debug, trace"#;
    assert!(
        message == expected,
        "\nthe error's message, the one a server prints when it refuses to start, is not \
         the one expected\n  error:    {error:?}\n  expected: {expected:?}\n  got:      \
         {message:?}\n"
    );
}
// ANCHOR_END: message

#[test]
fn from_env_reads_the_same_settings_as_a_lookup_of_the_process_environment() {
    // Reading the environment is safe; only changing it would race with
    // other tests.
    let through_lookup = Config::from_lookup(|name| std::env::var(name).ok());

    let from_env = Config::from_env();

    assert!(
        from_env == through_lookup,
        "\nthe settings from the process environment differ from those of a lookup of it\n  \
         expected: {through_lookup:?}\n  got:      {from_env:?}\nConfig::from_env() should \
         read APP_BIND_ADDR, APP_DATABASE_PATH and APP_LOG_LEVEL from the process \
         environment.\n"
    );
}
