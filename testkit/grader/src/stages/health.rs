//! `health`: the shop starts, announces, is ready; unknown paths and
//! methods are problems; a bad configuration stops it before it listens.

use std::time::Duration;

use serde_json::Value;

use crate::failure::Failure;
use crate::shop::{self, Start};
use crate::{Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "starts_and_is_ready",
    "unknown_paths_are_404_problems",
    "wrong_method_is_405_with_allow",
    "bad_configuration_exits_with_status_1",
];

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check("starts_and_is_ready", starts_and_is_ready(ctx).await)?;
    stage.check(
        "unknown_paths_are_404_problems",
        unknown_paths_are_404_problems(ctx).await,
    )?;
    stage.check(
        "wrong_method_is_405_with_allow",
        wrong_method_is_405_with_allow(ctx).await,
    )?;
    stage.check(
        "bad_configuration_exits_with_status_1",
        bad_configuration_exits_with_status_1(ctx).await,
    )?;
    Ok(())
}

async fn starts_and_is_ready(ctx: &mut Ctx) -> Result<(), Failure> {
    // The grader started the shop and waited for `200` before any stage.
    let reply = ctx.http.get("/health/ready").send().await?;
    let body = reply.expect_json(200, "the shop is ready")?;
    ensure!(
        body.get("status").and_then(Value::as_str) == Some("ready")
            && body.pointer("/checks/database").and_then(Value::as_str) == Some("ok"),
        reply.fail(
            "GET /health/ready: the body does not say ready",
            "200 OK, {\"status\": \"ready\", \"checks\": {\"database\": \"ok\"}}",
        )
    );
    let reply = ctx.http.get("/health/live").send().await?;
    let body = reply.expect_json(200, "the shop is alive")?;
    ensure!(
        body.get("status").and_then(Value::as_str) == Some("alive"),
        reply.fail(
            "GET /health/live: the body does not say alive",
            "200 OK, {\"status\": \"alive\"}",
        )
    );
    Ok(())
}

async fn unknown_paths_are_404_problems(ctx: &mut Ctx) -> Result<(), Failure> {
    let nope = format!("/{}", ctx.rng.lower(6));
    for path in [nope.as_str(), "/products/1/nope"] {
        let reply = ctx.http.get(path).send().await?;
        reply.expect_problem(404, "about:blank").map_err(|failure| {
            failure.hint("the router's fallback answers every path no route has; make it a problem+json like every other error")
        })?;
    }
    Ok(())
}

async fn wrong_method_is_405_with_allow(ctx: &mut Ctx) -> Result<(), Failure> {
    let reply = ctx.http.delete("/products").send().await?;
    reply.expect_problem(405, "about:blank").map_err(|failure| {
        failure.hint("axum answers 405 with an empty body on its own: turn it into a problem (a middleware that maps an empty 405, or `method_not_allowed_fallback`)")
    })?;
    let allow = reply.header_all("allow").join(", ").to_ascii_uppercase();
    let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    ensure!(
        methods.contains(&"GET") && methods.contains(&"POST"),
        reply.fail(
            "DELETE /products: the 405 does not list GET and POST in `Allow`",
            "405 Method Not Allowed with `Allow: GET, POST` (HEAD may be listed too)",
        )
    );
    Ok(())
}

async fn bad_configuration_exits_with_status_1(ctx: &mut Ctx) -> Result<(), Failure> {
    let secret_31 = ctx.rng.alnum(31);
    let cases: [(&str, Option<String>, &str); 3] = [
        ("SHOP_TOKEN_SECRET", None, "missing"),
        (
            "SHOP_TOKEN_SECRET",
            Some(secret_31),
            "31 bytes long (at least 32 are needed)",
        ),
        (
            "SHOP_PAYMENT_TIMEOUT_MS",
            Some("soon".into()),
            "`soon`, not a number",
        ),
    ];
    for (index, (variable, value, what)) in cases.into_iter().enumerate() {
        let database = shop::database_path(ctx.dir.path(), &format!("bad-config-{index}"));
        let launch = ctx
            .launch
            .with("SHOP_DATABASE_PATH", Some(&database))
            .with(variable, value.as_deref());
        let start = ctx.start(&launch)?;
        let command = launch.command_line();
        let expected = format!(
            "exit status 1 within {} s, without announcing, and {variable} named on standard error",
            shop::EXIT_TIMEOUT.as_secs()
        );
        match start {
            Start::Listening(mut shop) => {
                shop.kill();
                return Err(Failure::new(format!(
                    "the shop started and listened with {variable} {what}"
                ))
                .request(command)
                .expected(expected)
                .actual(format!("it announced {}", shop.url))
                .hint("read every variable when the shop starts and refuse a missing or unusable one: a bad setting must stop the shop, never become a silent default"));
            }
            Start::Silent(output) => {
                return Err(Failure::new(format!(
                    "the shop neither listened nor exited with {variable} {what}"
                ))
                .request(command)
                .expected(expected)
                .actual(format!(
                    "it kept running silently; the last it wrote:\n{}",
                    output.last_words(10)
                )));
            }
            Start::Exited(status, output) => {
                ensure!(
                    status.code() == Some(1),
                    Failure::new(format!(
                        "with {variable} {what}, the shop exited with {} instead of exit status 1",
                        shop::describe(&status)
                    ))
                    .request(command.clone())
                    .expected(expected.clone())
                    .actual(output.last_words(10))
                    .hint("a panic exits with 101: print the error and call `std::process::exit(1)`, or return an error from `main`")
                );
                ensure!(
                    output.stderr_text().contains(variable),
                    Failure::new(format!(
                        "with {variable} {what}, the shop exited but standard error does not name {variable}"
                    ))
                    .request(command)
                    .expected(expected)
                    .actual(format!("standard error:\n{}", output.last_words(10)))
                );
            }
        }
    }
    let _ = Duration::ZERO;
    Ok(())
}
