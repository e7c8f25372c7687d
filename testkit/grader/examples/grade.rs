//! Grades a shop binary directly, without the checker, and prints every
//! scenario's verdict: for working on the grader and the reference shop.
//!
//! `cargo run -q -p grader --example grade -- target/debug/shop-solution [--stage NAME] [--seed N]`

use grader::{Options, Verdict, grade};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut shop = None;
    let mut stage = None;
    let mut seed = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--stage" => stage = args.next(),
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()),
            _ => shop = Some(arg),
        }
    }
    let Some(shop) = shop else {
        eprintln!("usage: grade SHOP_BINARY [--stage NAME] [--seed N]");
        std::process::exit(2);
    };
    let options = Options {
        shop: shop.into(),
        seed: seed.unwrap_or_else(grader::random::Rng::fresh_seed),
        stage,
    };
    let started = std::time::Instant::now();
    let report = grade(&options);
    for result in &report.results {
        match &result.verdict {
            Verdict::Passed => println!("ok      {}::{}", result.stage, result.name),
            Verdict::Failed(message) => {
                println!("FAILED  {}::{}\n{message}\n", result.stage, result.name)
            }
            Verdict::NotRun(_) => {}
        }
    }
    println!(
        "seed {}: {} passed of {} in {:.1} s",
        report.seed,
        report.passed(),
        report.results.len(),
        started.elapsed().as_secs_f64()
    );
}
