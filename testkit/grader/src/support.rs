//! Steps many stages share: waiting until the shop is ready, making
//! accounts and logging in, making products as the admin.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::failure::Failure;
use crate::http::{Http, Reply};
use crate::{Account, Ctx, ensure};

/// How long the shop may take to answer `GET /health/ready` with `200`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Polls `GET /health/ready` every 50 ms until it answers `200`.
pub async fn wait_ready(http: &Http) -> Result<(), Failure> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let reply = http
            .get("/health/ready")
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        let last = match reply {
            Ok(reply) if reply.status == 200 => return Ok(()),
            Ok(reply) => reply.fail(
                format!(
                    "the shop announced that it listens, but GET /health/ready did not answer 200 within {} s",
                    READY_TIMEOUT.as_secs()
                ),
                "200 OK, {\"status\": \"ready\", \"checks\": {\"database\": \"ok\"}}",
            ),
            Err(failure) => failure,
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `id` member of a body, as an integer.
pub fn id_of(body: &Value) -> Option<i64> {
    body.get("id").and_then(Value::as_i64)
}

/// Registers a new customer with random details and logs in.
pub async fn customer(ctx: &mut Ctx, tag: &str) -> Result<Account, Failure> {
    let email = ctx.rng.email(tag);
    let password = ctx.rng.password();
    let name = ctx.rng.person();
    customer_with(ctx, &email, &password, &name).await
}

/// Registers a customer with these details and logs in.
pub async fn customer_with(
    ctx: &mut Ctx,
    email: &str,
    password: &str,
    name: &str,
) -> Result<Account, Failure> {
    ctx.secrets.push(password.to_string());
    let reply = ctx
        .http
        .post("/register")
        .json(&json!({"email": email, "password": password, "name": name}))
        .send()
        .await?;
    let body = reply.expect_json(201, "the new customer")?;
    let Some(id) = id_of(&body) else {
        return Err(reply.fail(
            "POST /register: the new customer has no integer `id`",
            "201 Created, {\"id\": <integer>, \"email\": ..., \"name\": ..., \"role\": \"customer\", ...}",
        ));
    };
    let token = login(&ctx.http, email, password).await?;
    Ok(Account {
        id,
        email: email.to_string(),
        password: password.to_string(),
        name: name.to_string(),
        token,
    })
}

/// `POST /login`: the bearer token.
pub async fn login(http: &Http, email: &str, password: &str) -> Result<String, Failure> {
    let reply = http
        .post("/login")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await?;
    let body = reply.expect_json(200, "a bearer token")?;
    match body.get("access_token").and_then(Value::as_str) {
        Some(token) if !token.is_empty() => Ok(token.to_string()),
        _ => Err(reply.fail(
            "POST /login: the answer has no `access_token` string",
            "200 OK, {\"access_token\": \"...\", \"token_type\": \"Bearer\", \"expires_in\": 3600}",
        )),
    }
}

/// The admin's token (logged in once per run, again after a restart if the
/// old one stopped working).
pub async fn admin_token(ctx: &mut Ctx) -> Result<String, Failure> {
    if let Some(token) = &ctx.admin_token {
        return Ok(token.clone());
    }
    let token = login(
        &ctx.http,
        &ctx.admin_email.clone(),
        &ctx.admin_password.clone(),
    )
    .await?;
    ctx.admin_token = Some(token.clone());
    Ok(token)
}

/// A product made by the admin: `POST /products`. Returns its body.
pub async fn product(
    ctx: &mut Ctx,
    name: &str,
    price_cents: i64,
    stock: i64,
) -> Result<Value, Failure> {
    let admin = admin_token(ctx).await?;
    let sku = ctx.rng.sku();
    let reply = ctx
        .http
        .post("/products")
        .bearer(&admin)
        .json(&json!({
            "name": name,
            "sku": sku,
            "price_cents": price_cents,
            "stock": stock,
        }))
        .send()
        .await?;
    let body = reply.expect_json(201, "the new product")?;
    ensure!(
        id_of(&body).is_some(),
        reply.fail(
            "POST /products: the new product has no integer `id`",
            "201 Created, {\"id\": <integer>, ...}",
        )
    );
    Ok(body)
}

/// Percent-encodes a query value: every byte but the unreserved ones.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /products/{id}`: the reply and the product's stock now.
pub async fn stock(http: &Http, id: i64) -> Result<(Reply, i64), Failure> {
    let reply = http.get(&format!("/products/{id}")).send().await?;
    let body = reply.expect_json(200, "the product")?;
    let stock = body.get("stock").and_then(Value::as_i64).ok_or_else(|| {
        reply.fail(
            format!("GET /products/{id}: the product has no integer `stock`"),
            "200 OK, {\"id\": ..., \"stock\": <integer>, ...}",
        )
    })?;
    Ok((reply, stock))
}

/// The product's stock now.
pub async fn stock_of(http: &Http, id: i64) -> Result<i64, Failure> {
    Ok(stock(http, id).await?.1)
}

/// An id no product (or order) has: ids are never reused, and the shop
/// never gets this high in a run.
pub fn missing_id(ctx: &mut Ctx) -> i64 {
    ctx.rng.range(4_000_000_000, 8_000_000_000)
}
