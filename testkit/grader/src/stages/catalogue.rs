//! `catalogue`: `GET /products` as a client walks it. Pages follow `next`
//! (and `Link`), limits and cursors are checked, `q` is plain text, the
//! price and stock filters combine and survive `next`, and a walk sees
//! every product once while others are created and changed.
//!
//! Products accumulate across stages, so every query here names a random
//! marker that only this run's products of this stage carry.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::accounts::send;
use crate::failure::Failure;
use crate::http::Reply;
use crate::support::{self, encode, id_of};
use crate::{Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "walks_every_page_with_next_and_link",
    "limit_defaults_to_20_and_caps_at_100",
    "bad_limit_is_400_naming_limit",
    "bad_cursor_is_400_naming_cursor",
    "q_ignores_ascii_case",
    "like_wildcards_and_non_ascii_in_q_are_plain_text",
    "price_filters_are_inclusive",
    "in_stock_filters_by_stock",
    "filters_combine_and_next_keeps_them",
    "bad_filter_values_are_400_naming_them",
    "a_walk_sees_new_products_once_and_ignores_updates",
];

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let shelf = stage.check(
        "walks_every_page_with_next_and_link",
        walks_every_page_with_next_and_link(ctx).await,
    )?;
    stage.check(
        "limit_defaults_to_20_and_caps_at_100",
        limit_defaults_to_20_and_caps_at_100(ctx, &shelf).await,
    )?;
    stage.check(
        "bad_limit_is_400_naming_limit",
        bad_limit_is_400_naming_limit(ctx, &shelf).await,
    )?;
    stage.check(
        "bad_cursor_is_400_naming_cursor",
        bad_cursor_is_400_naming_cursor(ctx, &shelf).await,
    )?;
    stage.check(
        "q_ignores_ascii_case",
        q_ignores_ascii_case(ctx, &shelf).await,
    )?;
    stage.check(
        "like_wildcards_and_non_ascii_in_q_are_plain_text",
        like_wildcards_and_non_ascii_in_q_are_plain_text(ctx).await,
    )?;
    stage.check(
        "price_filters_are_inclusive",
        price_filters_are_inclusive(ctx, &shelf).await,
    )?;
    stage.check(
        "in_stock_filters_by_stock",
        in_stock_filters_by_stock(ctx, &shelf).await,
    )?;
    stage.check(
        "filters_combine_and_next_keeps_them",
        filters_combine_and_next_keeps_them(ctx, &shelf).await,
    )?;
    stage.check(
        "bad_filter_values_are_400_naming_them",
        bad_filter_values_are_400_naming_them(ctx, &shelf).await,
    )?;
    stage.check(
        "a_walk_sees_new_products_once_and_ignores_updates",
        a_walk_sees_new_products_once_and_ignores_updates(ctx).await,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The products this stage makes, and how it reads pages.

/// The stage's products: 105 whose names hold `wide`, 25 of which also
/// hold `narrow`.
struct Shelf {
    wide: String,
    narrow: String,
    /// The 105, in id order.
    all: Vec<Value>,
    /// The 25, in id order.
    few: Vec<Value>,
}

/// `/products?k=v&...`, values percent-encoded.
fn products_url(params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect();
    format!("/products?{}", query.join("&"))
}

/// Makes products from `bodies`, 8 at a time: the new products, in the
/// order of `bodies`.
async fn create_many(ctx: &mut Ctx, bodies: &[Value]) -> Result<Vec<Value>, Failure> {
    let admin = support::admin_token(ctx).await?;
    let mut made = Vec::new();
    for chunk in bodies.chunks(8) {
        let calls = chunk.iter().map(|body| {
            let call = ctx.http.post("/products").bearer(&admin).json(body);
            let body = body.clone();
            async move {
                let reply = send(call).await?;
                let product = reply.expect_json(201, "the new product")?;
                let fine = id_of(&product).is_some_and(|id| id > 0)
                    && ["sku", "name", "price_cents", "stock"]
                        .iter()
                        .all(|m| product.get(m) == body.get(m));
                ensure!(
                    fine,
                    reply.fail(
                        "POST /products: the new product is not the one sent",
                        format!("201 Created, the product {body} with its `id`"),
                    )
                );
                Ok::<Value, Failure>(product)
            }
        });
        for result in join_all(calls).await {
            made.push(result?);
        }
    }
    Ok(made)
}

fn body(ctx: &mut Ctx, name: String, price_cents: i64, stock: i64) -> Value {
    json!({"sku": ctx.rng.sku(), "name": name, "price_cents": price_cents, "stock": stock})
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().filter_map(id_of).collect()
}

fn by_id(mut items: Vec<Value>) -> Vec<Value> {
    items.sort_by_key(|item| id_of(item).unwrap_or(0));
    items
}

/// `1 page`, `7 pages`.
fn pages(count: usize) -> String {
    if count == 1 {
        "1 page".into()
    } else {
        format!("{count} pages")
    }
}

/// Ids as a short list for messages.
fn show_ids(ids: &[i64]) -> String {
    if ids.len() <= 30 {
        format!("{ids:?}")
    } else {
        format!(
            "{} ids: {:?} … {:?}",
            ids.len(),
            &ids[..10],
            &ids[ids.len() - 5..]
        )
    }
}

/// One page: its items and `next`, with `next`, `Link` and the items'
/// shape checked.
struct Page {
    reply: Reply,
    items: Vec<Value>,
    next: Option<String>,
}

/// The URL of a `Link` header's `rel="next"`, if any.
fn link_next(value: &str) -> Option<String> {
    value.split(',').find_map(|part| {
        let part = part.trim();
        let rest = part.strip_prefix('<')?;
        let (url, params) = rest.split_once('>')?;
        let is_next = params.split(';').any(|param| {
            let param = param.trim();
            let Some((name, value)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| url.to_string())
    })
}

async fn page(ctx: &Ctx, url: &str) -> Result<Page, Failure> {
    let reply = send(ctx.http.get(url)).await?;
    let body = reply.expect_json(200, "a page of products")?;
    let shape = "200 OK, {\"items\": [{\"id\": ..., \"sku\": ..., \"name\": ..., \"price_cents\": ..., \"stock\": ...}, ...], \"next\": \"/products?...\" or null}";
    let Some(items) = body.get("items").and_then(Value::as_array) else {
        return Err(reply.fail(
            format!("{}: the page has no `items` list", reply.sent.line()),
            shape,
        ));
    };
    ensure!(
        items.iter().all(|item| id_of(item).is_some()),
        reply.fail(
            format!(
                "{}: an item of the page has no integer `id`",
                reply.sent.line()
            ),
            shape
        )
    );
    let next = match body.get("next") {
        Some(Value::Null) => None,
        Some(Value::String(next)) if next.starts_with("/products?") => Some(next.clone()),
        other => {
            return Err(reply
                .fail(
                    format!(
                        "{}: `next` is {}, neither null nor a URL starting with `/products?`",
                        reply.sent.line(),
                        other.map(Value::to_string).unwrap_or_else(|| "missing".into())
                    ),
                    shape,
                )
                .hint("`next` is a relative URL, `/products?limit=...&cursor=...` with the same filters, or `null` on the last page"));
        }
    };
    let links = reply.header_all("link");
    match &next {
        Some(next) => {
            let linked: Vec<String> = links.iter().filter_map(|l| link_next(l)).collect();
            ensure!(
                linked.len() == 1 && &linked[0] == next,
                reply
                    .fail(
                        format!(
                            "{}: the `Link` header does not give the same URL as `next`",
                            reply.sent.line()
                        ),
                        format!("`Link: <{next}>; rel=\"next\"`"),
                    )
                    .actual(format!(
                        "Link: {}\n{}",
                        if links.is_empty() {
                            "(none)".to_string()
                        } else {
                            links.join(" | ")
                        },
                        reply.shown()
                    ))
            );
        }
        None => {
            ensure!(
                links.is_empty(),
                reply.fail(
                    format!(
                        "{}: the last page (`next` null) has a `Link` header: {}",
                        reply.sent.line(),
                        links.join(" | ")
                    ),
                    "no `Link` header on the last page"
                )
            );
        }
    }
    Ok(Page {
        reply,
        items: items.clone(),
        next,
    })
}

/// What a walk saw.
struct Walk {
    items: Vec<Value>,
    pages: usize,
    /// The first page's request, for messages.
    first: Reply,
}

/// Follows `next` from `page` on: every page full but the last, no empty
/// page after the first, ids rising strictly across the walk.
async fn walk_from(
    ctx: &Ctx,
    first_page: Page,
    limit: usize,
    mut items: Vec<Value>,
    mut pages: usize,
    first: Reply,
) -> Result<Walk, Failure> {
    let mut current = first_page;
    loop {
        pages += 1;
        let line = current.reply.sent.line();
        ensure!(
            current.items.len() <= limit,
            current.reply.fail(
                format!(
                    "{line}: the page has {} items, more than the limit {limit}",
                    current.items.len()
                ),
                format!("at most {limit} items"),
            )
        );
        ensure!(
            !(current.items.is_empty() && pages > 1),
            current.reply.fail(
                format!("{line}: `next` led to an empty page"),
                "the page that ends with the last matching product says `next: null`; no walk ends on an empty page",
            ).hint("read one row more than the limit (`LIMIT limit + 1`): there is a next page only if that row exists")
        );
        for item in &current.items {
            let id = id_of(item).unwrap_or(0);
            if let Some(last) = items.last().and_then(id_of)
                && id <= last
            {
                return Err(current
                    .reply
                    .fail(
                        format!(
                            "{line}: the walk went back or stood still: id {id} came after id {last}"
                        ),
                        "ids in ascending order across the whole walk, each product once",
                    )
                    .hint(if id == last {
                        "the page after the cursor starts after its position: `WHERE id > ?`, not `>=`"
                    } else {
                        "order every page by id (`ORDER BY id`) and start after the cursor's id (`WHERE id > ?`)"
                    }));
            }
            items.push(item.clone());
        }
        let Some(next) = current.next.take() else {
            return Ok(Walk {
                items,
                pages,
                first,
            });
        };
        ensure!(
            current.items.len() == limit,
            current.reply.fail(
                format!(
                    "{line}: a page that is not the last has {} items, not the limit {limit}",
                    current.items.len()
                ),
                format!("full pages of {limit} but the last"),
            )
        );
        ensure!(
            pages < 400,
            current.reply.fail(
                format!("{line}: the walk did not end after 400 pages"),
                "`next` null on the last page",
            )
        );
        current = page(ctx, &next).await?;
    }
}

async fn walk(ctx: &Ctx, url: &str, limit: usize) -> Result<Walk, Failure> {
    let first_page = page(ctx, url).await?;
    let first = first_page.reply.clone();
    walk_from(ctx, first_page, limit, Vec::new(), 0, first).await
}

/// The walk saw exactly `expected` (in id order), each as it is.
fn expect_walk(walk: &Walk, expected: &[Value], what: &str, hint: &str) -> Result<(), Failure> {
    let got = ids(&walk.items);
    let want = ids(expected);
    if got != want {
        let missing: Vec<i64> = want
            .iter()
            .filter(|id| !got.contains(id))
            .copied()
            .collect();
        let extra: Vec<i64> = got
            .iter()
            .filter(|id| !want.contains(id))
            .copied()
            .collect();
        let mut detail = String::new();
        if !missing.is_empty() {
            detail.push_str(&format!("; missing {}", show_ids(&missing)));
        }
        if let Some(item) = extra
            .first()
            .and_then(|id| walk.items.iter().find(|i| id_of(i) == Some(*id)))
        {
            detail.push_str(&format!(
                "; {} that should not be there, such as {item}",
                show_ids(&extra)
            ));
        }
        return Err(Failure::new(format!(
            "{}: the walk following `next` did not give {what}{detail}",
            walk.first.sent.line()
        ))
        .request(walk.first.sent.curl())
        .expected(format!("ids {}", show_ids(&want)))
        .actual(format!("ids {} over {}", show_ids(&got), pages(walk.pages)))
        .hint(hint.to_string()));
    }
    for (item, want) in walk.items.iter().zip(expected) {
        let same = ["sku", "name", "price_cents", "stock"]
            .iter()
            .all(|m| item.get(m) == want.get(m));
        ensure!(
            same,
            Failure::new(format!(
                "{}: a product in the walk is not as it was made",
                walk.first.sent.line()
            ))
            .request(walk.first.sent.curl())
            .expected(want.to_string())
            .actual(item.to_string())
        );
    }
    Ok(())
}

/// The walk of `url` (one page of at most 100 expected) gives `expected`.
async fn expect_query(
    ctx: &Ctx,
    url: &str,
    expected: &[Value],
    what: &str,
    hint: &str,
) -> Result<(), Failure> {
    let walk = walk(ctx, url, 100).await?;
    expect_walk(&walk, expected, what, hint)
}

/// `400` `invalid-parameter` naming `parameter`.
async fn expect_refused(ctx: &Ctx, url: &str, parameter: &str, hint: &str) -> Result<(), Failure> {
    expect_refused_as(ctx, url, parameter, "", hint).await
}

/// [`expect_refused`], the verdict saying `what` was sent (when the URL
/// does not show it plainly).
async fn expect_refused_as(
    ctx: &Ctx,
    url: &str,
    parameter: &str,
    what: &str,
    hint: &str,
) -> Result<(), Failure> {
    let said = |verdict: String| {
        if what.is_empty() {
            verdict
        } else {
            format!("{verdict} (the cursor: {what})")
        }
    };
    let reply = send(ctx.http.get(url)).await?;
    let problem = reply
        .expect_problem(400, "invalid-parameter")
        .map_err(|failure| Failure {
            verdict: said(failure.verdict.clone()),
            ..failure.hint(hint.to_string())
        })?;
    ensure!(
        problem.get("parameter").and_then(Value::as_str) == Some(parameter),
        reply.fail(
            said(format!(
                "{}: the `400` does not name `{parameter}` in `parameter`",
                reply.sent.line()
            )),
            format!("400 invalid-parameter with \"parameter\": \"{parameter}\""),
        )
    );
    Ok(())
}

/// The `cursor` parameter's raw value in a `next` URL.
fn cursor_of(next: &str) -> Option<&str> {
    let (_, query) = next.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("cursor="))
}

/// `next` with its cursor's raw value replaced by `cursor`.
fn with_cursor(next: &str, cursor: &str) -> String {
    let (path, query) = next.split_once('?').unwrap_or((next, ""));
    let query: Vec<String> = query
        .split('&')
        .map(|pair| {
            if pair.starts_with("cursor=") {
                format!("cursor={cursor}")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// `GET /products/{id}`'s `ETag`, then `PUT` with it.
async fn update(ctx: &mut Ctx, product: &Value, changed: Value) -> Result<Value, Failure> {
    let id = id_of(product).unwrap_or(0);
    let reply = send(ctx.http.get(&format!("/products/{id}"))).await?;
    reply.expect_json(200, "the product")?;
    let tag = reply.header("etag").unwrap_or("*").to_string();
    let admin = support::admin_token(ctx).await?;
    let reply = send(
        ctx.http
            .put(&format!("/products/{id}"))
            .bearer(&admin)
            .header("if-match", tag)
            .json(&changed),
    )
    .await?;
    reply.expect_json(200, "the product as it is now")
}

// ---------------------------------------------------------------------------
// Scenarios.

async fn walks_every_page_with_next_and_link(ctx: &mut Ctx) -> Result<Shelf, Failure> {
    let wide = ctx.rng.lower(10);
    let narrow = ctx.rng.lower(10);
    let mut marked: Vec<bool> = (0..105).map(|i| i < 25).collect();
    ctx.rng.shuffle(&mut marked);
    let mut bodies = Vec::new();
    for (index, narrow_too) in marked.iter().enumerate() {
        let (name, price, stock) = if *narrow_too {
            let name = ctx.rng.product_name(&format!("{wide} {narrow}"));
            // A third out of stock; prices that repeat now and then.
            let stock = if ctx.rng.chance(3) {
                0
            } else {
                ctx.rng.range(1, 60)
            };
            let price = if index % 7 == 3 {
                5_001
            } else {
                ctx.rng.price()
            };
            (name, price, stock)
        } else {
            let price = ctx.rng.price();
            let stock = ctx.rng.range(0, 40);
            (ctx.rng.product_name(&wide), price, stock)
        };
        bodies.push(body(ctx, name, price, stock));
    }
    let made = create_many(ctx, &bodies).await?;
    let few: Vec<Value> = made
        .iter()
        .zip(&marked)
        .filter(|(_, narrow_too)| **narrow_too)
        .map(|(p, _)| p.clone())
        .collect();
    let shelf = Shelf {
        wide,
        narrow,
        all: by_id(made),
        few: by_id(few),
    };

    let url = products_url(&[("q", &shelf.narrow), ("limit", "4")]);
    let walk4 = walk(ctx, &url, 4).await?;
    expect_walk(
        &walk4,
        &shelf.few,
        "the 25 matching products once each, in id order",
        "keyset pagination: `WHERE id > ? ORDER BY id LIMIT ?`, and `next` carries the filters and the limit",
    )?;
    ensure!(
        walk4.pages == 7,
        Failure::new(format!(
            "{}: 25 products with limit 4 took {} pages, not 7",
            walk4.first.sent.line(),
            walk4.pages
        ))
        .request(walk4.first.sent.curl())
    );
    // 25 with limit 5: the fifth page is full and the last.
    let url = products_url(&[("q", &shelf.narrow), ("limit", "5")]);
    let walk5 = walk(ctx, &url, 5).await?;
    expect_walk(
        &walk5,
        &shelf.few,
        "the 25 matching products once each, in id order",
        "keyset pagination: `WHERE id > ? ORDER BY id LIMIT ?`",
    )?;
    Ok(shelf)
}

async fn limit_defaults_to_20_and_caps_at_100(ctx: &mut Ctx, shelf: &Shelf) -> Result<(), Failure> {
    let url = products_url(&[("q", &shelf.wide)]);
    let first = page(ctx, &url).await?;
    ensure!(
        ids(&first.items) == ids(&shelf.all[..20]) && first.next.is_some(),
        first.reply.fail(
            format!(
                "{}: without `limit`, the page is not the first 20 of 105 matching products with a `next`",
                first.reply.sent.line()
            ),
            format!("20 items, ids {}, and a `next`", show_ids(&ids(&shelf.all[..20]))),
        ).hint("`limit` is 20 when it is absent")
    );
    let thirty_digits = format!("{}{}", ctx.rng.range(1, 9), "7".repeat(29));
    for limit in ["1000", thirty_digits.as_str()] {
        let url = products_url(&[("q", &shelf.wide), ("limit", limit)]);
        let first = page(ctx, &url).await?;
        ensure!(
            ids(&first.items) == ids(&shelf.all[..100]) && first.next.is_some(),
            first.reply.fail(
                format!(
                    "{}: `limit={limit}` does not give the first 100 of 105 matching products with a `next`",
                    first.reply.sent.line()
                ),
                format!("100 items, ids {}, and a `next`", show_ids(&ids(&shelf.all[..100]))),
            ).hint("a limit above 100 is 100, whatever its number of digits: a number too big for an integer type is still only digits (check the digits, then treat a long one as above 100)")
        );
        let first_reply = first.reply.clone();
        let walk = walk_from(ctx, first, 100, Vec::new(), 0, first_reply).await?;
        expect_walk(
            &walk,
            &shelf.all,
            "the 105 matching products, 100 then 5",
            "the page that ends with the last matching product says `next: null`",
        )?;
    }
    Ok(())
}

async fn bad_limit_is_400_naming_limit(ctx: &mut Ctx, shelf: &Shelf) -> Result<(), Failure> {
    for limit in ["0", "00", "-1", "abc", "2.5", "", "%2B5", "1e2"] {
        let url = format!("/products?q={}&limit={limit}", shelf.wide);
        expect_refused(
            ctx,
            &url,
            "limit",
            "`limit` is ASCII digits only and not 0: check the text before parsing (`\"+5\".parse::<u32>()` is `Ok(5)`), and answer a problem, not axum's plain-text `Query` rejection",
        )
        .await?;
    }
    Ok(())
}

async fn bad_cursor_is_400_naming_cursor(ctx: &mut Ctx, shelf: &Shelf) -> Result<(), Failure> {
    let url = products_url(&[("q", &shelf.narrow), ("limit", "4")]);
    let first = page(ctx, &url).await?;
    let Some(next) = first.next.clone() else {
        return Err(first.reply.fail(
            format!(
                "{}: the first of 7 pages has no `next`",
                first.reply.sent.line()
            ),
            "a `next` URL with a cursor",
        ));
    };
    let Some(cursor) = cursor_of(&next).map(str::to_string) else {
        return Err(first.reply.fail(
            format!(
                "{}: `next` has no `cursor` parameter: {next}",
                first.reply.sent.line()
            ),
            "`next`: `/products?...&cursor=...`, the cursor the next page starts from",
        ));
    };
    let garbage = format!("zq{}", ctx.rng.alnum(14));
    let cases = [
        (garbage, "garbage"),
        (String::new(), "empty"),
        (
            format!("0{cursor}"),
            "the shop's cursor with a `0` put in front",
        ),
        (
            format!("{cursor}%C3%A9"),
            "the shop's cursor with `é` after it",
        ),
    ];
    for (altered, what) in cases {
        let url = with_cursor(&next, &altered);
        expect_refused_as(
            ctx,
            &url,
            "cursor",
            what,
            "a cursor the shop did not give out is refused, never read as the first page: decode it strictly and accept only what the shop itself could have written (`after:{id}` in lower-case hexadecimal reads back only that; a plain id takes `017` as 17)",
        )
        .await?;
    }
    Ok(())
}

async fn q_ignores_ascii_case(ctx: &mut Ctx, shelf: &Shelf) -> Result<(), Failure> {
    let upper = shelf.narrow.to_ascii_uppercase();
    let mixed: String = shelf
        .narrow
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    for q in [upper, mixed] {
        let url = products_url(&[("q", &q), ("limit", "100")]);
        expect_query(
            ctx,
            &url,
            &shelf.few,
            &format!("the 25 products whose names hold `{}`", shelf.narrow),
            "ASCII letters match in any case: SQLite's `LIKE` does that, `instr` and `=` do not",
        )
        .await?;
    }
    // An empty `q` keeps all: the same first page as no `q` at all.
    let without = page(ctx, "/products?limit=7").await?;
    let empty = page(ctx, "/products?q=&limit=7").await?;
    ensure!(
        ids(&empty.items) == ids(&without.items),
        empty.reply.fail(
            "GET /products?q=&limit=7: an empty `q` does not keep every product",
            format!(
                "the same page as without `q`: ids {}",
                show_ids(&ids(&without.items))
            ),
        )
    );
    Ok(())
}

async fn like_wildcards_and_non_ascii_in_q_are_plain_text(ctx: &mut Ctx) -> Result<(), Failure> {
    let c = ctx.rng.lower(10);
    let tail = ctx.rng.lower(3);
    let word = |ctx: &mut Ctx| ctx.rng.product_name("").trim().to_string();
    let names = [
        format!("{} {c}%{tail}", word(ctx)),
        format!("{} {c}_{tail}", word(ctx)),
        format!("{} {c}\\{tail}", word(ctx)),
        format!("{} {c}{tail}", word(ctx)),
        format!("Crème {c}brûlée"),
        format!("CRÈME {c}BRÛLÉE"),
        format!("{} {c}'{tail}", word(ctx)),
    ];
    let mut bodies = Vec::new();
    for name in &names {
        let price = ctx.rng.price();
        let stock = ctx.rng.range(1, 20);
        bodies.push(body(ctx, name.clone(), price, stock));
    }
    let made = create_many(ctx, &bodies).await?;
    let cases: [(String, &[usize], &str); 7] = [
        (
            format!("{c}%"),
            &[0],
            "`%` in `q` is a percent sign, not a wildcard: escape it (`LIKE ? ESCAPE '\\'`, with `%`, `_` and `\\` each preceded by `\\`)",
        ),
        (
            format!("{c}_"),
            &[1],
            "`_` in `q` is an underscore, not \"any character\": escape it for `LIKE`",
        ),
        (
            format!("{c}\\"),
            &[2],
            "`\\` in `q` is a backslash: with `ESCAPE '\\'`, escape the backslash itself first",
        ),
        (
            format!("{c}'"),
            &[6],
            "a quote in `q` is text: bind `q` as a parameter",
        ),
        (
            format!("{c}brûlée"),
            &[4],
            "letters outside ASCII match exactly as written",
        ),
        (
            format!("{}BRûLéE", c.to_ascii_uppercase()),
            &[4],
            "ASCII letters in any case, other letters exactly as written",
        ),
        (
            format!("{c}BRÛLÉE"),
            &[5],
            "letters outside ASCII match exactly as written, not in any case (SQLite's `LIKE` folds ASCII only; `to_lowercase` folds all)",
        ),
    ];
    for (q, indexes, hint) in cases {
        let expected: Vec<Value> = by_id(indexes.iter().map(|i| made[*i].clone()).collect());
        let url = products_url(&[("q", &q), ("limit", "100")]);
        let names: Vec<&str> = indexes.iter().map(|i| names[*i].as_str()).collect();
        expect_query(
            ctx,
            &url,
            &expected,
            &format!("only the product named {names:?} (q = {q:?})"),
            hint,
        )
        .await?;
    }
    Ok(())
}

/// `(price, products)` of the 25, for filters.
fn prices(shelf: &Shelf) -> Vec<i64> {
    let mut prices: Vec<i64> = shelf
        .few
        .iter()
        .filter_map(|p| p["price_cents"].as_i64())
        .collect();
    prices.sort_unstable();
    prices
}

fn matching(shelf: &Shelf, keep: impl Fn(i64, i64) -> bool) -> Vec<Value> {
    shelf
        .few
        .iter()
        .filter(|p| {
            keep(
                p["price_cents"].as_i64().unwrap_or(0),
                p["stock"].as_i64().unwrap_or(0),
            )
        })
        .cloned()
        .collect()
}

/// Query parameters beside `q` and `limit`.
type Filters<'a> = Vec<(&'a str, &'a str)>;

async fn price_filters_are_inclusive(ctx: &mut Ctx, shelf: &Shelf) -> Result<(), Failure> {
    let sorted = prices(shelf);
    let low = sorted[ctx.rng.range(4, 10) as usize];
    let high = sorted[ctx.rng.range(14, 20) as usize];
    let exact = sorted[ctx.rng.range(0, 24) as usize];
    let below_zero = format!("-{}", ctx.rng.range(1, 99_999));
    let (low_text, high_text, exact_text) = (low.to_string(), high.to_string(), exact.to_string());
    let hint =
        "`min_price` and `max_price` are inclusive: `price_cents >= ?` and `price_cents <= ?`";
    let cases: Vec<(Filters, Vec<Value>, String)> = vec![
        (
            vec![("min_price", &low_text)],
            matching(shelf, |p, _| p >= low),
            format!("the products priced {low} or more"),
        ),
        (
            vec![("max_price", &high_text)],
            matching(shelf, |p, _| p <= high),
            format!("the products priced {high} or less"),
        ),
        (
            vec![("min_price", &low_text), ("max_price", &high_text)],
            matching(shelf, |p, _| (low..=high).contains(&p)),
            format!("the products priced {low} to {high}"),
        ),
        (
            vec![("min_price", &exact_text), ("max_price", &exact_text)],
            matching(shelf, |p, _| p == exact),
            format!("the products priced exactly {exact}"),
        ),
        (
            vec![("min_price", &below_zero)],
            shelf.few.clone(),
            format!("every product (`min_price={below_zero}` is a valid number)"),
        ),
    ];
    for (filters, expected, what) in cases {
        let mut params = vec![("q", shelf.narrow.as_str()), ("limit", "100")];
        params.extend(filters);
        expect_query(ctx, &products_url(&params), &expected, &what, hint).await?;
    }
    Ok(())
}

async fn in_stock_filters_by_stock(ctx: &mut Ctx, shelf: &Shelf) -> Result<(), Failure> {
    for (value, keep_in_stock) in [("true", true), ("false", false)] {
        let expected = matching(shelf, |_, stock| (stock > 0) == keep_in_stock);
        let url = products_url(&[("q", &shelf.narrow), ("in_stock", value), ("limit", "100")]);
        expect_query(
            ctx,
            &url,
            &expected,
            if keep_in_stock {
                "the products with stock above 0"
            } else {
                "the products with stock 0"
            },
            "`in_stock=true` keeps `stock > 0`, `in_stock=false` keeps `stock = 0`",
        )
        .await?;
    }
    Ok(())
}

async fn filters_combine_and_next_keeps_them(ctx: &mut Ctx, shelf: &Shelf) -> Result<(), Failure> {
    let sorted = prices(shelf);
    let mut low = sorted[ctx.rng.range(2, 8) as usize];
    let mut high = sorted[ctx.rng.range(18, 24) as usize];
    if matching(shelf, |p, s| s > 0 && (low..=high).contains(&p)).len() < 5 {
        (low, high) = (sorted[0], sorted[24]);
    }
    let expected = matching(shelf, |p, s| s > 0 && (low..=high).contains(&p));
    let q: String = shelf
        .narrow
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 3 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let (low_text, high_text) = (low.to_string(), high.to_string());
    let url = products_url(&[
        ("in_stock", "true"),
        ("q", &q),
        ("min_price", &low_text),
        ("max_price", &high_text),
        ("limit", "2"),
    ]);
    let walk = walk(ctx, &url, 2).await?;
    expect_walk(
        &walk,
        &expected,
        &format!(
            "the in-stock products priced {low} to {high} whose names hold `{q}`, in pages of 2"
        ),
        "the filters combine with AND, and `next` carries every filter and the limit (build it from the request's own parameters)",
    )
}

async fn bad_filter_values_are_400_naming_them(
    ctx: &mut Ctx,
    shelf: &Shelf,
) -> Result<(), Failure> {
    let numbers = [
        "12.50",
        "1e3",
        "",
        "0%20OR%201%3D1",
        "9223372036854775808",
        "%2B5",
        "-",
        "abc",
    ];
    for parameter in ["min_price", "max_price"] {
        for value in numbers {
            let url = format!("/products?q={}&{parameter}={value}", shelf.narrow);
            expect_refused(
                ctx,
                &url,
                parameter,
                "a price is an optional `-` and ASCII digits that fit an `i64`: check the text, then parse; refuse anything else with a problem naming the parameter",
            )
            .await?;
        }
    }
    for value in ["yes", "TRUE", "True", "1", ""] {
        let url = format!("/products?q={}&in_stock={value}", shelf.narrow);
        expect_refused(
            ctx,
            &url,
            "in_stock",
            "`in_stock` is exactly `true` or `false`",
        )
        .await?;
    }
    let sorted = prices(shelf);
    let high = sorted[ctx.rng.range(0, 24) as usize];
    let url = format!(
        "/products?q={}&max_price={high}&min_price={}",
        shelf.narrow,
        high + 1
    );
    expect_refused(
        ctx,
        &url,
        "min_price",
        "a `min_price` above `max_price` can only give nothing: refuse it, naming `min_price`",
    )
    .await
}

async fn a_walk_sees_new_products_once_and_ignores_updates(ctx: &mut Ctx) -> Result<(), Failure> {
    let d = ctx.rng.lower(10);
    let mut bodies = Vec::new();
    for _ in 0..6 {
        let name = ctx.rng.product_name(&d);
        let price = ctx.rng.price();
        let stock = ctx.rng.range(1, 30);
        bodies.push(body(ctx, name, price, stock));
    }
    let made = by_id(create_many(ctx, &bodies).await?);
    let url = products_url(&[("q", &d), ("limit", "2")]);
    let first = page(ctx, &url).await?;
    ensure!(
        ids(&first.items) == ids(&made[..2]) && first.next.is_some(),
        first.reply.fail(
            format!(
                "{}: the first page is not the first 2 of 6 matching products",
                first.reply.sent.line()
            ),
            format!("ids {}, and a `next`", show_ids(&ids(&made[..2]))),
        )
    );

    // Between the pages: the first product seen stops matching, the second
    // and a product not seen yet change price, two new products match.
    let mut renamed = made[0].clone();
    let elsewhere = ctx.rng.lower(10);
    renamed["name"] = json!(ctx.rng.product_name(&elsewhere));
    update(ctx, &made[0], without_id(&renamed)).await?;
    for index in [1, 3] {
        let mut repriced = made[index].clone();
        repriced["price_cents"] = json!(ctx.rng.price());
        update(ctx, &made[index], without_id(&repriced)).await?;
    }
    let mut more = Vec::new();
    for _ in 0..2 {
        let name = ctx.rng.product_name(&d);
        let price = ctx.rng.price();
        let stock = ctx.rng.range(1, 30);
        more.push(body(ctx, name, price, stock));
    }
    let new = by_id(create_many(ctx, &more).await?);

    let Some(next) = first.next.clone() else {
        return Err(first
            .reply
            .fail("GET /products: no `next` on the first page", "a `next`"));
    };
    let second = page(ctx, &next).await?;
    let walk = walk_from(ctx, second, 2, first.items.clone(), 1, first.reply.clone()).await?;
    let mut expected: BTreeMap<i64, Value> = BTreeMap::new();
    // A product created during the walk is seen if its id is beyond the
    // position (the shop picks ids: they need not grow).
    let position = ids(&made[..2])[1];
    let new: Vec<Value> = new
        .into_iter()
        .filter(|p| id_of(p).is_some_and(|id| id > position))
        .collect();
    for product in made.iter().chain(&new) {
        expected.insert(id_of(product).unwrap_or(0), product.clone());
    }
    let want: Vec<i64> = expected.keys().copied().collect();
    let got = ids(&walk.items);
    ensure!(
        got == want,
        Failure::new(format!(
            "{}: a walk with products changed and created between its pages did not see each matching product once",
            walk.first.sent.line()
        ))
        .request(walk.first.sent.curl())
        .expected(format!(
            "ids {} (the first 2 pages' worth, the rest, and the 2 created during the walk)",
            show_ids(&want)
        ))
        .actual(format!("ids {} over {}", show_ids(&got), pages(walk.pages)))
        .hint("a cursor holds a position (the last id), never an offset: `WHERE id > ?` does not shift when earlier products stop matching or later ones are added")
    );
    Ok(())
}

/// A product's body for `PUT`: the four members it takes.
fn without_id(product: &Value) -> Value {
    json!({
        "sku": product["sku"],
        "name": product["name"],
        "price_cents": product["price_cents"],
        "stock": product["stock"],
    })
}
