//! The "Try it" boxes, run as they stand. Each page's `console` blocks are
//! a session at a shell: `cargo run ... --example serve` starts the
//! exercise's example (compiled here against the reference solution) on a
//! free port, `curl` sends a request the way curl does and prints what curl
//! prints, `mv` moves a file under `/tmp` (here, a folder of the test's own).
//! Every line a command prints on the page is compared with what it really
//! prints.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::Router;

use crate::book::{self, Page};
use crate::http::{self, Request};

// Each exercise's `examples/serve.rs`, as a module: the test builds the app
// the example serves and prints the line it prints. (`main` stays unused.)
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/access-control/examples/serve.rs"]
mod access_control;
#[allow(dead_code)]
#[path = "../../../../lessons/02-database/async-access/examples/serve.rs"]
mod async_access;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/extractor/examples/serve.rs"]
mod auth_extractor;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/authorization/examples/serve.rs"]
mod authorization;
#[allow(dead_code)]
#[path = "../../../../lessons/06-production/caching/examples/serve.rs"]
mod caching;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/conditional/examples/serve.rs"]
mod conditional;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/csrf/examples/serve.rs"]
mod csrf;
#[allow(dead_code)]
#[path = "../../../../lessons/08-graphql/dataloader/examples/serve.rs"]
mod dataloader;
#[allow(dead_code)]
#[path = "../../../../lessons/06-production/deploy/examples/serve.rs"]
mod deploy;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/encryption/examples/serve.rs"]
mod encryption;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/errors/examples/serve.rs"]
mod errors;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/extractors/examples/serve.rs"]
mod extractors;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/filtering/examples/serve.rs"]
mod filtering;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/headers-cors/examples/serve.rs"]
mod headers_cors;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/health/examples/serve.rs"]
mod health;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/hello/examples/serve.rs"]
mod hello;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/idempotency/examples/serve.rs"]
mod idempotency;
#[allow(dead_code)]
#[path = "../../../../lessons/06-production/jobs/examples/serve.rs"]
mod jobs;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/json/examples/serve.rs"]
mod json;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/limits/examples/serve.rs"]
mod limits;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/mass-assignment/examples/serve.rs"]
mod mass_assignment;
// server/main has no example: its program is the learner's `main`, and
// the app it serves is the given `app.rs`.
#[path = "../../../../lessons/01-server/main/src/app.rs"]
mod main_app;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/middleware/examples/serve.rs"]
mod middleware;
#[allow(dead_code)]
#[path = "../../../../lessons/08-graphql/mutations/examples/serve.rs"]
mod mutations;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/oauth-login/examples/serve.rs"]
mod oauth_login;
#[allow(dead_code)]
#[path = "../../../../lessons/06-production/observability/examples/serve.rs"]
mod observability;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/openapi/examples/serve.rs"]
mod openapi;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/pagination/examples/serve.rs"]
mod pagination;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/password-change/examples/serve.rs"]
mod password_change;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/password-reset/examples/serve.rs"]
mod password_reset;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/path-traversal/examples/serve.rs"]
mod path_traversal;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/problem-details/examples/serve.rs"]
mod problem_details;
#[allow(dead_code)]
#[path = "../../../../lessons/08-graphql/limits/examples/serve.rs"]
mod query_limits;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/rate-limiting/examples/serve.rs"]
mod rate_limiting;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/register-login/examples/serve.rs"]
mod register_login;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/resources/examples/serve.rs"]
mod resources;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/routing/examples/serve.rs"]
mod routing;
#[allow(dead_code)]
#[path = "../../../../lessons/06-production/scaling/examples/serve.rs"]
mod scaling;
#[allow(dead_code)]
#[path = "../../../../lessons/08-graphql/schema/examples/serve.rs"]
mod schema;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/secrets/examples/serve.rs"]
mod secrets;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/sessions/examples/serve.rs"]
mod sessions;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/shutdown/examples/serve.rs"]
mod shutdown;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/snapshots/examples/serve.rs"]
mod snapshots;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/sql-injection/examples/serve.rs"]
mod sql_injection;
#[allow(dead_code)]
#[path = "../../../../lessons/06-production/sse/examples/serve.rs"]
mod sse;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/ssrf/examples/serve.rs"]
mod ssrf;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/state/examples/serve.rs"]
mod state;
#[allow(dead_code)]
#[path = "../../../../lessons/01-server/testing/examples/serve.rs"]
mod testing;
#[allow(dead_code)]
#[path = "../../../../lessons/04-auth/tokens/examples/serve.rs"]
mod tokens;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/upstream/examples/serve.rs"]
mod upstream;
#[allow(dead_code)]
#[path = "../../../../lessons/03-api/validation/examples/serve.rs"]
mod validation;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/webhooks/examples/serve.rs"]
mod webhooks;
#[allow(dead_code)]
#[path = "../../../../lessons/06-production/websocket/examples/serve.rs"]
mod websocket;
#[allow(dead_code)]
#[path = "../../../../lessons/05-security/xss/examples/serve.rs"]
mod xss;

