//! `attacks`: the grader as an attacker. SQL injection wherever a value
//! reaches the database, other customers' orders, members a route does not
//! list, forged tokens, password guessing, the security headers on every
//! kind of answer, and secrets in what the shop prints.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::live::{self, Opened};
use crate::failure::Failure;
use crate::http::{Http, Reply, status_line};
use crate::support::{self, encode, id_of, stock_of};
use crate::token;
use crate::{Account, Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "injection_in_q_finds_only_names_that_contain_it",
    "boolean_probes_get_the_same_answer",
    "injection_leaves_catalogue_and_accounts_as_they_were",
    "injection_in_numbers_cursors_and_ids_is_400",
    "injection_in_login_email_and_discount_code_is_refused",
    "another_customers_order_is_404_like_a_missing_one",
    "unlisted_members_are_422_and_change_nothing",
    "forged_tokens_are_401",
    "a_role_claim_makes_nobody_an_admin",
    "a_token_the_grader_signs_works",
    "sixth_login_attempt_is_429_with_retry_after",
    "twenty_wrong_passwords_at_once_get_five_401s",
    "security_headers_on_every_status",
    "no_secret_in_the_shop_output",
];

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let setup = stage.check(
        "injection_in_q_finds_only_names_that_contain_it",
        injection_in_q(ctx).await,
    )?;
    stage.check(
        "boolean_probes_get_the_same_answer",
        boolean_probes(ctx, &setup).await,
    )?;
    stage.check(
        "injection_leaves_catalogue_and_accounts_as_they_were",
        nothing_changed(ctx, &setup).await,
    )?;
    stage.check(
        "injection_in_numbers_cursors_and_ids_is_400",
        injection_in_numbers(ctx, &setup).await,
    )?;
    stage.check(
        "injection_in_login_email_and_discount_code_is_refused",
        injection_in_login_and_code(ctx, &setup).await,
    )?;
    stage.check(
        "another_customers_order_is_404_like_a_missing_one",
        idor(ctx, &setup).await,
    )?;
    stage.check(
        "unlisted_members_are_422_and_change_nothing",
        mass_assignment(ctx, &setup).await,
    )?;
    stage.check("forged_tokens_are_401", forged_tokens(ctx, &setup).await)?;
    stage.check(
        "a_role_claim_makes_nobody_an_admin",
        role_claim(ctx, &setup).await,
    )?;
    stage.check(
        "a_token_the_grader_signs_works",
        grader_token_works(ctx, &setup).await,
    )?;
    let locked = stage.check(
        "sixth_login_attempt_is_429_with_retry_after",
        brute_force(ctx, &setup).await,
    )?;
    stage.check(
        "twenty_wrong_passwords_at_once_get_five_401s",
        twenty_at_once(ctx).await,
    )?;
    stage.check(
        "security_headers_on_every_status",
        security_headers(ctx, &setup, &locked).await,
    )?;
    stage.check("no_secret_in_the_shop_output", no_secrets(ctx))?;
    Ok(())
}

/// What the stage made first and uses throughout.
struct Setup {
    marker: String,
    customer: Account,
    /// The catalogue, walked whole before any injection.
    catalogue: Vec<Value>,
    /// A product of this stage: `(id, price)`.
    product: (i64, i64),
}

// ---------------------------------------------------------------------------
// SQL injection

/// What goes into `q`.
fn q_payloads(marker: &str) -> Vec<String> {
    vec![
        "' OR '1'='1".into(),
        "' OR 1=1--".into(),
        "%' OR 1=1 --".into(),
        "\" OR \"\"=\"".into(),
        "') OR ('a'='a".into(),
        "\\' OR 1=1 --".into(),
        "' UNION SELECT id, email, password_hash, 1, 1 FROM customers--".into(),
        "' UNION SELECT id, email, name, 1, 1, 1 FROM customers--".into(),
        "' UNION SELECT id, email, password_hash, 1, 1 FROM users--".into(),
        "%' UNION SELECT 1, name, sql, 1, 1 FROM sqlite_master--".into(),
        "' UNION SELECT rowid, type, sql, 1, 1, 1 FROM sqlite_master --".into(),
        "'; DROP TABLE products;--".into(),
        "'); DROP TABLE customers;--".into(),
        "'; UPDATE customers SET role = 'admin';--".into(),
        "'; UPDATE users SET role = 'admin';--".into(),
        "'; UPDATE products SET price_cents = 0, stock = 0;--".into(),
        format!(
            "'; INSERT INTO products (sku, name, price_cents, stock) VALUES ('{}', '{marker} inserted', 1, 1);--",
            marker.to_ascii_uppercase()
        ),
        format!("{marker}' OR name LIKE '%"),
    ]
}

/// Whether a name matches `q` as the contract says: ASCII letters in any
/// case, every other character exactly.
fn matches(name: &str, q: &str) -> bool {
    name.to_ascii_lowercase().contains(&q.to_ascii_lowercase())
}

/// Every product `GET /products?{query}` lists, following `next`.
async fn walk(http: &Http, query: &str) -> Result<(Vec<Value>, Vec<Reply>), Failure> {
    let mut items = Vec::new();
    let mut replies = Vec::new();
    let mut path = format!("/products?limit=100{query}");
    for _ in 0..200 {
        let reply = http.get(&path).send().await?;
        let body = reply.expect_json(200, "a page of products")?;
        let Some(page) = body.get("items").and_then(Value::as_array) else {
            return Err(reply.fail(
                format!("{}: the page has no `items` array", reply.sent.line()),
                "200 OK, {\"items\": [...], \"next\": ...}",
            ));
        };
        items.extend(page.iter().cloned());
        let next = body.get("next").and_then(Value::as_str).map(String::from);
        replies.push(reply);
        match next {
            Some(next) if next.starts_with("/products?") => path = next,
            Some(_) => {
                let reply = replies.pop().expect("just pushed");
                return Err(reply.fail(
                    format!(
                        "{}: `next` is not a URL starting with /products?",
                        reply.sent.line()
                    ),
                    "`next`: a relative URL /products?... or null",
                ));
            }
            None => return Ok((items, replies)),
        }
    }
    Err(Failure::new(format!(
        "GET /products?limit=100{query}: the walk did not end after 200 pages"
    )))
}

