//! The capstone's black-box grader.
//!
//! It starts the learner's shop binary on a free port with a fresh database
//! and a fake payment gateway, then runs ordered stages of scenarios against
//! it over real HTTP, as any client would, and stops at the first failing
//! scenario. Nothing the shop prints or returns can forge a verdict: the
//! shop is another process, and only its answers are judged.
//!
//! The capstone's test file (`lessons/07-capstone/shop/tests/capstone.rs`)
//! has one libtest test per scenario, each calling [`scenario`]: the first
//! to run grades the whole shop once, every test then reports its own
//! scenario. So the checker runs, times out, reports and grades the
//! capstone as it does every other exercise, and libtest confirms each
//! result.

#![forbid(unsafe_code)]

pub mod failure;
pub mod gateway;
pub mod http;
pub mod random;
pub mod shop;
pub mod stages;
pub mod support;
pub mod token;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::OnceLock;

use futures_util::FutureExt as _;

pub use failure::Failure;
use gateway::Gateway;
use http::Http;
use random::Rng;
use shop::{Launch, Output, Shop, Start};
pub use stages::STAGES;

/// The variable that replays a run (`cargo checker check capstone --seed N`).
pub const SEED_VAR: &str = "GRADER_SEED";
/// The variable that runs one stage (`--stage NAME`).
pub const STAGE_VAR: &str = "GRADER_STAGE";

#[derive(Debug, Clone)]
pub struct Options {
    /// The shop's binary.
    pub shop: PathBuf,
    pub seed: u64,
    /// Only this stage, or all of them in order.
    pub stage: Option<String>,
}

impl Options {
    /// The options the checker gives through the environment.
    pub fn from_env(shop: &str) -> Options {
        let seed = std::env::var(SEED_VAR)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(Rng::fresh_seed);
        let stage = std::env::var(STAGE_VAR).ok().filter(|s| !s.is_empty());
        Options {
            shop: PathBuf::from(shop),
            seed,
            stage,
        }
    }
}

/// What became of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The message: the verdict first, then the request, expected and got.
    Failed(String),
    /// Why it did not run.
    NotRun(String),
}

#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub stage: &'static str,
    pub name: &'static str,
    pub verdict: Verdict,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    /// Every scenario of every stage, in order.
    pub results: Vec<ScenarioResult>,
}

impl Report {
    pub fn verdict(&self, stage: &str, name: &str) -> Option<&Verdict> {
        self.results
            .iter()
            .find(|r| r.stage == stage && r.name == name)
            .map(|r| &r.verdict)
    }

    /// The first scenario that failed, if any.
    pub fn first_failure(&self) -> Option<&ScenarioResult> {
        self.results
            .iter()
            .find(|r| matches!(r.verdict, Verdict::Failed(_)))
    }

    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.verdict == Verdict::Passed)
            .count()
    }
}

/// One test of the capstone's test file: grades the shop (once per test
/// binary), then passes or fails as its scenario did.
#[track_caller]
pub fn scenario(shop: &str, stage: &str, name: &str) {
    static REPORT: OnceLock<Report> = OnceLock::new();
    let report = REPORT.get_or_init(|| grade(&Options::from_env(shop)));
    match report.verdict(stage, name) {
        Some(Verdict::Passed) => {}
        Some(Verdict::Failed(message)) | Some(Verdict::NotRun(message)) => panic!("{message}"),
        None => panic!(
            "the grader has no scenario `{stage}::{name}`: the test file and the grader disagree (a bug in the workbook; please report it)"
        ),
    }
}

/// A stopped stage: the scenario that failed is recorded.
#[derive(Debug)]
pub struct Stop;

/// The results of one stage's scenarios, as they run.
pub struct Stage {
    pub name: &'static str,
    scenarios: &'static [&'static str],
    results: Vec<(&'static str, Result<(), Failure>)>,
}

impl Stage {
    fn new(def: &stages::StageDef) -> Stage {
        Stage {
            name: def.name,
            scenarios: def.scenarios,
            results: Vec::new(),
        }
    }