/// One exercise's "Try it": its page, the command that serves its example,
/// and what the example does.
struct Example {
    page: &'static str,
    /// `cargo run -q -p server-hello --example serve`, before any `-- ARGS`.
    command: &'static str,
    /// The line the example prints once it listens, for these arguments.
    banner: fn(&[String]) -> String,
    /// The app the example serves, for these arguments (paths under `/tmp`
    /// already moved to the test's own folder, which comes second).
    app: fn(&[String], &Path) -> Router,
    /// The lines the example prints after Ctrl+C.
    after_ctrl_c: &'static [&'static str],
}

impl Example {
    fn new(
        page: &'static str,
        command: &'static str,
        banner: fn(&[String]) -> String,
        app: fn(&[String], &Path) -> Router,
    ) -> Example {
        Example {
            page,
            command,
            banner,
            app,
            after_ctrl_c: &[],
        }
    }
}

/// Every "Try it" box the test runs.
fn examples() -> Vec<Example> {
    vec![
        Example::new(
            "server/hello.md",
            "cargo run -q -p server-hello --example serve",
            |_| hello::banner(),
            |_, _| hello::app(),
        ),
        Example::new(
            "server/routing.md",
            "cargo run -q -p server-routing --example serve",
            |_| routing::banner(),
            |_, _| routing::app(),
        ),
        Example::new(
            "server/extractors.md",
            "cargo run -q -p server-extractors --example serve",
            |_| extractors::banner(),
            |_, _| extractors::app(),
        ),
        Example::new(
            "server/json.md",
            "cargo run -q -p server-json --example serve",
            |_| json::banner(),
            |_, _| json::app(),
        ),
        Example::new(
            "server/state.md",
            "cargo run -q -p server-state --example serve",
            |_| state::banner(),
            |_, _| state::app(),
        ),
        Example::new(
            "server/middleware.md",
            "cargo run -q -p server-middleware --example serve",
            |_| middleware::banner(),
            |_, _| middleware::app(),
        ),
        Example::new(
            "server/errors.md",
            "cargo run -q -p server-errors --example serve",
            errors::banner,
            |args, _| errors::app(args),
        ),
        Example {
            after_ctrl_c: &shutdown::STOPPING,
            // The slow request takes a moment here, not five seconds: what
            // it prints does not depend on how long it took.
            ..Example::new(
                "server/shutdown.md",
                "cargo run -q -p server-shutdown --example serve",
                |_| shutdown::banner(),
                |_, _| shutdown::app(Duration::from_millis(20)),
            )
        },
        Example::new(
            "server/health.md",
            "cargo run -q -p server-health --example serve",
            health::banner,
            |args, _| health::app(args),
        ),
        Example::new(
            "server/testing.md",
            "cargo run -q -p server-testing --example serve",
            |_| testing::banner(),
            |_, _| testing::app(),
        ),
        Example::new(
            "server/main.md",
            "cargo run -q -p server-main",
            // What the reference solution prints with no setting given.
            |_| "listening on http://127.0.0.1:3000".to_string(),
            |_, _| main_app::app(),
        ),
        Example::new(
            "database/async-access.md",
            "cargo run -q -p database-async-access --example serve",
            |_| async_access::banner(),
            |_, folder| async_access::app(folder),
        ),
        Example::new(
            "api/resources.md",
            "cargo run -q -p api-resources --example serve",
            |_| resources::banner(),
            |_, _| resources::app(),
        ),
        Example::new(
            "api/validation.md",
            "cargo run -q -p api-validation --example serve",
            |_| validation::banner(),
            |_, _| validation::app(),
        ),
        Example::new(
            "api/problem-details.md",
            "cargo run -q -p api-problem-details --example serve",
            |_| problem_details::banner(),
            |_, folder| problem_details::app(folder),
        ),
        Example::new(
            "api/pagination.md",
            "cargo run -q -p api-pagination --example serve",
            |_| pagination::banner(),
            |_, folder| pagination::app(folder),
        ),
        Example::new(
            "api/filtering.md",
            "cargo run -q -p api-filtering --example serve",
            |_| filtering::banner(),
            |_, _| filtering::app(),
        ),
        Example::new(
            "api/idempotency.md",
            "cargo run -q -p api-idempotency --example serve",
            |_| idempotency::banner(),
            |_, folder| idempotency::app(folder),
        ),
        Example::new(
            "api/conditional.md",
            "cargo run -q -p api-conditional --example serve",
            |_| conditional::banner(),
            |_, folder| conditional::app(folder),
        ),
        Example::new(
            "api/upstream.md",
            "cargo run -q -p api-upstream --example serve",
            |_| upstream::banner(),
            |_, folder| upstream::app(folder),
        ),
        Example::new(
            "api/snapshots.md",
            "cargo run -q -p api-snapshots --example serve",
            |_| snapshots::banner(),
            |_, _| snapshots::app(),
        ),
        Example::new(
            "api/openapi.md",
            "cargo run -q -p api-openapi --example serve",
            |_| openapi::banner(),
            |_, _| openapi::app(),
        ),
        Example::new(
            "auth/register-login.md",
            "cargo run -q -p auth-register-login --example serve",
            |_| register_login::banner(),
            |_, folder| register_login::app(folder),
        ),
        Example::new(
            "auth/sessions.md",
            "cargo run -q -p auth-sessions --example serve",
            |_| sessions::banner(),
            |_, folder| sessions::app(folder),
        ),
        Example::new(
            "auth/tokens.md",
            "cargo run -q -p auth-tokens --example serve",
            |_| tokens::banner(),
            |_, folder| tokens::app(folder),
        ),
        Example::new(
            "auth/extractor.md",
            "cargo run -q -p auth-extractor --example serve",
            |_| auth_extractor::banner(),
            |_, folder| auth_extractor::app(folder),
        ),
        Example::new(
            "auth/authorization.md",
            "cargo run -q -p auth-authorization --example serve",
            |_| authorization::banner(),
            |_, folder| authorization::app(folder),
        ),
        Example::new(
            "auth/password-change.md",
            "cargo run -q -p auth-password-change --example serve",
            |_| password_change::banner(),
            |_, folder| password_change::app(folder),
        ),
        Example::new(
            "auth/password-reset.md",
            "cargo run -q -p auth-password-reset --example serve",
            |_| password_reset::banner(),
            |_, folder| password_reset::app(folder, std::sync::Arc::new(password_reset::Nowhere)),
        ),
        Example::new(
            "auth/oauth-login.md",
            "cargo run -q -p auth-oauth-login --example serve",
            |_| oauth_login::banner(),
            |_, folder| oauth_login::app(folder),
        ),
        Example::new(
            "security/sql-injection.md",
            "cargo run -q -p security-sql-injection --example serve",
            |_| sql_injection::banner(),
            |_, _| sql_injection::app(),
        ),
        Example::new(
            "security/xss.md",
            "cargo run -q -p security-xss --example serve",
            |_| xss::banner(),
            |_, _| xss::app(),
        ),
        Example::new(
            "security/mass-assignment.md",
            "cargo run -q -p security-mass-assignment --example serve",
            |_| mass_assignment::banner(),
            |_, folder| mass_assignment::app(folder),
        ),
        Example::new(
            "security/access-control.md",
            "cargo run -q -p security-access-control --example serve",
            |_| access_control::banner(),
            |_, folder| access_control::app(folder),
        ),
        Example::new(
            "security/rate-limiting.md",
            "cargo run -q -p security-rate-limiting --example serve",
            |_| rate_limiting::banner(),
            |_, folder| rate_limiting::app(folder),
        ),
        Example::new(
            "security/headers-cors.md",
            "cargo run -q -p security-headers-cors --example serve",
            |_| headers_cors::banner(),
            |_, _| headers_cors::app(),
        ),
        Example::new(
            "security/csrf.md",
            "cargo run -q -p security-csrf --example serve",
            |_| csrf::banner(),
            |_, folder| csrf::app(folder),
        ),
        Example::new(
            "security/secrets.md",
            "cargo run -q -p security-secrets --example serve",
            secrets::banner,
            secrets::app,
        ),
        Example::new(
            "security/webhooks.md",
            "cargo run -q -p security-webhooks --example serve",
            webhooks::banner,
            webhooks::app,
        ),
        Example::new(
            "security/limits.md",
            "cargo run -q -p security-limits --example serve",
            limits::banner,
            |args, _| limits::app(args),
        ),
        Example::new(
            "security/path-traversal.md",
            "cargo run -q -p security-path-traversal --example serve",
            |_| path_traversal::banner(),
            |_, folder| path_traversal::app(folder),
        ),
        Example::new(
            "security/ssrf.md",
            "cargo run -q -p security-ssrf --example serve",
            |_| ssrf::banner(),
            |_, _| ssrf::app(),
        ),
        Example::new(
            "security/encryption.md",
            "cargo run -q -p security-encryption --example serve",
            |_| encryption::banner(),
            |_, folder| encryption::app(folder),
        ),
        Example::new(
            "production/sse.md",
            "cargo run -q -p production-sse --example serve",
            |_| sse::banner(),
            |_, folder| sse::app(folder),
        ),
        Example::new(
            "production/jobs.md",
            "cargo run -q -p production-jobs --example serve",
            |_| jobs::banner(),
            |_, folder| jobs::app(folder),
        ),
        Example::new(
            "production/caching.md",
            "cargo run -q -p production-caching --example serve",
            |_| caching::banner(),
            |_, folder| caching::app(folder),
        ),
        Example::new(
            "production/observability.md",
            "cargo run -q -p production-observability --example serve",
            |_| observability::banner(),
            |_, folder| observability::app(folder),
        ),
        Example::new(
            "production/deploy.md",
            "cargo run -q -p production-deploy --example serve",
            |_| deploy::banner(),
            |_, folder| deploy::app(folder),
        ),
        Example::new(
            "production/scaling.md",
            "cargo run -q -p production-scaling --example serve",
            |_| scaling::banner(),
            |_, folder| scaling::app(folder),
        ),
        Example::new(
            "production/websocket.md",
            "cargo run -q -p production-websocket --example serve",
            |_| websocket::banner(),
            |_, _| websocket::app(),
        ),
        Example::new(
            "graphql/schema.md",
            "cargo run -q -p graphql-schema --example serve",
            |_| schema::banner(),
            |_, _| schema::app(),
        ),
        Example::new(
            "graphql/mutations.md",
            "cargo run -q -p graphql-mutations --example serve",
            |_| mutations::banner(),
            |_, _| mutations::app(),
        ),
        Example::new(
            "graphql/dataloader.md",
            "cargo run -q -p graphql-dataloader --example serve",
            |_| dataloader::banner(),
            |_, _| dataloader::app(),
        ),
        Example::new(
            "graphql/limits.md",
            "cargo run -q -p graphql-limits --example serve",
            |_| query_limits::banner(),
            |_, _| query_limits::app(),
        ),
    ]
}

