//! `load`: 200 checkouts at once for one product whose stock cannot serve
//! them all, half with a code whose uses run out; then 100 at once with a
//! quarter of the cards declined. Nothing oversold, no `5xx`, every
//! counter exact, every order charged once and confirmed.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::jobs;
use crate::failure::Failure;
use crate::gateway::Answer;
use crate::http::{Call, Http, Reply, status_line};
use crate::support::{self, id_of};
use crate::{Account, Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "first_round_answers_every_checkout_in_time",
    "first_round_never_oversells",
    "first_round_counts_code_uses_exactly",
    "first_round_orders_match_the_charges",
    "first_round_confirms_every_order",
    "second_round_answers_every_checkout_in_time",
    "second_round_never_oversells",
    "second_round_orders_match_the_charges",
    "second_round_confirms_every_order",
];

/// How long one checkout may take under load.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long every order of a round may take to get its confirmation.
const CONFIRMATIONS_TIMEOUT: Duration = Duration::from_secs(30);
/// How many registrations (two argon2 hashes each) run at once.
const ENROL_BATCH: usize = 16;

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let first = stage.check(
        "first_round_answers_every_checkout_in_time",
        first_round(ctx).await,
    )?;
    stage.check(
        "first_round_never_oversells",
        never_oversells(ctx, &first).await,
    )?;
    stage.check(
        "first_round_counts_code_uses_exactly",
        code_uses(ctx, &first).await,
    )?;
    stage.check(
        "first_round_orders_match_the_charges",
        orders_match_charges(ctx, &first).await,
    )?;
    stage.check(
        "first_round_confirms_every_order",
        confirms_every_order(ctx, &first).await,
    )?;
    let second = stage.check(
        "second_round_answers_every_checkout_in_time",
        second_round(
            ctx,
            first.buyers.iter().map(|b| b.account.clone()).collect(),
        )
        .await,
    )?;
    stage.check(
        "second_round_never_oversells",
        never_oversells(ctx, &second).await,
    )?;
    stage.check(
        "second_round_orders_match_the_charges",
        orders_match_charges(ctx, &second).await,
    )?;
    stage.check(
        "second_round_confirms_every_order",
        confirms_every_order(ctx, &second).await,
    )?;
    Ok(())
}

struct Buyer {
    account: Account,
    quantity: i64,
    /// Sends the round's code.
    with_code: bool,
    payment: String,
    /// The gateway declines this buyer's card.
    declined: bool,
}

struct Code {
    code: String,
    percent_off: i64,
    max_uses: i64,
}

struct Round {
    name: &'static str,
    product: i64,
    price: i64,
    stock: i64,
    code: Option<Code>,
    buyers: Vec<Buyer>,
    /// One per buyer, in the same order.
    replies: Vec<Reply>,
    /// When the last answer came.
    ended: Instant,
}

impl Round {
    fn created(&self) -> impl Iterator<Item = (&Buyer, &Reply)> {
        self.buyers
            .iter()
            .zip(&self.replies)
            .filter(|(_, r)| r.status == 201)
    }

    fn expected_total(&self, buyer: &Buyer) -> (i64, i64, i64) {
        let subtotal = self.price * buyer.quantity;
        let discount = match (&self.code, buyer.with_code) {
            (Some(code), true) => subtotal * code.percent_off / 100,
            _ => 0,
        };
        (subtotal, discount, subtotal - discount)
    }
}

type Job<T> = Pin<Box<dyn Future<Output = Result<T, Failure>> + Send>>;

/// Runs the jobs `size` at a time, each on its own task; the results in
/// order, or the first failure.
async fn batched<T: Send + 'static>(jobs: Vec<Job<T>>, size: usize) -> Result<Vec<T>, Failure> {
    let mut results = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    loop {
        let batch: Vec<_> = jobs.by_ref().take(size).map(tokio::spawn).collect();
        if batch.is_empty() {
            return Ok(results);
        }
        for handle in batch {
            let result = handle
                .await
                .map_err(|e| Failure::new(format!("the grader's task failed: {e}")))?;
            results.push(result?);
        }
    }
}

