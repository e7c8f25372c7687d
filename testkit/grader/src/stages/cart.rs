//! `cart`: each customer's cart, stored: lines set and removed in
//! `product_id` order with current prices, bad quantities refused, carts
//! kept apart, anonymous callers refused. Also the helpers the `checkout`
//! and `orders` stages share (products, carts, comparisons).

use serde_json::{Value, json};

use crate::failure::Failure;
use crate::http::Reply;
use crate::support::{self, id_of};
use crate::{Account, Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "a_new_cart_is_empty",
    "cart_lines_are_set_and_removed_in_product_id_order",
    "a_price_change_shows_in_the_cart",
    "bad_cart_quantities_are_422_and_change_nothing",
    "an_unknown_product_in_the_cart_is_404",
    "carts_belong_to_their_customer",
    "cart_routes_without_a_token_are_401",
    "emptying_the_cart_is_204",
];

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    stage.check("a_new_cart_is_empty", a_new_cart_is_empty(ctx).await)?;
    stage.check(
        "cart_lines_are_set_and_removed_in_product_id_order",
        cart_lines_are_set_and_removed_in_product_id_order(ctx).await,
    )?;
    stage.check(
        "a_price_change_shows_in_the_cart",
        a_price_change_shows_in_the_cart(ctx).await,
    )?;
    stage.check(
        "bad_cart_quantities_are_422_and_change_nothing",
        bad_cart_quantities_are_422_and_change_nothing(ctx).await,
    )?;
    stage.check(
        "an_unknown_product_in_the_cart_is_404",
        an_unknown_product_in_the_cart_is_404(ctx).await,
    )?;
    stage.check(
        "carts_belong_to_their_customer",
        carts_belong_to_their_customer(ctx).await,
    )?;
    stage.check(
        "cart_routes_without_a_token_are_401",
        cart_routes_without_a_token_are_401(ctx).await,
    )?;
    stage.check(
        "emptying_the_cart_is_204",
        emptying_the_cart_is_204(ctx).await,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------
// Helpers shared with the `checkout` and `orders` stages.
// ---------------------------------------------------------------------

/// A product the grader made, as it is known to be now.
#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub price: i64,
    pub stock: i64,
}

/// A marker no other stage's names hold: `cart-x7Qp2a`.
pub(crate) fn marker(ctx: &mut Ctx, stage: &str) -> String {
    format!("{stage}-{}", ctx.rng.alnum(6))
}

/// A product name with non-ASCII letters, quotes, `%`, `_` and `\`.
fn odd_name(ctx: &mut Ctx, marker: &str) -> String {
    let extra = *ctx.rng.pick(&[
        "\"Spécial\"",
        "50% off_",
        "l'été \\ hiver",
        "Größe_M",
        "«100%»",
    ]);
    format!("{} {extra}", ctx.rng.product_name(marker))
}

/// A new product (made by the admin) with a random odd name.
pub(crate) async fn new_product(
    ctx: &mut Ctx,
    marker: &str,
    price: i64,
    stock: i64,
) -> Result<Product, Failure> {
    let name = odd_name(ctx, marker);
    let body = support::product(ctx, &name, price, stock).await?;
    Ok(Product {
        id: id_of(&body).unwrap_or_default(),
        sku: body
            .get("sku")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        name,
        price,
        stock,
    })
}

/// `GET /products/{id}`: the reply and the product.
pub(crate) async fn get_product(ctx: &Ctx, id: i64) -> Result<(Reply, Value), Failure> {
    let reply = ctx.http.get(&format!("/products/{id}")).send().await?;
    let body = reply.expect_json(200, "the product")?;
    Ok((reply, body))
}

/// The admin replaces the product's price and stock (`PUT` with the
/// current `ETag`); `product` is updated.
pub(crate) async fn update_product(
    ctx: &mut Ctx,
    product: &mut Product,
    price: i64,
    stock: i64,
) -> Result<(), Failure> {
    let admin = support::admin_token(ctx).await?;
    let (reply, _) = get_product(ctx, product.id).await?;
    let Some(etag) = reply.header("etag").map(str::to_string) else {
        return Err(reply.fail(
            format!("GET /products/{}: no ETag header", product.id),
            "200 OK with an ETag header",
        ));
    };
    let reply = ctx
        .http
        .put(&format!("/products/{}", product.id))
        .bearer(&admin)
        .header("if-match", etag)
        .json(&json!({
            "sku": product.sku,
            "name": product.name,
            "price_cents": price,
            "stock": stock,
        }))
        .send()
        .await?;
    reply.expect_json(200, "the product as it is now")?;
    product.price = price;
    product.stock = stock;
    Ok(())
}