#[tokio::test]
async fn hello() {
    try_it("server/hello.md").await;
}

#[tokio::test]
async fn routing() {
    try_it("server/routing.md").await;
}

#[tokio::test]
async fn extractors() {
    try_it("server/extractors.md").await;
}

#[tokio::test]
async fn json() {
    try_it("server/json.md").await;
}

#[tokio::test]
async fn state() {
    try_it("server/state.md").await;
}

#[tokio::test]
async fn middleware() {
    try_it("server/middleware.md").await;
}

#[tokio::test]
async fn errors() {
    try_it("server/errors.md").await;
}

#[tokio::test]
async fn shutdown() {
    try_it("server/shutdown.md").await;
}

#[tokio::test]
async fn health() {
    try_it("server/health.md").await;
}

#[tokio::test]
async fn testing() {
    try_it("server/testing.md").await;
}

#[tokio::test]
async fn main_program() {
    try_it("server/main.md").await;
}

#[tokio::test]
async fn async_access() {
    try_it("database/async-access.md").await;
}

#[tokio::test]
async fn resources() {
    try_it("api/resources.md").await;
}

#[tokio::test]
async fn validation() {
    try_it("api/validation.md").await;
}

#[tokio::test]
async fn problem_details() {
    try_it("api/problem-details.md").await;
}

