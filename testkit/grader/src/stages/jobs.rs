//! `jobs`: the confirmation email, written once by the shop's worker; a
//! graceful stop; a restart without the worker (the job waits), then with
//! it (the job runs, and no order gets a second email).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::live;
use crate::failure::Failure;
use crate::http::Http;
use crate::shop;
use crate::support::{self, id_of};
use crate::{Account, Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "paid_order_gets_exactly_one_confirmation",
    "sigterm_exits_with_status_0",
    "without_the_worker_the_confirmation_waits",
    "the_worker_catches_up_after_a_restart",
];

/// How long a confirmation may take after the checkout (or the restart).
pub(crate) const CONFIRMATION_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let first = stage.check(
        "paid_order_gets_exactly_one_confirmation",
        one_confirmation(ctx).await,
    )?;
    stage.check("sigterm_exits_with_status_0", sigterm(ctx))?;
    let waiting = stage.check(
        "without_the_worker_the_confirmation_waits",
        without_worker(ctx, &first).await,
    )?;
    stage.check(
        "the_worker_catches_up_after_a_restart",
        catches_up(ctx, &first, waiting).await,
    )?;
    Ok(())
}

/// The stage's customer and product.
struct First {
    customer: Account,
    /// The email as the shop stores it (trimmed, its case kept).
    stored_email: String,
    product: i64,
}

/// The order's confirmations (emails whose subject is `Your order #{id}`),
/// as `token` sees them.
pub(crate) async fn confirmations(
    http: &Http,
    token: &str,
    order_id: i64,
) -> Result<Vec<Value>, Failure> {
    let reply = http
        .get(&format!("/orders/{order_id}/notifications"))
        .bearer(token)
        .send()
        .await?;
    let body = reply.expect_json(200, "the order's emails, an array")?;
    let Some(emails) = body.as_array() else {
        return Err(reply.fail(
            format!("{}: the body is not an array", reply.sent.line()),
            "200 OK, [{\"recipient\": ..., \"subject\": ..., \"body\": ...}]",
        ));
    };
    let subject = format!("Your order #{order_id}");
    Ok(emails
        .iter()
        .filter(|e| e.get("subject").and_then(Value::as_str) == Some(subject.as_str()))
        .cloned()
        .collect())
}

/// Polls until the order has a confirmation, up to `deadline`; fails if it
/// has none by then or ever more than one. Returns the confirmation.
pub(crate) async fn await_confirmation(
    http: &Http,
    token: &str,
    order_id: i64,
    deadline: Instant,
    within: &str,
) -> Result<Value, Failure> {
    loop {
        let found = confirmations(http, token, order_id).await?;
        match found.len() {
            0 if Instant::now() >= deadline => {
                return Err(Failure::new(format!(
                    "order {order_id} got no confirmation {within}"
                ))
                .request(format!(
                    "curl -i {}/orders/{order_id}/notifications -H 'authorization: Bearer {token}'",
                    http.base
                ))
                .expected(format!(
                    "an email with \"subject\": \"Your order #{order_id}\""
                ))
                .actual("no email with that subject")
                .hint("the checkout stores an order_confirmation job in the transaction that makes the order paid; a worker (a spawned task polling the jobs table every few hundred ms) writes the email to the outbox"));
            }
            0 => tokio::time::sleep(Duration::from_millis(100)).await,
            1 => return Ok(found[0].clone()),
            n => return Err(more_than_one(http, token, order_id, n)),
        }
    }
}

fn more_than_one(http: &Http, token: &str, order_id: i64, n: usize) -> Failure {
    Failure::new(format!("order {order_id} has {n} confirmations"))
        .request(format!(
            "curl -i {}/orders/{order_id}/notifications -H 'authorization: Bearer {token}'",
            http.base
        ))
        .expected("exactly one, however often the job runs")
        .hint("claim a job before running it (UPDATE ... WHERE status = 'queued' RETURNING), and write the email and mark the job done in one transaction, or make the outbox unique per order and kind (INSERT OR IGNORE)")
}

