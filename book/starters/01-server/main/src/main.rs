//! # server/main — your first running server
//!
//! Until now the tests ran your code inside themselves. This exercise is a
//! program: `cargo run -p server-main` starts it, and it serves until it is
//! told to stop. Write `main` so that the program, in this order:
//!
//! 1. reads its settings (`config.rs`, given: `APP_BIND_ADDR` and
//!    `APP_LOG_LEVEL`, with defaults). A bad setting is a startup error;
//! 2. prints log events up to the configured level (`APP_LOG_LEVEL`);
//! 3. listens on the configured address (`APP_BIND_ADDR`). Port 0 means
//!    "any free port". An address it cannot listen on is a startup error;
//! 4. prints exactly this line on standard output, once it listens:
//!
//!    ```text
//!    listening on http://127.0.0.1:41234
//!    ```
//!
//!    with the address it really listens on (never port 0). Print it
//!    whatever the log level: it is not a log event, it is how the tests,
//!    and any script that starts the server, learn the port;
//! 5. serves the app (`app.rs`, given) until it receives SIGTERM or Ctrl+C
//!    (SIGINT), then shuts down gracefully: it takes no new connection,
//!    answers every request already in flight, and exits with status 0.
//!    It must be listening for both signals *before* it prints the line of
//!    step 4: from then on a SIGTERM may come at any moment, and one that
//!    finds nobody listening kills the process on the spot.
//!
//! A startup error prints one line on standard error that says what is
//! wrong, and the program exits with status 1 (a panic would exit with 101):
//!
//! - for a bad setting, the error's own message, such as
//!   `APP_LOG_LEVEL="verbose" is not valid: expected one of error, warn, info, debug, trace`;
//! - for an address it cannot listen on, a message that names the address,
//!   such as `could not listen on 127.0.0.1:3000: Address already in use`.
//!
//! The book's section "Your first running server" explains each step, and
//! shows how to run the server and call it with `curl`. Run
//! `cargo checker check` when you think you are done.

mod app;
mod config;

use std::process::ExitCode;

use config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    // TODO: do steps 1 to 5 above, and end with the exit status they call
    // for. The two given pieces are here:
    let _ = (Config::from_env, app::app);
    todo!("start the server")
}