/// Registers and logs in `count` new customers, a batch at a time.
async fn enrol(ctx: &mut Ctx, count: usize) -> Result<Vec<Account>, Failure> {
    let mut jobs: Vec<Job<Account>> = Vec::new();
    for _ in 0..count {
        let email = ctx.rng.email("load");
        let password = ctx.rng.password();
        let name = ctx.rng.person();
        ctx.secrets.push(password.clone());
        let http = ctx.http.clone();
        jobs.push(Box::pin(async move {
            let reply = http
                .post("/register")
                .json(&json!({"email": email, "password": password, "name": name}))
                .send()
                .await?;
            let body = reply.expect_json(201, "the new customer")?;
            let id = id_of(&body).ok_or_else(|| {
                reply.fail(
                    "POST /register: no integer `id`",
                    "201 Created with the customer's id",
                )
            })?;
            let token = support::login(&http, &email, &password).await?;
            Ok(Account {
                id,
                email,
                password,
                name,
                token,
            })
        }));
    }
    batched(jobs, ENROL_BATCH).await
}

/// Fills every buyer's cart (emptied first), a batch at a time.
async fn fill_carts(http: &Http, product: i64, buyers: &[Buyer]) -> Result<(), Failure> {
    let mut jobs: Vec<Job<()>> = Vec::new();
    for buyer in buyers {
        let (http, token, quantity) = (http.clone(), buyer.account.token.clone(), buyer.quantity);
        jobs.push(Box::pin(async move {
            let reply = http.delete("/cart").bearer(&token).send().await?;
            reply.expect_status(204, "the cart emptied")?;
            super::live::put_cart(&http, &token, product, quantity).await?;
            Ok(())
        }));
    }
    batched(jobs, 32).await.map(|_| ())
}

/// Sends every call at the same moment (each on its own task and
/// connection, released together): the replies in order, and when the last
/// came.
async fn fire(calls: Vec<Call>) -> Result<(Vec<Reply>, Instant), Failure> {
    let barrier = Arc::new(tokio::sync::Barrier::new(calls.len()));
    let handles: Vec<_> = calls
        .into_iter()
        .map(|call| {
            let barrier = barrier.clone();
            let call = call.timeout(LOAD_TIMEOUT);
            tokio::spawn(async move {
                barrier.wait().await;
                let sent = call.sent();
                let started = Instant::now();
                let result = tokio::time::timeout(LOAD_TIMEOUT, call.send()).await;
                (result, started.elapsed(), sent)
            })
        })
        .collect();
    let count = handles.len();
    let mut replies = Vec::with_capacity(count);
    for (index, handle) in handles.into_iter().enumerate() {
        let (result, elapsed, sent) = handle
            .await
            .map_err(|e| Failure::new(format!("the grader's task failed: {e}")))?;
        let late = || {
            Failure::new(format!(
                "checkout {} of {count} sent at once was not answered within {} s",
                index + 1,
                LOAD_TIMEOUT.as_secs()
            ))
            .request(sent.curl())
            .expected(format!("an answer within {} s", LOAD_TIMEOUT.as_secs()))
            .hint("a checkout that waits forever under load is often a lock held across the gateway call, or SQLite's lock met without a busy timeout; keep the write transactions short and set busy_timeout to several seconds")
        };
        match result {
            Err(_) => return Err(late()),
            Ok(Err(failure)) => {
                return Err(Failure::new(format!(
                    "checkout {} of {count} sent at once: {}",
                    index + 1,
                    failure.verdict
                ))
                .request(failure.request.unwrap_or_default())
                .hint(failure.hint.unwrap_or_else(|| {
                    "did the shop crash under load? Its last words are in the notes".into()
                })));
            }
            Ok(Ok(reply)) if elapsed > LOAD_TIMEOUT => {
                let _ = reply;
                return Err(late());
            }
            Ok(Ok(reply)) => replies.push(reply),
        }
    }
    Ok((replies, Instant::now()))
}

async fn admin_get(ctx: &mut Ctx, path: &str, what: &str) -> Result<(Reply, Value), Failure> {
    let admin = support::admin_token(ctx).await?;
    let reply = ctx.http.get(path).bearer(&admin).send().await?;
    let body = reply.expect_json(200, what)?;
    Ok((reply, body))
}

