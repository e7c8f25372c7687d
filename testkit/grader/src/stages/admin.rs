//! `admin`: the admin routes refuse anonymous callers (`401`) and customers
//! (`403`) before anything else; products are created, validated, read with
//! an `ETag` and replaced under `If-Match`; discount codes are created,
//! validated and listed.

use serde_json::{Value, json};

use super::accounts::{expect_validation, send};
use crate::failure::Failure;
use crate::http::{Call, Reply};
use crate::support::{self, id_of};
use crate::{Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "creates_a_product_with_location",
    "admin_routes_are_401_anonymous_and_403_for_customers",
    "broken_product_lists_every_field",
    "unknown_member_or_wrong_type_is_422",
    "taken_sku_is_409_with_sku",
    "bad_json_is_400_and_other_content_types_415",
    "product_has_an_etag_and_answers_304",
    "missing_product_is_404_and_bad_id_400",
    "put_without_if_match_is_428",
    "put_with_the_current_etag_updates",
    "put_with_an_old_etag_is_412",
    "put_on_a_missing_product_is_404",
    "put_with_another_products_sku_is_409",
    "creates_discount_codes",
    "taken_discount_code_is_409",
    "broken_discount_codes_are_422",
    "lists_discount_codes_in_order_with_uses_0",
];

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let marker = ctx.rng.lower(10);
    let product = stage.check(
        "creates_a_product_with_location",
        creates_a_product_with_location(ctx, &marker).await,
    )?;
    stage.check(
        "admin_routes_are_401_anonymous_and_403_for_customers",
        admin_routes_are_401_anonymous_and_403_for_customers(ctx, &marker, &product).await,
    )?;
    stage.check(
        "broken_product_lists_every_field",
        broken_product_lists_every_field(ctx).await,
    )?;
    stage.check(
        "unknown_member_or_wrong_type_is_422",
        unknown_member_or_wrong_type_is_422(ctx, &marker).await,
    )?;
    stage.check(
        "taken_sku_is_409_with_sku",
        taken_sku_is_409_with_sku(ctx, &marker, &product).await,
    )?;
    stage.check(
        "bad_json_is_400_and_other_content_types_415",
        bad_json_is_400_and_other_content_types_415(ctx, &marker).await,
    )?;
    stage.check(
        "product_has_an_etag_and_answers_304",
        product_has_an_etag_and_answers_304(ctx, &product).await,
    )?;
    stage.check(
        "missing_product_is_404_and_bad_id_400",
        missing_product_is_404_and_bad_id_400(ctx).await,
    )?;
    stage.check(
        "put_without_if_match_is_428",
        put_without_if_match_is_428(ctx, &marker, &product).await,
    )?;
    let old_tag = stage.check(
        "put_with_the_current_etag_updates",
        put_with_the_current_etag_updates(ctx, &marker, &product).await,
    )?;
    stage.check(
        "put_with_an_old_etag_is_412",
        put_with_an_old_etag_is_412(ctx, &marker, &product, &old_tag).await,
    )?;
    stage.check(
        "put_on_a_missing_product_is_404",
        put_on_a_missing_product_is_404(ctx, &marker).await,
    )?;
    stage.check(
        "put_with_another_products_sku_is_409",
        put_with_another_products_sku_is_409(ctx, &marker, &product).await,
    )?;
    let codes = stage.check("creates_discount_codes", creates_discount_codes(ctx).await)?;
    stage.check(
        "taken_discount_code_is_409",
        taken_discount_code_is_409(ctx, &codes).await,
    )?;
    let refused = stage.check(
        "broken_discount_codes_are_422",
        broken_discount_codes_are_422(ctx).await,
    )?;
    stage.check(
        "lists_discount_codes_in_order_with_uses_0",
        lists_discount_codes_in_order_with_uses_0(ctx, &codes, &refused).await,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Helpers.

fn product_body(sku: &str, name: &str, price_cents: i64, stock: i64) -> Value {
    json!({"sku": sku, "name": name, "price_cents": price_cents, "stock": stock})
}

/// A valid body for a new product whose name holds `marker`.
fn new_body(ctx: &mut Ctx, marker: &str) -> Value {
    let name = ctx.rng.product_name(marker);
    let sku = ctx.rng.sku();
    let price = ctx.rng.price();
    let stock = ctx.rng.range(1, 500);
    product_body(&sku, &name, price, stock)
}

/// The five members of a product, as the body that made it says (the name
/// trimmed) and with this id.
fn expected_product(body: &Value, id: i64) -> Value {
    json!({
        "id": id,
        "sku": body["sku"],
        "name": body["name"].as_str().map(str::trim),
        "price_cents": body["price_cents"],
        "stock": body["stock"],
    })
}

/// Whether `actual` shows the product `expected` (extra members ignored).
fn shows(actual: &Value, expected: &Value) -> bool {
    ["id", "sku", "name", "price_cents", "stock"]
        .iter()
        .all(|member| actual.get(member) == expected.get(member))
}

/// The product in `reply` must be `expected`.
fn expect_product(reply: &Reply, actual: &Value, expected: &Value) -> Result<(), Failure> {
    for member in ["id", "sku", "name", "price_cents", "stock"] {
        if actual.get(member) != expected.get(member) {
            let mut failure = reply.fail(
                format!(
                    "{}: the product's `{member}` is {}, not {}",
                    reply.sent.line(),
                    actual
                        .get(member)
                        .map(Value::to_string)
                        .unwrap_or_else(|| "missing".into()),
                    expected[member]
                ),
                format!("the product {expected}"),
            );
            if member == "name"
                && actual.get(member).and_then(Value::as_str).map(str::trim)
                    == expected[member].as_str()
            {
                failure = failure.hint("store the name trimmed");
            }
            return Err(failure);
        }
    }
    Ok(())
}

/// `POST /products` as the admin with `body`: the new product (checked
/// against the body).
async fn create(ctx: &mut Ctx, body: &Value) -> Result<(Reply, Value), Failure> {
    let admin = support::admin_token(ctx).await?;
    let reply = send(ctx.http.post("/products").bearer(&admin).json(body)).await?;
    let product = reply.expect_json(201, "the new product")?;
    let Some(id) = id_of(&product).filter(|id| *id > 0) else {
        return Err(reply.fail(
            "POST /products: the new product has no positive integer `id`",
            "201 Created, {\"id\": <integer>, ...}",
        ));
    };
    expect_product(&reply, &product, &expected_product(body, id))?;
    Ok((reply, product))
}

/// `GET /products/{id}`: the product and its `ETag`.
async fn read(ctx: &Ctx, id: i64) -> Result<(Reply, Value, String), Failure> {
    let reply = send(ctx.http.get(&format!("/products/{id}"))).await?;
    let product = reply.expect_json(200, "the product")?;
    let Some(tag) = reply.header("etag").map(str::to_string) else {
        return Err(reply
            .fail(
                format!("GET /products/{id}: the answer has no `ETag`"),
                "200 OK with `ETag: \"...\"`",
            )
            .hint("send an entity tag that changes with the product: a version number, or a hash of its representation"));
    };
    Ok((reply, product, tag))
}

/// The product must still be `before`, with the same tag: `what` changed
/// nothing.
async fn unchanged(ctx: &Ctx, before: &Value, tag: &str, what: &str) -> Result<(), Failure> {
    let id = id_of(before).unwrap_or(0);
    let (reply, now, now_tag) = read(ctx, id).await?;
    ensure!(
        shows(&now, before) && now_tag == tag,
        reply
            .fail(
                format!("{what} changed the product"),
                format!("the product as it was, {before}, with `ETag: {tag}`"),
            )
            .hint("a refused request changes nothing: make every check before the write")
    );
    Ok(())
}

/// `"code"` members of bodies.
fn code_of(body: &Value) -> &str {
    body.get("code").and_then(Value::as_str).unwrap_or("")
}

// ---------------------------------------------------------------------------
// Products.

async fn creates_a_product_with_location(ctx: &mut Ctx, marker: &str) -> Result<Value, Failure> {
    let mut body = new_body(ctx, marker);
    let padded = format!("  {} ", body["name"].as_str().unwrap_or(""));
    body["name"] = json!(padded);
    let (reply, product) = create(ctx, &body).await?;
    let id = id_of(&product).unwrap_or(0);
    let path = format!("/products/{id}");
    let location = reply.header("location").unwrap_or("").to_string();
    let absolute = format!("{}{path}", ctx.http.base);
    ensure!(
        location == path || location == absolute,
        reply
            .fail(
                format!(
                    "POST /products: `Location` is {}, not {path}",
                    if location.is_empty() {
                        "missing".to_string()
                    } else {
                        format!("`{location}`")
                    }
                ),
                format!("201 Created with `Location: {path}`"),
            )
            .hint("a `201` says where the new resource lives: `(StatusCode::CREATED, [(LOCATION, format!(\"/products/{id}\"))], Json(product))`")
    );
    let (reply, served, _) = read(ctx, id).await?;
    expect_product(&reply, &served, &product)?;
    Ok(product)
}

async fn admin_routes_are_401_anonymous_and_403_for_customers(
    ctx: &mut Ctx,
    marker: &str,
    product: &Value,
) -> Result<(), Failure> {
    let customer = support::customer(ctx, "shopper").await?;
    let id = id_of(product).unwrap_or(0);
    let (_, before, tag) = read(ctx, id).await?;
    let new_product = new_body(ctx, marker);
    let replacement = new_body(ctx, marker);
    let code = ctx.rng.code();
    let new_code = json!({"code": code, "percent_off": ctx.rng.range(1, 90)});
    let order = ctx.rng.range(1, 1_000_000);
    let http = ctx.http.clone();

    // (what, the call): valid requests with real ids, then broken ones.
    let calls: Vec<(String, Call)> = vec![
        (
            "a valid new product".into(),
            http.post("/products").json(&new_product),
        ),
        (
            "broken JSON".into(),
            http.post("/products")
                .raw("application/json", "{\"sku\": \"AB"),
        ),
        (
            "a valid replacement with the current `If-Match`".into(),
            http.put(&format!("/products/{id}"))
                .header("if-match", tag.clone())
                .json(&replacement),
        ),
        (
            "an id `abc`, no `If-Match` and a text body".into(),
            http.put("/products/abc").raw("text/plain", "free stuff"),
        ),
        (
            "a valid new code".into(),
            http.post("/discount-codes").json(&new_code),
        ),
        (
            "a code breaking every rule".into(),
            http.post("/discount-codes").json(&json!({
                "code": "-",
                "percent_off": 0,
                "amount_off_cents": -5,
                "uses": 3,
            })),
        ),
        ("".into(), http.get("/discount-codes")),
        (
            "an order id".into(),
            http.post(&format!("/orders/{order}/ship")),
        ),
        ("an order id `abc`".into(), http.post("/orders/abc/ship")),
        ("".into(), http.get("/admin/orders")),
    ];
    for (what, call) in calls {
        let line = call.sent().line();
        let with = if what.is_empty() {
            String::new()
        } else {
            format!(" with {what}")
        };
        let reply = send(call.clone()).await?;
        reply.expect_problem(401, "about:blank").map_err(|failure| {
            Failure {
                verdict: format!("{line}{with}, without a token: {}", failure.verdict),
                ..failure
            }
            .hint("an admin route asks for a token first (`401`), then for the admin's role (`403`), before it reads the body, the id or any header")
        })?;
        let reply = send(call.bearer(&customer.token)).await?;
        reply.expect_problem(403, "about:blank").map_err(|failure| {
            Failure {
                verdict: format!("{line}{with}, as a customer: {}", failure.verdict),
                ..failure
            }
            .hint("check the caller's role (read from the database) before anything else the route does: the body, the id, `If-Match`")
        })?;
    }

    // Nothing changed.
    unchanged(
        ctx,
        &before,
        &tag,
        "a customer's or an anonymous PUT /products/{id}",
    )
    .await?;
    let admin = support::admin_token(ctx).await?;
    let reply = send(ctx.http.get("/discount-codes").bearer(&admin)).await?;
    let codes = reply.expect_json(200, "every discount code")?;
    ensure!(
        !codes
            .as_array()
            .is_some_and(|codes| codes.iter().any(|c| code_of(c) == code)),
        reply.fail(
            format!("a customer's or an anonymous POST /discount-codes made the code {code}"),
            format!("no code {code}: the requests were refused"),
        )
    );
    let reply = send(ctx.http.post("/products").bearer(&admin).json(&new_product)).await?;
    reply
        .expect_json(
            201,
            "the new product: its sku is free, as the refused requests stored nothing",
        )
        .map_err(|failure| {
            failure.hint("a customer's or an anonymous POST /products must store nothing")
        })?;
    Ok(())
}

async fn broken_product_lists_every_field(ctx: &mut Ctx) -> Result<(), Failure> {
    let sku = match ctx.rng.below(5) {
        0 => format!("-{}", ctx.rng.sku()),
        1 => format!("{}-", ctx.rng.sku()),
        2 => ctx.rng.sku().to_ascii_lowercase(),
        3 => ctx.rng.sku().replace('-', " "),
        _ => "A".repeat(33),
    };
    let name = match ctx.rng.below(3) {
        0 => String::new(),
        1 => " ".repeat(ctx.rng.range(1, 5) as usize),
        _ => "ü".repeat(101),
    };
    let price = if ctx.rng.chance(2) {
        -ctx.rng.range(1, 1000)
    } else {
        10_000_001
    };
    let stock = if ctx.rng.chance(2) {
        -ctx.rng.range(1, 1000)
    } else {
        1_000_001
    };
    let admin = support::admin_token(ctx).await?;
    let reply = send(
        ctx.http
            .post("/products")
            .bearer(&admin)
            .json(&product_body(&sku, &name, price, stock)),
    )
    .await?;
    expect_validation(
        &reply,
        &["sku", "name", "price_cents", "stock"],
        "when every member is present, known and of the right type, check every rule and list each broken one (a name of 101 `chars` is too long, whatever its bytes)",
    )?;
    Ok(())
}

async fn unknown_member_or_wrong_type_is_422(ctx: &mut Ctx, marker: &str) -> Result<(), Failure> {
    let body = new_body(ctx, marker);
    let admin = support::admin_token(ctx).await?;
    let unknown = *ctx
        .rng
        .pick(&["id", "featured", "discount_cents", "owner_id"]);
    let mut with_unknown = body.clone();
    with_unknown[unknown] = json!(ctx.rng.range(1, 99));
    let mut string_price = body.clone();
    string_price["price_cents"] = json!(body["price_cents"].to_string());
    let mut float_price = body.clone();
    float_price["price_cents"] = json!(body["price_cents"].as_i64().unwrap_or(100) as f64 + 0.5);
    let cases = [
        (
            with_unknown,
            unknown,
            "refuse a member the route does not list, naming it (`#[serde(deny_unknown_fields)]`, or walk the JSON): ignoring it is how mass assignment starts",
        ),
        (
            string_price,
            "price_cents",
            "money is a JSON integer: a string is the wrong type, never parsed",
        ),
        (
            float_price,
            "price_cents",
            "money is a whole number of cents: a float is the wrong type, never rounded",
        ),
    ];
    for (broken, field, why) in cases {
        let reply = send(ctx.http.post("/products").bearer(&admin).json(&broken)).await?;
        expect_validation(&reply, &[field], why)?;
    }
    // The three refused requests stored nothing: the sku is still free.
    let reply = send(ctx.http.post("/products").bearer(&admin).json(&body)).await?;
    reply
        .expect_json(
            201,
            "the new product: the three `422`s before it stored nothing, so its sku is free",
        )
        .map_err(|failure| {
            failure.hint("a request refused with `422` must store nothing: validate the whole body before the insert")
        })?;
    Ok(())
}

async fn taken_sku_is_409_with_sku(
    ctx: &mut Ctx,
    marker: &str,
    product: &Value,
) -> Result<(), Failure> {
    let sku = product["sku"].as_str().unwrap_or("").to_string();
    let mut body = new_body(ctx, marker);
    body["sku"] = json!(sku);
    let admin = support::admin_token(ctx).await?;
    let reply = send(ctx.http.post("/products").bearer(&admin).json(&body)).await?;
    let problem = reply.expect_problem(409, "duplicate-sku").map_err(|failure| {
        failure.hint("a `UNIQUE` sku column refuses the insert: map that constraint error to `409`, not `500`")
    })?;
    ensure!(
        problem.get("sku").and_then(Value::as_str) == Some(sku.as_str()),
        reply.fail(
            "POST /products: the `409` does not name the taken sku in `sku`",
            format!("409 duplicate-sku with \"sku\": \"{sku}\""),
        )
    );
    Ok(())
}

async fn bad_json_is_400_and_other_content_types_415(
    ctx: &mut Ctx,
    marker: &str,
) -> Result<(), Failure> {
    let admin = support::admin_token(ctx).await?;
    let body = new_body(ctx, marker);
    let json_text = body.to_string();
    let cut: String = json_text
        .chars()
        .take(json_text.chars().count() / 2)
        .collect();
    let cut = cut.as_str();
    let form = format!(
        "sku={}&name=x&price_cents={}&stock={}",
        body["sku"].as_str().unwrap_or(""),
        body["price_cents"],
        body["stock"]
    );
    let post = |content_type: &str, text: &str| {
        ctx.http
            .post("/products")
            .bearer(&admin)
            .raw(content_type, text.to_string())
    };
    let reply = send(post("application/json", cut)).await?;
    reply
        .expect_problem(400, "malformed-json")
        .map_err(|failure| {
            failure.hint("a body that does not parse as JSON is `400` malformed-json; JSON that parses but breaks the rules is `422`")
        })?;
    for (content_type, text, what) in [
        ("application/x-www-form-urlencoded", form.as_str(), "a form"),
        (
            "text/plain",
            json_text.as_str(),
            "valid JSON sent as text/plain",
        ),
        (
            "application/x-www-form-urlencoded",
            cut,
            "broken JSON sent as a form (the content type is checked first)",
        ),
    ] {
        let reply = send(post(content_type, text)).await?;
        reply.expect_problem(415, "about:blank").map_err(|failure| {
            Failure {
                verdict: format!("{} (the body: {what})", failure.verdict),
                ..failure
            }
            .hint("check `content-type: application/json` before you read the body; axum's `Json` rejection says 415, but as plain text: turn it into a problem")
        })?;
    }
    // The valid JSON sent as text stored nothing.
    let reply = send(ctx.http.post("/products").bearer(&admin).json(&body)).await?;
    reply.expect_json(
        201,
        "the new product: the `415` before it stored nothing, so its sku is free",
    )?;
    Ok(())
}

async fn product_has_an_etag_and_answers_304(
    ctx: &mut Ctx,
    product: &Value,
) -> Result<(), Failure> {
    let id = id_of(product).unwrap_or(0);
    let (reply, served, tag) = read(ctx, id).await?;
    expect_product(&reply, &served, product)?;
    ensure!(
        tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"'),
        reply.fail(
            format!("GET /products/{id}: `ETag: {tag}` is not a strong entity tag"),
            "`ETag: \"...\"`: quoted, without `W/`",
        ).hint("an entity tag is quoted: `format!(\"\\\"v{version}\\\"\")`; `If-Match` compares strong tags only")
    );
    let reply = send(
        ctx.http
            .get(&format!("/products/{id}"))
            .header("if-none-match", tag.clone()),
    )
    .await?;
    reply.expect_status(304, "Not Modified, no body: the client's copy is current")
        .map_err(|failure| failure.hint("compare `If-None-Match` with the product's current tag before answering; the same tag is `304` with an empty body"))?;
    ensure!(
        reply.body.is_empty(),
        reply.fail(
            format!("GET /products/{id}: the `304` has a body"),
            "304 Not Modified, no body"
        )
    );
    ensure!(
        reply.header("etag") == Some(tag.as_str()),
        reply.fail(
            format!("GET /products/{id}: the `304` does not carry the product's `ETag`"),
            format!("304 Not Modified with `ETag: {tag}`"),
        )
    );
    let other = format!("\"{}\"", ctx.rng.alnum(12));
    let reply = send(
        ctx.http
            .get(&format!("/products/{id}"))
            .header("if-none-match", other),
    )
    .await?;
    let body = reply.expect_json(200, "the product: `If-None-Match` names another tag")?;
    expect_product(&reply, &body, product)?;
    Ok(())
}

async fn missing_product_is_404_and_bad_id_400(ctx: &mut Ctx) -> Result<(), Failure> {
    let missing = support::missing_id(ctx);
    let reply = send(ctx.http.get(&format!("/products/{missing}"))).await?;
    let problem = reply.expect_problem(404, "product-not-found")?;
    ensure!(
        problem.get("product_id").and_then(Value::as_i64) == Some(missing),
        reply.fail(
            format!("GET /products/{missing}: the `404` does not name the id in `product_id`"),
            format!("404 product-not-found with \"product_id\": {missing}"),
        )
    );
    for bad in ["abc", "1.5", "9223372036854775808"] {
        let reply = send(ctx.http.get(&format!("/products/{bad}"))).await?;
        reply.expect_problem(400, "invalid-id").map_err(|failure| {
            failure.hint("take the id as a `String` (or a custom extractor) and parse it to `i64` yourself: axum's `Path<i64>` rejection is plain text")
        })?;
    }
    Ok(())
}

async fn put_without_if_match_is_428(
    ctx: &mut Ctx,
    marker: &str,
    product: &Value,
) -> Result<(), Failure> {
    let id = id_of(product).unwrap_or(0);
    let (_, before, tag) = read(ctx, id).await?;
    let admin = support::admin_token(ctx).await?;
    let mut body = new_body(ctx, marker);
    body["sku"] = before["sku"].clone();
    let reply = send(
        ctx.http
            .put(&format!("/products/{id}"))
            .bearer(&admin)
            .json(&body),
    )
    .await?;
    reply
        .expect_problem(428, "about:blank")
        .map_err(|failure| {
            failure.hint("a replacement without `If-Match` could overwrite someone else's change: refuse it with `428 Precondition Required`")
        })?;
    let reply = send(
        ctx.http
            .put(&format!("/products/{id}"))
            .bearer(&admin)
            .raw("text/plain", "not even JSON"),
    )
    .await?;
    reply
        .expect_problem(428, "about:blank")
        .map_err(|failure| Failure {
            verdict: format!(
                "{} (with a text body: `If-Match` is checked before the body)",
                failure.verdict
            ),
            ..failure
        })?;
    unchanged(ctx, &before, &tag, "a PUT without `If-Match`").await
}

async fn put_with_the_current_etag_updates(
    ctx: &mut Ctx,
    marker: &str,
    product: &Value,
) -> Result<String, Failure> {
    let id = id_of(product).unwrap_or(0);
    let (_, before, old_tag) = read(ctx, id).await?;
    let admin = support::admin_token(ctx).await?;
    let mut body = new_body(ctx, marker);
    body["sku"] = before["sku"].clone();
    let padded = format!(" {}  ", body["name"].as_str().unwrap_or(""));
    body["name"] = json!(padded);
    let reply = send(
        ctx.http
            .put(&format!("/products/{id}"))
            .bearer(&admin)
            .header("if-match", old_tag.clone())
            .json(&body),
    )
    .await?;
    let updated = reply
        .expect_json(200, "the product as it is now")
        .map_err(|failure| failure.hint("`If-Match` holding the current `ETag` lets the update through (its own sku is not another product's)"))?;
    let expected = expected_product(&body, id);
    expect_product(&reply, &updated, &expected)?;
    let Some(new_tag) = reply.header("etag").map(str::to_string) else {
        return Err(reply.fail(
            format!("PUT /products/{id}: the `200` has no `ETag`"),
            "200 OK with the product's new `ETag`",
        ));
    };
    ensure!(
        new_tag != old_tag,
        reply.fail(
            format!("PUT /products/{id}: the `ETag` did not change with the product"),
            format!("a new `ETag`, not {old_tag}"),
        ).hint("the tag must change whenever the product does: bump a version column in the same UPDATE, or hash the new representation")
    );
    let (reply, now, tag) = read(ctx, id).await?;
    expect_product(&reply, &now, &expected)?;
    ensure!(
        tag == new_tag,
        reply.fail(
            format!("GET /products/{id}: the `ETag` is not the one the PUT answered"),
            format!("`ETag: {new_tag}`, as PUT said"),
        )
    );

    // `If-Match: *` matches any current version.
    let mut star = new_body(ctx, marker);
    star["sku"] = before["sku"].clone();
    let reply = send(
        ctx.http
            .put(&format!("/products/{id}"))
            .bearer(&admin)
            .header("if-match", "*")
            .json(&star),
    )
    .await?;
    let updated = reply.expect_json(
        200,
        "the product as it is now: `If-Match: *` matches any version",
    )?;
    expect_product(&reply, &updated, &expected_product(&star, id))?;
    Ok(old_tag)
}

async fn put_with_an_old_etag_is_412(
    ctx: &mut Ctx,
    marker: &str,
    product: &Value,
    old_tag: &str,
) -> Result<(), Failure> {
    let id = id_of(product).unwrap_or(0);
    let (_, before, tag) = read(ctx, id).await?;
    let admin = support::admin_token(ctx).await?;
    let mut body = new_body(ctx, marker);
    body["sku"] = before["sku"].clone();
    let reply = send(
        ctx.http
            .put(&format!("/products/{id}"))
            .bearer(&admin)
            .header("if-match", old_tag.to_string())
            .json(&body),
    )
    .await?;
    reply.expect_problem(412, "about:blank").map_err(|failure| {
        failure.hint("compare `If-Match` with the current tag in the UPDATE itself (`... WHERE id = ? AND version = ?`, 0 rows changed: 412): a lost update otherwise")
    })?;
    unchanged(ctx, &before, &tag, "a PUT with an old `If-Match`").await
}

async fn put_on_a_missing_product_is_404(ctx: &mut Ctx, marker: &str) -> Result<(), Failure> {
    let missing = support::missing_id(ctx);
    let admin = support::admin_token(ctx).await?;
    let body = new_body(ctx, marker);
    let other = format!("\"{}\"", ctx.rng.alnum(10));
    for if_match in [other.as_str(), "*"] {
        let reply = send(
            ctx.http
                .put(&format!("/products/{missing}"))
                .bearer(&admin)
                .header("if-match", if_match)
                .json(&body),
        )
        .await?;
        let problem = reply
            .expect_problem(404, "product-not-found")
            .map_err(|failure| {
                failure.hint("PUT replaces a product, it never creates one; a missing product is `404` before `If-Match` is compared")
            })?;
        ensure!(
            problem.get("product_id").and_then(Value::as_i64) == Some(missing),
            reply.fail(
                format!("PUT /products/{missing}: the `404` does not name the id in `product_id`"),
                format!("404 product-not-found with \"product_id\": {missing}"),
            )
        );
    }
    Ok(())
}

async fn put_with_another_products_sku_is_409(
    ctx: &mut Ctx,
    marker: &str,
    product: &Value,
) -> Result<(), Failure> {
    let other_body = new_body(ctx, marker);
    let (_, other) = create(ctx, &other_body).await?;
    let other_sku = other["sku"].as_str().unwrap_or("").to_string();
    let id = id_of(product).unwrap_or(0);
    let (_, before, tag) = read(ctx, id).await?;
    let admin = support::admin_token(ctx).await?;
    let mut body = new_body(ctx, marker);
    body["sku"] = json!(other_sku);
    let reply = send(
        ctx.http
            .put(&format!("/products/{id}"))
            .bearer(&admin)
            .header("if-match", tag.clone())
            .json(&body),
    )
    .await?;
    let problem = reply
        .expect_problem(409, "duplicate-sku")
        .map_err(|failure| {
            failure.hint(
                "the sku's `UNIQUE` constraint refuses the update: map it to `409` duplicate-sku",
            )
        })?;
    ensure!(
        problem.get("sku").and_then(Value::as_str) == Some(other_sku.as_str()),
        reply.fail(
            format!("PUT /products/{id}: the `409` does not name the taken sku in `sku`"),
            format!("409 duplicate-sku with \"sku\": \"{other_sku}\""),
        )
    );
    unchanged(ctx, &before, &tag, "a PUT with another product's sku").await
}

// ---------------------------------------------------------------------------
// Discount codes.

/// `2031-04-09T17:05:33Z`, in the future (or the past).
fn timestamp(ctx: &mut Ctx, future: bool) -> String {
    let year = if future {
        ctx.rng.range(2030, 2039)
    } else {
        ctx.rng.range(2015, 2024)
    };
    format!(
        "{year}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        ctx.rng.range(1, 12),
        ctx.rng.range(1, 28),
        ctx.rng.range(0, 23),
        ctx.rng.range(0, 59),
        ctx.rng.range(0, 59)
    )
}

/// An RFC 3339 time in UTC, normalised (`T`, fraction without trailing
/// zeros, no offset), or `None` if it is not one in UTC.
fn utc(text: &str) -> Option<String> {
    let rest = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix('z'))
        .or_else(|| text.strip_suffix("+00:00"))?;
    if rest.len() < 19 || !rest.is_char_boundary(19) {
        return None;
    }
    let (main, fraction) = rest.split_at(19);
    let mut main = main.to_string();
    if !matches!(&main[10..11], "T" | "t") {
        return None;
    }
    main.replace_range(10..11, "T");
    let fraction = match fraction.strip_prefix('.') {
        None if fraction.is_empty() => "",
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.trim_end_matches('0')
        }
        _ => return None,
    };
    Some(if fraction.is_empty() {
        main
    } else {
        format!("{main}.{fraction}")
    })
}