/// `GET /cart`: the reply and the cart.
pub(crate) async fn get_cart(ctx: &Ctx, account: &Account) -> Result<(Reply, Value), Failure> {
    let reply = ctx.http.get("/cart").bearer(&account.token).send().await?;
    let body = reply.expect_json(200, "the caller's cart")?;
    Ok((reply, body))
}

/// `PUT /cart/items/{id}` with a valid quantity: the reply and the cart.
pub(crate) async fn set_line(
    ctx: &Ctx,
    account: &Account,
    product_id: i64,
    quantity: i64,
) -> Result<(Reply, Value), Failure> {
    let reply = ctx
        .http
        .put(&format!("/cart/items/{product_id}"))
        .bearer(&account.token)
        .json(&json!({"quantity": quantity}))
        .send()
        .await?;
    let body = reply.expect_json(200, "the cart with the line set")?;
    Ok((reply, body))
}

/// Empties the cart, then puts these lines in it.
pub(crate) async fn fill_cart(
    ctx: &Ctx,
    account: &Account,
    lines: &[(&Product, i64)],
) -> Result<(), Failure> {
    let reply = ctx
        .http
        .delete("/cart")
        .bearer(&account.token)
        .send()
        .await?;
    reply.expect_status(204, "the cart emptied")?;
    for (product, quantity) in lines {
        set_line(ctx, account, product.id, *quantity).await?;
    }
    Ok(())
}

/// The cart these lines make, at the products' prices as the grader knows
/// them, in `product_id` order.
pub(crate) fn expected_cart(lines: &[(&Product, i64)]) -> Value {
    let mut lines: Vec<&(&Product, i64)> = lines.iter().collect();
    lines.sort_by_key(|(p, _)| p.id);
    let items: Vec<Value> = lines
        .iter()
        .map(|(p, q)| {
            json!({
                "product_id": p.id,
                "sku": p.sku,
                "name": p.name,
                "quantity": q,
                "price_cents": p.price,
                "line_total_cents": p.price * q,
            })
        })
        .collect();
    let subtotal: i64 = lines.iter().map(|(p, q)| p.price * q).sum();
    json!({"items": items, "subtotal_cents": subtotal})
}

/// A cart as the grader compares it: the members the contract names, in
/// the order the shop gave the lines.
pub(crate) fn cart_shape(cart: &Value) -> Value {
    let items = match cart.get("items") {
        Some(Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|item| {
                    let mut kept = serde_json::Map::new();
                    for member in [
                        "product_id",
                        "sku",
                        "name",
                        "quantity",
                        "price_cents",
                        "line_total_cents",
                    ] {
                        kept.insert(
                            member.into(),
                            item.get(member).cloned().unwrap_or(Value::Null),
                        );
                    }
                    Value::Object(kept)
                })
                .collect(),
        ),
        other => other.cloned().unwrap_or(Value::Null),
    };
    json!({
        "items": items,
        "subtotal_cents": cart.get("subtotal_cents").cloned().unwrap_or(Value::Null),
    })
}

/// The cart must be `expected`.
pub(crate) fn expect_cart(
    reply: &Reply,
    cart: &Value,
    expected: &Value,
    verdict: &str,
) -> Result<(), Failure> {
    let shape = cart_shape(cart);
    ensure!(
        shape == *expected,
        reply
            .fail(
                format!(
                    "{}: {verdict}: {}",
                    reply.sent.line(),
                    cart_difference(&shape, expected)
                ),
                format!("200 OK, a cart holding (at least) {expected}"),
            )
            .hint("`items` in ascending product_id order, each with the product's current price_cents, line_total_cents = quantity × price_cents, subtotal_cents their sum")
    );
    Ok(())
}

