//! `accounts`: registration (trimmed, case-kept emails, the password rule
//! in characters, no mass assignment), login and the token it gives, who
//! `GET /me` says is calling, and the `401`s with their `WWW-Authenticate`.
//!
//! Also the helpers the `admin` and `catalogue` stages share with this one:
//! [`send`] checks every JSON answer for a password or its hash, and
//! [`expect_validation`] reads a `422`'s `errors`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::http::{Call, Reply};
use crate::support::{self, id_of};
use crate::{Ctx, Stage, Stop, ensure, token};

pub const SCENARIOS: &[&str] = &[
    "registers_a_customer",
    "taken_email_is_409",
    "broken_registration_lists_every_field",
    "twelve_non_ascii_characters_are_a_password",
    "role_member_is_422_and_makes_no_account",
    "login_answers_a_bearer_token",
    "token_claims_are_as_stated",
    "me_answers_the_caller",
    "login_ignores_case_and_spaces_around_the_email",
    "wrong_password_and_unknown_email_are_identical_401s",
    "me_without_a_valid_token_is_401_with_www_authenticate",
    "admin_logs_in_and_is_admin",
];

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let ada = stage.check("registers_a_customer", registers_a_customer(ctx).await)?;
    stage.check("taken_email_is_409", taken_email_is_409(ctx, &ada).await)?;
    stage.check(
        "broken_registration_lists_every_field",
        broken_registration_lists_every_field(ctx).await,
    )?;
    stage.check(
        "twelve_non_ascii_characters_are_a_password",
        twelve_non_ascii_characters_are_a_password(ctx).await,
    )?;
    stage.check(
        "role_member_is_422_and_makes_no_account",
        role_member_is_422_and_makes_no_account(ctx).await,
    )?;
    let token = stage.check(
        "login_answers_a_bearer_token",
        login_answers_a_bearer_token(ctx, &ada).await,
    )?;
    stage.check(
        "token_claims_are_as_stated",
        token_claims_are_as_stated(ctx, &ada, &token),
    )?;
    stage.check(
        "me_answers_the_caller",
        me_answers_the_caller(ctx, &ada, &token).await,
    )?;
    stage.check(
        "login_ignores_case_and_spaces_around_the_email",
        login_ignores_case_and_spaces_around_the_email(ctx, &ada).await,
    )?;
    stage.check(
        "wrong_password_and_unknown_email_are_identical_401s",
        wrong_password_and_unknown_email_are_identical_401s(ctx, &ada).await,
    )?;
    stage.check(
        "me_without_a_valid_token_is_401_with_www_authenticate",
        me_without_a_valid_token_is_401_with_www_authenticate(ctx, &ada).await,
    )?;
    stage.check(
        "admin_logs_in_and_is_admin",
        admin_logs_in_and_is_admin(ctx).await,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Helpers shared with the `admin` and `catalogue` stages.

/// Sends `call` and checks its answer carries no password: no member named
/// `password` or `password_hash`, no string starting with `$argon2`, in
/// any JSON body, whatever its status.
pub(crate) async fn send(call: Call) -> Result<Reply, Failure> {
    let reply = call.send().await?;
    no_password_in(&reply)?;
    Ok(reply)
}

/// The check [`send`] makes.
pub(crate) fn no_password_in(reply: &Reply) -> Result<(), Failure> {
    let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
        return Ok(());
    };
    if let Some(found) = password_in(&body, "") {
        return Err(reply
            .fail(
                format!(
                    "{}: the answer carries a password or its hash ({found})",
                    reply.sent.line()
                ),
                "no member named `password` or `password_hash` and no string starting with `$argon2`, in any answer",
            )
            .hint("answer with a type of its own that has no password field (a `CustomerView`), never the row as read from the database"));
    }
    Ok(())
}

/// Where in `value` a password shows, as a JSON pointer.
fn password_in(value: &Value, at: &str) -> Option<String> {
    match value {
        Value::String(text) if text.starts_with("$argon2") => {
            Some(format!("a string starting with `$argon2` at `{at}`"))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| password_in(item, &format!("{at}/{index}"))),
        Value::Object(members) => members.iter().find_map(|(name, member)| {
            if name == "password" || name == "password_hash" {
                Some(format!("a member `{name}` at `{at}/{name}`"))
            } else {
                password_in(member, &format!("{at}/{name}"))
            }
        }),
        _ => None,
    }
}