    /// Records `scenario`'s result; a failure stops the stage.
    pub fn check<T>(
        &mut self,
        scenario: &'static str,
        result: Result<T, Failure>,
    ) -> Result<T, Stop> {
        debug_assert!(
            self.scenarios.contains(&scenario),
            "stage {} lists no scenario {scenario}",
            self.name
        );
        match result {
            Ok(value) => {
                self.results.push((scenario, Ok(())));
                Ok(value)
            }
            Err(failure) => {
                self.results.push((scenario, Err(failure)));
                Err(Stop)
            }
        }
    }

    /// The scenario running now: the first not yet recorded.
    fn current(&self) -> &'static str {
        self.scenarios
            .iter()
            .find(|s| !self.results.iter().any(|(r, _)| r == *s))
            .copied()
            .unwrap_or(self.scenarios[0])
    }

    fn fail_current(&mut self, failure: Failure) {
        let current = self.current();
        self.results.push((current, Err(failure)));
    }
}

/// An account the grader made (or the admin), logged in or not.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub password: String,
    pub name: String,
    /// A bearer token from `POST /login`.
    pub token: String,
}

/// What every stage works with.
pub struct Ctx {
    /// The client, pointed at the running shop.
    pub http: Http,
    pub gateway: Gateway,
    pub rng: Rng,
    pub seed: u64,
    /// How the running shop was started: binary and environment.
    pub launch: Launch,
    pub shop: Option<Shop>,
    /// The output of every shop started in this run, for the secrets check.
    pub outputs: Vec<Output>,
    /// Every secret the shop was given and every password a client sent:
    /// none may appear in what the shop prints.
    pub secrets: Vec<String>,
    pub admin_email: String,
    pub admin_password: String,
    /// The admin's token, once a stage logged in as admin.
    pub admin_token: Option<String>,
    /// A folder for databases, removed with the run.
    pub dir: tempfile::TempDir,
}

impl Ctx {
    /// Starts a shop with `launch` and waits for it to listen. The shop the
    /// stages talk to is not touched.
    pub fn start(&mut self, launch: &Launch) -> Result<Start, Failure> {
        let start = tokio::task::block_in_place(|| Shop::start(launch, shop::ANNOUNCE_TIMEOUT))?;
        let output = match &start {
            Start::Listening(shop) => shop.output.clone(),
            Start::Exited(_, output) | Start::Silent(output) => output.clone(),
        };
        self.outputs.push(output);
        Ok(start)
    }

    /// Stops the running shop with SIGTERM: its exit status, `None` if it
    /// had to be killed after [`shop::EXIT_TIMEOUT`].
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut shop = self.shop.take()?;
        tokio::task::block_in_place(|| shop.stop())
    }

    /// Starts the shop the stages talk to with `launch` (the same database
    /// unless `launch` says otherwise), and waits until it is ready.
    pub async fn restart(&mut self, launch: Launch) -> Result<(), Failure> {
        if let Some(mut old) = self.shop.take() {
            tokio::task::block_in_place(|| old.stop());
        }
        let shop = listening(self.start(&launch)?, &launch)?;
        self.http = Http::new(&shop.url);
        self.launch = launch;
        self.shop = Some(shop);
        support::wait_ready(&self.http).await
    }

    /// If the shop the stages talk to has exited: how, and its last words.
    pub fn shop_death(&mut self) -> Option<String> {
        let shop = self.shop.as_mut()?;
        let status = shop.exit_status()?;
        Some(format!(
            "the shop is not running any more ({}); the last it wrote:\n{}",
            shop::describe(&status),
            shop.output.last_words(15)
        ))
    }
}