/// What first differs between two carts (both in `cart_shape`).
fn cart_difference(actual: &Value, expected: &Value) -> String {
    let (Some(items), Some(wanted)) = (actual["items"].as_array(), expected["items"].as_array())
    else {
        return "`items` is not an array".into();
    };
    let ids =
        |items: &[Value]| -> Vec<Value> { items.iter().map(|i| i["product_id"].clone()).collect() };
    let (got_ids, wanted_ids) = (ids(items), ids(wanted));
    if got_ids != wanted_ids {
        let mut sorted = got_ids.clone();
        sorted.sort_by_key(|v| v.as_i64());
        let mut wanted_sorted = wanted_ids.clone();
        wanted_sorted.sort_by_key(|v| v.as_i64());
        if sorted == wanted_sorted {
            return format!(
                "the lines come in product_id order {}, expected {}",
                json!(got_ids),
                json!(wanted_ids)
            );
        }
        return format!(
            "the lines are for products {}, expected {}",
            json!(got_ids),
            json!(wanted_ids)
        );
    }
    for (item, want) in items.iter().zip(wanted) {
        for member in ["quantity", "price_cents", "line_total_cents", "sku", "name"] {
            if item[member] != want[member] {
                return format!(
                    "product {}'s `{member}` is {}, expected {}",
                    want["product_id"], item[member], want[member]
                );
            }
        }
    }
    format!(
        "`subtotal_cents` is {}, expected {}",
        actual["subtotal_cents"], expected["subtotal_cents"]
    )
}

/// Reads the cart and compares it with the lines.
pub(crate) async fn cart_is(
    ctx: &Ctx,
    account: &Account,
    lines: &[(&Product, i64)],
    verdict: &str,
) -> Result<(), Failure> {
    let (reply, cart) = get_cart(ctx, account).await?;
    expect_cart(&reply, &cart, &expected_cart(lines), verdict)
}

// ---------------------------------------------------------------------
// Scenarios.
// ---------------------------------------------------------------------

async fn a_new_cart_is_empty(ctx: &mut Ctx) -> Result<(), Failure> {
    let account = support::customer(ctx, "cart").await?;
    let (reply, cart) = get_cart(ctx, &account).await?;
    expect_cart(
        &reply,
        &cart,
        &json!({"items": [], "subtotal_cents": 0}),
        "a new customer's cart is not empty",
    )
}

async fn cart_lines_are_set_and_removed_in_product_id_order(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = marker(ctx, "cart");
    let account = support::customer(ctx, "cart").await?;
    let mut products = Vec::new();
    for _ in 0..3 {
        let price = ctx.rng.price();
        // Small stocks: a cart may hold more than the stock.
        let stock = ctx.rng.range(0, 3);
        products.push(new_product(ctx, &marker, price, stock).await?);
    }
    // Added in an order that is not the ids' order.
    let mut quantities: Vec<i64> = (0..3).map(|_| ctx.rng.range(4, 100)).collect();
    let order = [2usize, 0, 1];
    let mut lines: Vec<(&Product, i64)> = Vec::new();
    for &i in &order {
        let (reply, cart) = set_line(ctx, &account, products[i].id, quantities[i]).await?;
        lines.push((&products[i], quantities[i]));
        expect_cart(
            &reply,
            &cart,
            &expected_cart(&lines),
            "the cart answered is not the lines put in it",
        )
        .map_err(|f| {
            f.hint("PUT answers the whole cart: items in ascending product_id order (whatever order they were added in), current prices, line totals and subtotal; a cart may hold more than the stock (stock is checked at checkout)")
        })?;
    }
    // Setting a line replaces its quantity (not adds to it).
    let new_quantity = ctx.rng.range(1, 3);
    quantities[0] = new_quantity;
    let (reply, cart) = set_line(ctx, &account, products[0].id, new_quantity).await?;
    let lines: Vec<(&Product, i64)> = products.iter().zip(quantities.iter().copied()).collect();
    expect_cart(
        &reply,
        &cart,
        &expected_cart(&lines),
        "setting a line's quantity did not replace it",
    )
    .map_err(|f| {
        f.hint("PUT /cart/items/{id} sets the quantity to the one sent (an upsert), it does not add to it")
    })?;
    cart_is(
        ctx,
        &account,
        &lines,
        "the cart read back is not the cart PUT answered",
    )
    .await?;

    // Removing a line: 204, also when it is not there.
    let removed = products[1].id;
    for time in ["", " (a second time, the line already gone)"] {
        let reply = ctx
            .http
            .delete(&format!("/cart/items/{removed}"))
            .bearer(&account.token)
            .send()
            .await?;
        reply
            .expect_status(204, "the line removed")
            .map_err(|f| Failure {
                verdict: format!("{}{time}", f.verdict),
                ..f
            })?;
    }
    let lines: Vec<(&Product, i64)> =
        vec![(&products[0], quantities[0]), (&products[2], quantities[2])];
    cart_is(
        ctx,
        &account,
        &lines,
        "after DELETE /cart/items/{id}, the cart is not the other lines",
    )
    .await
}