/// A `422` `validation` problem whose `errors` are `{field, message}`
/// objects naming at least every field of `fields`. Returns the fields it
/// names.
pub(crate) fn expect_validation(
    reply: &Reply,
    fields: &[&str],
    why: &str,
) -> Result<Vec<String>, Failure> {
    let body = reply
        .expect_problem(422, "validation")
        .map_err(|failure| failure.hint(why.to_string()))?;
    let shape = "`errors`: a list of {\"field\": \"...\", \"message\": \"...\"} objects";
    let Some(errors) = body.get("errors").and_then(Value::as_array) else {
        return Err(reply.fail(
            format!(
                "{}: the `422` problem has no `errors` list",
                reply.sent.line()
            ),
            format!("422 validation with {shape}"),
        ));
    };
    let mut named = Vec::new();
    for error in errors {
        match (
            error.get("field").and_then(Value::as_str),
            error.get("message").and_then(Value::as_str),
        ) {
            (Some(field), Some(_)) => named.push(field.to_string()),
            _ => {
                return Err(reply.fail(
                    format!(
                        "{}: an entry of `errors` is not a {{\"field\": ..., \"message\": ...}} object of two strings",
                        reply.sent.line()
                    ),
                    format!("422 validation with {shape}"),
                ));
            }
        }
    }
    let missing: Vec<&str> = fields
        .iter()
        .copied()
        .filter(|field| !named.iter().any(|n| n == field))
        .collect();
    if !missing.is_empty() {
        let list = |names: &[&str]| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(reply
            .fail(
                format!(
                    "{}: the `422` does not name {} in `errors`",
                    reply.sent.line(),
                    list(&missing)
                ),
                format!("422 validation whose `errors` name {}", list(fields)),
            )
            .hint(why.to_string()));
    }
    Ok(named)
}

/// `text` with every ASCII letter's case swapped: `Ada@x.io` → `aDA@X.IO`.
pub(crate) fn swap_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// The customer a body shows must be this one.
fn expect_customer(
    reply: &Reply,
    body: &Value,
    id: Option<i64>,
    email: &str,
    name: &str,
    role: &str,
) -> Result<i64, Failure> {
    let expected = format!(
        "{{\"id\": {}, \"email\": {}, \"name\": {}, \"role\": \"{role}\"}}",
        id.map(|id| id.to_string())
            .unwrap_or_else(|| "<a positive integer>".into()),
        json!(email),
        json!(name),
    );
    let Some(actual_id) = id_of(body).filter(|id| *id > 0) else {
        return Err(reply.fail(
            format!(
                "{}: the customer has no positive integer `id`",
                reply.sent.line()
            ),
            expected,
        ));
    };
    if let Some(id) = id {
        ensure!(
            actual_id == id,
            reply.fail(
                format!(
                    "{}: the customer's `id` is {actual_id}, not {id}",
                    reply.sent.line()
                ),
                expected,
            )
        );
    }
    for (member, want) in [("email", email), ("name", name), ("role", role)] {
        let got = body.get(member).and_then(Value::as_str);
        if got != Some(want) {
            let mut failure = reply.fail(
                format!(
                    "{}: the customer's `{member}` is {}, not {}",
                    reply.sent.line(),
                    got.map(|g| json!(g).to_string())
                        .unwrap_or_else(|| "missing".into()),
                    json!(want)
                ),
                expected.clone(),
            );
            if member != "role" && got.map(str::trim) == Some(want) {
                failure = failure.hint(
                    "store the email and the name trimmed (`.trim()`), and answer what is stored",
                );
            } else if member == "email"
                && got.map(str::to_ascii_lowercase) == Some(want.to_ascii_lowercase())
            {
                failure = failure.hint("the email keeps the case it was registered with: compare emails without case, but store and show them as written");
            }
            return Err(failure);
        }
    }
    Ok(actual_id)
}

/// Registers with this body and expects a `201` customer.
async fn register(ctx: &mut Ctx, body: &Value) -> Result<(Reply, Value), Failure> {
    if let Some(password) = body.get("password").and_then(Value::as_str) {
        ctx.secrets.push(password.to_string());
    }
    let reply = send(ctx.http.post("/register").json(body)).await?;
    let value = reply.expect_json(201, "the new customer")?;
    Ok((reply, value))
}