#[tokio::test]
async fn pagination() {
    try_it("api/pagination.md").await;
}

#[tokio::test]
async fn filtering() {
    try_it("api/filtering.md").await;
}

#[tokio::test]
async fn idempotency() {
    try_it("api/idempotency.md").await;
}

#[tokio::test]
async fn conditional() {
    try_it("api/conditional.md").await;
}

#[tokio::test]
async fn upstream() {
    try_it("api/upstream.md").await;
}

#[tokio::test]
async fn snapshots() {
    try_it("api/snapshots.md").await;
}

#[tokio::test]
async fn openapi() {
    try_it("api/openapi.md").await;
}

#[tokio::test]
async fn register_login() {
    try_it("auth/register-login.md").await;
}

#[tokio::test]
async fn sessions() {
    try_it("auth/sessions.md").await;
}

#[tokio::test]
async fn tokens() {
    try_it("auth/tokens.md").await;
}

#[tokio::test]
async fn auth_extractor() {
    try_it("auth/extractor.md").await;
}

#[tokio::test]
async fn authorization() {
    try_it("auth/authorization.md").await;
}

#[tokio::test]
async fn password_change() {
    try_it("auth/password-change.md").await;
}

#[tokio::test]
async fn password_reset() {
    try_it("auth/password-reset.md").await;
}

#[tokio::test]
async fn oauth_login() {
    try_it("auth/oauth-login.md").await;
}

