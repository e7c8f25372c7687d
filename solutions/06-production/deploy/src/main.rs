//! The shop's program, on the reference solution's crate (the code is the
//! lesson's own, given: see `src/lib.rs`).

fn main() -> std::process::ExitCode {
    production_deploy_solution::main()
}