/// `POST /login` with these two strings.
async fn login_reply(ctx: &mut Ctx, email: &str, password: &str) -> Result<Reply, Failure> {
    ctx.secrets.push(password.to_string());
    send(
        ctx.http
            .post("/login")
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

/// `email` with some of its letters in upper case (never all lower).
fn mixed_case(ctx: &mut Ctx, email: &str) -> String {
    let mut out: String = email
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() && ctx.rng.chance(2) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    if out == email {
        let mut chars: Vec<char> = out.chars().collect();
        chars[0] = chars[0].to_ascii_uppercase();
        out = chars.into_iter().collect();
    }
    out
}

/// A customer this stage registered: the details as stored.
#[derive(Debug, Clone)]
struct Registered {
    id: i64,
    /// Trimmed, in the case it was sent in.
    email: String,
    name: String,
    password: String,
}

// ---------------------------------------------------------------------------
// Scenarios.

async fn registers_a_customer(ctx: &mut Ctx) -> Result<Registered, Failure> {
    let plain = ctx.rng.email("ada");
    let email = mixed_case(ctx, &plain);
    let name = ctx.rng.person();
    let password = ctx.rng.password();
    let body = json!({
        "email": format!("  {email} "),
        "name": format!(" {name}  "),
        "password": password,
    });
    let (reply, value) = register(ctx, &body).await?;
    let id = expect_customer(&reply, &value, None, &email, &name, "customer")?;
    ensure!(
        !reply.text().contains(&password),
        reply.fail(
            "POST /register: the answer holds the password that was sent",
            "the new customer, without the password",
        )
    );
    Ok(Registered {
        id,
        email,
        name,
        password,
    })
}

async fn taken_email_is_409(ctx: &mut Ctx, ada: &Registered) -> Result<(), Failure> {
    let other_password = ctx.rng.password();
    let taken = format!(" {}  ", swap_case(&ada.email));
    ctx.secrets.push(other_password.clone());
    let name = ctx.rng.person();
    let reply = send(ctx.http.post("/register").json(&json!({
        "email": taken,
        "name": name,
        "password": other_password,
    })))
    .await?;
    reply.expect_problem(409, "email-taken").map_err(|failure| {
        failure.hint("two emails that differ only in ASCII case (or in the spaces around them) are one account: trim, and compare in lower case (a `UNIQUE` index on the lower-cased email, or `COLLATE NOCASE`)")
    })?;

    let admin_upper = ctx.admin_email.to_ascii_uppercase();
    let password = ctx.rng.password();
    ctx.secrets.push(password.clone());
    let reply = send(ctx.http.post("/register").json(&json!({
        "email": admin_upper,
        "name": name,
        "password": password,
    })))
    .await?;
    reply.expect_problem(409, "email-taken").map_err(|failure| {
        failure.hint("the admin's account, made at startup from SHOP_ADMIN_EMAIL, is an account like any other: its email is taken")
    })?;

    // Nothing changed: the first password still logs in, the second does not.
    let reply = login_reply(ctx, &ada.email, &other_password).await?;
    ensure!(
        reply.status == 401,
        reply.fail(
            "after a `409` for a taken email, the password of the refused registration logs in to the account",
            "401 Unauthorized: a refused registration changes nothing",
        ).hint("on a taken email, answer 409 and write nothing (no upsert, no `INSERT OR REPLACE`)")
    );
    let reply = login_reply(ctx, &ada.email, &ada.password).await?;
    reply.expect_json(
        200,
        "a bearer token: the account's own password still works",
    )?;
    Ok(())
}

async fn broken_registration_lists_every_field(ctx: &mut Ctx) -> Result<(), Failure> {
    let local = ctx.rng.lower(8);
    let host = format!("{}.example", ctx.rng.lower(6));
    let email = match ctx.rng.below(3) {
        0 => format!("{local}.{host}"),
        1 => format!("@{host}"),
        _ => format!("{local}@"),
    };
    // 11 characters, more than 12 bytes: a shop counting bytes takes it.
    let mut password = ctx.rng.alnum(5);
    let letters: [&str; 7] = ["é", "ü", "ß", "ø", "ñ", "Ж", "λ"];
    for _ in 0..6 {
        let letter = *ctx.rng.pick(&letters);
        password.push_str(letter);
    }
    ctx.secrets.push(password.clone());
    let blank = " ".repeat(ctx.rng.range(1, 4) as usize);
    let reply = send(ctx.http.post("/register").json(&json!({
        "email": email,
        "name": blank,
        "password": password,
    })))
    .await?;
    expect_validation(
        &reply,
        &["email", "name", "password"],
        "when every member is present and a string, check every rule and list each broken member (the password's length counts `chars`, not bytes: `password.chars().count()`)",
    )?;
    Ok(())
}

async fn twelve_non_ascii_characters_are_a_password(ctx: &mut Ctx) -> Result<(), Failure> {
    let letters = ["é", "ü", "ß", "ø", "ñ", "ł", "Ж", "λ", "日", "本"];
    let password: String = (0..12).map(|_| *ctx.rng.pick(&letters)).collect();
    let email = ctx.rng.email("zoe");
    let name = ctx.rng.person();
    let body = json!({"email": email, "name": name, "password": password});
    ctx.secrets.push(password.clone());
    let reply = send(ctx.http.post("/register").json(&body)).await?;
    reply
        .expect_status(201, "the new customer: 12 characters are a password, whatever their bytes")
        .map_err(|failure| {
            failure.hint("count characters, not bytes: `password.chars().count()` is 12 here, `password.len()` is more")
        })?;
    let reply = login_reply(ctx, &email, &password).await?;
    reply.expect_json(200, "a bearer token for the password just registered")?;
    Ok(())
}

async fn role_member_is_422_and_makes_no_account(ctx: &mut Ctx) -> Result<(), Failure> {
    let email = ctx.rng.email("mallory");
    let name = ctx.rng.person();
    let password = ctx.rng.password();
    ctx.secrets.push(password.clone());
    let reply = send(ctx.http.post("/register").json(&json!({
        "email": email,
        "name": name,
        "password": password,
        "role": "admin",
    })))
    .await?;
    expect_validation(
        &reply,
        &["role"],
        "refuse any member the route does not list, naming it (`#[serde(deny_unknown_fields)]`, or walk the JSON): a `role` taken from the body makes anyone an admin",
    )?;
    // No account was made: the email is still free.
    let body = json!({"email": email, "name": name, "password": password});
    let reply = send(ctx.http.post("/register").json(&body)).await?;
    let value = reply
        .expect_json(
            201,
            "the new customer: the `422` before made no account, so the email is free",
        )
        .map_err(|failure| {
            failure.hint("a request refused with `422` must change nothing: validate the whole body before you insert")
        })?;
    expect_customer(&reply, &value, None, &email, &name, "customer")?;
    Ok(())
}

async fn login_answers_a_bearer_token(ctx: &mut Ctx, ada: &Registered) -> Result<String, Failure> {
    let reply = login_reply(ctx, &ada.email, &ada.password).await?;
    let body = reply.expect_json(200, "a bearer token")?;
    let expected = "200 OK, Cache-Control: no-store, {\"access_token\": \"...\", \"token_type\": \"Bearer\", \"expires_in\": 3600}";
    let cache = reply.header_all("cache-control").join(", ");
    ensure!(
        cache
            .split(',')
            .any(|d| d.trim().eq_ignore_ascii_case("no-store")),
        reply
            .fail(
                format!(
                    "POST /login: the token's answer does not say `Cache-Control: no-store` ({})",
                    if cache.is_empty() {
                        "no Cache-Control".to_string()
                    } else {
                        format!("it says `{cache}`")
                    }
                ),
                expected,
            )
            .hint("a token must never be kept by a cache: add the header to the login's answer")
    );
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(reply.fail("POST /login: no `access_token` string", expected));
    };
    ensure!(
        body.get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
        reply.fail("POST /login: `token_type` is not \"Bearer\"", expected)
    );
    ensure!(
        body.get("expires_in").and_then(Value::as_i64) == Some(3600),
        reply.fail(
            "POST /login: `expires_in` is not the integer 3600",
            expected
        )
    );
    ensure!(
        !reply.text().contains(&ada.password),
        reply.fail("POST /login: the answer holds the password", expected)
    );
    Ok(token.to_string())
}

fn token_claims_are_as_stated(ctx: &mut Ctx, ada: &Registered, token: &str) -> Result<(), Failure> {
    let now = token::now();
    let shown = format!("the token from POST /login: {token}");
    let expected = format!(
        "header {{\"alg\": \"HS256\", \"typ\": \"JWT\"}}; claims {{\"sub\": \"{}\", \"iat\": <now, ±60 s>, \"exp\": <iat + 3600>}}",
        ada.id
    );
    let fail = |verdict: String| {
        Failure::new(verdict)
            .request(shown.clone())
            .expected(expected.clone())
    };
    let Some((header, claims)) = token::decode(token) else {
        return Err(fail(
            "the token is not a JWT: three base64url segments, the first two JSON objects".into(),
        )
        .hint("make it with the `jsonwebtoken` crate, or as the Signed tokens lesson did"));
    };
    let got = format!("header {header}; claims {claims}");
    ensure!(
        header.get("alg").and_then(Value::as_str) == Some("HS256"),
        fail("the token's header does not say `\"alg\": \"HS256\"`".into()).actual(got.clone())
    );
    if let Some(typ) = header.get("typ") {
        ensure!(
            typ.as_str() == Some("JWT"),
            fail("the token's header has a `typ` that is not \"JWT\"".into()).actual(got.clone())
        );
    }
    let sub = claims.get("sub");
    ensure!(
        sub.and_then(Value::as_str) == Some(ada.id.to_string().as_str()),
        fail(format!(
            "the token's `sub` is {}, not the customer's id {} as a string",
            sub.map(Value::to_string)
                .unwrap_or_else(|| "missing".into()),
            json!(ada.id.to_string())
        ))
        .actual(got.clone())
        .hint("`sub` is a string in JWT: `sub: customer.id.to_string()`")
    );
    let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
        return Err(
            fail("the token's `iat` is not a whole number of Unix seconds".into())
                .actual(got.clone()),
        );
    };
    ensure!(
        (iat - now).abs() <= 60,
        fail(format!(
            "the token's `iat` is {iat}, {} s from the grader's clock",
            iat - now
        ))
        .actual(got.clone())
        .hint("`iat` is the time of issue in Unix seconds (`SystemTime::now().duration_since(UNIX_EPOCH)`), not milliseconds")
    );
    let exp = claims.get("exp").and_then(Value::as_i64);
    ensure!(
        exp == Some(iat + 3600),
        fail(format!(
            "the token's `exp` is {}, not `iat` + 3600 = {}",
            claims
                .get("exp")
                .map(Value::to_string)
                .unwrap_or_else(|| "missing".into()),
            iat + 3600
        ))
        .actual(got.clone())
    );
    // The signature: HS256 over the first two segments, keyed with the
    // secret's bytes as written.
    let secret = ctx.launch.var("SHOP_TOKEN_SECRET").unwrap_or_default();
    let (message, signature) = token.rsplit_once('.').unwrap_or((token, ""));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    let valid = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .is_some_and(|signature| mac.verify_slice(&signature).is_ok());
    ensure!(
        valid,
        fail("the token's signature is not HS256 of its first two segments keyed with SHOP_TOKEN_SECRET".into())
            .actual(got)
            .hint("the key is the variable's UTF-8 bytes as written (`secret.as_bytes()`), not decoded from hexadecimal; the signature is base64url without padding")
    );
    Ok(())
}

