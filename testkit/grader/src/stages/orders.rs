//! `orders`: who sees an order (its owner and admins; to anybody else it
//! does not exist), the `paid` → `cancelled` / `shipped` transitions with
//! the stock given back on a cancel, and the admin's list of every order.

use serde_json::{Value, json};

use super::cart::{self, Product, new_product};
use super::checkout::{code_uses, expect_order, expected_order, new_code, order_shape, pay};
use crate::failure::Failure;
use crate::http::Reply;
use crate::support::{self, id_of};
use crate::{Account, Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "orders_lists_only_the_callers_orders",
    "an_order_is_visible_to_its_owner_and_admins_only",
    "cancelling_a_paid_order_gives_its_stock_back",
    "a_shipped_order_cannot_be_cancelled",
    "admin_orders_hold_every_order_of_the_run",
];

/// An order this stage made, as it must be now.
#[derive(Debug, Clone)]
struct Made {
    order: Value,
}

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let mut made: Vec<Made> = Vec::new();
    made.extend(stage.check(
        "orders_lists_only_the_callers_orders",
        orders_lists_only_the_callers_orders(ctx).await,
    )?);
    made.extend(stage.check(
        "an_order_is_visible_to_its_owner_and_admins_only",
        an_order_is_visible_to_its_owner_and_admins_only(ctx).await,
    )?);
    made.extend(stage.check(
        "cancelling_a_paid_order_gives_its_stock_back",
        cancelling_a_paid_order_gives_its_stock_back(ctx).await,
    )?);
    made.extend(stage.check(
        "a_shipped_order_cannot_be_cancelled",
        a_shipped_order_cannot_be_cancelled(ctx).await,
    )?);
    stage.check(
        "admin_orders_hold_every_order_of_the_run",
        admin_orders_hold_every_order_of_the_run(ctx, &made).await,
    )?;
    Ok(())
}

/// A new product with plenty of stock.
async fn stocked(ctx: &mut Ctx, marker: &str) -> Result<Product, Failure> {
    let price = ctx.rng.price();
    let stock = ctx.rng.range(20, 80);
    new_product(ctx, marker, price, stock).await
}

/// `GET /orders` as `account` (with extra query or headers): the orders.
async fn list(
    ctx: &Ctx,
    account: &Account,
    query: &str,
    header: Option<(&str, String)>,
) -> Result<(Reply, Vec<Value>), Failure> {
    let mut call = ctx
        .http
        .get(&format!("/orders{query}"))
        .bearer(&account.token);
    if let Some((name, value)) = header {
        call = call.header(name, value);
    }
    let reply = call.send().await?;
    let body = reply.expect_json(200, "the caller's orders")?;
    match body {
        Value::Array(orders) => Ok((reply, orders)),
        _ => Err(reply.fail(
            format!("{}: the answer is not an array", reply.sent.line()),
            "200 OK, an array of the caller's orders",
        )),
    }
}

/// The orders listed must be exactly `expected` (shapes), in ascending
/// `id` order.
fn expect_list(
    reply: &Reply,
    orders: &[Value],
    expected: &[Value],
    verdict: &str,
    hint: &str,
) -> Result<(), Failure> {
    let ids: Vec<Option<i64>> = orders.iter().map(id_of).collect();
    let wanted: Vec<Option<i64>> = expected.iter().map(id_of).collect();
    let shapes: Vec<Value> = orders.iter().map(order_shape).collect();
    let wanted_shapes: Vec<Value> = expected.iter().map(order_shape).collect();
    ensure!(
        ids == wanted && shapes == wanted_shapes,
        reply
            .fail(
                format!(
                    "{}: {verdict} (ids {} listed, expected {})",
                    reply.sent.line(),
                    json!(ids),
                    json!(wanted)
                ),
                format!(
                    "200 OK, exactly these orders in ascending id order: {}",
                    json!(expected)
                ),
            )
            .hint(hint.to_string())
    );
    Ok(())
}