/// The shop that listens, or a failure that says what it did instead.
pub fn listening(start: Start, launch: &Launch) -> Result<Shop, Failure> {
    let replay = format!("start it as the grader did:\n{}", launch.command_line());
    match start {
        Start::Listening(shop) => Ok(shop),
        Start::Exited(status, output) => Err(Failure::new(format!(
            "the shop exited before it listened ({})",
            shop::describe(&status)
        ))
        .expected("the line `listening on http://127.0.0.1:PORT` on standard output, then it keeps running")
        .actual(format!("it exited; the last it wrote:\n{}", output.last_words(15)))
        .hint(replay)),
        Start::Silent(output) if output.announced_on_stderr() => Err(Failure::new(
            "the shop announced that it listens on standard error, not on standard output",
        )
        .expected("the line `listening on http://127.0.0.1:PORT` on standard output")
        .actual(format!("on standard error:\n{}", output.last_words(15)))
        .hint(format!("print it with `println!` (a log macro or `eprintln!` writes to standard error, which the grader only keeps for messages); {replay}"))),
        Start::Silent(output) => Err(Failure::new(format!(
            "the shop never announced that it listens ({} s)",
            shop::ANNOUNCE_TIMEOUT.as_secs()
        ))
        .expected("the line `listening on http://127.0.0.1:PORT` on standard output, with the port it got for SHOP_BIND_ADDR=127.0.0.1:0")
        .actual(format!("nothing of that form; the last it wrote:\n{}", output.last_words(15)))
        .hint(format!("print the line (println!, not a log macro) once the listener is bound, with the address `listener.local_addr()` gives; {replay}"))),
    }
}

/// Grades the shop: every stage in order (or the one asked for), stopping
/// at the first failure. Never panics; the shop is always killed.
pub fn grade(options: &Options) -> Report {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    runtime.block_on(grade_async(options))
}

async fn grade_async(options: &Options) -> Report {
    let selected: Vec<&stages::StageDef> = match &options.stage {
        None => STAGES.iter().collect(),
        Some(name) => STAGES.iter().filter(|s| s.name == name).collect(),
    };
    let mut results: Vec<ScenarioResult> = Vec::new();
    let not_selected = |stage: &str| {
        format!(
            "not run: only the `{}` stage was asked for ({stage} is another)",
            options.stage.as_deref().unwrap_or("")
        )
    };
    if selected.is_empty() {
        let names: Vec<&str> = STAGES.iter().map(|s| s.name).collect();
        let message = format!(
            "there is no stage `{}`: the stages are {}",
            options.stage.as_deref().unwrap_or(""),
            names.join(", ")
        );
        return Report {
            seed: options.seed,
            results: all_scenarios(|_| Verdict::NotRun(message.clone())),
        };
    }
    let replay = |stage: &str| {
        format!(
            "(this run's seed is {seed}: `cargo checker check capstone --stage {stage} --seed {seed}` replays it)",
            seed = options.seed
        )
    };

    let mut ctx = match setup(options).await {
        Ok(ctx) => ctx,
        Err(failure) => {
            let first = selected[0];
            let message = format!("{failure}\n{}", replay(first.name));
            let mut verdicts = all_scenarios(|_| {
                Verdict::NotRun("not run: the shop did not start (see the first failure)".into())
            });
            for result in &mut verdicts {
                if result.stage == first.name && result.name == first.scenarios[0] {
                    result.verdict = Verdict::Failed(message.clone());
                }
            }
            return Report {
                seed: options.seed,
                results: verdicts,
            };
        }
    };

    let mut stopped: Option<String> = None;
    for def in STAGES {
        if !selected.iter().any(|s| s.name == def.name) {
            for name in def.scenarios {
                results.push(ScenarioResult {
                    stage: def.name,
                    name,
                    verdict: Verdict::NotRun(not_selected(def.name)),
                });
            }
            continue;
        }
        if let Some(first) = &stopped {
            for name in def.scenarios {
                results.push(ScenarioResult {
                    stage: def.name,
                    name,
                    verdict: Verdict::NotRun(format!(
                        "not run: `{first}` failed first (the stages run in order and stop at the first failure)"
                    )),
                });
            }
            continue;
        }
        let mut stage = Stage::new(def);
        // Each stage draws from its own sequence, so `--stage S --seed N`
        // gives stage S the very inputs it had in the whole run.
        ctx.rng = Rng::new(stage_seed(options.seed, def.name));
        let run = AssertUnwindSafe(stages::run(def.name, &mut ctx, &mut stage))
            .catch_unwind()
            .await;
        if let Err(panic) = run {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into());
            stage.fail_current(Failure::new(format!(
                "the grader itself failed here: {text}"
            )).hint("this is a bug in the workbook's grader, not in your shop: please report it with the seed"));
        }
        let death = ctx.shop_death();
        for name in def.scenarios {
            let verdict = match stage.results.iter().find(|(r, _)| r == name) {
                Some((_, Ok(()))) => Verdict::Passed,
                Some((_, Err(failure))) => {
                    let mut message = failure.to_string();
                    if let Some(death) = &death {
                        message.push_str(&format!("\nnote: {death}"));
                    }
                    message.push('\n');
                    message.push_str(&replay(def.name));
                    stopped.get_or_insert_with(|| format!("{}::{name}", def.name));
                    Verdict::Failed(message)
                }
                None => match &stopped {
                    Some(first) => Verdict::NotRun(format!(
                        "not run: `{first}` failed first (the stages run in order and stop at the first failure)"
                    )),
                    None => Verdict::Failed(format!(
                        "the `{}` stage never ran this scenario (a bug in the workbook's grader; please report it)",
                        def.name
                    )),
                },
            };
            results.push(ScenarioResult {
                stage: def.name,
                name,
                verdict,
            });
        }
    }
    if let Some(mut shop) = ctx.shop.take() {
        tokio::task::block_in_place(|| shop.kill());
    }
    Report {
        seed: options.seed,
        results,
    }
}