/// Sends the round's checkouts at once and checks that each answer is one
/// the contract allows.
async fn play(ctx: &mut Ctx, mut round: Round) -> Result<Round, Failure> {
    fill_carts(&ctx.http, round.product, &round.buyers).await?;
    let calls: Vec<Call> = round
        .buyers
        .iter()
        .map(|buyer| {
            let mut body = json!({"payment_token": buyer.payment});
            if let (Some(code), true) = (&round.code, buyer.with_code) {
                body["discount_code"] = json!(code.code);
            }
            let key = format!("load-{}-{}", round.name, ctx.rng.alnum(20));
            super::live::checkout_call(&ctx.http, &buyer.account.token, &key, &body)
        })
        .collect();
    let (replies, ended) = fire(calls).await?;
    round.replies = replies;
    round.ended = ended;
    let count = round.buyers.len();
    for (index, (buyer, reply)) in round.buyers.iter().zip(&round.replies).enumerate() {
        let which = format!("checkout {} of {count} sent at once", index + 1);
        let allowed = match (&round.code, buyer.with_code, buyer.declined) {
            (Some(_), true, _) => "201, 409 out-of-stock or 422 invalid-discount-code (used_up)",
            (_, _, true) => "201, 402 payment-declined or 409 out-of-stock",
            _ => "201 or 409 out-of-stock",
        };
        let problem = match reply.status {
            201 => {
                reply.expect_json(201, "the paid order")?;
                continue;
            }
            409 => reply.expect_problem(409, "out-of-stock"),
            422 if buyer.with_code => reply.expect_problem(422, "invalid-discount-code"),
            402 if buyer.declined => reply.expect_problem(402, "payment-declined"),
            status => {
                let mut failure = reply.fail(
                    format!("{which}: expected {allowed}, got {}", status_line(status)),
                    allowed,
                );
                if status >= 500 {
                    failure = failure.hint("a 5xx under load is most often SQLite's `database is locked` (set a busy timeout of several seconds on every connection, and keep the gateway call out of the write transaction), or a constraint such as `stock >= 0` hit by two checkouts that both took the same stock (check and take it in one write transaction)");
                } else if status == 402 {
                    failure = failure.hint("this buyer's card always charges: the gateway answered 201 (a shop that mixes up concurrent checkouts' answers?)");
                }
                return Err(failure);
            }
        };
        let problem = problem.map_err(|f| {
            Failure::new(format!("{which}: {}", f.verdict))
                .request(f.request.unwrap_or_default())
                .expected(f.expected.unwrap_or_default())
                .actual(f.actual.unwrap_or_default())
        })?;
        if reply.status == 409 {
            ensure!(
                problem.get("product_id").and_then(Value::as_i64) == Some(round.product),
                reply.fail(
                    format!(
                        "{which}: the out-of-stock problem's `product_id` is not {}",
                        round.product
                    ),
                    format!("409 out-of-stock with \"product_id\": {}", round.product),
                )
            );
        }
        if reply.status == 422 {
            let code = round.code.as_ref().map(|c| c.code.as_str());
            ensure!(
                problem.get("reason").and_then(Value::as_str) == Some("used_up")
                    && problem.get("code").and_then(Value::as_str) == code,
                reply.fail(
                    format!(
                        "{which}: the refused code is not reason `used_up` with the code as sent"
                    ),
                    "422 invalid-discount-code with \"reason\": \"used_up\"",
                )
            );
        }
    }
    Ok(round)
}

async fn first_round(ctx: &mut Ctx) -> Result<Round, Failure> {
    let marker = ctx.rng.lower(8);
    let price = ctx.rng.price();
    let stock = ctx.rng.range(20, 60);
    let product = super::live::new_product(ctx, &marker, price, stock).await?;
    let code = Code {
        code: ctx.rng.code(),
        percent_off: ctx.rng.range(5, 50),
        max_uses: ctx.rng.range(5, 15),
    };
    let admin = support::admin_token(ctx).await?;
    let reply = ctx
        .http
        .post("/discount-codes")
        .bearer(&admin)
        .json(
            &json!({"code": code.code, "percent_off": code.percent_off, "max_uses": code.max_uses}),
        )
        .send()
        .await?;
    reply.expect_json(201, "the new discount code")?;

    let accounts = enrol(ctx, 200).await?;
    let mut with_code: Vec<bool> = (0..200).map(|i| i < 100).collect();
    ctx.rng.shuffle(&mut with_code);
    let buyers = accounts
        .into_iter()
        .zip(with_code)
        .map(|(account, with_code)| {
            let delay = ctx.rng.range(1, 10) as u64;
            Buyer {
                account,
                quantity: ctx.rng.range(1, 3),
                with_code,
                payment: ctx
                    .gateway
                    .token(&mut ctx.rng, vec![Answer::SlowCharge(delay)]),
                declined: false,
            }
        })
        .collect();
    let round = Round {
        name: "first",
        product,
        price,
        stock,
        code: Some(code),
        buyers,
        replies: Vec::new(),
        ended: Instant::now(),
    };
    play(ctx, round).await
}