#[tokio::test]
async fn sql_injection() {
    try_it("security/sql-injection.md").await;
}

#[tokio::test]
async fn xss() {
    try_it("security/xss.md").await;
}

#[tokio::test]
async fn mass_assignment() {
    try_it("security/mass-assignment.md").await;
}

#[tokio::test]
async fn access_control() {
    try_it("security/access-control.md").await;
}

#[tokio::test]
async fn rate_limiting() {
    try_it("security/rate-limiting.md").await;
}

#[tokio::test]
async fn headers_cors() {
    try_it("security/headers-cors.md").await;
}

#[tokio::test]
async fn csrf() {
    try_it("security/csrf.md").await;
}

#[tokio::test]
async fn secrets() {
    try_it("security/secrets.md").await;
}

#[tokio::test]
async fn webhooks() {
    try_it("security/webhooks.md").await;
}

#[tokio::test]
async fn limits() {
    try_it("security/limits.md").await;
}

#[tokio::test]
async fn path_traversal() {
    try_it("security/path-traversal.md").await;
}

#[tokio::test]
async fn ssrf() {
    try_it("security/ssrf.md").await;
}

#[tokio::test]
async fn encryption() {
    try_it("security/encryption.md").await;
}

#[tokio::test]
async fn sse() {
    try_it("production/sse.md").await;
}

#[tokio::test]
async fn jobs() {
    try_it("production/jobs.md").await;
}

#[tokio::test]
async fn caching() {
    try_it("production/caching.md").await;
}

#[tokio::test]
async fn observability() {
    try_it("production/observability.md").await;
}

#[tokio::test]
async fn scaling() {
    try_it("production/scaling.md").await;
}

#[tokio::test]
async fn websocket() {
    try_it("production/websocket.md").await;
}

#[tokio::test]
async fn deploy() {
    try_it("production/deploy.md").await;
}

#[tokio::test]
async fn graphql_schema() {
    try_it("graphql/schema.md").await;
}

#[tokio::test]
async fn graphql_mutations() {
    try_it("graphql/mutations.md").await;
}

#[tokio::test]
async fn dataloader() {
    try_it("graphql/dataloader.md").await;
}

#[tokio::test]
async fn graphql_limits() {
    try_it("graphql/limits.md").await;
}

/// A page of the lessons whose `console` blocks hold a `curl` command shows
/// what it prints, or will: it must be one of the pages above, or nothing
/// checks its transcripts.
#[test]
fn every_page_with_curl_commands_is_run() {
    let run: Vec<&str> = examples().iter().map(|example| example.page).collect();
    let src = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../src");
    // Every lesson's folder of the book, so a new lesson is covered from
    // its first page on.
    let mut lessons: Vec<String> = std::fs::read_dir(&src)
        .expect("the book's sources are readable")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            (entry.path().is_dir() && name != "instructor").then_some(name)
        })
        .collect();
    lessons.sort();
    assert!(
        lessons.len() >= 3,
        "the book's lesson folders were not found in {}",
        src.display()
    );
    for lesson in &lessons {
        let folder = src.join(lesson);
        let mut names: Vec<String> = std::fs::read_dir(&folder)
            .expect("the lesson's folder of the book is readable")
            .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
            .filter(|name| name.ends_with(".md"))
            .collect();
        names.sort();
        for name in names {
            let page = format!("{lesson}/{name}");
            let text = Page::open(&page);
            let curls = text.console_lines().into_iter().find(|(_, line)| {
                let command = line.strip_prefix("$ ").unwrap_or(line);
                command.starts_with("curl ")
            });
            if let Some((number, line)) = curls {
                assert!(
                    run.contains(&page.as_str()),
                    "book/src/{page}:{number}: `{line}` is a \"Try it\" command the transcripts \
                     test does not run: add the page to `examples()` in \
                     book/listings/tests/transcripts/try_it.rs, so what it prints is checked"
                );
            }
        }
    }
}

