//! The shop: one program that serves the whole contract of
//! `book/src/capstone/contract.md`, built from the pieces of lessons 01 to 06.
//!
//! `main` reads the configuration first (a bad one exits with status 1
//! before anything listens), then hands over to [`app::run`].

mod accounts;
mod app;
mod cart;
mod checkout;
mod clock;
mod config;
mod db;
mod discounts;
mod health;
mod idempotency;
mod input;
mod jobs;
mod live;
mod orders;
mod payment;
mod problem;
mod products;
mod security;
mod tokens;

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("shop: {error}");
            return ExitCode::from(1);
        }
    };
    // Logs go to standard error; standard output carries only the
    // announcement the grader waits for.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(config.log_level)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("shop: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(app::run(config));
    // A blocking task still running (a query, a hash) must not hold the
    // exit: the server has already stopped answering.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shop: {error}");
            ExitCode::from(1)
        }
    }
}