async fn second_round(ctx: &mut Ctx, mut accounts: Vec<Account>) -> Result<Round, Failure> {
    let marker = ctx.rng.lower(8);
    let price = ctx.rng.price();
    let stock = ctx.rng.range(30, 80);
    let product = super::live::new_product(ctx, &marker, price, stock).await?;
    ctx.rng.shuffle(&mut accounts);
    accounts.truncate(100);
    let mut declined: Vec<bool> = (0..100).map(|i| i < 25).collect();
    ctx.rng.shuffle(&mut declined);
    let buyers = accounts
        .into_iter()
        .zip(declined)
        .map(|(account, declined)| {
            let answer = if declined {
                Answer::Decline
            } else {
                Answer::SlowCharge(ctx.rng.range(1, 10) as u64)
            };
            Buyer {
                account,
                quantity: ctx.rng.range(1, 3),
                with_code: false,
                payment: ctx.gateway.token(&mut ctx.rng, vec![answer]),
                declined,
            }
        })
        .collect();
    let round = Round {
        name: "second",
        product,
        price,
        stock,
        code: None,
        buyers,
        replies: Vec::new(),
        ended: Instant::now(),
    };
    play(ctx, round).await
}

async fn never_oversells(ctx: &mut Ctx, round: &Round) -> Result<(), Failure> {
    let (reply, left) = support::stock(&ctx.http, round.product).await?;
    let sold: i64 = round.created().map(|(b, _)| b.quantity).sum();
    let created = round.created().count();
    ensure!(
        left >= 0 && sold <= round.stock,
        reply
            .fail(
                format!(
                    "the {} round oversold: its {created} orders took {sold} of a stock of {}",
                    round.name, round.stock
                ),
                format!("orders for at most {} in all, and a stock never below 0", round.stock),
            )
            .hint("two checkouts read the same stock and both took it: check and take the stock in one write transaction (BEGIN IMMEDIATE, or UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1 and look at the rows changed)")
    );
    ensure!(
        left + sold == round.stock,
        reply
            .fail(
                format!(
                    "the {} round: the stock went from {} to {left}, but the {created} orders made took {sold}",
                    round.name, round.stock
                ),
                format!("a stock of {} − {sold} = {}", round.stock, round.stock - sold),
            )
            .hint(if left + sold < round.stock {
                "stock went missing without an order: a refused or failed checkout must give back all it took (one transaction, rolled back)"
            } else {
                "an order was made without taking its stock: take it in the transaction that makes the order"
            })
    );
    if round.code.is_none() {
        // Declines may hold stock for a moment: the refusals are not
        // comparable with the stock at the end.
        return Ok(());
    }
    for (index, (buyer, refused)) in round.buyers.iter().zip(&round.replies).enumerate() {
        if refused.status != 409 {
            continue;
        }
        let available = refused
            .json()
            .ok()
            .and_then(|b| b.get("available").and_then(Value::as_i64));
        ensure!(
            buyer.quantity > left,
            refused.fail(
                format!(
                    "checkout {} asked for {} and was refused as out of stock, but {left} are left at the end",
                    index + 1,
                    buyer.quantity
                ),
                format!("a refusal only when the stock is below the {} asked for", buyer.quantity),
            )
            .hint("compare with the stock inside the transaction that takes it; a refusal that comes from a failed write (busy, locked) is not out of stock")
        );
        ensure!(
            available.is_some_and(|a| a >= left && a < buyer.quantity),
            refused.fail(
                format!(
                    "checkout {}: the out-of-stock problem's `available` ({}) is not the stock the checkout saw (from {left}, the stock at the end, to {}, below the {} asked for)",
                    index + 1,
                    available.map(|a| a.to_string()).unwrap_or("missing".into()),
                    buyer.quantity - 1,
                    buyer.quantity
                ),
                "409 out-of-stock with \"available\": the product's stock",
            )
        );
    }
    Ok(())
}