async fn orders_lists_only_the_callers_orders(ctx: &mut Ctx) -> Result<Vec<Made>, Failure> {
    let marker = cart::marker(ctx, "orders");
    let ada = support::customer(ctx, "orders").await?;
    let bob = support::customer(ctx, "orders").await?;
    let first = stocked(ctx, &marker).await?;
    let second = stocked(ctx, &marker).await?;
    let mut ada_orders = Vec::new();
    let mut bob_orders = Vec::new();
    let q1 = ctx.rng.range(1, 5);
    ada_orders.push(pay(ctx, &ada, &[(&first, q1)], None).await?.1);
    let q2 = ctx.rng.range(1, 5);
    bob_orders.push(pay(ctx, &bob, &[(&first, q2), (&second, 1)], None).await?.1);
    let q3 = ctx.rng.range(1, 5);
    ada_orders.push(pay(ctx, &ada, &[(&second, q3)], None).await?.1);

    let hint = "list only the orders whose customer_id is the caller's, from the token; nothing in the query or the headers names the caller";
    let (reply, orders) = list(ctx, &ada, "", None).await?;
    expect_list(
        &reply,
        &orders,
        &ada_orders,
        "the list is not the caller's orders",
        hint,
    )?;
    let query = format!("?customer_id={}", bob.id);
    let (reply, orders) = list(ctx, &ada, &query, None).await?;
    expect_list(
        &reply,
        &orders,
        &ada_orders,
        "a customer_id in the query changed whose orders are listed",
        hint,
    )?;
    let (reply, orders) = list(ctx, &ada, "", Some(("x-customer-id", bob.id.to_string()))).await?;
    expect_list(
        &reply,
        &orders,
        &ada_orders,
        "an X-Customer-Id header changed whose orders are listed",
        hint,
    )?;
    let query = format!("?customer_id={}", ada.id);
    let (reply, orders) = list(ctx, &bob, &query, None).await?;
    expect_list(
        &reply,
        &orders,
        &bob_orders,
        "the list is not the caller's orders",
        hint,
    )?;

    // The admin's own list holds none of them.
    let admin = admin_account(ctx).await?;
    let (reply, orders) = list(ctx, &admin, "", None).await?;
    let theirs: Vec<i64> = ada_orders
        .iter()
        .chain(&bob_orders)
        .filter_map(id_of)
        .collect();
    let leaked: Vec<i64> = orders
        .iter()
        .filter_map(id_of)
        .filter(|id| theirs.contains(id))
        .collect();
    ensure!(
        leaked.is_empty(),
        reply
            .fail(
                format!("GET /orders: the admin's own list holds customers' orders {leaked:?}"),
                "200 OK, the admin's own orders only (every order is GET /admin/orders)",
            )
            .hint(hint)
    );
    Ok(ada_orders
        .into_iter()
        .chain(bob_orders)
        .map(|order| Made { order })
        .collect())
}

/// The admin as an account (its id is not needed here).
async fn admin_account(ctx: &mut Ctx) -> Result<Account, Failure> {
    let token = support::admin_token(ctx).await?;
    Ok(Account {
        id: 0,
        email: ctx.admin_email.clone(),
        password: String::new(),
        name: "Admin".into(),
        token,
    })
}

