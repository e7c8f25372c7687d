//! # production/deploy — Shipping the shop in a container
//!
//! The shop's code is done: this crate is a small, complete service that
//! reads its settings from the environment, keeps its products in SQLite,
//! answers `GET /products`, `GET /health/live` and `GET /health/ready`, logs
//! JSON lines to standard output and stops gracefully on SIGTERM. Its
//! program (`src/main.rs`) serves when started without arguments, and with
//! `healthcheck PATH` asks the running server for `PATH` and exits with 0
//! when the answer is `2xx`.
//!
//! What it lacks is a way to ship it. Your files are the `Dockerfile` and
//! the `.dockerignore` beside this crate's `Cargo.toml`: the image they
//! describe must build the release binary with the Rust toolchain and run
//! it, without the toolchain, as a user that is not root, with the port,
//! the health check and the command the app really needs, and without a
//! secret or a stray file inside. The tests read both files (Docker is not
//! needed) and start this app to check the route your health check asks
//! for. The book's section "Shipping the shop in a container" explains
//! every piece.
//!
//! Run `cargo checker check` when you think you are done.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::json;

// ANCHOR: settings
/// The variable that sets [`Config::port`].
pub const PORT_VAR: &str = "PORT";
/// The variable that sets [`Config::database_path`].
pub const DATABASE_PATH_VAR: &str = "DATABASE_PATH";
/// The variable that sets [`Config::log_filter`].
pub const LOG_VAR: &str = "RUST_LOG";
/// The variable that sets the session secret: required, never defaulted.
pub const SESSION_SECRET_VAR: &str = "SESSION_SECRET";

/// The port the shop listens on when `PORT` is not set.
pub const DEFAULT_PORT: u16 = 8080;
/// Where the database is when `DATABASE_PATH` is not set (relative to the
/// working folder).
pub const DEFAULT_DATABASE_PATH: &str = "shop.db";
/// What is logged when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";
/// The shortest session secret the shop accepts, in bytes.
pub const MIN_SESSION_SECRET_BYTES: usize = 32;

/// The shop's settings, all from the environment (the twelve-factor app's
/// "config"): the same image runs on a laptop, in CI and in production,
/// told apart only by its variables.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `PORT`: the TCP port the shop listens on, on every interface
    /// (`0.0.0.0`), as a container must. Default [`DEFAULT_PORT`].
    pub port: u16,
    /// `DATABASE_PATH`: the SQLite file, made at start if missing.
    /// Default [`DEFAULT_DATABASE_PATH`].
    pub database_path: PathBuf,
    /// `RUST_LOG`: which log lines are written (`info`, `warn,shop=debug`).
    /// Default [`DEFAULT_LOG_FILTER`].
    pub log_filter: String,
    /// `SESSION_SECRET`: the key that signs the shop's session cookies, at
    /// least [`MIN_SESSION_SECRET_BYTES`] bytes. It has no default: a
    /// secret belongs to the environment the shop runs in, never to its
    /// code or its image.
    pub session_secret: String,
}
// ANCHOR_END: settings

/// A setting that is missing or not valid. Its message names the variable
/// and what would be valid, never a secret's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

/// The secret never shows, not even in a debug log of the settings.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("database_path", &self.database_path)
            .field("log_filter", &self.log_filter)
            .field("session_secret", &"[redacted]")
            .finish()
    }
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, which returns a variable's
    /// value, or `None` when it is not set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let port = port_from_lookup(&lookup)?;
        let database_path = match lookup(DATABASE_PATH_VAR) {
            None => PathBuf::from(DEFAULT_DATABASE_PATH),
            Some(path) if path.trim().is_empty() => {
                return Err(ConfigError {
                    variable: DATABASE_PATH_VAR,
                    problem: "is empty: give the path of the SQLite file".into(),
                });
            }
            Some(path) => PathBuf::from(path),
        };
        let log_filter = lookup(LOG_VAR).unwrap_or_else(|| DEFAULT_LOG_FILTER.to_string());
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(&log_filter) {
            return Err(ConfigError {
                variable: LOG_VAR,
                problem: format!("{log_filter:?} is not a log filter ({error})"),
            });
        }
        let session_secret = lookup(SESSION_SECRET_VAR).ok_or_else(|| ConfigError {
            variable: SESSION_SECRET_VAR,
            problem: "is not set: give the shop its secret when it starts \
                      (`docker run -e SESSION_SECRET=...`, a Kubernetes Secret), \
                      never in its image"
                .into(),
        })?;
        if session_secret.len() < MIN_SESSION_SECRET_BYTES {
            return Err(ConfigError {
                variable: SESSION_SECRET_VAR,
                problem: format!(
                    "is {} bytes long, shorter than {MIN_SESSION_SECRET_BYTES}",
                    session_secret.len()
                ),
            });
        }
        Ok(Config {
            port,
            database_path,
            log_filter,
            session_secret,
        })
    }

    /// Where the shop listens: every interface, on [`Config::port`].
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, self.port))
    }
}

/// The port alone, read through `lookup` the way [`Config::from_lookup`]
/// reads it: the health check needs the port, not the secret.
pub fn port_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<u16, ConfigError> {
    match lookup(PORT_VAR) {
        None => Ok(DEFAULT_PORT),
        Some(value) => value
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| ConfigError {
                variable: PORT_VAR,
                problem: format!("{value:?} is not a port: expected a number from 1 to 65535"),
            }),
    }
}

