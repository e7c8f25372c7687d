//! Tests for security/headers-cors: the shop's API served on 127.0.0.1 over
//! an in-memory SQLite database, called the way browsers call it: with an
//! `Origin`, with CORS preflights (`OPTIONS` with
//! `Access-Control-Request-Method` and `-Headers`), from the shop's own
//! pages and from other sites, some of which look very much like the shop.
//!
//! A browser decides from the response headers alone whether a page of
//! another origin may read a response, so the tests read exactly those:
//! `Access-Control-Allow-Origin` must name the calling origin, and only an
//! allowed one, never `*` or a lookalike. Every response, errors included,
//! must carry the security headers once each with their stated values.
//!
//! Every test pairs legitimate calls (which the starter answers) with
//! attacks (which it lets through), so the starter passes none.

use rusqlite::Connection;
use security_headers_cors::{Db, Settings, app, create_schema, insert_product};
use testkit::{Method, Reply, TestServer};

/// The shop's web pages.
const SHOP: &str = "https://shop.example";
/// The shop's back office, another allowed origin.
const ADMIN: &str = "https://admin.shop.example";
/// Somebody else's site.
const EVIL: &str = "https://evil.example";

/// Serves the app with `origins` allowed, over a new database with one
/// product (1, "Red mug", 1250 cents).
async fn serve_allowing(origins: &[&str]) -> TestServer {
    let db = Connection::open_in_memory().expect("the test could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    insert_product(&db, "MUG-RED", "Red mug", 1250, 12)
        .expect("the test could not store its product");
    let settings = Settings {
        allowed_origins: origins.iter().map(|origin| origin.to_string()).collect(),
    };
    TestServer::spawn(app(Db::new(db), &settings)).await
}

/// Serves the app with the shop's two origins allowed.
async fn serve() -> TestServer {
    serve_allowing(&[SHOP, ADMIN]).await
}

/// A CORS preflight, as a browser sends it before a cross-origin request
/// that is not "simple".
async fn preflight(
    server: &TestServer,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Reply {
    let mut call = server
        .request(Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", method);
    if !headers.is_empty() {
        call = call.header("access-control-request-headers", headers);
    }
    call.send().await
}

/// The comma-separated values of every `name` header, trimmed and
/// lower-cased.
fn values(reply: &Reply, name: &str) -> Vec<String> {
    reply
        .header_all(name)
        .iter()
        .flat_map(|value| value.split(','))
        .map(|value| value.trim().to_ascii_lowercase())
        .filter(|value| !value.is_empty())
        .collect()
}

/// Fails unless a preflight answered 200 or 204.
#[track_caller]
fn assert_preflight_ok(reply: &Reply) {
    if reply.status() != 200 && reply.status() != 204 {
        reply.fail(&format!(
            "expected 200 OK or 204 No Content for a preflight, got {}",
            testkit::status_text(reply.status())
        ));
    }
}

/// Fails unless `reply` lets a page of `origin` read it with credentials.
#[track_caller]
fn assert_allows(reply: &Reply, origin: &str) {
    let allowed = reply.header_all("access-control-allow-origin");
    match allowed.as_slice() {
        [] => reply.fail_with_diagnosis(
            &format!(
                "expected `access-control-allow-origin: {origin}` for the allowed origin \
                 `{origin}`, but the response has none"
            ),
            "The shop's own pages on the allowed origins must be able to read the answer: \
             without this header the browser hides it from them. The allowed origins come \
             from `Settings::allowed_origins`.",
        ),
        [value] if *value == origin => {}
        [value] if *value == "*" => reply.fail_with_diagnosis(
            &format!("expected `access-control-allow-origin: {origin}`, got `*`"),
            "`*` means any site, and browsers refuse it on a request with credentials \
             (cookies): the API answers with the exact origin that asked, when it is \
             allowed.",
        ),
        values => reply.fail(&format!(
            "expected exactly `access-control-allow-origin: {origin}`, got {values:?}"
        )),
    }
    if reply.header("access-control-allow-credentials") != Some("true") {
        reply.fail_with_diagnosis(
            &format!(
                "expected `access-control-allow-credentials: true` for the allowed origin \
                 `{origin}`"
            ),
            "The shop's pages call the API with the customer's cookies; without this header \
             the browser hides the answer to a request that carried them.",
        );
    }
}

/// Fails if `reply` lets a page of `origin` read it.
#[track_caller]
fn assert_refuses(reply: &Reply, origin: &str, diagnosis: &str) {
    if let Some(allowed) = reply.header("access-control-allow-origin") {
        reply.fail_with_diagnosis(
            &format!(
                "the API answered `access-control-allow-origin: {allowed}` to `{origin}`, which \
                 is not an allowed origin: its pages can now read the customer's data with \
                 the customer's cookies"
            ),
            diagnosis,
        );
    }
}

/// Fails unless `Vary` names `Origin`, so no cache serves one origin's
/// answer to another.
#[track_caller]
fn assert_vary_origin(reply: &Reply) {
    if !values(reply, "vary").iter().any(|value| value == "origin") {
        reply.fail_with_diagnosis(
            "expected `vary` to name `origin`",
            "The CORS headers depend on the request's `Origin`: a cache (the browser's, a \
             CDN's) that is not told so serves the answer made for one origin to another. \
             `Vary: Origin` on every response says so.",
        );
    }
}

/// What the lookalike attacks have in common.
const EXACT_MATCH: &str = "An origin is allowed only if it is, as a whole string, one of the \
     allowed origins: scheme, host and port. A check with `ends_with`, `contains`, \
     `starts_with` or a regular expression without anchors lets a lookalike in \
     (`https://evilshop.example` ends with `shop.example`), and so does reflecting the \
     request's `Origin`.";

// ---------------------------------------------------------------- CORS

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_gets_that_origin_and_the_stated_rules() {
    let server = serve().await;
    for origin in [SHOP, ADMIN] {
        let reply = preflight(
            &server,
            "/orders",
            origin,
            "POST",
            "content-type,authorization",
        )
        .await;
        assert_preflight_ok(&reply);
        assert_allows(&reply, origin);
        let methods = values(&reply, "access-control-allow-methods");
        for method in ["get", "post", "delete"] {
            if !methods.iter().any(|allowed| allowed == method) {
                reply.fail_with_diagnosis(
                    &format!(
                        "expected `access-control-allow-methods` to list GET, POST and DELETE, \
                         got {methods:?}"
                    ),
                    "The preflight answer lists the methods the API grants other origins, \
                     GET, POST and DELETE, whatever method this preflight asks about.",
                );
            }
        }
        let headers = values(&reply, "access-control-allow-headers");
        for header in ["content-type", "authorization"] {
            if !headers.iter().any(|allowed| allowed == header) {
                reply.fail(&format!(
                    "expected `access-control-allow-headers` to list `content-type` and \
                     `authorization`, got {headers:?}"
                ));
            }
        }
        if reply.header("access-control-max-age") != Some("600") {
            reply.fail_with_diagnosis(
                &format!(
                    "expected `access-control-max-age: 600`, got {:?}",
                    reply.header("access-control-max-age")
                ),
                "The browser may keep a preflight's answer for ten minutes \
                 (`PREFLIGHT_MAX_AGE`), instead of asking before every request.",
            );
        }
        assert_vary_origin(&reply);
    }
    let reply = preflight(&server, "/orders", EVIL, "POST", "content-type").await;
    assert_refuses(
        &reply,
        EVIL,
        "Only the origins in `Settings::allowed_origins` get `access-control-allow-origin`; \
         reflecting whatever `Origin` arrives allows every site on the web.",
    );
}

#[tokio::test]
async fn lookalike_origins_are_refused() {
    let server = serve().await;
    let reply = server.get("/products").header("origin", SHOP).send().await;
    reply.assert_status(200);
    assert_allows(&reply, SHOP);
    let lookalikes = [
        "https://shop.example.evil.com",
        "https://evilshop.example",
        "https://evil.shop.example",
        "https://admin.shop.example.evil.com",
        "http://shop.example",
        "https://shop.example:8443",
        "https://shop.example.",
        "null",
        EVIL,
    ];
    for origin in lookalikes {
        let reply = preflight(&server, "/orders", origin, "POST", "content-type").await;
        assert_refuses(&reply, origin, EXACT_MATCH);
        let reply = server
            .get("/products")
            .header("origin", origin)
            .send()
            .await;
        reply.assert_status(200);
        assert_refuses(&reply, origin, EXACT_MATCH);
    }
}

#[tokio::test]
async fn a_preflight_asking_for_another_method_or_header_is_not_granted_it() {
    let server = serve().await;
    let reply = preflight(&server, "/orders/1", SHOP, "DELETE", "").await;
    assert_preflight_ok(&reply);
    assert_allows(&reply, SHOP);
    for method in ["PUT", "PATCH", "TRACE"] {
        let reply = preflight(&server, "/products/1", SHOP, method, "").await;
        let methods = values(&reply, "access-control-allow-methods");
        let lower = method.to_ascii_lowercase();
        if methods
            .iter()
            .any(|allowed| *allowed == lower || allowed == "*")
        {
            reply.fail_with_diagnosis(
                &format!(
                    "a preflight asking for {method} was granted it: \
                     `access-control-allow-methods` lists {methods:?}"
                ),
                "The API allows GET, POST and DELETE from other origins, and says so \
                 whatever the preflight asks for: the browser then refuses any other method. \
                 Echoing `Access-Control-Request-Method` grants every method.",
            );
        }
    }
    let reply = preflight(
        &server,
        "/orders",
        SHOP,
        "POST",
        "content-type,x-debug-user",
    )
    .await;
    let headers = values(&reply, "access-control-allow-headers");
    if headers
        .iter()
        .any(|allowed| allowed == "x-debug-user" || allowed == "*")
    {
        reply.fail_with_diagnosis(
            &format!(
                "a preflight asking for the header `x-debug-user` was granted it: \
                 `access-control-allow-headers` lists {headers:?}"
            ),
            "Only `content-type` and `authorization` may be sent from other origins. \
             Echoing `Access-Control-Request-Headers` grants any header a page asks for.",
        );
    }
}

#[tokio::test]
async fn a_request_gets_cors_headers_only_for_an_allowed_origin_and_always_vary_origin() {
    let server = serve().await;
    for origin in [SHOP, ADMIN] {
        let reply = server
            .get("/products")
            .header("origin", origin)
            .send()
            .await;
        reply.assert_status(200);
        assert_allows(&reply, origin);
        assert_vary_origin(&reply);
    }
    // An error is for the shop's pages to read too: 404 and 422.
    let reply = server
        .get("/products/99")
        .header("origin", SHOP)
        .send()
        .await;
    reply.assert_status(404);
    assert_allows(&reply, SHOP);
    let reply = server
        .post("/orders")
        .header("origin", SHOP)
        .json(&testkit::json!({"product_id": 1, "quantity": 0}))
        .send()
        .await;
    reply.assert_status(422);
    assert_allows(&reply, SHOP);
    // The server answers anyone: CORS decides what a browser lets a page
    // read, not who may call.
    let reply = server.get("/products").header("origin", EVIL).send().await;
    reply.assert_status(200);
    assert_refuses(
        &reply,
        EVIL,
        "Only the allowed origins get `access-control-allow-origin`.",
    );
    assert_vary_origin(&reply);
    let reply = server
        .post("/orders")
        .header("origin", EVIL)
        .header("cookie", "session=the-customers-session")
        .json(&testkit::json!({"product_id": 1, "quantity": 1}))
        .send()
        .await;
    assert_refuses(
        &reply,
        EVIL,
        "Only the allowed origins get `access-control-allow-origin`, also on a POST.",
    );
    let reply = server.get("/products").send().await;
    reply.assert_status(200);
    assert_refuses(
        &reply,
        "(no Origin)",
        "A request without `Origin` comes from no web page (curl, another server): it \
         needs no CORS headers.",
    );
}

#[tokio::test]
async fn the_allowed_origins_come_from_the_settings() {
    let dev = "http://localhost:5173";
    let server = serve_allowing(&[dev]).await;
    let reply = server.get("/products").header("origin", dev).send().await;
    reply.assert_status(200);
    assert_allows(&reply, dev);
    let reply = preflight(&server, "/orders", dev, "POST", "content-type").await;
    assert_allows(&reply, dev);
    for origin in [SHOP, "http://localhost:5174", "http://127.0.0.1:5173"] {
        let reply = preflight(&server, "/orders", origin, "POST", "content-type").await;
        assert_refuses(
            &reply,
            origin,
            "The allowed origins are those of `Settings::allowed_origins`, and only those: \
             here only `http://localhost:5173`.",
        );
    }
    let server = serve_allowing(&[]).await;
    for origin in [SHOP, dev] {
        let reply = server
            .get("/products")
            .header("origin", origin)
            .send()
            .await;
        reply.assert_status(200);
        assert_refuses(
            &reply,
            origin,
            "With no allowed origin in the settings, no other origin may read anything.",
        );
    }
}

// ----------------------------------------------------- security headers

/// Fails unless `reply` carries each security header once, with its value.
#[track_caller]
fn assert_security_headers(reply: &Reply) {
    let once = |name: &str| -> String {
        let all = reply.header_all(name);
        match all.as_slice() {
            [value] => value.to_string(),
            [] => reply.fail_with_diagnosis(
                &format!(
                    "expected a `{name}` header on this {} response, but it has none",
                    reply.status()
                ),
                "Every response carries the security headers, errors and the router's own \
                 404 and 405 included: a layer on the whole router, not headers set in some \
                 handlers or a layer on some routes.",
            ),
            several => reply.fail_with_diagnosis(
                &format!(
                    "expected one `{name}` header, got {}: {several:?}",
                    several.len()
                ),
                "A handler here sets some of these headers itself: a layer that appends its \
                 own makes two. Set the header so that it replaces (or keeps) the handler's \
                 value.",
            ),
        }
    };
    let nosniff = once("x-content-type-options");
    if nosniff != "nosniff" {
        reply.fail(&format!(
            "expected `x-content-type-options: nosniff`, got `{nosniff}`"
        ));
    }
    let referrer = once("referrer-policy");
    if !referrer.eq_ignore_ascii_case("strict-origin-when-cross-origin") {
        reply.fail_with_diagnosis(
            &format!(
                "expected `referrer-policy: strict-origin-when-cross-origin`, got `{referrer}`"
            ),
            "The stated policy sends other sites the origin only, never a path or query, \
             and nothing at all from HTTPS to HTTP.",
        );
    }
    let frames = once("x-frame-options");
    if !frames.eq_ignore_ascii_case("DENY") {
        reply.fail(&format!("expected `x-frame-options: DENY`, got `{frames}`"));
    }
    let policy = once("content-security-policy");
    let directives: Vec<String> = policy
        .split(';')
        .map(|directive| {
            directive
                .split_ascii_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase()
        })
        .filter(|directive| !directive.is_empty())
        .collect();
    for expected in ["default-src 'none'", "frame-ancestors 'none'"] {
        if !directives.iter().any(|directive| directive == expected) {
            reply.fail_with_diagnosis(
                &format!(
                    "expected the content-security-policy to say `{expected}`, got `{policy}`"
                ),
                "The API's policy is `default-src 'none'; frame-ancestors 'none'`: a JSON \
                 answer loads nothing, and no site may frame it.",
            );
        }
    }
    let hsts = once("strict-transport-security");
    let mut max_age = None;
    let mut subdomains = false;
    for directive in hsts.split(';').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        if name.trim().eq_ignore_ascii_case("max-age") {
            max_age = Some(value.trim().trim_matches('"').to_string());
        }
        subdomains |= name.trim().eq_ignore_ascii_case("includesubdomains");
    }
    if max_age.as_deref() != Some("63072000") || !subdomains {
        reply.fail_with_diagnosis(
            &format!(
                "expected `strict-transport-security: max-age=63072000; includeSubDomains`, got \
                 `{hsts}`"
            ),
            "Without `max-age` the header is invalid and browsers ignore it; the stated \
             policy keeps browsers on HTTPS for two years (63072000 seconds), on every \
             subdomain too.",
        );
    }
}

#[tokio::test]
async fn every_response_carries_each_security_header_once() {
    let server = serve().await;
    let replies = [
        server.get("/products").header("origin", SHOP).send().await,
        server.get("/products/1").send().await,
        server.get("/products/99").send().await,
        server.get("/products/not-a-number").send().await,
        server
            .get("/admin/.env")
            .header("origin", EVIL)
            .send()
            .await,
        server.request(Method::PATCH, "/products").send().await,
        server
            .post("/orders")
            .header("content-type", "application/json")
            .body("{\"product_id\": 1, \"quantity\": ")
            .send()
            .await,
        server
            .post("/orders")
            .json(&testkit::json!({"product_id": 1, "quantity": 2}))
            .send()
            .await,
        server.delete("/orders/1").send().await,
        server.get("/export").header("origin", EVIL).send().await,
    ];
    let expected = [200, 200, 404, 400, 404, 405, 400, 201, 204, 200];
    for (reply, status) in replies.iter().zip(expected) {
        reply.assert_status(status);
        assert_security_headers(reply);
    }
    // The handlers still do their work under the layers.
    let order = &replies[7];
    if order.json()["total_cents"] != testkit::json!(2500) {
        order.fail("expected the order's `total_cents` to be 2500 (2 × 1250 cents)");
    }
    let export = &replies[9];
    export.assert_content_type("text/csv");
    if !export.text().contains("1,MUG-RED,\"Red mug\",1250,12") {
        export.fail("expected the export to list the product as `1,MUG-RED,\"Red mug\",1250,12`");
    }
    let reply = preflight(&server, "/orders", SHOP, "POST", "content-type").await;
    assert_security_headers(&reply);

    // A database without its tables: every query fails, and the 500 has
    // the headers too.
    let broken = Connection::open_in_memory().expect("the test could not open a database");
    let settings = Settings {
        allowed_origins: vec![SHOP.to_string()],
    };
    let server = TestServer::spawn(app(Db::new(broken), &settings)).await;
    let reply = server.get("/products").header("origin", EVIL).send().await;
    reply.assert_status(500);
    assert_security_headers(&reply);
    assert_refuses(&reply, EVIL, EXACT_MATCH);
}