async fn me_answers_the_caller(
    ctx: &mut Ctx,
    ada: &Registered,
    token: &str,
) -> Result<(), Failure> {
    let reply = send(ctx.http.get("/me").bearer(token)).await?;
    let body = reply.expect_json(200, "the caller")?;
    expect_customer(
        &reply,
        &body,
        Some(ada.id),
        &ada.email,
        &ada.name,
        "customer",
    )?;
    Ok(())
}

async fn login_ignores_case_and_spaces_around_the_email(
    ctx: &mut Ctx,
    ada: &Registered,
) -> Result<(), Failure> {
    let email = format!("  {} ", swap_case(&ada.email));
    let reply = login_reply(ctx, &email, &ada.password).await?;
    let body = reply
        .expect_json(200, "a bearer token: the email is trimmed and compared without ASCII case")
        .map_err(|failure| {
            failure.hint("trim the login's email and compare it in lower case (`lower(email) = lower(?)`), as registration does")
        })?;
    let Some(token) = body.get("access_token").and_then(Value::as_str) else {
        return Err(reply.fail(
            "POST /login: no `access_token` string",
            "200 OK, {\"access_token\": \"...\", ...}",
        ));
    };
    let reply = send(ctx.http.get("/me").bearer(token)).await?;
    let body = reply.expect_json(200, "the caller")?;
    expect_customer(
        &reply,
        &body,
        Some(ada.id),
        &ada.email,
        &ada.name,
        "customer",
    )?;
    Ok(())
}