/// The tables this service uses (the shop's `products`, as in lesson 03).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS products (
    id          INTEGER PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
) STRICT;
";

/// Opens the database at `path`, making the file and its tables if they are
/// missing. This is what fails when the folder is not writable by the user
/// the shop runs as.
pub fn prepare_database(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.execute_batch(SCHEMA)?;
    Ok(connection)
}

/// One product, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub stock: i64,
}

// ANCHOR: app
/// The shop's routes, on the database at `database_path` (which
/// [`prepare_database`] has made):
///
/// - `GET /health/live`: `200 OK`, `{"status": "alive"}`, always: the
///   process answers, so it should not be restarted.
/// - `GET /health/ready`: `200 OK`, `{"status": "ready"}` when a query on
///   the database works, else `503 Service Unavailable`,
///   `{"status": "not ready"}`: send no traffic here yet.
/// - `GET /products`: every product, by id, as JSON.
pub fn app(database_path: PathBuf) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/products", get(products))
        .with_state(Arc::from(database_path))
}
// ANCHOR_END: app

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

async fn ready(State(path): State<Arc<Path>>) -> Response {
    let check = tokio::task::spawn_blocking(move || {
        open_existing(&path)?.query_row("SELECT count(*) FROM products", [], |_| Ok(()))
    })
    .await;
    match check {
        Ok(Ok(())) => Json(json!({ "status": "ready" })).into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the database check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready" })),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "readiness: the database check panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn products(State(path): State<Arc<Path>>) -> Response {
    let listed = tokio::task::spawn_blocking(move || list_products(&open_existing(&path)?)).await;
    match listed {
        Ok(Ok(products)) => Json(products).into_response(),
        Ok(Err(error)) => {
            tracing::error!(%error, "listing the products failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(error) => {
            tracing::error!(%error, "listing the products panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Opens the database without creating it: a request never makes a file.
fn open_existing(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
}

fn list_products(db: &Connection) -> rusqlite::Result<Vec<Product>> {
    let mut statement =
        db.prepare("SELECT id, sku, name, price_cents, stock FROM products ORDER BY id")?;
    let rows = statement.query_map([], |row| {
        Ok(Product {
            id: row.get(0)?,
            sku: row.get(1)?,
            name: row.get(2)?,
            price_cents: row.get(3)?,
            stock: row.get(4)?,
        })
    })?;
    rows.collect()
}

// ANCHOR: healthcheck
/// How long the health check waits for the server, in all.
pub const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The program's `healthcheck PATH` mode: asks the server listening on
/// `port` of this machine (the container) for `GET PATH`, and is `Ok` when
/// the answer is `2xx`. A container image without curl or wget can check
/// its server with the server's own binary.
pub fn healthcheck(port: u16, path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{path:?} is not a path to ask for: it starts with `/` and has no spaces"
        ));
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, HEALTHCHECK_TIMEOUT)
        .map_err(|error| format!("cannot connect to {addr}: {error}"))?;
    let io = |error: std::io::Error| format!("GET {path} on {addr} failed: {error}");
    stream
        .set_read_timeout(Some(HEALTHCHECK_TIMEOUT))
        .map_err(io)?;
    stream
        .set_write_timeout(Some(HEALTHCHECK_TIMEOUT))
        .map_err(io)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    // The status line is all that matters: `HTTP/1.1 200 OK`.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 1024 {
        match stream.read(&mut byte).map_err(io)? {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    let status_line = String::from_utf8_lossy(&head);
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("GET {path} on {addr}: no HTTP answer ({status_line:?})"))?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("GET {path} on {addr} answered {status}"))
    }
}
// ANCHOR_END: healthcheck

/// The program: `serve` (or nothing) serves the shop; `healthcheck PATH`
/// checks it. Exit codes: 0 success, 1 failure, 2 a wrong command line.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => match serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        },
        ["healthcheck", path] => {
            let checked = port_from_lookup(|name| std::env::var(name).ok())
                .map_err(|error| error.to_string())
                .and_then(|port| healthcheck(port, path));
            match checked {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("unhealthy: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: shop [serve] | shop healthcheck PATH");
            ExitCode::from(2)
        }
    }
}

/// The server's whole life: settings, logs, database, listener, and a
/// graceful stop on SIGTERM or Ctrl+C.
fn serve() -> Result<(), String> {
    let config = Config::from_env().map_err(|error| error.to_string())?;
    // Logs are an event stream on standard output, one JSON object a line:
    // whoever runs the container collects them.
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_filter))
        .init();
    prepare_database(&config.database_path).map_err(|error| {
        format!(
            "cannot open the database {}: {error} (can the user the shop runs as write to that folder?)",
            config.database_path.display()
        )
    })?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen_addr())
            .await
            .map_err(|error| format!("cannot listen on {}: {error}", config.listen_addr()))?;
        tracing::info!(addr = %config.listen_addr(), "listening");
        axum::serve(listener, app(config.database_path.clone()))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|error| format!("the server stopped with an error: {error}"))?;
        tracing::info!("stopped: every request in flight was answered");
        Ok(())
    })
}

/// SIGTERM (what `docker stop` and Kubernetes send) or Ctrl+C. As PID 1 in
/// a container, a process that does not handle SIGTERM is not stopped by
/// it at all: after ten seconds it is killed.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl+C: stopping"),
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