/// The member of a code's answer, `null` when absent.
fn member<'a>(body: &'a Value, name: &str) -> &'a Value {
    body.get(name).unwrap_or(&Value::Null)
}

/// The answer shows the code `sent` with `uses` 0.
fn expect_code(reply: &Reply, actual: &Value, sent: &Value) -> Result<(), Failure> {
    let expected = json!({
        "code": sent["code"],
        "percent_off": member(sent, "percent_off"),
        "amount_off_cents": member(sent, "amount_off_cents"),
        "expires_at": member(sent, "expires_at"),
        "max_uses": member(sent, "max_uses"),
        "uses": 0,
    });
    for name in [
        "code",
        "percent_off",
        "amount_off_cents",
        "max_uses",
        "uses",
        "expires_at",
    ] {
        let got = member(actual, name);
        let want = &expected[name];
        let same = if name == "expires_at" && !want.is_null() {
            got.as_str().and_then(utc) == want.as_str().and_then(utc)
        } else {
            got == want
        };
        if !same {
            return Err(reply.fail(
                format!(
                    "{}: the code's `{name}` is {got}, not {want}",
                    reply.sent.line()
                ),
                format!("the code {expected}"),
            ));
        }
    }
    Ok(())
}

async fn creates_discount_codes(ctx: &mut Ctx) -> Result<Vec<Value>, Failure> {
    let admin = support::admin_token(ctx).await?;
    let mut bodies = vec![
        json!({
            "code": ctx.rng.code(),
            "percent_off": ctx.rng.range(1, 100),
            "expires_at": timestamp(ctx, true),
            "max_uses": ctx.rng.range(1, 1_000_000),
        }),
        json!({
            "code": ctx.rng.code(),
            "amount_off_cents": ctx.rng.range(1, 10_000_000),
        }),
        json!({
            "code": ctx.rng.code(),
            "percent_off": ctx.rng.range(1, 100),
            "amount_off_cents": null,
            "expires_at": null,
            "max_uses": null,
        }),
        json!({
            "code": ctx.rng.code(),
            "percent_off": null,
            "amount_off_cents": ctx.rng.range(1, 10_000_000),
            "expires_at": timestamp(ctx, false),
            "max_uses": ctx.rng.range(1, 50),
        }),
    ];
    // A code with a dash inside, as the rule allows.
    let dashed = format!("{}-{}", ctx.rng.code(), ctx.rng.range(1, 99));
    bodies[1]["code"] = json!(dashed);
    for body in &bodies {
        let reply = send(ctx.http.post("/discount-codes").bearer(&admin).json(body)).await?;
        let code = reply.expect_json(201, "the new discount code, `uses` 0").map_err(|failure| {
            failure.hint("`expires_at` and `max_uses` are optional (absent or null); `expires_at` may be in the past; one of `percent_off` and `amount_off_cents` may be absent or null")
        })?;
        expect_code(&reply, &code, body)?;
    }
    Ok(bodies)
}