async fn wrong_password_and_unknown_email_are_identical_401s(
    ctx: &mut Ctx,
    ada: &Registered,
) -> Result<(), Failure> {
    let wrong = ctx.rng.password();
    let wrong_reply = login_reply(ctx, &ada.email, &wrong).await?;
    wrong_reply.expect_problem(401, "about:blank")?;
    let unknown = ctx.rng.email("nobody");
    let password = ada.password.clone();
    let unknown_reply = login_reply(ctx, &unknown, &password).await?;
    unknown_reply.expect_problem(401, "about:blank")?;
    for reply in [&wrong_reply, &unknown_reply] {
        ensure!(
            reply.header("www-authenticate").is_none(),
            reply.fail(
                "POST /login: a failed login carries `WWW-Authenticate`",
                "401 without `WWW-Authenticate` (that header asks for a bearer token; POST /login takes none)",
            )
        );
    }
    let same_body = wrong_reply.json()? == unknown_reply.json()?;
    let same_type = wrong_reply.header("content-type") == unknown_reply.header("content-type");
    ensure!(
        same_body && same_type,
        Failure::new(
            "a wrong password and an unknown email get different 401s: the difference tells who has an account"
        )
        .request(format!(
            "{}\n{}",
            wrong_reply.sent.curl(),
            unknown_reply.sent.curl()
        ))
        .expected("the same status, content type and body for both")
        .actual(format!(
            "wrong password:\n{}\nunknown email:\n{}",
            wrong_reply.shown(),
            unknown_reply.shown()
        ))
        .hint("answer both with one problem, built in one place (\"invalid email or password\"), and hash a dummy password when the email is unknown")
    );
    // The account still logs in (one failed attempt, far from the limit).
    let reply = login_reply(ctx, &ada.email, &ada.password).await?;
    reply.expect_json(
        200,
        "a bearer token: the right password after one wrong one",
    )?;
    Ok(())
}