/// Runs every command of `page`, in order, and compares what each prints
/// with the lines under it.
async fn try_it(page: &str) {
    let example = examples()
        .into_iter()
        .find(|example| example.page == page)
        .expect("every page tested is in `examples()`");
    let page = Page::open(example.page);
    let folder = tempfile::tempdir().expect("a temporary folder is made");
    let mut server: Option<SocketAddr> = None;
    let mut jars = Jars::default();
    let mut commands = 0;
    for (number, command, shown) in page.console_commands() {
        let at = format!("{}:{number}", page.shown);
        let words = shell_words(command);
        let printed = match words.first().map(String::as_str) {
            Some("cargo") => {
                let args = example_args(&example, command, &at);
                let moved: Vec<String> = args
                    .iter()
                    .map(|arg| in_folder(arg, folder.path()))
                    .collect();
                server = Some(http::serve((example.app)(&moved, folder.path())).await);
                let mut printed = vec![(example.banner)(&args)];
                if shown.contains(&"^C") {
                    printed.push("^C".to_string());
                    printed.extend(example.after_ctrl_c.iter().map(|line| line.to_string()));
                }
                printed.join("\n")
            }
            Some("curl") => {
                let address = server
                    .unwrap_or_else(|| panic!("{at}: `{command}` comes before any `cargo run`"));
                curl(address, &words[1..], &mut jars, &at).await
            }
            Some("mv") if words.len() == 3 => {
                let from = in_folder(&words[1], folder.path());
                let to = in_folder(&words[2], folder.path());
                std::fs::rename(&from, &to)
                    .unwrap_or_else(|error| panic!("{at}: `{command}` failed: {error}"));
                String::new()
            }
            _ => panic!(
                "{at}: the test of the \"Try it\" boxes cannot run `{command}` \
                 (it knows `cargo run`, `curl` and `mv`)"
            ),
        };
        if std::env::var_os("TRY_IT_SHOW").is_some() {
            // For writing a box: `TRY_IT_SHOW=1 cargo test -p book-listings
            // --test transcripts try_it -- --nocapture` prints, not compares.
            println!("{at}\n$ {command}\n{printed}");
        } else {
            compare(&at, command, &shown, &printed);
        }
        commands += 1;
    }
    assert!(
        commands > 0,
        "{} has no \"Try it\" commands: a `console` block with `$ cargo run` and `$ curl`",
        page.shown
    );
}

/// The arguments after ` -- ` of a `cargo run` line, which must start with
/// the example's command.
fn example_args(example: &Example, command: &str, at: &str) -> Vec<String> {
    let Some(rest) = command.strip_prefix(example.command) else {
        panic!(
            "{at}: `{command}` does not run this exercise's example: `{}`",
            example.command
        );
    };
    match rest.trim().strip_prefix("--") {
        Some(args) => shell_words(args),
        None if rest.trim().is_empty() => Vec::new(),
        None => panic!("{at}: `{command}` passes its arguments without `--`"),
    }
}

/// `/tmp/x` as a path in the test's own folder; anything else as it is.
fn in_folder(arg: &str, folder: &Path) -> String {
    match arg.strip_prefix("/tmp/") {
        Some(name) => folder.join(name).display().to_string(),
        None => arg.to_string(),
    }
}

/// Sends what `curl ARGS` sends to the server at `address`, and returns
/// what curl prints.
async fn curl(address: SocketAddr, args: &[String], jars: &mut Jars, at: &str) -> String {
    let mut include_head = false;
    let mut send_cookies: Option<String> = None;
    let mut keep_cookies: Option<String> = None;
    let mut method = None;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut data: Option<String> = None;
    let mut url = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| panic!("{at}: curl's `{arg}` needs a value"))
                .clone()
        };
        match arg.as_str() {
            "-i" | "--include" => include_head = true,
            // Output unbuffered: what curl prints is the same.
            "-N" | "--no-buffer" => {}
            // No progress meter: what curl prints to standard output is the same.
            "-s" | "--silent" => {}
            // The target is sent as written, `..` and all, which is what
            // `--path-as-is` asks of curl.
            "--path-as-is" => {}
            "-X" | "--request" => method = Some(value()),
            "-H" | "--header" => {
                let header = value();
                let (name, value) = header
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{at}: `{header}` is no header"));
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
            "-d" | "--data" => data = Some(value()),
            "-b" | "--cookie" => send_cookies = Some(value()),
            "-c" | "--cookie-jar" => keep_cookies = Some(value()),
            flag if flag.starts_with('-') => {
                panic!("{at}: the test of the \"Try it\" boxes does not know curl's `{flag}`")
            }
            _ => url = Some(arg.clone()),
        }
    }
    let url = url.unwrap_or_else(|| panic!("{at}: curl has no URL"));
    let host = url.trim_start_matches("http://");
    let target = ["localhost:3000", "127.0.0.1:3000"]
        .iter()
        .find_map(|origin| host.strip_prefix(origin))
        .unwrap_or_else(|| panic!("{at}: the URL `{url}` is not on localhost:3000"));
    let target = if target.is_empty() { "/" } else { target };
    // curl sends `-d` data as a form unless told otherwise, with POST unless
    // `-X` says otherwise.
    let method = method.unwrap_or_else(|| if data.is_some() { "POST" } else { "GET" }.to_string());
    let mut request = Request::new(&method, target)
        .header("user-agent", "curl/8.5.0")
        .header("accept", "*/*");
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    // `-b name=value` sends that cookie; `-b FILE` the cookies of a jar
    // (none if no `-c FILE` wrote it yet).
    let cookie = match send_cookies {
        Some(cookies) if cookies.contains('=') => Some(cookies),
        Some(jar) => jars.cookie_header(&jar),
        None => None,
    };
    if let Some(cookie) = cookie {
        request = request.header("cookie", &cookie);
    }
    if let Some(data) = data {
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        request = request.body(&data);
    }
    let response = http::send(address, &request).await;
    if let Some(jar) = keep_cookies {
        jars.keep(&jar, &response.headers);
    }
    if include_head {
        response.shown(&[])
    } else {
        response.body
    }
}