async fn taken_discount_code_is_409(ctx: &mut Ctx, codes: &[Value]) -> Result<(), Failure> {
    let admin = support::admin_token(ctx).await?;
    let code = code_of(&codes[0]).to_string();
    let reply = send(
        ctx.http
            .post("/discount-codes")
            .bearer(&admin)
            .json(&json!({
                "code": code,
                "amount_off_cents": ctx.rng.range(1, 5000),
            })),
    )
    .await?;
    let problem = reply.expect_problem(409, "duplicate-discount-code")?;
    ensure!(
        problem.get("code").and_then(Value::as_str) == Some(code.as_str()),
        reply.fail(
            "POST /discount-codes: the `409` does not name the code in `code`",
            format!("409 duplicate-discount-code with \"code\": \"{code}\""),
        )
    );
    Ok(())
}

async fn broken_discount_codes_are_422(ctx: &mut Ctx) -> Result<Vec<String>, Failure> {
    let admin = support::admin_token(ctx).await?;
    let mut refused = Vec::new();
    let cases: Vec<(Value, &[&str], &str)> = vec![
        (
            json!({"code": ctx.rng.code(), "percent_off": ctx.rng.range(1, 100), "amount_off_cents": ctx.rng.range(1, 5000)}),
            &[],
            "both discounts",
        ),
        (
            json!({"code": ctx.rng.code(), "max_uses": 5}),
            &[],
            "neither discount",
        ),
        (
            json!({"code": ctx.rng.code(), "percent_off": 0}),
            &["percent_off"],
            "a percent of 0",
        ),
        (
            json!({"code": ctx.rng.code(), "percent_off": 101}),
            &["percent_off"],
            "a percent of 101",
        ),
        (
            json!({"code": ctx.rng.code(), "percent_off": ctx.rng.range(1, 100), "uses": ctx.rng.range(1, 9)}),
            &["uses"],
            "an unknown member `uses`",
        ),
    ];
    for (body, fields, what) in cases {
        refused.push(code_of(&body).to_string());
        let reply = send(ctx.http.post("/discount-codes").bearer(&admin).json(&body)).await?;
        expect_validation(
            &reply,
            fields,
            &format!("{what} is `422` validation: exactly one of `percent_off` (1 to 100) and `amount_off_cents` is a number, and no member the route does not list is taken"),
        )
        .map_err(|failure| Failure {
            verdict: format!("{} ({what})", failure.verdict),
            ..failure
        })?;
    }
    Ok(refused)
}

