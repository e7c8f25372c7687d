//! The lesson's `examples/serve.rs`, built on this reference solution: what
//! `scripts/attack.sh` runs beside the starter's, to show that sqlmap finds
//! the injection in one and nothing in the other.
//!
//! ```console
//! PORT=3001 cargo run -q -p security-sql-injection-solution --example serve
//! ```

// The lesson's example names the crate as the learner's; here it is the
// solution.
extern crate security_sql_injection_solution as security_sql_injection;

// `banner` is there for the book's "Try it" test, and unused here.
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/sql-injection/examples/serve.rs"]
mod serve;

fn main() -> std::io::Result<()> {
    serve::main()
}