/// curl's cookie jars (`-c FILE` writes one, `-b FILE` reads it), by file
/// name: each holds the cookies the responses set, as curl keeps them (a
/// `Max-Age` of 0 or less removes one). Other attributes are ignored: the
/// examples are all on one host, over plain HTTP.
#[derive(Default)]
struct Jars(std::collections::HashMap<String, Vec<(String, String)>>);

impl Jars {
    /// Keeps the cookies `headers` set in jar `file`.
    fn keep(&mut self, file: &str, headers: &[(String, String)]) {
        let jar = self.0.entry(file.to_string()).or_default();
        for (name, value) in headers {
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let mut parts = value.split(';');
            let Some((cookie, cookie_value)) = parts.next().and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            let (cookie, cookie_value) = (cookie.trim(), cookie_value.trim());
            let dropped = parts.any(|part| {
                part.split_once('=').is_some_and(|(attribute, age)| {
                    attribute.trim().eq_ignore_ascii_case("max-age")
                        && age.trim().parse::<i64>().is_ok_and(|age| age <= 0)
                })
            });
            jar.retain(|(kept, _)| kept != cookie);
            if !dropped {
                jar.push((cookie.to_string(), cookie_value.to_string()));
            }
        }
    }

    /// The `Cookie` header for jar `file`, if it holds any cookie.
    fn cookie_header(&self, file: &str) -> Option<String> {
        let jar = self.0.get(file).filter(|jar| !jar.is_empty())?;
        let pairs: Vec<String> = jar
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        Some(pairs.join("; "))
    }
}

/// Fails unless the lines the page shows under `command` are what it printed.
fn compare(at: &str, command: &str, shown: &[&str], printed: &str) {
    let mut shown: Vec<&str> = shown.to_vec();
    while shown.last() == Some(&"") {
        shown.pop();
    }
    let mut real: Vec<&str> = printed.lines().collect();
    while real.last() == Some(&"") {
        real.pop();
    }
    let differs = shown.len() != real.len()
        || shown
            .iter()
            .zip(&real)
            .any(|(shown, real)| !same_line(shown, real));
    if differs {
        let first = shown
            .iter()
            .zip(&real)
            .position(|(shown, real)| !same_line(shown, real))
            .unwrap_or(shown.len().min(real.len()));
        panic!(
            "{at}: `{command}` prints something else than the page shows\n  \
             the book: {}\n  real:     {}\nWhat it really prints:\n{}",
            shown.get(first).copied().unwrap_or("(nothing more)"),
            real.get(first).copied().unwrap_or("(nothing more)"),
            book::indent(printed)
        );
    }
}

/// Whether a line of a "Try it" box shows `real`: as `book::same_line`
/// decides, or the same but for the RFC 3339 UTC timestamps the shop's
/// database makes (`"created_at":"2026-11-30T09:15:00Z"`), which change
/// from run to run.
fn same_line(book: &str, real: &str) -> bool {
    book::same_line(book, real)
        || mask_timestamps(book) == mask_timestamps(real)
        || fills_placeholders(book, real)
        || countdown_within_seconds(book, real)
        || latency_within(book, real)
        || same_graphql_answer(book, real)
}

/// A GraphQL answer (a JSON object with `data` or `errors`) the same but
/// for the order of an object's members: async-graphql resolves an
/// object's fields concurrently and writes each as it finishes, so two
/// fields read from the database come in either order from run to run
/// (the spec asks for the document's order, §7.2.2, as a SHOULD).
/// `serde_json::Value`'s objects compare without regard to order.
fn same_graphql_answer(book: &str, real: &str) -> bool {
    let answer = |line: &str| {
        serde_json::from_str::<serde_json::Value>(&mask_timestamps(line))
            .ok()
            .filter(|value| value.get("data").is_some() || value.get("errors").is_some())
    };
    matches!((answer(book), answer(real)), (Some(book), Some(real)) if book == real)
}