async fn a_price_change_shows_in_the_cart(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = marker(ctx, "cart");
    let account = support::customer(ctx, "cart").await?;
    let price = ctx.rng.price();
    let stock = ctx_stock(ctx);
    let mut product = new_product(ctx, &marker, price, stock).await?;
    let quantity = ctx.rng.range(2, 9);
    set_line(ctx, &account, product.id, quantity).await?;
    let new_price = loop {
        let p = ctx.rng.price();
        if p != product.price {
            break p;
        }
    };
    let stock = product.stock;
    update_product(ctx, &mut product, new_price, stock).await?;
    cart_is(
        ctx,
        &account,
        &[(&product, quantity)],
        "after the admin changed the product's price, the cart does not show the new price",
    )
    .await
    .map_err(|f| {
        f.hint("a cart line stores the product and the quantity, not the price: read the price from the product when the cart is shown")
    })
}

fn ctx_stock(ctx: &mut Ctx) -> i64 {
    ctx.rng.range(20, 500)
}

async fn bad_cart_quantities_are_422_and_change_nothing(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = marker(ctx, "cart");
    let account = support::customer(ctx, "cart").await?;
    let price = ctx.rng.price();
    let stock = ctx_stock(ctx);
    let inside = new_product(ctx, &marker, price, stock).await?;
    let price = ctx.rng.price();
    let outside = new_product(ctx, &marker, price, stock).await?;
    let quantity = ctx.rng.range(1, 100);
    set_line(ctx, &account, inside.id, quantity).await?;
    let lines = [(&inside, quantity)];

    let cases: [(String, &str, &str); 7] = [
        (r#"{"quantity": 0}"#.into(), "quantity", "a quantity of 0"),
        (
            r#"{"quantity": 101}"#.into(),
            "quantity",
            "a quantity of 101",
        ),
        (
            r#"{"quantity": "2"}"#.into(),
            "quantity",
            "a quantity as a string",
        ),
        (
            r#"{"quantity": 2.5}"#.into(),
            "quantity",
            "a quantity of 2.5",
        ),
        (
            r#"{"quantity": null}"#.into(),
            "quantity",
            "a null quantity",
        ),
        ("{}".into(), "quantity", "no quantity"),
        (
            format!(
                r#"{{"quantity": 2, "price_cents": {}}}"#,
                ctx.rng.range(1, 99)
            ),
            "price_cents",
            "an extra price_cents member",
        ),
    ];
    for (body, field, what) in cases {
        for product in [&inside, &outside] {
            let reply = ctx
                .http
                .put(&format!("/cart/items/{}", product.id))
                .bearer(&account.token)
                .raw("application/json", body.clone())
                .send()
                .await?;
            let problem = reply.expect_problem(422, "validation").map_err(|f| {
                f.hint(format!("{what} is refused: quantity is a whole number from 1 to 100 and the only member of the body"))
            })?;
            let named = problem
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
                    format!("{}: the 422 for {what} does not name `{field}` in `errors`", reply.sent.line()),
                    format!("422 validation with errors: [{{\"field\": \"{field}\", \"message\": \"...\"}}]"),
                )
            );
            let (reply_cart, cart) = get_cart(ctx, &account).await?;
            expect_cart(
                &reply_cart,
                &cart,
                &expected_cart(&lines),
                &format!("the cart changed after a refused PUT with {what} (request: {})", reply.sent.curl()),
            )
            .map_err(|f| f.hint("a refused request changes nothing: validate the whole body before touching the cart"))?;
        }
    }
    Ok(())
}

async fn an_unknown_product_in_the_cart_is_404(ctx: &mut Ctx) -> Result<(), Failure> {
    let account = support::customer(ctx, "cart").await?;
    let missing = support::missing_id(ctx);
    let quantity = ctx.rng.range(1, 100);
    let reply = ctx
        .http
        .put(&format!("/cart/items/{missing}"))
        .bearer(&account.token)
        .json(&json!({"quantity": quantity}))
        .send()
        .await?;
    let problem = reply.expect_problem(404, "product-not-found")?;
    ensure!(
        problem.get("product_id").and_then(Value::as_i64) == Some(missing),
        reply.fail(
            format!(
                "{}: the 404 does not carry `product_id` {missing}",
                reply.sent.line()
            ),
            format!("404 product-not-found with \"product_id\": {missing}"),
        )
    );
    // The body is checked before the product.
    let reply = ctx
        .http
        .put(&format!("/cart/items/{missing}"))
        .bearer(&account.token)
        .json(&json!({"quantity": 0}))
        .send()
        .await?;
    reply.expect_problem(422, "validation").map_err(|f| {
        f.hint("the body is checked first, then the product: a broken body for a missing product is 422")
    })?;
    let (reply, cart) = get_cart(ctx, &account).await?;
    expect_cart(
        &reply,
        &cart,
        &json!({"items": [], "subtotal_cents": 0}),
        "a refused line for a missing product left something in the cart",
    )
}