async fn injection_in_q(ctx: &mut Ctx) -> Result<Setup, Failure> {
    let marker = ctx.rng.lower(8);
    let price = ctx.rng.price();
    let stock = ctx.rng.range(30, 60);
    let product = live::new_product(ctx, &marker, price, stock).await?;
    // Products whose names hold injection text: the search must find them.
    for payload in [
        "' OR '1'='1",
        "'; DROP TABLE products;--",
        "' UNION SELECT id, email, password_hash, 1, 1 FROM customers--",
    ] {
        let name = format!("{} {marker} {payload}", ctx.rng.product_name(&marker));
        let (price, stock) = (ctx.rng.price(), ctx.rng.range(1, 9));
        support::product(ctx, &name, price, stock).await?;
    }
    let customer = support::customer(ctx, "attacks").await?;
    // An order, so that a leaking search has something to leak.
    live::buy(ctx, &customer.token, product, 1).await?;
    let (catalogue, _) = walk(&ctx.http, "").await?;

    let forbidden = forbidden_texts(ctx, &customer);
    for q in q_payloads(&marker) {
        search_matches(&ctx.http, &catalogue, &q, &forbidden).await?;
    }
    Ok(Setup {
        marker,
        customer,
        catalogue,
        product: (product, price),
    })
}

/// What no search may bring back.
fn forbidden_texts(ctx: &Ctx, customer: &Account) -> Vec<String> {
    vec![
        "$argon2".into(),
        "CREATE TABLE".into(),
        "create table".into(),
        ctx.admin_email.clone(),
        customer.email.clone(),
    ]
}

/// `GET /products?q=...` finds exactly the catalogue's products whose names
/// contain `q`, and nothing else: the items found.
async fn search_matches(
    http: &Http,
    catalogue: &[Value],
    q: &str,
    forbidden: &[String],
) -> Result<Vec<i64>, Failure> {
    let (items, replies) = walk(http, &format!("&q={}", encode(q))).await?;
    let first = &replies[0];
    for reply in &replies {
        let text = reply.text();
        if let Some(leak) = forbidden.iter().find(|f| text.contains(f.as_str())) {
            return Err(reply
                .fail(
                    format!("{}: the search for `{q}` brought back `{leak}`", reply.sent.line()),
                    "only products whose names contain the text searched for",
                )
                .hint("never put a request's value into SQL text: bind it (`?1`) and let SQLite treat it as a value"));
        }
    }
    let expected: BTreeSet<i64> = catalogue
        .iter()
        .filter(|p| {
            p.get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| matches(name, q))
        })
        .filter_map(id_of)
        .collect();
    let known: BTreeSet<i64> = catalogue.iter().filter_map(id_of).collect();
    let mut got = Vec::new();
    for item in &items {
        let product = item.is_object()
            && id_of(item).is_some_and(|id| known.contains(&id))
            && item.get("sku").is_some_and(Value::is_string)
            && item.get("name").is_some_and(Value::is_string)
            && item.get("price_cents").is_some_and(Value::is_i64)
            && item.get("stock").is_some_and(Value::is_i64);
        ensure!(
            product,
            first
                .fail(
                    format!(
                        "{}: the search for `{q}` brought back something that is not a product of the catalogue: {item}",
                        first.sent.line()
                    ),
                    "only products whose names contain the text searched for",
                )
                .hint("a UNION in q must stay text: bind q as a parameter")
        );
        got.push(id_of(item).unwrap_or_default());
    }
    let got_set: BTreeSet<i64> = got.iter().copied().collect();
    ensure!(
        got_set == expected && got.len() == expected.len(),
        first
            .fail(
                format!(
                    "{}: the search for `{q}` found {} products, expected {} (the products whose names contain it)",
                    first.sent.line(),
                    got.len(),
                    expected.len()
                ),
                format!("the products {expected:?}"),
            )
            .hint("search with a bound parameter (`instr(lower(name), lower(?1)) > 0`, or LIKE with %, _ and \\ escaped): whatever q holds is text to find, never SQL")
    );
    Ok(got)
}

async fn boolean_probes(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let m = &setup.marker;
    let pairs = [
        (format!("{m}' AND 1=1--"), format!("{m}' AND 1=2--")),
        (format!("{m}%' AND '1'='1"), format!("{m}%' AND '1'='2")),
        (
            format!("{m}' AND (SELECT COUNT(*) FROM sqlite_master) > 0 --"),
            format!("{m}' AND (SELECT COUNT(*) FROM sqlite_master) < 0 --"),
        ),
        (format!("{m}\") AND 1=1 --"), format!("{m}\") AND 1=2 --")),
    ];
    let forbidden = forbidden_texts(ctx, &setup.customer);
    for (yes, no) in pairs {
        let a = search_matches(&ctx.http, &setup.catalogue, &yes, &forbidden).await?;
        let b = search_matches(&ctx.http, &setup.catalogue, &no, &forbidden).await?;
        ensure!(
            a == b,
            Failure::new(format!(
                "the searches for `{yes}` and `{no}` got different answers ({} and {} products): the condition reached SQL",
                a.len(),
                b.len()
            ))
            .request(format!(
                "curl -i '{}/products?q={}'; curl -i '{}/products?q={}'",
                ctx.http.base,
                encode(&yes),
                ctx.http.base,
                encode(&no)
            ))
            .expected("the same products for both (none: no name contains either text)")
            .hint("bind q as a parameter: a condition written into q must stay text")
        );
    }
    Ok(())
}