/// The seed of one stage's inputs: the run's seed and the stage's name.
fn stage_seed(seed: u64, stage: &str) -> u64 {
    // FNV-1a: stable across platforms and Rust versions, unlike `Hash`.
    stage
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325 ^ seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn all_scenarios(verdict: impl Fn(&str) -> Verdict) -> Vec<ScenarioResult> {
    STAGES
        .iter()
        .flat_map(|def| {
            def.scenarios.iter().map(|name| ScenarioResult {
                stage: def.name,
                name,
                verdict: verdict(def.name),
            })
        })
        .collect()
}

/// The gateway, the secrets, the shop started and ready.
async fn setup(options: &Options) -> Result<Ctx, Failure> {
    let mut rng = Rng::new(options.seed);
    let dir = tempfile::Builder::new()
        .prefix("capstone-")
        .tempdir()
        .map_err(|e| Failure::new(format!("the grader could not make a temporary folder: {e}")))?;
    let api_key = rng.alnum(32);
    let gateway = Gateway::start(api_key.clone()).await.map_err(|e| {
        Failure::new(format!(
            "the grader could not start its payment gateway: {e}"
        ))
    })?;
    let token_secret = rng.hex(64);
    let admin_email = rng.email("admin");
    let admin_password = rng.alnum(24);
    let env = vec![
        ("SHOP_BIND_ADDR".to_string(), "127.0.0.1:0".to_string()),
        (
            "SHOP_DATABASE_PATH".to_string(),
            shop::database_path(dir.path(), "shop"),
        ),
        ("SHOP_PAYMENT_URL".to_string(), gateway.url.clone()),
        ("SHOP_PAYMENT_API_KEY".to_string(), api_key.clone()),
        ("SHOP_PAYMENT_TIMEOUT_MS".to_string(), "500".to_string()),
        ("SHOP_TOKEN_SECRET".to_string(), token_secret.clone()),
        ("SHOP_ADMIN_EMAIL".to_string(), admin_email.clone()),
        ("SHOP_ADMIN_PASSWORD".to_string(), admin_password.clone()),
        ("SHOP_RUN_JOBS".to_string(), "true".to_string()),
    ];
    let launch = Launch {
        binary: options.shop.clone(),
        env,
    };
    let mut ctx = Ctx {
        http: Http::new("http://127.0.0.1:0"),
        gateway,
        rng,
        seed: options.seed,
        launch: launch.clone(),
        shop: None,
        outputs: Vec::new(),
        secrets: vec![token_secret, api_key, admin_password.clone()],
        admin_email,
        admin_password,
        admin_token: None,
        dir,
    };
    ctx.restart(launch).await?;
    Ok(ctx)
}