async fn lists_discount_codes_in_order_with_uses_0(
    ctx: &mut Ctx,
    codes: &[Value],
    refused: &[String],
) -> Result<(), Failure> {
    let admin = support::admin_token(ctx).await?;
    let reply = send(ctx.http.get("/discount-codes").bearer(&admin)).await?;
    let body = reply.expect_json(200, "every discount code, in the order they were created")?;
    let Some(list) = body.as_array() else {
        return Err(reply.fail(
            "GET /discount-codes: the answer is not a JSON array",
            "200 OK, [{\"code\": ..., ...}, ...]",
        ));
    };
    let mut last = None;
    for sent in codes {
        let code = code_of(sent);
        let Some(position) = list.iter().position(|c| code_of(c) == code) else {
            return Err(reply.fail(
                format!("GET /discount-codes: the code {code} made before is not listed"),
                "every code, in the order they were created",
            ));
        };
        ensure!(
            last.is_none_or(|last| position > last),
            reply.fail(
                format!(
                    "GET /discount-codes: the code {code} is listed before a code made earlier"
                ),
                "every code, in the order they were created (`ORDER BY id`)",
            )
        );
        last = Some(position);
        expect_code(&reply, &list[position], sent)?;
    }
    if let Some(code) = refused
        .iter()
        .find(|code| list.iter().any(|c| code_of(c) == code.as_str()))
    {
        return Err(reply
            .fail(
                format!("GET /discount-codes: the code {code}, refused with `422`, was stored"),
                "no code a `422` refused",
            )
            .hint("validate the whole body before the insert: a refused request stores nothing"));
    }
    Ok(())
}