/// A latency histogram's samples depend on how fast the machine answered:
/// the book's `<seconds>` stands for the value of a `..._seconds_sum`
/// sample, and a `..._seconds_bucket` below `+Inf` may count fewer requests
/// than the book shows (a slower request is counted from a higher bucket
/// on), never more. The series, and every count, must be the book's.
fn latency_within(book: &str, real: &str) -> bool {
    let (Some((series, shown)), Some((real_series, real))) =
        (book.rsplit_once(' '), real.rsplit_once(' '))
    else {
        return false;
    };
    if series != real_series {
        return false;
    }
    let name = series.split('{').next().unwrap_or_default();
    if name.ends_with("_seconds_sum") {
        return shown == "<seconds>" && real.parse::<f64>().is_ok_and(|sum| sum >= 0.0);
    }
    if name.ends_with("_seconds_bucket") && !series.contains("le=\"+Inf\"") {
        return match (shown.parse::<u64>(), real.parse::<u64>()) {
            (Ok(shown), Ok(real)) => real <= shown,
            _ => false,
        };
    }
    false
}

/// A `Retry-After`, or a `max-age` that counts what is left of a cached
/// entry's freshness, counts down on the real clock while a box runs: the
/// book's `retry-after: 900` or `max-age=60` stays true of a run where a
/// second or two turned between the request that started the count and the
/// one that reads it (a loaded machine), as the pages say. The rest of the
/// line must be the book's; never more seconds, and never a larger number.
fn countdown_within_seconds(book: &str, real: &str) -> bool {
    const COUNTDOWNS: [&str; 2] = ["retry-after: ", "max-age="];
    COUNTDOWNS.iter().any(|marker| {
        let split = |line: &str| {
            let (before, rest) = line.split_once(marker)?;
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let value = rest[..digits].parse::<u64>().ok()?;
            Some((before.to_string(), value, rest[digits..].to_string()))
        };
        match (split(book), split(real)) {
            (Some((before, shown, after)), Some((real_before, real, real_after))) => {
                before == real_before && after == real_after && real <= shown && shown - real <= 2
            }
            _ => false,
        }
    })
}

/// Whether `real` is the book's line with each `<random>` standing for a
/// random token (22 or more characters of URL-safe base64: a state, a PKCE
/// challenge, a login id) and each `<port>` for a port number (a fake
/// service's free port). A placeholder takes every character it may, so
/// the book's text after it must start with another kind (`&`, `;`, `/`).
fn fills_placeholders(book: &str, real: &str) -> bool {
    const PLACEHOLDERS: [&str; 2] = ["<random>", "<port>"];
    if !PLACEHOLDERS
        .iter()
        .any(|placeholder| book.contains(placeholder))
    {
        return false;
    }
    let (mut book, mut real) = (book, real);
    loop {
        let next = PLACEHOLDERS
            .iter()
            .filter_map(|placeholder| Some((book.find(placeholder)?, *placeholder)))
            .min();
        let Some((at, placeholder)) = next else {
            return book == real;
        };
        let Some(rest) = real.strip_prefix(&book[..at]) else {
            return false;
        };
        let (least, fits): (usize, fn(u8) -> bool) = if placeholder == "<port>" {
            (1, |byte| byte.is_ascii_digit())
        } else {
            (22, |byte| {
                byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
            })
        };
        let taken = rest.bytes().take_while(|&byte| fits(byte)).count();
        if taken < least {
            return false;
        }
        real = &rest[taken..];
        book = &book[at + placeholder.len()..];
    }
}

/// `text` with every `2026-11-30T09:15:00Z` replaced by `<timestamp>`.
fn mask_timestamps(text: &str) -> String {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    let fits = |window: &[u8]| {
        window.iter().zip(SHAPE).all(|(byte, shape)| match shape {
            b'd' => byte.is_ascii_digit(),
            shape => byte == shape,
        })
    };
    let bytes = text.as_bytes();
    let mut masked = String::new();
    let mut start = 0;
    let mut index = 0;
    while index + SHAPE.len() <= bytes.len() {
        if fits(&bytes[index..index + SHAPE.len()]) {
            masked.push_str(&text[start..index]);
            masked.push_str("<timestamp>");
            index += SHAPE.len();
            start = index;
        } else {
            index += 1;
        }
    }
    masked.push_str(&text[start..]);
    masked
}

/// The words of a shell command: split on spaces, quotes removed, and
/// everything from an unquoted ` #` on left out as a comment.
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for character in command.chars() {
        match (quote, character) {
            (Some(open), close) if close == open => quote = None,
            (Some(_), character) => word.get_or_insert_with(String::new).push(character),
            (None, '\'' | '"') => {
                quote = Some(character);
                word.get_or_insert_with(String::new);
            }
            (None, '#') if word.is_none() => break,
            (None, ' ') => words.extend(word.take()),
            (None, character) => word.get_or_insert_with(String::new).push(character),
        }
    }
    words.extend(word);
    words
}