async fn nothing_changed(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let (after, replies) = walk(&ctx.http, "").await?;
    if after != setup.catalogue {
        let before_ids: BTreeSet<i64> = setup.catalogue.iter().filter_map(id_of).collect();
        let changed: Vec<&Value> = after
            .iter()
            .filter(|p| !setup.catalogue.contains(p))
            .take(3)
            .collect();
        let missing = before_ids.len() as i64
            - after
                .iter()
                .filter_map(id_of)
                .filter(|id| before_ids.contains(id))
                .count() as i64;
        return Err(replies[0]
            .fail(
                "the catalogue changed after the injection searches",
                format!("the same {} products as before the searches", setup.catalogue.len()),
            )
            .actual(format!(
                "{} products now ({missing} of the earlier ones missing); new or changed: {}",
                after.len(),
                changed
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .hint("stacked statements in q ran: never build SQL text from a request's value, and never execute_batch it"));
    }
    // The accounts: both still log in, and their roles are as they were.
    let admin = support::admin_token(ctx).await?;
    for (token, role, who) in [
        (
            setup.customer.token.clone(),
            "customer",
            "the stage's customer",
        ),
        (admin, "admin", "the admin"),
    ] {
        let reply = ctx.http.get("/me").bearer(&token).send().await?;
        let body = reply.expect_json(200, who)?;
        ensure!(
            body.get("role").and_then(Value::as_str) == Some(role),
            reply.fail(
                format!("after the injection searches, {who}'s role is not `{role}`"),
                format!("200 OK with \"role\": \"{role}\""),
            )
        );
    }
    support::login(&ctx.http, &setup.customer.email, &setup.customer.password)
        .await
        .map_err(|f| {
            Failure::new(format!(
                "after the injection searches, the stage's customer cannot log in: {}",
                f.verdict
            ))
            .request(f.request.unwrap_or_default())
            .actual(f.actual.unwrap_or_default())
        })?;
    let reply = ctx.http.get("/health/ready").send().await?;
    reply.expect_json(200, "the shop is still ready")?;
    Ok(())
}

async fn injection_in_numbers(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let cases = [
        ("min_price", "0 OR 1=1"),
        ("min_price", "1; DROP TABLE products"),
        ("max_price", "99999999 OR 1=1--"),
        ("limit", "1 OR 1=1"),
        ("limit", "5; DELETE FROM products"),
        ("cursor", "' OR '1'='1"),
        ("cursor", "1 UNION SELECT sql FROM sqlite_master"),
    ];
    for (parameter, value) in cases {
        let reply = ctx
            .http
            .get(&format!("/products?{parameter}={}", encode(value)))
            .send()
            .await?;
        let body = reply.expect_problem(400, "invalid-parameter")?;
        ensure!(
            body.get("parameter").and_then(Value::as_str) == Some(parameter),
            reply.fail(
                format!(
                    "{}: the problem does not name `{parameter}`",
                    reply.sent.line()
                ),
                format!("400 invalid-parameter with \"parameter\": \"{parameter}\""),
            )
        );
    }
    let token = setup.customer.token.clone();
    let injected = encode("1 OR 1=1");
    let stacked = encode("1; DROP TABLE orders");
    let calls = [
        ctx.http.get(&format!("/products/{injected}")),
        ctx.http.get(&format!("/products/{stacked}")),
        ctx.http.get(&format!("/orders/{injected}")).bearer(&token),
        ctx.http
            .post(&format!("/orders/{injected}/cancel"))
            .bearer(&token),
        ctx.http
            .get(&format!("/orders/{stacked}/notifications"))
            .bearer(&token),
        ctx.http
            .put(&format!("/cart/items/{injected}"))
            .bearer(&token)
            .json(&json!({"quantity": 1})),
    ];
    for call in calls {
        let reply = call.send().await?;
        reply.expect_problem(400, "invalid-id")?;
    }
    Ok(())
}

async fn injection_in_login_and_code(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let email = setup.customer.email.clone();
    let admin = ctx.admin_email.clone();
    let emails = [
        "' OR '1'='1' --".to_string(),
        "' OR 1=1 LIMIT 1 --".to_string(),
        format!("{email}' --"),
        format!("{admin}'/*"),
        format!("{email}' OR '1'='1"),
    ];
    for attempt in emails {
        let password = ctx.rng.password();
        ctx.secrets.push(password.clone());
        let reply = ctx
            .http
            .post("/login")
            .json(&json!({"email": attempt, "password": password}))
            .send()
            .await?;
        reply
            .expect_problem(401, "about:blank")
            .map_err(|f| f.hint("look the account up with a bound parameter, then verify the password against its hash: an email is never SQL"))?;
    }

    // A real code exists: a tautology would find it.
    let admin_token = support::admin_token(ctx).await?;
    let real = ctx.rng.code();
    let reply = ctx
        .http
        .post("/discount-codes")
        .bearer(&admin_token)
        .json(&json!({"code": real, "percent_off": 50}))
        .send()
        .await?;
    reply.expect_json(201, "the new discount code")?;
    let customer = support::customer(ctx, "attacks-code").await?;
    let (product, _) = setup.product;
    let cart = live::put_cart(&ctx.http, &customer.token, product, 1).await?;
    let payment = ctx.gateway.charging(&mut ctx.rng);
    let codes = [
        "' OR '1'='1".to_string(),
        format!("{real}' --"),
        "' OR 1=1 LIMIT 1 --".to_string(),
        format!("x' OR code = '{real}"),
        format!("{real}'; UPDATE discount_codes SET uses = 0; --"),
    ];
    for code in codes {
        let key = format!("attack-{}", ctx.rng.alnum(16));
        let reply = live::checkout_call(
            &ctx.http,
            &customer.token,
            &key,
            &json!({"payment_token": payment, "discount_code": code}),
        )
        .send()
        .await?;
        let body = reply.expect_problem(422, "invalid-discount-code")?;
        ensure!(
            body.get("reason").and_then(Value::as_str) == Some("unknown")
                && body.get("code").and_then(Value::as_str) == Some(code.as_str()),
            reply.fail(
                format!(
                    "{}: the refusal is not reason `unknown` with the code as sent",
                    reply.sent.line()
                ),
                format!(
                    "422 invalid-discount-code with \"code\": {}, \"reason\": \"unknown\"",
                    json!(code)
                ),
            )
        );
    }
    // Nothing bought: the cart as it was, no charge, no order.
    let reply = ctx.http.get("/cart").bearer(&customer.token).send().await?;
    let now = reply.expect_json(200, "the cart")?;
    ensure!(
        now == cart,
        reply.fail(
            "after the refused checkouts, the cart changed",
            format!("the cart as it was: {cart}"),
        )
    );
    ensure!(
        ctx.gateway.attempts(&payment).is_empty(),
        Failure::new("a checkout with an injected discount code called the payment gateway")
            .expected("no charge: an unknown code is refused before the payment")
    );
    let reply = ctx
        .http
        .get("/orders")
        .bearer(&customer.token)
        .send()
        .await?;
    let orders = reply.expect_json(200, "the caller's orders")?;
    ensure!(
        orders.as_array().is_some_and(Vec::is_empty),
        reply.fail(
            "a checkout with an injected discount code made an order",
            "200 OK, []",
        )
    );
    let reply = ctx
        .http
        .get("/discount-codes")
        .bearer(&admin_token)
        .send()
        .await?;
    let codes = reply.expect_json(200, "every discount code")?;
    let uses = codes
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|c| c.get("code").and_then(Value::as_str) == Some(real.as_str()))
        })
        .and_then(|c| c.get("uses"))
        .and_then(Value::as_i64);
    ensure!(
        uses == Some(0),
        reply.fail(
            format!("the code {real} is missing or its `uses` changed after the refused checkouts"),
            format!("{real} listed with \"uses\": 0"),
        )
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Broken access control

async fn idor(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let (product, _) = setup.product;
    let owner = support::customer(ctx, "attacks-owner").await?;
    let order = live::buy(ctx, &owner.token, product, 1).await?;
    let order_id = id_of(&order).unwrap_or_default();
    let stranger = setup.customer.token.clone();
    let missing = live::missing_order_id(ctx);
    let stock_before = stock_of(&ctx.http, product).await?;

    let owner_id = owner.id.to_string();
    for (suffix, post) in [("", false), ("/cancel", true), ("/notifications", false)] {
        let call = |id: i64| {
            let path = format!("/orders/{id}{suffix}");
            if post {
                ctx.http.post(&path).bearer(&stranger)
            } else {
                ctx.http.get(&path).bearer(&stranger)
            }
        };
        let theirs = call(order_id).send().await?;
        let none = call(missing).send().await?;
        live::same_not_found(&theirs, order_id, &none, missing)?;
        // The token alone says who calls.
        let claimed = call(order_id)
            .header("x-customer-id", owner_id.clone())
            .send()
            .await?;
        live::same_not_found(&claimed, order_id, &none, missing)?;
    }
    let with_query = ctx
        .http
        .get(&format!("/orders/{order_id}?customer_id={}", owner.id))
        .bearer(&stranger)
        .send()
        .await?;
    let none = ctx
        .http
        .get(&format!("/orders/{missing}?customer_id={}", owner.id))
        .bearer(&stranger)
        .send()
        .await?;
    live::same_not_found(&with_query, order_id, &none, missing)?;
    for id in [order_id, missing] {
        let call = ctx
            .http
            .get(&format!("/orders/{id}/events"))
            .bearer(&stranger);
        match live::open(call).await? {
            Opened::Reply(reply) => {
                reply.expect_problem(404, "order-not-found")?;
            }
            Opened::Stream(stream) => {
                return Err(stream.fail(
                    format!(
                        "GET /orders/{id}/events: another customer got the order's event stream"
                    ),
                    "404 order-not-found, as for an order that does not exist",
                ));
            }
        }
    }
    // Nothing changed: the order is still paid, the stock as it was.
    let reply = ctx
        .http
        .get(&format!("/orders/{order_id}"))
        .bearer(&owner.token)
        .send()
        .await?;
    let now = reply.expect_json(200, "the owner's order")?;
    ensure!(
        now.get("status").and_then(Value::as_str) == Some("paid"),
        reply.fail(
            "another customer's POST /orders/{id}/cancel changed the order",
            "the order still `paid`",
        )
        .hint("look the order up by id AND the caller's id before anything else; a stranger's request must change nothing")
    );
    let stock_after = stock_of(&ctx.http, product).await?;
    ensure!(
        stock_after == stock_before,
        Failure::new(format!(
            "another customer's POST /orders/{order_id}/cancel changed the product's stock from {stock_before} to {stock_after}"
        ))
        .expected("no change")
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Mass assignment

/// A `422 validation` whose `errors` name `field`.
fn expect_validation_naming(reply: &Reply, field: &str) -> Result<(), Failure> {
    let body = reply
        .expect_problem(422, "validation")
        .map_err(|f| f.hint(format!("a body member the route does not list (`{field}`) is refused, never ignored and never taken: `#[serde(deny_unknown_fields)]`")))?;
    let named = body
        .get("errors")
        .and_then(Value::as_array)
        .is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e.get("field").and_then(Value::as_str) == Some(field))
        });
    ensure!(
        named,
        reply.fail(
            format!(
                "{}: the 422's `errors` do not name `{field}`",
                reply.sent.line()
            ),
            format!("422 validation with errors [{{\"field\": \"{field}\", \"message\": ...}}]"),
        )
    );
    Ok(())
}