/// The order has exactly one confirmation now.
pub(crate) async fn exactly_one(http: &Http, token: &str, order_id: i64) -> Result<(), Failure> {
    let n = confirmations(http, token, order_id).await?.len();
    ensure!(n == 1, more_than_one(http, token, order_id, n));
    Ok(())
}

async fn one_confirmation(ctx: &mut Ctx) -> Result<First, Failure> {
    let marker = ctx.rng.lower(8);
    let (price, stock) = (ctx.rng.price(), ctx.rng.range(20, 40));
    let product = live::new_product(ctx, &marker, price, stock).await?;
    // An email with capitals and spaces around it: stored trimmed, its case
    // kept, and that is the recipient.
    let lower = ctx.rng.email("jobs");
    let mut capitalised: Vec<char> = lower.chars().collect();
    capitalised[0] = capitalised[0].to_ascii_uppercase();
    let stored_email: String = capitalised.into_iter().collect();
    let stored_email = stored_email.replacen("@", "@X", 1);
    let password = ctx.rng.password();
    let name = ctx.rng.person();
    let customer =
        support::customer_with(ctx, &format!("  {stored_email} "), &password, &name).await?;
    let quantity = ctx.rng.range(1, 3);
    let order = live::buy(ctx, &customer.token, product, quantity).await?;
    let paid_at = Instant::now();
    let order_id = id_of(&order).unwrap_or_default();
    let email = await_confirmation(
        &ctx.http,
        &customer.token,
        order_id,
        paid_at + CONFIRMATION_TIMEOUT,
        "within 10 s of the checkout's 201",
    )
    .await?;
    let recipient = email.get("recipient").and_then(Value::as_str);
    let body = email.get("body").and_then(Value::as_str).unwrap_or("");
    let shown = format!(
        "curl -i {}/orders/{order_id}/notifications -H 'authorization: Bearer {}'",
        ctx.http.base, customer.token
    );
    ensure!(
        recipient == Some(stored_email.as_str()),
        Failure::new(format!(
            "the confirmation of order {order_id} is addressed to {}, not to the customer's email as stored",
            recipient.map(|r| format!("`{r}`")).unwrap_or("nobody (no `recipient` string)".into())
        ))
        .request(shown.clone())
        .expected(format!("\"recipient\": \"{stored_email}\" (registered as \"  {stored_email} \": trimmed, its case kept)"))
        .actual(email.to_string())
    );
    ensure!(
        body.contains(&format!("#{order_id}")),
        Failure::new(format!(
            "the confirmation of order {order_id} has a `body` without `#{order_id}`"
        ))
        .request(shown.clone())
        .expected(format!("a non-empty body that contains #{order_id}"))
        .actual(email.to_string())
    );
    // An admin sees the order's emails too.
    let admin = support::admin_token(ctx).await?;
    exactly_one(&ctx.http, &admin, order_id).await?;
    // Still one, three seconds later.
    tokio::time::sleep(Duration::from_secs(3)).await;
    exactly_one(&ctx.http, &customer.token, order_id).await?;
    Ok(First {
        customer,
        stored_email,
        product,
    })
}

fn sigterm(ctx: &mut Ctx) -> Result<(), Failure> {
    let command = ctx.launch.command_line();
    let started = Instant::now();
    let status = ctx.stop();
    match status {
        Some(status) if status.code() == Some(0) => Ok(()),
        Some(status) => Err(Failure::new(format!(
            "after SIGTERM the shop exited with {}, not exit status 0",
            shop::describe(&status)
        ))
        .request(format!("{command}   (then: kill -TERM <its pid>)"))
        .expected("exit status 0 within 10 s")
        .hint("listen for SIGTERM (tokio::signal::unix) and give axum::serve a graceful shutdown; then stop the worker and return from main normally")),
        None => Err(Failure::new(format!(
            "the shop did not exit within {} s of SIGTERM (it was killed after {:.1} s)",
            shop::EXIT_TIMEOUT.as_secs(),
            started.elapsed().as_secs_f64()
        ))
        .request(format!("{command}   (then: kill -TERM <its pid>)"))
        .expected("exit status 0 within 10 s")
        .hint("without a graceful shutdown a signal handler that catches SIGTERM and does nothing keeps the shop alive; with one, a task that never ends (the worker's loop, an event stream) can hold it: make them stop on the same signal")),
    }
}