async fn code_uses(ctx: &mut Ctx, round: &Round) -> Result<(), Failure> {
    let Some(code) = &round.code else {
        return Ok(());
    };
    let (reply, codes) = admin_get(ctx, "/discount-codes", "every discount code").await?;
    let uses = codes
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|c| c.get("code").and_then(Value::as_str) == Some(code.code.as_str()))
        })
        .and_then(|c| c.get("uses"))
        .and_then(Value::as_i64);
    let Some(uses) = uses else {
        return Err(reply.fail(
            format!(
                "GET /discount-codes does not list {} with an integer `uses`",
                code.code
            ),
            format!("{} in the list", code.code),
        ));
    };
    let mut with_code = 0;
    for (buyer, created) in round.created() {
        let order = created.json()?;
        let sent = order.get("discount_code").and_then(Value::as_str);
        let expected = buyer.with_code.then_some(code.code.as_str());
        ensure!(
            sent == expected,
            created.fail(
                format!(
                    "an order's `discount_code` is {}, but its checkout sent {}",
                    sent.map(|s| format!("`{s}`")).unwrap_or("null".into()),
                    expected.map(|s| format!("`{s}`")).unwrap_or("none".into()),
                ),
                "the order with the code its checkout sent",
            )
        );
        if sent.is_some() {
            with_code += 1;
        }
    }
    let refused = round.replies.iter().filter(|r| r.status == 422).count();
    ensure!(
        uses == with_code && uses <= code.max_uses,
        reply
            .fail(
                format!(
                    "the code {}'s `uses` is {uses}, but {with_code} paid orders carry it (its max_uses is {})",
                    code.code, code.max_uses
                ),
                format!("\"uses\": {with_code}, at most {}", code.max_uses),
            )
            .hint("check the code's uses and count the use in the transaction that makes the order paid (UPDATE discount_codes SET uses = uses + 1 WHERE code = ?1 AND (max_uses IS NULL OR uses < max_uses), and refuse when no row changed)")
    );
    ensure!(
        refused == 0 || uses == code.max_uses,
        reply.fail(
            format!(
                "{refused} checkouts were refused as `used_up`, but the code {} has only {uses} uses of {}",
                code.code, code.max_uses
            ),
            format!("`used_up` only once uses reached max_uses ({})", code.max_uses),
        )
        .hint("a code is used up only when its uses reach max_uses; a checkout that counted a use and then failed must give it back")
    );
    Ok(())
}