async fn mass_assignment(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    // Registration.
    let email = ctx.rng.email("attacks-role");
    let password = ctx.rng.password();
    let name = ctx.rng.person();
    ctx.secrets.push(password.clone());
    for (member, value) in [
        ("role", json!("admin")),
        ("Role", json!("admin")),
        ("is_admin", json!(true)),
    ] {
        let mut body = json!({"email": email, "name": name, "password": password});
        body[member] = value;
        let reply = ctx.http.post("/register").json(&body).send().await?;
        expect_validation_naming(&reply, member)?;
    }
    let reply = ctx
        .http
        .post("/register")
        .json(&json!({"email": email, "name": name, "password": password}))
        .send()
        .await?;
    let body = reply
        .expect_json(
            201,
            "the new customer: the refused registrations made no account",
        )
        .map_err(|f| f.hint("a registration refused with 422 must make no account"))?;
    ensure!(
        body.get("role").and_then(Value::as_str) == Some("customer"),
        reply.fail(
            "POST /register: the customer is not `role` `customer`",
            "201 Created with \"role\": \"customer\"",
        )
    );

    // Checkout.
    let customer = support::customer(ctx, "attacks-mass").await?;
    let (product, price) = setup.product;
    let cart = live::put_cart(&ctx.http, &customer.token, product, 2).await?;
    let stock = stock_of(&ctx.http, product).await?;
    let payment = ctx.gateway.charging(&mut ctx.rng);
    for (member, value) in [("total_cents", json!(1)), ("status", json!("shipped"))] {
        let mut body = json!({"payment_token": payment});
        body[member] = value;
        let key = format!("mass-{}", ctx.rng.alnum(16));
        let reply = live::checkout_call(&ctx.http, &customer.token, &key, &body)
            .send()
            .await?;
        expect_validation_naming(&reply, member)?;
    }
    ensure!(
        ctx.gateway.attempts(&payment).is_empty(),
        Failure::new("a checkout refused with 422 called the payment gateway")
            .expected("nothing bought, no charge")
    );
    let reply = ctx
        .http
        .get("/orders")
        .bearer(&customer.token)
        .send()
        .await?;
    let orders = reply.expect_json(200, "the caller's orders")?;
    ensure!(
        orders.as_array().is_some_and(Vec::is_empty),
        reply.fail("a checkout refused with 422 made an order", "200 OK, []")
    );
    ensure!(
        stock_of(&ctx.http, product).await? == stock,
        Failure::new("a checkout refused with 422 changed the product's stock")
            .expected(format!("the stock still {stock}"))
    );

    // A cart line.
    let reply = ctx
        .http
        .put(&format!("/cart/items/{product}"))
        .bearer(&customer.token)
        .json(&json!({"quantity": 3, "price_cents": 1}))
        .send()
        .await?;
    expect_validation_naming(&reply, "price_cents")?;
    let reply = ctx.http.get("/cart").bearer(&customer.token).send().await?;
    let now = reply.expect_json(200, "the cart")?;
    ensure!(
        now == cart,
        reply.fail(
            "a cart line refused with 422 changed the cart",
            format!("the cart as it was (2 at {price} cents): {cart}"),
        )
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Tokens

fn secret(ctx: &Ctx) -> Vec<u8> {
    ctx.launch
        .var("SHOP_TOKEN_SECRET")
        .unwrap_or_default()
        .as_bytes()
        .to_vec()
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

fn claims(sub: &str) -> Value {
    let now = token::now();
    json!({"sub": sub, "iat": now, "exp": now + 3600})
}

async fn admin_id(ctx: &mut Ctx) -> Result<i64, Failure> {
    let admin = support::admin_token(ctx).await?;
    let reply = ctx.http.get("/me").bearer(&admin).send().await?;
    let body = reply.expect_json(200, "the admin")?;
    id_of(&body).ok_or_else(|| reply.fail("GET /me: no integer `id`", "the admin with its id"))
}

/// A token that must be refused everywhere: `401` with `invalid_token`.
async fn expect_refused(http: &Http, bearer: &str, what: &str) -> Result<(), Failure> {
    for path in ["/me", "/admin/orders"] {
        let reply = http.get(path).bearer(bearer).send().await?;
        reply.expect_problem(401, "about:blank").map_err(|f| {
            Failure::new(format!("{what} was not refused: {}", f.verdict))
                .request(f.request.unwrap_or_default())
                .expected(f.expected.unwrap_or_default())
                .actual(f.actual.unwrap_or_default())
                .hint("verify the signature with HS256 and SHOP_TOKEN_SECRET alone (jsonwebtoken's `Validation::new(Algorithm::HS256)`), then `exp`, then that `sub` names an account")
        })?;
        let challenge = reply.header("www-authenticate").unwrap_or("");
        ensure!(
            challenge == r#"Bearer realm="shop", error="invalid_token""#,
            reply.fail(
                format!(
                    "{}: {what} was refused without the stated WWW-Authenticate",
                    reply.sent.line()
                ),
                "401 with WWW-Authenticate: Bearer realm=\"shop\", error=\"invalid_token\"",
            )
        );
    }
    Ok(())
}

async fn forged_tokens(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let admin = admin_id(ctx).await?.to_string();
    let key = secret(ctx);
    let real = setup.customer.token.clone();
    let mut cases: Vec<(String, String)> = Vec::new();

    // The customer's own token with `sub` changed under its signature.
    let parts: Vec<&str> = real.split('.').collect();
    if let (Some((_, mut real_claims)), 3) = (token::decode(&real), parts.len()) {
        real_claims["sub"] = json!(admin);
        let header: Value = token::decode(&real).map(|(h, _)| h).unwrap_or_else(hs256);
        let body = token::unsigned(&header, &real_claims);
        let payload = body.split('.').nth(1).unwrap_or_default();
        cases.push((
            format!("{}.{payload}.{}", parts[0], parts[2]),
            "the customer's token with `sub` changed to the admin's id under its signature".into(),
        ));
    } else {
        return Err(Failure::new(
            "the customer's token is not three base64url segments of JSON (a JWT)",
        )
        .actual(real.clone())
        .expected("a JWT signed with HS256"));
    }
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        cases.push((
            format!("{}.", token::unsigned(&header, &claims(&admin))),
            format!("a token with `alg` `{alg}` and no signature"),
        ));
    }
    let other_key = ctx.rng.hex(64);
    cases.push((
        token::signed(&hs256(), &claims(&admin), other_key.as_bytes()),
        "a token signed with another key".into(),
    ));
    cases.push((
        token::signed(
            &json!({"alg": "HS512", "typ": "JWT"}),
            &claims(&admin),
            &key,
        ),
        "a token signed with the right key in HS512".into(),
    ));
    let now = token::now();
    cases.push((
        token::signed(
            &hs256(),
            &json!({"sub": setup.customer.id.to_string(), "iat": now - 7200, "exp": now - 3600}),
            &key,
        ),
        "a token that expired an hour ago".into(),
    ));
    let nobody = ctx.rng.range(5_000_000_000, 9_000_000_000).to_string();
    cases.push((
        token::signed(&hs256(), &claims(&nobody), &key),
        format!("a token for the id {nobody}, which no account has"),
    ));
    for (forged, what) in cases {
        expect_refused(&ctx.http, &forged, &what).await?;
    }
    Ok(())
}

async fn role_claim(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let key = secret(ctx);
    let mut claimed = claims(&setup.customer.id.to_string());
    claimed["role"] = json!("admin");
    claimed["is_admin"] = json!(true);
    let forged = token::signed(&hs256(), &claimed, &key);
    let reply = ctx.http.get("/admin/orders").bearer(&forged).send().await?;
    reply.expect_problem(403, "about:blank").map_err(|f| {
        f.hint("read the caller's role from the database on every request, never from the token's claims")
    })?;
    let reply = ctx.http.get("/me").bearer(&forged).send().await?;
    let body = reply.expect_json(200, "the customer, as stored")?;
    ensure!(
        body.get("role").and_then(Value::as_str) == Some("customer"),
        reply.fail(
            "GET /me with a `role: admin` claim: the customer's role is not `customer`",
            "200 OK with \"role\": \"customer\" (the role is the database's)",
        )
    );
    Ok(())
}

async fn grader_token_works(ctx: &mut Ctx, setup: &Setup) -> Result<(), Failure> {
    let key = secret(ctx);
    let id = setup.customer.id;
    let forged = token::signed(&hs256(), &claims(&id.to_string()), &key);
    let reply = ctx.http.get("/me").bearer(&forged).send().await?;
    let body = reply.expect_json(200, "the customer: a well-formed HS256 token signed with SHOP_TOKEN_SECRET").map_err(|f| {
        f.hint("the key is SHOP_TOKEN_SECRET's bytes as written (not hex-decoded); `sub` is the id as a string; `iat` and `exp` whole seconds")
    })?;
    ensure!(
        id_of(&body) == Some(id),
        reply.fail(
            format!("GET /me with a token for customer {id} answered another account"),
            format!("200 OK with \"id\": {id}"),
        )
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Brute force

async fn register(ctx: &mut Ctx, tag: &str) -> Result<(String, String), Failure> {
    let email = ctx.rng.email(tag);
    let password = ctx.rng.password();
    let name = ctx.rng.person();
    ctx.secrets.push(password.clone());
    let reply = ctx
        .http
        .post("/register")
        .json(&json!({"email": email, "name": name, "password": password}))
        .send()
        .await?;
    reply.expect_json(201, "the new customer")?;
    Ok((email, password))
}

/// Spells an email another way: case, spaces.
fn variant(email: &str, index: usize) -> String {
    match index % 5 {
        0 => email.to_string(),
        1 => email.to_ascii_uppercase(),
        2 => format!("  {email} "),
        3 => {
            let mut chars: Vec<char> = email.chars().collect();
            for c in chars.iter_mut().step_by(2) {
                *c = c.to_ascii_uppercase();
            }
            format!(" {}", chars.into_iter().collect::<String>())
        }
        _ => format!("{} ", email.to_ascii_uppercase()),
    }
}

/// The locked account, for the headers' 429.
struct Locked {
    email: String,
    password: String,
}

async fn brute_force(ctx: &mut Ctx, setup: &Setup) -> Result<Locked, Failure> {
    let (email, password) = register(ctx, "attacks-brute").await?;
    for attempt in 0..5 {
        let wrong = ctx.rng.password();
        ctx.secrets.push(wrong.clone());
        let reply = ctx
            .http
            .post("/login")
            .json(&json!({"email": variant(&email, attempt), "password": wrong}))
            .send()
            .await?;
        reply.expect_problem(401, "about:blank").map_err(|f| {
            Failure::new(format!(
                "wrong password number {}: {}",
                attempt + 1,
                f.verdict
            ))
            .request(f.request.unwrap_or_default())
            .expected("401 Unauthorized: five attempts are answered as usual")
            .actual(f.actual.unwrap_or_default())
        })?;
        // Another account is never affected.
        if attempt == 4 {
            support::login(&ctx.http, &setup.customer.email, &setup.customer.password)
                .await
                .map_err(|f| {
                    Failure::new(format!(
                        "another account could not log in while one was being guessed: {}",
                        f.verdict
                    ))
                    .request(f.request.unwrap_or_default())
                    .actual(f.actual.unwrap_or_default())
                    .hint("count attempts per account (the email trimmed and in lower case), never for everyone at once")
                })?;
        }
    }
    for attempt in 5..7 {
        let reply = ctx
            .http
            .post("/login")
            .json(&json!({"email": variant(&email, attempt), "password": password}))
            .send()
            .await?;
        reply.expect_problem(429, "about:blank").map_err(|f| {
            Failure::new(format!(
                "attempt {} (the right password, the email spelled `{}`) after five wrong ones: {}",
                attempt + 1,
                variant(&email, attempt),
                f.verdict
            ))
            .request(f.request.unwrap_or_default())
            .expected("429 Too Many Requests: the sixth attempt within 900 s is refused, even with the right password")
            .actual(f.actual.unwrap_or_default())
            .hint("the account is the email trimmed and in lower case: the five wrong attempts, spelled in other cases and with spaces, count for the same account; check the limit before the password")
        })?;
        let retry = reply.header("retry-after").unwrap_or("");
        let seconds = retry.trim().parse::<u64>().ok();
        ensure!(
            seconds.is_some_and(|s| (1..=900).contains(&s)),
            reply.fail(
                format!(
                    "{}: `Retry-After` is {}, not a whole number of seconds from 1 to 900",
                    reply.sent.line(),
                    if retry.is_empty() { "missing" } else { retry }
                ),
                "429 with Retry-After: the seconds left in the 900 s window, rounded up",
            )
        );
    }
    Ok(Locked { email, password })
}

async fn twenty_at_once(ctx: &mut Ctx) -> Result<(), Failure> {
    let (email, _) = register(ctx, "attacks-burst").await?;
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for index in 0..20 {
        let wrong = ctx.rng.password();
        ctx.secrets.push(wrong.clone());
        let call = ctx
            .http
            .post("/login")
            .json(&json!({"email": variant(&email, index), "password": wrong}));
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            call.send().await
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        let reply = task
            .await
            .map_err(|e| Failure::new(format!("the grader's task failed: {e}")))??;
        replies.push(reply);
    }
    let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
    let (unauthorized, limited) = (count(401), count(429));
    if unauthorized != 5 || limited != 15 {
        let mut statuses: Vec<String> = replies.iter().map(|r| r.status.to_string()).collect();
        statuses.sort();
        return Err(Failure::new(format!(
            "20 wrong passwords sent at once for one account got {unauthorized} × 401 and {limited} × 429"
        ))
        .request(replies[0].sent.curl() + "   (20 times at once, the email in several spellings)")
        .expected("exactly five 401 and fifteen 429")
        .actual(format!("statuses: {}", statuses.join(", ")))
        .hint("count and decide in one step under one lock (a Mutex around the map, held while the count is read and raised, before the password is checked): a read, a slow argon2 check, then a write lets every request in"));
    }
    for reply in &replies {
        if reply.status == 429 {
            reply.expect_problem(429, "about:blank")?;
            ensure!(
                reply
                    .header("retry-after")
                    .and_then(|r| r.trim().parse::<u64>().ok())
                    .is_some_and(|s| (1..=900).contains(&s)),
                reply.fail(
                    "a 429 has no `Retry-After` of 1 to 900 seconds",
                    "429 with Retry-After",
                )
            );
        } else {
            reply.expect_problem(401, "about:blank")?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Security headers

const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
];

/// The five headers, once each, exactly: the first that is not.
fn header_fault(headers: &HeaderMap) -> Option<String> {
    for (name, value) in SECURITY_HEADERS {
        let values: Vec<String> = headers
            .get_all(*name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        match values.as_slice() {
            [one] if one == value => {}
            [] => return Some(format!("`{name}` is missing")),
            [one] => return Some(format!("`{name}` is `{one}`, not `{value}`")),
            many => {
                return Some(format!(
                    "`{name}` is sent {} times ({})",
                    many.len(),
                    many.join(" | ")
                ));
            }
        }
    }
    None
}

fn check_headers(reply: &Reply, status: u16) -> Result<(), Failure> {
    reply.expect_status(status, "an answer with the five security headers")?;
    if let Some(fault) = header_fault(&reply.headers) {
        let mut shown = status_line(reply.status);
        for (name, _) in SECURITY_HEADERS {
            for value in reply.header_all(name) {
                shown.push_str(&format!("\n{name}: {value}"));
            }
        }
        return Err(Failure::new(format!(
            "{}: the {} answer's security headers are wrong: {fault}",
            reply.sent.line(),
            status_line(status)
        ))
        .request(reply.sent.curl())
        .expected(
            SECURITY_HEADERS
                .iter()
                .map(|(n, v)| format!("{n}: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
        )
        .actual(shown)
        .hint("add them in one outermost layer (tower-http's SetResponseHeaderLayer::overriding, or a middleware) so that every answer gets them, the fallback's and the extractors' refusals too, and only once"));
    }
    Ok(())
}

async fn security_headers(ctx: &mut Ctx, setup: &Setup, locked: &Locked) -> Result<(), Failure> {
    let http = ctx.http.clone();
    let admin = support::admin_token(ctx).await?;
    let customer = setup.customer.token.clone();
    let (product, _) = setup.product;

    check_headers(&http.get("/products?limit=1").send().await?, 200)?;
    let email = ctx.rng.email("attacks-headers");
    let password = ctx.rng.password();
    ctx.secrets.push(password.clone());
    let body = json!({"email": email, "name": ctx.rng.person(), "password": password});
    check_headers(&http.post("/register").json(&body).send().await?, 201)?;
    check_headers(&http.delete("/cart").bearer(&customer).send().await?, 204)?;
    let reply = http.get(&format!("/products/{product}")).send().await?;
    reply.expect_json(200, "the product")?;
    let etag = reply.header("etag").unwrap_or("\"none\"").to_string();
    check_headers(
        &http
            .get(&format!("/products/{product}"))
            .header("if-none-match", etag)
            .send()
            .await?,
        304,
    )?;
    check_headers(&http.get("/products?limit=abc").send().await?, 400)?;
    check_headers(&http.get("/me").send().await?, 401)?;
    check_headers(
        &http.get("/admin/orders").bearer(&customer).send().await?,
        403,
    )?;
    check_headers(
        &http.get(&format!("/{}", ctx.rng.lower(9))).send().await?,
        404,
    )?;
    check_headers(&http.delete("/products").send().await?, 405)?;
    check_headers(&http.post("/register").json(&body).send().await?, 409)?;
    let current = http.get(&format!("/products/{product}")).send().await?;
    let current = current.expect_json(200, "the product")?;
    let mut replacement = current.clone();
    if let Some(map) = replacement.as_object_mut() {
        map.retain(|k, _| ["sku", "name", "price_cents", "stock"].contains(&k.as_str()));
    }
    let stale = format!("\"grader-stale-{}\"", ctx.rng.alnum(10));
    check_headers(
        &http
            .put(&format!("/products/{product}"))
            .bearer(&admin)
            .header("if-match", stale)
            .json(&replacement)
            .send()
            .await?,
        412,
    )?;
    check_headers(
        &http
            .post("/register")
            .json(&json!({"email": email}))
            .send()
            .await?,
        422,
    )?;
    check_headers(
        &http
            .post("/login")
            .json(&json!({"email": locked.email, "password": locked.password}))
            .send()
            .await?,
        429,
    )?;

    // An event stream.
    let order = live::buy(ctx, &customer, product, 1).await?;
    let order_id = id_of(&order).unwrap_or_default();
    let call = http
        .get(&format!("/orders/{order_id}/events"))
        .bearer(&customer);
    let stream = live::open_stream(call, "the order's events").await?;
    if let Some(fault) = header_fault(&stream.headers) {
        return Err(stream.fail(
            format!("GET /orders/{order_id}/events: the event stream's security headers are wrong: {fault}"),
            "the five security headers on the stream's head too",
        ));
    }
    drop(stream);
    Ok(())
}

// ---------------------------------------------------------------------------
// Secrets

fn no_secrets(ctx: &mut Ctx) -> Result<(), Failure> {
    let named = |secret: &str| -> String {
        for name in [
            "SHOP_TOKEN_SECRET",
            "SHOP_PAYMENT_API_KEY",
            "SHOP_ADMIN_PASSWORD",
        ] {
            if ctx.launch.var(name) == Some(secret) {
                return format!("the value of {name}");
            }
        }
        "a password a client sent".into()
    };
    for output in &ctx.outputs {
        for line in output.all_lines() {
            for secret in ctx.secrets.iter().filter(|s| s.len() >= 8) {
                if line.contains(secret.as_str()) {
                    let shown: String = line
                        .replace(secret.as_str(), "[SECRET]")
                        .chars()
                        .take(400)
                        .collect();
                    return Err(Failure::new(format!(
                        "the shop printed {}",
                        named(secret)
                    ))
                    .expected("no secret and no password in anything the shop writes, from start to stop")
                    .actual(format!("a line it wrote (the secret replaced by [SECRET]):\n{shown}"))
                    .hint("never log a request body, the configuration struct or a password; give secret types a Debug that prints [redacted] (secrecy's SecretString)"));
                }
            }
            if line.contains("$argon2") {
                let shown: String = line.chars().take(400).collect();
                return Err(Failure::new("the shop printed a password hash")
                    .expected("no password hash in anything the shop writes")
                    .actual(shown)
                    .hint("a hash is a secret too: never log a customer row whole"));
            }
        }
    }
    let _ = Duration::ZERO;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_ignores_only_ascii_case() {
        assert!(matches("Tasse ' OR '1'='1 x", "' or '1'='1"));
        assert!(!matches("Straße", "STRASSE"));
        assert!(!matches("Crème", "CRÈME"));
        assert_eq!(encode("a b'%"), "a%20b%27%25");
    }

    #[test]
    fn email_variants_are_the_same_account() {
        let email = "brute.abc@xyz.example";
        for i in 0..10 {
            assert_eq!(variant(email, i).trim().to_ascii_lowercase(), email);
        }
    }
}