async fn carts_belong_to_their_customer(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = marker(ctx, "cart");
    let ada = support::customer(ctx, "cart").await?;
    let bob = support::customer(ctx, "cart").await?;
    let price = ctx.rng.price();
    let stock = ctx_stock(ctx);
    let first = new_product(ctx, &marker, price, stock).await?;
    let price = ctx.rng.price();
    let second = new_product(ctx, &marker, price, stock).await?;
    let ada_quantity = ctx.rng.range(1, 100);
    set_line(ctx, &ada, first.id, ada_quantity).await?;
    let ada_lines = [(&first, ada_quantity)];

    cart_is(
        ctx,
        &bob,
        &[],
        "another customer's line shows in this customer's cart",
    )
    .await
    .map_err(|f| f.hint("the cart is the caller's: find it by the customer id from the token"))?;

    let bob_quantity = ctx.rng.range(1, 100);
    let (reply, cart) = set_line(ctx, &bob, second.id, bob_quantity).await?;
    expect_cart(
        &reply,
        &cart,
        &expected_cart(&[(&second, bob_quantity)]),
        "a customer's cart holds another customer's lines",
    )?;
    // Bob removes Ada's product and empties his cart: Ada's cart stays.
    let reply = ctx
        .http
        .delete(&format!("/cart/items/{}", first.id))
        .bearer(&bob.token)
        .send()
        .await?;
    reply.expect_status(204, "the line removed (it was not in this cart)")?;
    let reply = ctx.http.delete("/cart").bearer(&bob.token).send().await?;
    reply.expect_status(204, "the cart emptied")?;
    cart_is(
        ctx,
        &ada,
        &ada_lines,
        "another customer's DELETE /cart/items/{id} and DELETE /cart changed this customer's cart",
    )
    .await
    .map_err(|f| {
        f.hint("every cart query needs `WHERE customer_id = ?` with the caller's id from the token")
    })
}

async fn cart_routes_without_a_token_are_401(ctx: &mut Ctx) -> Result<(), Failure> {
    let id = support::missing_id(ctx);
    let calls = [
        ctx.http.get("/cart"),
        ctx.http
            .put(&format!("/cart/items/{id}"))
            .json(&json!({"quantity": 1})),
        ctx.http.delete(&format!("/cart/items/{id}")),
        ctx.http.delete("/cart"),
    ];
    for call in calls {
        let reply = call.send().await?;
        reply.expect_problem(401, "about:blank")?;
        let challenge = reply.header("www-authenticate").unwrap_or("");
        ensure!(
            challenge == "Bearer realm=\"shop\"",
            reply.fail(
                format!(
                    "{}: the 401 without a token does not carry `WWW-Authenticate: Bearer realm=\"shop\"`",
                    reply.sent.line()
                ),
                "401 Unauthorized with WWW-Authenticate: Bearer realm=\"shop\"",
            )
        );
    }
    Ok(())
}

async fn emptying_the_cart_is_204(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = marker(ctx, "cart");
    let account = support::customer(ctx, "cart").await?;
    for _ in 0..2 {
        let price = ctx.rng.price();
        let stock = ctx_stock(ctx);
        let product = new_product(ctx, &marker, price, stock).await?;
        let quantity = ctx.rng.range(1, 100);
        set_line(ctx, &account, product.id, quantity).await?;
    }
    for time in ["", " (the cart already empty)"] {
        let reply = ctx
            .http
            .delete("/cart")
            .bearer(&account.token)
            .send()
            .await?;
        reply
            .expect_status(204, "the cart emptied, no body")
            .map_err(|f| Failure {
                verdict: format!("{}{time}", f.verdict),
                ..f
            })?;
        ensure!(
            reply.body.is_empty(),
            reply.fail(
                format!("{}: a 204 with a body", reply.sent.line()),
                "204 No Content, no body"
            )
        );
        cart_is(
            ctx,
            &account,
            &[],
            "after DELETE /cart, the cart is not empty",
        )
        .await?;
    }
    Ok(())
}