/// The order made while the worker was off.
struct Waiting {
    order_id: i64,
}

async fn without_worker(ctx: &mut Ctx, first: &First) -> Result<Waiting, Failure> {
    let launch = ctx.launch.with("SHOP_RUN_JOBS", Some("false"));
    ctx.restart(launch).await?;
    let order = live::buy(ctx, &first.customer.token, first.product, 1).await?;
    let order_id = id_of(&order).unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let found = confirmations(&ctx.http, &first.customer.token, order_id).await?;
    ensure!(
        found.is_empty(),
        Failure::new(format!(
            "order {order_id} got a confirmation though the shop runs with SHOP_RUN_JOBS=false"
        ))
        .request(ctx.launch.command_line())
        .expected("no email: the job waits in the database for a shop that runs the worker")
        .actual(serde_json::to_string(&found).unwrap_or_default())
        .hint(
            "start the worker only when SHOP_RUN_JOBS is `true`; the checkout only stores the job"
        )
    );
    Ok(Waiting { order_id })
}

async fn catches_up(ctx: &mut Ctx, first: &First, waiting: Waiting) -> Result<(), Failure> {
    let launch = ctx.launch.with("SHOP_RUN_JOBS", Some("true"));
    ctx.restart(launch).await?;
    let ready = Instant::now();
    let token = first.customer.token.clone();

    // The earlier tokens still work.
    let reply = ctx.http.get("/me").bearer(&token).send().await?;
    let me = reply.expect_json(200, "the customer: a token from before the restarts").map_err(|f| {
        f.hint("tokens are signed with SHOP_TOKEN_SECRET and name an account in the database: both survive a restart")
    })?;
    ensure!(
        id_of(&me) == Some(first.customer.id)
            && me.get("email").and_then(Value::as_str) == Some(first.stored_email.as_str()),
        reply.fail(
            "GET /me after the restarts does not answer the same customer",
            format!(
                "the customer {} ({})",
                first.customer.id, first.stored_email
            ),
        )
    );
    let admin = support::admin_token(ctx).await?;

    let email = await_confirmation(
        &ctx.http,
        &token,
        waiting.order_id,
        ready + CONFIRMATION_TIMEOUT,
        "within 10 s of the shop's restart with SHOP_RUN_JOBS=true (the job stored while the worker was off)",
    )
    .await?;
    ensure!(
        email.get("recipient").and_then(Value::as_str) == Some(first.stored_email.as_str()),
        Failure::new(format!(
            "the confirmation of order {} is not addressed to the customer's email as stored",
            waiting.order_id
        ))
        .expected(format!("\"recipient\": \"{}\"", first.stored_email))
        .actual(email.to_string())
    );

    // Every earlier order: exactly one (a job that ran before the restart
    // must not run again).
    let reply = ctx.http.get("/admin/orders").bearer(&admin).send().await?;
    let orders = reply.expect_json(200, "every order")?;
    let ids: Vec<i64> = orders
        .as_array()
        .map(|all| all.iter().filter_map(id_of).collect())
        .unwrap_or_default();
    ensure!(
        ids.contains(&waiting.order_id),
        reply.fail(
            format!(
                "GET /admin/orders does not list order {} after the restart",
                waiting.order_id
            ),
            "every order, those made before the restarts too",
        )
    );
    for id in &ids {
        await_confirmation(
            &ctx.http,
            &admin,
            *id,
            ready + CONFIRMATION_TIMEOUT,
            "within 10 s of the restart",
        )
        .await?;
    }
    // A job that ran again late would show as a second email now.
    for id in &ids {
        exactly_one(&ctx.http, &admin, *id).await?;
    }
    Ok(())
}