/// The body with the order id replaced by `{id}`, wherever it shows.
fn without_id(body: &Value, id: i64) -> Value {
    let digits = id.to_string();
    let replace = |text: &str| -> String {
        let mut out = String::new();
        let mut run = String::new();
        for c in text.chars().chain(std::iter::once('\u{0}')) {
            if c.is_ascii_digit() {
                run.push(c);
                continue;
            }
            if run == digits {
                out.push_str("{id}");
            } else {
                out.push_str(&run);
            }
            run.clear();
            if c != '\u{0}' {
                out.push(c);
            }
        }
        out
    };
    match body {
        Value::Object(members) => Value::Object(
            members
                .iter()
                // `instance` is not checked (it may hold the query string).
                .filter(|(name, _)| name.as_str() != "instance")
                .map(|(name, value)| {
                    let value = match value {
                        Value::String(text) => Value::String(replace(text)),
                        Value::Number(n) if name == "order_id" && n.as_i64() == Some(id) => {
                            json!("{id}")
                        }
                        other => other.clone(),
                    };
                    (name.clone(), value)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `reply` (about `id`) must be the 404 of a missing order (`missing`,
/// about `missing_id`), but for the id.
fn same_as_missing(
    reply: &Reply,
    id: i64,
    missing: &Reply,
    missing_id: i64,
) -> Result<(), Failure> {
    let problem = reply
        .expect_problem(404, "order-not-found")
        .map_err(|f| {
            f.hint("another customer's order does not exist for the caller: answer exactly the 404 of a missing order, never 403 (which tells that it exists)")
        })?;
    ensure!(
        problem.get("order_id").and_then(Value::as_i64) == Some(id),
        reply.fail(
            format!(
                "{}: the 404 does not carry `order_id` {id}",
                reply.sent.line()
            ),
            format!("404 order-not-found with \"order_id\": {id}"),
        )
    );
    let a = without_id(&problem, id);
    let b = missing.json().map(|body| without_id(&body, missing_id))?;
    ensure!(
        a == b && reply.header("content-type") == missing.header("content-type"),
        reply
            .fail(
                format!(
                    "{}: the 404 for another customer's order differs from the 404 for an order that does not exist",
                    reply.sent.line()
                ),
                format!("the missing order's answer, but for the id: {}", missing.shown()),
            )
            .hint("any difference (a title, a detail, a member) tells a stranger that the order exists")
    );
    Ok(())
}

async fn an_order_is_visible_to_its_owner_and_admins_only(
    ctx: &mut Ctx,
) -> Result<Vec<Made>, Failure> {
    let marker = cart::marker(ctx, "orders");
    let owner = support::customer(ctx, "orders").await?;
    let stranger = support::customer(ctx, "orders").await?;
    let product = stocked(ctx, &marker).await?;
    let quantity = ctx.rng.range(1, 5);
    let (_, order) = pay(ctx, &owner, &[(&product, quantity)], None).await?;
    let id = id_of(&order).unwrap_or_default();
    let expected = expected_order(owner.id, "paid", &[(&product, quantity)], None, 0);
    let path = format!("/orders/{id}");

    let reply = ctx.http.get(&path).bearer(&owner.token).send().await?;
    let got = reply.expect_json(200, "the owner's order")?;
    expect_order(
        &reply,
        &got,
        &expected,
        "the owner's order is not the order paid",
        "",
    )?;
    let admin = support::admin_token(ctx).await?;
    let reply = ctx.http.get(&path).bearer(&admin).send().await?;
    let got = reply
        .expect_json(200, "the order: admins see every order")
        .map_err(|f| {
            f.hint("an order is visible to its owner and to admins (role read from the database)")
        })?;
    expect_order(
        &reply,
        &got,
        &expected,
        "the order an admin sees is not the order paid",
        "",
    )?;

    let missing_id = support::missing_id(ctx);
    let missing = ctx
        .http
        .get(&format!("/orders/{missing_id}"))
        .bearer(&stranger.token)
        .send()
        .await?;
    missing.expect_problem(404, "order-not-found")?;
    let reply = ctx.http.get(&path).bearer(&stranger.token).send().await?;
    same_as_missing(&reply, id, &missing, missing_id)?;
    let reply = ctx
        .http
        .get(&format!("{path}?customer_id={}", owner.id))
        .bearer(&stranger.token)
        .send()
        .await?;
    same_as_missing(&reply, id, &missing, missing_id)?;

    // Nor can the stranger cancel it.
    let missing_cancel = ctx
        .http
        .post(&format!("/orders/{missing_id}/cancel"))
        .bearer(&stranger.token)
        .send()
        .await?;
    missing_cancel.expect_problem(404, "order-not-found")?;
    let reply = ctx
        .http
        .post(&format!("{path}/cancel"))
        .bearer(&stranger.token)
        .send()
        .await?;
    same_as_missing(&reply, id, &missing_cancel, missing_id)?;
    let reply = ctx.http.get(&path).bearer(&owner.token).send().await?;
    let got = reply.expect_json(200, "the owner's order")?;
    expect_order(
        &reply,
        &got,
        &expected,
        "after another customer's refused cancel, the order changed",
        "check the owner before changing anything, in the same query (`WHERE id = ? AND customer_id = ?`)",
    )?;
    Ok(vec![Made { order }])
}

/// `POST /orders/{id}/{action}` (no body) with `token`.
async fn act(ctx: &Ctx, token: &str, id: i64, action: &str) -> Result<Reply, Failure> {
    ctx.http
        .post(&format!("/orders/{id}/{action}"))
        .bearer(token)
        .send()
        .await
}

/// A `200` with the order in `status`, otherwise as `expected`.
fn expect_now(reply: &Reply, expected: &Value, status: &str, hint: &str) -> Result<Value, Failure> {
    let order = reply.expect_json(200, &format!("the order, now {status}"))?;
    let mut expected = expected.clone();
    expected["status"] = json!(status);
    expect_order(
        reply,
        &order,
        &expected,
        "the order answered is not the order, changed",
        hint,
    )?;
    Ok(order)
}

/// A `409` `order-status-conflict` naming `status`.
fn expect_conflict(reply: &Reply, status: &str, hint: &str) -> Result<(), Failure> {
    let problem = reply
        .expect_problem(409, "order-status-conflict")
        .map_err(|f| f.hint(hint.to_string()))?;
    ensure!(
        problem.get("order_status").and_then(Value::as_str) == Some(status),
        reply
            .fail(
                format!(
                    "{}: the 409's `order_status` is {}, expected \"{status}\"",
                    reply.sent.line(),
                    problem.get("order_status").cloned().unwrap_or(Value::Null)
                ),
                format!("409 order-status-conflict with \"order_status\": \"{status}\""),
            )
            .hint("`order_status` is the order's current status (`status` is the HTTP status)")
    );
    Ok(())
}

async fn expect_stock(
    ctx: &Ctx,
    product: &Product,
    stock: i64,
    after: &Reply,
    verdict: &str,
    hint: &str,
) -> Result<(), Failure> {
    let now = support::stock_of(&ctx.http, product.id).await?;
    ensure!(
        now == stock,
        Failure::new(format!(
            "{verdict}: the stock of product {} is {now}, expected {stock}",
            product.id
        ))
        .request(after.sent.curl())
        .expected(format!("GET /products/{}: \"stock\": {stock}", product.id))
        .actual(format!("\"stock\": {now}"))
        .hint(hint.to_string())
    );
    Ok(())
}

async fn cancelling_a_paid_order_gives_its_stock_back(ctx: &mut Ctx) -> Result<Vec<Made>, Failure> {
    let marker = cart::marker(ctx, "orders");
    let owner = support::customer(ctx, "orders").await?;
    let first = stocked(ctx, &marker).await?;
    let second = stocked(ctx, &marker).await?;
    let percent = ctx.rng.range(5, 50);
    let code = new_code(ctx, json!({"percent_off": percent})).await?;
    let lines = [
        (&first, ctx.rng.range(1, 9)),
        (&second, ctx.rng.range(1, 9)),
    ];
    let subtotal: i64 = lines.iter().map(|(p, q)| p.price * q).sum();
    let discount = subtotal * percent / 100;
    let (_, order) = pay(ctx, &owner, &lines, Some((&code, discount))).await?;
    let id = id_of(&order).unwrap_or_default();
    let expected = expected_order(owner.id, "paid", &lines, Some(&code), discount);

    let reply = act(ctx, &owner.token, id, "cancel").await?;
    let cancelled = expect_now(
        &reply,
        &expected,
        "cancelled",
        "the owner cancels a paid order: 200 with the order, status cancelled",
    )?;
    for (product, _) in &lines {
        expect_stock(
            ctx,
            product,
            product.stock,
            &reply,
            "after the order was cancelled",
            "a cancel gives each item's quantity back to its product's stock, in the transaction that changes the status",
        )
        .await?;
    }
    let read = ctx
        .http
        .get(&format!("/orders/{id}"))
        .bearer(&owner.token)
        .send()
        .await?;
    expect_now(&read, &expected, "cancelled", "the status change is stored")?;
    let uses = code_uses(ctx, &code).await?;
    ensure!(
        uses == 1,
        Failure::new(format!(
            "after the order with code {code} was cancelled, its `uses` is {uses}, expected 1"
        ))
        .request(reply.sent.curl())
        .expected("\"uses\": 1 (a cancelled order keeps its use)")
        .actual(format!("\"uses\": {uses}"))
    );

    // Cancelled is final: a second cancel and a ship are 409, nothing moves.
    let again = act(ctx, &owner.token, id, "cancel").await?;
    expect_conflict(
        &again,
        "cancelled",
        "a cancelled order cannot be cancelled again: 409 order-status-conflict, and no stock given back twice",
    )?;
    let admin = support::admin_token(ctx).await?;
    let ship = act(ctx, &admin, id, "ship").await?;
    expect_conflict(&ship, "cancelled", "only a paid order can be shipped")?;
    for (product, _) in &lines {
        expect_stock(
            ctx,
            product,
            product.stock,
            &again,
            "after a refused second cancel and a refused ship",
            "a refused change changes nothing: check the status and change it in one statement (`UPDATE ... WHERE id = ? AND status = 'paid'`)",
        )
        .await?;
    }

    // An admin may cancel a customer's order too.
    let quantity = ctx.rng.range(1, 9);
    let (_, other) = pay(ctx, &owner, &[(&first, quantity)], None).await?;
    let other_id = id_of(&other).unwrap_or_default();
    let reply = act(ctx, &admin, other_id, "cancel").await?;
    let other_cancelled = expect_now(
        &reply,
        &expected_order(owner.id, "paid", &[(&first, quantity)], None, 0),
        "cancelled",
        "an admin may cancel any paid order",
    )?;
    expect_stock(
        ctx,
        &first,
        first.stock,
        &reply,
        "after an admin cancelled the order",
        "a cancel gives each item's quantity back to its product's stock",
    )
    .await?;
    Ok(vec![
        Made { order: cancelled },
        Made {
            order: other_cancelled,
        },
    ])
}

async fn a_shipped_order_cannot_be_cancelled(ctx: &mut Ctx) -> Result<Vec<Made>, Failure> {
    let marker = cart::marker(ctx, "orders");
    let owner = support::customer(ctx, "orders").await?;
    let product = stocked(ctx, &marker).await?;
    let quantity = ctx.rng.range(1, 9);
    let lines = [(&product, quantity)];
    let (_, order) = pay(ctx, &owner, &lines, None).await?;
    let id = id_of(&order).unwrap_or_default();
    let expected = expected_order(owner.id, "paid", &lines, None, 0);

    let reply = act(ctx, &owner.token, id, "ship").await?;
    reply.expect_problem(403, "about:blank").map_err(|f| {
        f.hint("shipping is for admins: a customer gets 403, even for their own order")
    })?;
    let read = ctx
        .http
        .get(&format!("/orders/{id}"))
        .bearer(&owner.token)
        .send()
        .await?;
    let got = read.expect_json(200, "the order")?;
    expect_order(
        &read,
        &got,
        &expected,
        "after a customer's refused ship, the order changed",
        "",
    )?;

    let admin = support::admin_token(ctx).await?;
    let reply = act(ctx, &admin, id, "ship").await?;
    let shipped = expect_now(
        &reply,
        &expected,
        "shipped",
        "the admin ships a paid order: 200 with the order, status shipped",
    )?;
    expect_stock(
        ctx,
        &product,
        product.stock - quantity,
        &reply,
        "after the order was shipped",
        "shipping gives no stock back",
    )
    .await?;
    for (token, who) in [
        (owner.token.as_str(), "the owner"),
        (admin.as_str(), "an admin"),
    ] {
        let reply = act(ctx, token, id, "cancel").await?;
        expect_conflict(
            &reply,
            "shipped",
            &format!("a shipped order is final: {who}'s cancel is 409 order-status-conflict"),
        )?;
    }
    let reply = act(ctx, &admin, id, "ship").await?;
    expect_conflict(&reply, "shipped", "a shipped order cannot be shipped again")?;
    expect_stock(
        ctx,
        &product,
        product.stock - quantity,
        &reply,
        "after refused cancels of a shipped order",
        "a refused cancel gives nothing back",
    )
    .await?;
    let read = ctx
        .http
        .get(&format!("/orders/{id}"))
        .bearer(&owner.token)
        .send()
        .await?;
    expect_now(&read, &expected, "shipped", "the status change is stored")?;
    Ok(vec![Made { order: shipped }])
}

async fn admin_orders_hold_every_order_of_the_run(
    ctx: &mut Ctx,
    made: &[Made],
) -> Result<(), Failure> {
    let admin = support::admin_token(ctx).await?;
    let reply = ctx.http.get("/admin/orders").bearer(&admin).send().await?;
    let body = reply.expect_json(200, "every order")?;
    let Some(orders) = body.as_array() else {
        return Err(reply.fail(
            "GET /admin/orders: the answer is not an array",
            "200 OK, an array of every order",
        ));
    };
    let ids: Vec<Option<i64>> = orders.iter().map(id_of).collect();
    let ascending = ids.iter().all(Option::is_some) && ids.windows(2).all(|w| w[0] < w[1]);
    ensure!(
        ascending,
        reply.fail(
            "GET /admin/orders: the orders are not in ascending id order",
            "200 OK, every order, in ascending id order",
        )
    );
    for Made { order } in made {
        let id = id_of(order);
        let listed = orders.iter().find(|o| id_of(o) == id);
        let Some(listed) = listed else {
            return Err(reply
                .fail(
                    format!(
                        "GET /admin/orders: order {} is missing ({} orders listed)",
                        id.unwrap_or_default(),
                        orders.len()
                    ),
                    format!("every order of the run, among them {}", order_shape(order)),
                )
                .hint("the admin's list is every customer's orders, not the admin's own"));
        };
        ensure!(
            order_shape(listed) == order_shape(order),
            reply.fail(
                format!(
                    "GET /admin/orders: order {} is listed as {}, expected {}",
                    id.unwrap_or_default(),
                    order_shape(listed),
                    order_shape(order)
                ),
                "every order as it is now (its status included)",
            )
        );
    }
    Ok(())
}