async fn orders_match_charges(ctx: &mut Ctx, round: &Round) -> Result<(), Failure> {
    // The answers: each 201 an order at the right price.
    let mut created: BTreeMap<i64, (&Buyer, i64)> = BTreeMap::new();
    for (buyer, reply) in round.created() {
        let order = reply.json()?;
        let (subtotal, discount, total) = round.expected_total(buyer);
        let items = json!([{"product_id": round.product, "quantity": buyer.quantity, "price_cents": round.price}]);
        let got = (
            order.get("status").and_then(Value::as_str),
            order.get("customer_id").and_then(Value::as_i64),
            order.get("items"),
            order.get("subtotal_cents").and_then(Value::as_i64),
            order.get("discount_cents").and_then(Value::as_i64),
            order.get("total_cents").and_then(Value::as_i64),
        );
        let expected = (
            Some("paid"),
            Some(buyer.account.id),
            Some(&items),
            Some(subtotal),
            Some(discount),
            Some(total),
        );
        ensure!(
            got == expected,
            reply.fail(
                "an order made under load is not the order its checkout asked for",
                format!(
                    "status paid, customer_id {}, items {items}, subtotal_cents {subtotal}, discount_cents {discount}, total_cents {total}",
                    buyer.account.id
                ),
            )
        );
        let Some(id) = id_of(&order) else {
            return Err(reply.fail("the order has no integer `id`", "the order's id"));
        };
        ensure!(
            created.insert(id, (buyer, total)).is_none(),
            reply.fail(
                format!("two checkouts under load answered the same order {id}"),
                "one order per 201",
            )
        );
    }

    // GET /admin/orders: one paid order per 201, none for the others.
    let (reply, orders) = admin_get(ctx, "/admin/orders", "every order").await?;
    let mut listed: BTreeSet<i64> = BTreeSet::new();
    for order in orders.as_array().map(Vec::as_slice).unwrap_or_default() {
        let ours = order
            .get("items")
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items
                    .iter()
                    .any(|i| i.get("product_id").and_then(Value::as_i64) == Some(round.product))
            });
        if !ours {
            continue;
        }
        let id = id_of(order).unwrap_or_default();
        ensure!(
            created.contains_key(&id),
            reply.fail(
                format!(
                    "GET /admin/orders lists order {id} for the {} round's product, but no checkout was answered 201 with it",
                    round.name
                ),
                "orders only for the checkouts that were answered 201",
            )
            .hint("a refused or failed checkout leaves no order: write the order in the same transaction as the stock and roll it all back on any refusal")
        );
        ensure!(
            order.get("status").and_then(Value::as_str) == Some("paid"),
            reply.fail(
                format!("GET /admin/orders: order {id} is not `paid`"),
                "every order of the round `paid`",
            )
        );
        listed.insert(id);
    }
    let missing: Vec<&i64> = created.keys().filter(|id| !listed.contains(id)).collect();
    ensure!(
        missing.is_empty(),
        reply.fail(
            format!(
                "GET /admin/orders lacks {} of the {} orders answered 201 (e.g. order {})",
                missing.len(),
                created.len(),
                missing.first().map(|id| id.to_string()).unwrap_or_default()
            ),
            "every order answered 201",
        )
    );

    // The gateway: one charge of the total per order, none for the others.
    for (id, (buyer, total)) in &created {
        let attempts = ctx.gateway.attempts(&buyer.payment);
        let charges: BTreeSet<&str> = attempts
            .iter()
            .filter(|a| a.answered == Some(201))
            .filter_map(|a| a.charge_id.as_deref())
            .collect();
        let amounts: BTreeSet<Option<i64>> = attempts.iter().map(|a| a.amount_cents).collect();
        ensure!(
            charges.len() == 1 && amounts.len() == 1 && amounts.contains(&Some(*total)),
            Failure::new(format!(
                "order {id} was charged {} times at the gateway (amounts {:?}), not once with its total {total}",
                charges.len(),
                amounts.iter().flatten().collect::<Vec<_>>()
            ))
            .expected(format!("one charge of {total} cents for the order"))
            .hint("charge the total the order was priced at, with the checkout's own gateway key; never retry a charge that succeeded")
        );
    }
    for (index, (buyer, reply)) in round.buyers.iter().zip(&round.replies).enumerate() {
        if reply.status == 201 {
            continue;
        }
        let attempts = ctx.gateway.attempts(&buyer.payment);
        let expected = if reply.status == 402 { 1 } else { 0 };
        let charged = attempts.iter().any(|a| a.answered == Some(201));
        ensure!(
            attempts.len() == expected && !charged,
            reply.fail(
                format!(
                    "checkout {} was answered {} but the gateway got {} attempts with its card",
                    index + 1,
                    status_line(reply.status),
                    attempts.len()
                ),
                if expected == 1 {
                    "one attempt: a decline is never retried".to_string()
                } else {
                    "no call to the gateway: stock and codes are checked before the payment"
                        .to_string()
                },
            )
        );
    }
    Ok(())
}

async fn confirms_every_order(ctx: &mut Ctx, round: &Round) -> Result<(), Failure> {
    let reply = ctx.http.get("/health/ready").send().await?;
    reply
        .expect_json(200, "the shop still ready after the round")
        .map_err(|f| f.hint("a pool that lost its connections under load, or a database left locked, shows here"))?;
    let admin = support::admin_token(ctx).await?;
    let deadline = round.ended + CONFIRMATIONS_TIMEOUT;
    let ids: Vec<i64> = round
        .created()
        .filter_map(|(_, r)| r.json().ok().as_ref().and_then(id_of))
        .collect();
    for id in &ids {
        jobs::await_confirmation(
            &ctx.http,
            &admin,
            *id,
            deadline,
            &format!(
                "within {} s of the {} round's last answer",
                CONFIRMATIONS_TIMEOUT.as_secs(),
                round.name
            ),
        )
        .await?;
    }
    for id in &ids {
        jobs::exactly_one(&ctx.http, &admin, *id).await?;
    }
    Ok(())
}