async fn me_without_a_valid_token_is_401_with_www_authenticate(
    ctx: &mut Ctx,
    ada: &Registered,
) -> Result<(), Failure> {
    const NO_TOKEN: &str = "Bearer realm=\"shop\"";
    const INVALID: &str = "Bearer realm=\"shop\", error=\"invalid_token\"";
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ada.email, ada.password));
    let garbage = format!("{}.{}", ctx.rng.alnum(20), ctx.rng.alnum(12));
    let cases = [
        (ctx.http.get("/me"), NO_TOKEN, "no Authorization header"),
        (
            ctx.http
                .get("/me")
                .header("authorization", format!("Basic {basic}")),
            NO_TOKEN,
            "a Basic Authorization header (no bearer token)",
        ),
        (
            ctx.http.get("/me").bearer(&garbage),
            INVALID,
            "a bearer token that is not a token",
        ),
    ];
    for (call, wanted, what) in cases {
        let reply = send(call).await?;
        reply.expect_problem(401, "about:blank")?;
        let values = reply.header_all("www-authenticate");
        ensure!(
            values.len() == 1 && values[0] == wanted,
            reply
                .fail(
                    format!(
                        "GET /me with {what}: `WWW-Authenticate` is {}",
                        if values.is_empty() {
                            "missing".to_string()
                        } else {
                            format!("`{}`", values.join("`, `"))
                        }
                    ),
                    format!("401 with `WWW-Authenticate: {wanted}`"),
                )
                .hint("no bearer token at all: `Bearer realm=\"shop\"`; a bearer token that is not valid: add `, error=\"invalid_token\"` (RFC 6750)")
        );
    }
    Ok(())
}

async fn admin_logs_in_and_is_admin(ctx: &mut Ctx) -> Result<(), Failure> {
    let email = ctx.admin_email.clone();
    let password = ctx.admin_password.clone();
    let token = support::login(&ctx.http, &email, &password)
        .await
        .map_err(|failure| {
            failure.hint("the shop makes the admin's account on its first start, from SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD")
        })?;
    ctx.admin_token = Some(token.clone());
    let reply = send(ctx.http.get("/me").bearer(&token)).await?;
    let body = reply.expect_json(200, "the admin")?;
    ensure!(
        body.get("role").and_then(Value::as_str) == Some("admin"),
        reply.fail(
            "GET /me: the admin's `role` is not \"admin\"",
            format!(
                "200 OK, {{\"id\": ..., \"email\": {}, \"role\": \"admin\", ...}}",
                json!(email)
            ),
        )
    );
    ensure!(
        body.get("email")
            .and_then(Value::as_str)
            .is_some_and(|e| e.eq_ignore_ascii_case(&email)),
        reply.fail(
            "GET /me: the admin's `email` is not SHOP_ADMIN_EMAIL",
            format!("200 OK, {{\"email\": {}, ...}}", json!(email)),
        )
    );
    Ok(())
}
