//! The shop's program: `production-deploy` serves, `production-deploy
//! healthcheck /health/live` checks a running server. Given: everything is
//! in the library (`src/lib.rs`).

fn main() -> std::process::ExitCode {
    production_deploy::main()
}
