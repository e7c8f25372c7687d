//! The capstone is graded black-box: these tests start your shop (the
//! `shop` binary cargo builds from src/) and speak to it only over HTTP, as
//! the contract in the book's capstone chapter says. Each test is one
//! scenario of the grader, in the order they run; the first test to run
//! grades the whole shop once (stages in order, stopping at the first
//! failure), and each then reports its own scenario.
//!
//! `cargo checker check capstone --stage NAME` runs one stage, and
//! `--seed N` replays a run's random inputs.
//!
//! Generated from the grader (testkit/grader) by
//! `cargo run -q -p grader --example test_file`: do not edit.

/// The shop cargo built beside these tests: yours, or the reference
/// solution's when the solution's tests include this file.
const SHOP: &str = match (
    option_env!("CARGO_BIN_EXE_shop"),
    option_env!("CARGO_BIN_EXE_shop-solution"),
) {
    (Some(path), _) | (None, Some(path)) => path,
    (None, None) => panic!("no shop binary is built beside these tests"),
};

#[track_caller]
fn scenario(stage: &str, name: &str) {
    grader::scenario(SHOP, stage, name);
}

mod health {
    use super::scenario;

    #[test]
    fn starts_and_is_ready() {
        scenario("health", "starts_and_is_ready");
    }

    #[test]
    fn unknown_paths_are_404_problems() {
        scenario("health", "unknown_paths_are_404_problems");
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        scenario("health", "wrong_method_is_405_with_allow");
    }

    #[test]
    fn bad_configuration_exits_with_status_1() {
        scenario("health", "bad_configuration_exits_with_status_1");
    }
}

mod accounts {
    use super::scenario;

    #[test]
    fn accounts_works() {
        scenario("accounts", "accounts_works");
    }
}

mod admin {
    use super::scenario;

    #[test]
    fn admin_works() {
        scenario("admin", "admin_works");
    }
}

mod catalogue {
    use super::scenario;

    #[test]
    fn catalogue_works() {
        scenario("catalogue", "catalogue_works");
    }
}

mod cart {
    use super::scenario;

    #[test]
    fn cart_works() {
        scenario("cart", "cart_works");
    }
}

mod checkout {
    use super::scenario;

    #[test]
    fn checkout_works() {
        scenario("checkout", "checkout_works");
    }
}

mod orders {
    use super::scenario;

    #[test]
    fn orders_works() {
        scenario("orders", "orders_works");
    }
}

mod live {
    use super::scenario;

    #[test]
    fn live_works() {
        scenario("live", "live_works");
    }
}

mod jobs {
    use super::scenario;

    #[test]
    fn jobs_works() {
        scenario("jobs", "jobs_works");
    }
}

mod attacks {
    use super::scenario;

    #[test]
    fn attacks_works() {
        scenario("attacks", "attacks_works");
    }
}

mod load {
    use super::scenario;

    #[test]
    fn load_works() {
        scenario("load", "load_works");
    }
}
