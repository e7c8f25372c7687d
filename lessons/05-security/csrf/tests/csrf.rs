//! Tests for security/csrf: the shop on a real SQLite file, served on
//! 127.0.0.1, attacked the way a page of another site attacks it.
//!
//! A browser that shows a page of `https://evil.example` and submits its
//! form to the shop sends the shop's session cookie along with it. The
//! tests send what such a browser sends: the victim's cookie, a form body,
//! and the `Origin`, `Sec-Fetch-Site` or `Referer` headers a browser adds.
//! Every attack must answer `403 Forbidden` and change nothing in the
//! database; every request of the shop's own pages must still work.
//!
//! Each test pairs legitimate use with attacks, so that a shop that lets
//! everything through passes none of them.

use rusqlite::Connection;
use security_csrf::{Session, Shop, add_customer, add_order, app, start_session};
use testkit::tempfile::TempDir;
use testkit::{Call, Reply, TestServer, json, status_text};

/// Where the shop's pages are served from, as the app is told.
const SHOP: &str = "https://shop.example";

/// The attacker's site.
const EVIL: &str = "https://evil.example";

/// What the attacks try to set Ada's email to.
const MALLORY: &str = "mallory@evil.example";

/// A session end far in the future.
const NEXT_CENTURY: i64 = 4_102_444_800;

/// The shop with two customers: Ada (two sessions: her laptop's and her
/// phone's, and a pending order) and Bob (one session).
struct World {
    _folder: TempDir,
    path: std::path::PathBuf,
    server: TestServer,
    ada: Session,
    ada_phone: Session,
    bob: Session,
    ada_id: i64,
    order: i64,
}

impl World {
    async fn new() -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        let path = folder.path().join("shop.db");
        let shop = match Shop::open(&path, SHOP) {
            Ok(shop) => shop,
            Err(error) => panic!("\nShop::open returned an error: {error}\n"),
        };
        let db = Connection::open(&path).expect("the test could not open the database");
        let ada_id = add_customer(&db, "ada@example.com", "Ada").expect("Ada is added");
        let bob_id = add_customer(&db, "bob@example.com", "Bob").expect("Bob is added");
        let order = add_order(&db, ada_id, 2500).expect("Ada's order is added");
        add_order(&db, bob_id, 900).expect("Bob's order is added");
        let ada = start_session(&db, ada_id, NEXT_CENTURY).expect("Ada's session starts");
        let ada_phone = start_session(&db, ada_id, NEXT_CENTURY).expect("Ada's session starts");
        let bob = start_session(&db, bob_id, NEXT_CENTURY).expect("Bob's session starts");
        let server = TestServer::spawn(app(shop)).await;
        World {
            _folder: folder,
            path,
            server,
            ada,
            ada_phone,
            bob,
            ada_id,
            order,
        }
    }

    fn db(&self) -> Connection {
        Connection::open(&self.path).expect("the test could not open the database")
    }

    /// Ada's email, as stored.
    fn ada_email(&self) -> String {
        self.db()
            .query_row(
                "SELECT email FROM customers WHERE id = ?1",
                [self.ada_id],
                |row| row.get(0),
            )
            .expect("the test could not read Ada's email")
    }

    /// The status of Ada's order, as stored.
    fn order_status(&self) -> String {
        self.db()
            .query_row(
                "SELECT status FROM orders WHERE id = ?1",
                [self.order],
                |row| row.get(0),
            )
            .expect("the test could not read the order's status")
    }

    /// Sets Ada's email back, for the next attack.
    fn reset_email(&self) {
        self.db()
            .execute(
                "UPDATE customers SET email = 'ada@example.com' WHERE id = ?1",
                [self.ada_id],
            )
            .expect("the test could not reset Ada's email");
    }

    /// A POST of a form, with `session`'s cookie: add headers, then the
    /// body.
    fn form(&self, path: &str, session: &Session) -> Call {
        self.server
            .post(path)
            .header("cookie", &format!("session={}", session.id))
            .header("content-type", "application/x-www-form-urlencoded")
    }

    /// `POST /account/email` as the shop's own page sends it: the form with
    /// the token, from the shop's origin.
    fn email_form(&self, session: &Session, email: &str, token: &str) -> Call {
        let body = format!("email={}&csrf_token={token}", encode(email));
        same_origin(self.form("/account/email", session)).body(&body)
    }

    /// Fails unless the reply refused `attack` and Ada's email is unchanged.
    fn assert_email_attack_refused(&self, reply: &Reply, attack: &str, diagnosis: &str) {
        let email = self.ada_email();
        if email != "ada@example.com" {
            reply.fail_with_diagnosis(
                &format!(
                    "{attack} changed Ada's email to {email:?}: it answered {}, expected \
                     403 Forbidden and nothing changed",
                    status_text(reply.status())
                ),
                diagnosis,
            );
        }
        refused(reply, attack, diagnosis);
    }
}

/// The headers a browser adds to a request that a page of the shop sends.
fn same_origin(call: Call) -> Call {
    call.header("origin", SHOP)
        .header("sec-fetch-site", "same-origin")
}

/// The headers a browser adds to a request that a page of another site
/// sends.
fn cross_site(call: Call) -> Call {
    call.header("origin", EVIL)
        .header("sec-fetch-site", "cross-site")
}

/// `text` percent-encoded for a form body.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Fails unless `reply` is the `403 Forbidden` problem details body that
/// refuses an attack.
fn refused(reply: &Reply, attack: &str, diagnosis: &str) {
    if reply.status() != 403 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 403 Forbidden for {attack}, got {}",
                status_text(reply.status())
            ),
            diagnosis,
        );
    }
    let content_type = reply.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/problem+json") {
        reply.fail(&format!(
            "the 403 for {attack} is not a problem details body: expected content type \
             `application/problem+json`, got `{content_type}`\nAnswer refusals with the \
             given `forbidden(...)`."
        ));
    }
    if reply.json()["status"] != json!(403) {
        reply.fail(&format!(
            "the problem details body of the 403 for {attack} says its status is {}, expected 403",
            reply.json()["status"]
        ));
    }
}

/// Fails unless `reply` is the `303 See Other` to `/account` that answers
/// a form the shop's own page posted.
fn assert_back_to_account(reply: &Reply, what: &str) {
    if reply.status() != 303 {
        reply.fail_with_diagnosis(
            &format!(
                "expected 303 See Other for {what}, got {}",
                status_text(reply.status())
            ),
            "A form posted from the shop's own page, with its session's token, from the \
             shop's origin, is the customer using the shop: it must work.",
        );
    }
    reply.assert_header("location", "/account");
}

/// The value of the hidden `csrf_token` field of the form on `page` that
/// posts to `action`: `None` if there is no such form or field.
fn form_token(page: &str, action: &str) -> Option<String> {
    let start = page.find(&format!("action=\"{action}\""))?;
    let form = &page[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    form.split("<input").skip(1).find_map(|input| {
        let tag = &input[..input.find('>')?];
        if !tag.contains("name=\"csrf_token\"") {
            return None;
        }
        let value = &tag[tag.find("value=\"")? + "value=\"".len()..];
        Some(value[..value.find('"')?].to_string())
    })
}

/// The account page of `session`, and the token of its form that posts to
/// `action`.
async fn token_on_the_page(world: &World, session: &Session, action: &str) -> String {
    let reply = world
        .server
        .get("/account")
        .header("cookie", &format!("session={}", session.id))
        .send()
        .await;
    reply.assert_status(200).assert_content_type("text/html");
    match form_token(reply.text(), action) {
        Some(token) if token == session.csrf_token => token,
        Some(token) => reply.fail(&format!(
            "the form that posts to {action} carries the token {token:?}, expected the \
             session's own token {:?}\nEach session has its token, stored in its row \
             (`sessions.csrf_token`): the page shows the token of the session that asks \
             for it.",
            session.csrf_token
        )),
        None => reply.fail_with_diagnosis(
            &format!(
                "the account page has no form posting to {action} with a hidden `csrf_token` \
                 field"
            ),
            "Every form the page serves carries the session's token, so that the shop can \
             tell its own forms from another site's: <input type=\"hidden\" \
             name=\"csrf_token\" value=\"THE SESSION'S TOKEN\">.",
        ),
    }
}

/// An attack on the token: what it is, its path, its form body, and a
/// header to add.
type TokenAttack = (&'static str, String, String, Option<(&'static str, String)>);

const CROSS_SITE_DIAGNOSIS: &str = "A page of another site can make the victim's browser post \
    any form to the shop, and the browser sends the shop's cookie with it. Refuse every \
    request that can change something unless it comes from the shop's own pages (its \
    Origin, Sec-Fetch-Site) and carries the session's CSRF token.";

// ANCHOR: cross_site_form
#[tokio::test]
async fn the_shops_own_form_changes_the_email_and_another_sites_form_does_not() {
    let world = World::new().await;

    // The attack: a page of evil.example with an auto-submitting form,
    //   <form method="post" action="https://shop.example/account/email">
    //     <input type="hidden" name="email" value="mallory@evil.example">
    //   </form><script>document.forms[0].submit()</script>
    // and the request the victim's browser sends for it.
    let attack = cross_site(world.form("/account/email", &world.ada))
        .body(&format!("email={}", encode(MALLORY)));
    let reply = attack.send().await;
    world.assert_email_attack_refused(
        &reply,
        "a cross-site form post (Origin: https://evil.example) with Ada's cookie",
        CROSS_SITE_DIAGNOSIS,
    );

    // Ada, on the shop's page, changes her email with the form it shows.
    let token = token_on_the_page(&world, &world.ada, "/account/email").await;
    let reply = world
        .email_form(&world.ada, "ada@new.example", &token)
        .send()
        .await;
    assert_back_to_account(&reply, "the shop's own email form");
    let email = world.ada_email();
    if email != "ada@new.example" {
        reply.fail(&format!(
            "the shop's own email form left Ada's email at {email:?}, expected \"ada@new.example\""
        ));
    }
}
// ANCHOR_END: cross_site_form

#[tokio::test]
async fn the_shops_own_form_cancels_an_order_and_another_sites_form_does_not() {
    let world = World::new().await;
    let path = format!("/orders/{}/cancel", world.order);

    let reply = cross_site(world.form(&path, &world.ada))
        .body("")
        .send()
        .await;
    let status = world.order_status();
    if status != "pending" {
        reply.fail_with_diagnosis(
            &format!(
                "a cross-site form post to {path} with Ada's cookie cancelled her order: it \
                 answered {}, expected 403 Forbidden and the order still pending",
                status_text(reply.status())
            ),
            CROSS_SITE_DIAGNOSIS,
        );
    }
    refused(
        &reply,
        &format!("a cross-site form post to {path} with Ada's cookie"),
        CROSS_SITE_DIAGNOSIS,
    );

    let token = token_on_the_page(&world, &world.ada, &path).await;
    let reply = same_origin(world.form(&path, &world.ada))
        .body(&format!("csrf_token={token}"))
        .send()
        .await;
    assert_back_to_account(&reply, "the shop's own cancel form");
    let status = world.order_status();
    if status != "cancelled" {
        reply.fail(&format!(
            "the shop's own cancel form left the order {status:?}, expected \"cancelled\""
        ));
    }

    // A shipped order can no longer be cancelled, even by its customer.
    let db = world.db();
    let shipped = add_order(&db, world.ada_id, 700).expect("the test could not add an order");
    db.execute(
        "UPDATE orders SET status = 'shipped' WHERE id = ?1",
        [shipped],
    )
    .expect("the test could not ship the order");
    let reply = same_origin(world.form(&format!("/orders/{shipped}/cancel"), &world.ada))
        .body(&format!("csrf_token={token}"))
        .send()
        .await;
    reply.assert_status(409);
}

#[tokio::test]
async fn a_get_never_cancels_an_order() {
    let world = World::new().await;
    let path = format!("/orders/{}/cancel", world.order);

    // The page itself is a GET, and works.
    let reply = world
        .server
        .get("/account")
        .header("cookie", &format!("session={}", world.ada.id))
        .send()
        .await;
    reply.assert_status(200);

    // <img src="https://shop.example/orders/1/cancel"> on any page, or a
    // link in an email: SameSite=Lax sends the cookie with top-level GETs.
    for sec_fetch_site in ["cross-site", "same-origin"] {
        let reply = world
            .server
            .get(&path)
            .header("cookie", &format!("session={}", world.ada.id))
            .header("sec-fetch-site", sec_fetch_site)
            .send()
            .await;
        let status = world.order_status();
        if status != "pending" {
            reply.fail_with_diagnosis(
                &format!("a GET {path} cancelled Ada's order (it is now {status:?})"),
                "GET is a safe method (RFC 9110, 9.2.1): links, images, prefetching and \
                 crawlers send it without asking anyone, and SameSite=Lax cookies go with \
                 top-level GETs from other sites. Only POST may cancel an order.",
            );
        }
        if reply.status() != 405 {
            reply.fail(&format!(
                "expected 405 Method Not Allowed for GET {path}, got {}\nThe route takes \
                 POST only.",
                status_text(reply.status())
            ));
        }
    }
}

#[tokio::test]
async fn a_leaked_token_is_still_refused_from_any_other_origin() {
    let world = World::new().await;
    let token = world.ada.csrf_token.clone();
    let diagnosis = "Compare the whole Origin with the shop's, exactly: not a prefix, not \
                     the host alone, not the scheme left out. `null` (a sandboxed frame, a \
                     data: URL, some redirects) is never the shop. A sibling subdomain is \
                     same-site, not same-origin.";

    // (Origin, Sec-Fetch-Site) a browser sends from each attacking page.
    let origins = [
        (EVIL, Some("cross-site")),
        ("null", Some("cross-site")),
        ("null", None),
        ("https://shop.example.evil.com", None),
        ("https://shop.example.evil.com", Some("cross-site")),
        ("https://shop.example:8443", None),
        ("http://shop.example", None),
        ("https://blog.shop.example", Some("same-site")),
        ("https://blog.shop.example", None),
        ("https://evil.example/https://shop.example", None),
    ];
    for (origin, sec_fetch_site) in origins {
        let body = format!("email={}&csrf_token={token}", encode(MALLORY));
        let mut call = world
            .form("/account/email", &world.ada)
            .header("origin", origin);
        if let Some(site) = sec_fetch_site {
            call = call.header("sec-fetch-site", site);
        }
        let reply = call.body(&body).send().await;
        world.assert_email_attack_refused(
            &reply,
            &format!("a form post from Origin {origin} carrying Ada's valid token"),
            diagnosis,
        );
    }

    // No Origin at all, but the browser says the page was another site's.
    let body = format!("email={}&csrf_token={token}", encode(MALLORY));
    let reply = world
        .form("/account/email", &world.ada)
        .header("sec-fetch-site", "cross-site")
        .body(&body)
        .send()
        .await;
    world.assert_email_attack_refused(
        &reply,
        "a form post with `Sec-Fetch-Site: cross-site` (and no Origin) carrying Ada's valid token",
        "When the browser says `Sec-Fetch-Site: cross-site` or `same-site`, the request \
         was sent by another site's page: refuse it whatever else it carries.",
    );

    // The shop's origin itself, with the token: Ada herself.
    let reply = world
        .email_form(&world.ada, "ada@new.example", &token)
        .send()
        .await;
    assert_back_to_account(&reply, "a form post from the shop's origin with the token");
}

#[tokio::test]
async fn without_an_origin_the_referer_must_be_a_page_of_the_shop() {
    let world = World::new().await;
    let token = world.ada.csrf_token.clone();
    let referers = [
        "https://evil.example/free-gift",
        "https://shop.example.evil.com/account",
        "https://shop.example@evil.example/account",
        "http://shop.example/account",
        "https://shop.example:8443/account",
        "https://evil.example/?from=https://shop.example/account",
        "not a url",
    ];
    for referer in referers {
        let body = format!("email={}&csrf_token={token}", encode(MALLORY));
        let reply = world
            .form("/account/email", &world.ada)
            .header("referer", referer)
            .body(&body)
            .send()
            .await;
        world.assert_email_attack_refused(
            &reply,
            &format!("a form post with no Origin and `Referer: {referer}`, carrying Ada's token"),
            "Without an Origin header, the Referer tells where the request comes from: \
             take the origin of its URL (scheme://host[:port], up to the first /, ? or \
             # after the host) and compare it with the shop's, exactly. A prefix test \
             lets https://shop.example.evil.com and https://shop.example@evil.example in.",
        );
    }

    let reply = world
        .form("/account/email", &world.ada)
        .header("referer", "https://shop.example/account?tab=email")
        .body(&format!(
            "email={}&csrf_token={token}",
            encode("ada@new.example")
        ))
        .send()
        .await;
    assert_back_to_account(
        &reply,
        "a form post with `Referer: https://shop.example/account?tab=email` and the token",
    );
}

#[tokio::test]
async fn every_change_needs_the_sessions_own_token() {
    let world = World::new().await;
    let ada = &world.ada;
    let token = ada.csrf_token.clone();
    let mut last_changed = token.clone();
    let last = last_changed.pop().expect("a token is not empty");
    last_changed.push(if last == 'A' { 'B' } else { 'A' });
    let position = token
        .find(|c: char| c.is_ascii_alphabetic())
        .expect("a 43-character random token has a letter");
    let mut case_flipped = token.clone();
    let flipped = case_flipped[position..=position]
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect::<String>();
    case_flipped.replace_range(position..=position, &flipped);
    let email = encode(MALLORY);

    let attacks: Vec<TokenAttack> = vec![
        (
            "no token at all",
            "/account/email".into(),
            format!("email={email}"),
            None,
        ),
        (
            "an empty token",
            "/account/email".into(),
            format!("email={email}&csrf_token="),
            None,
        ),
        (
            "an empty X-CSRF-Token header",
            "/account/email".into(),
            format!("email={email}"),
            Some(("x-csrf-token", String::new())),
        ),
        (
            "Bob's token (a valid token of another customer's session)",
            "/account/email".into(),
            format!("email={email}&csrf_token={}", world.bob.csrf_token),
            None,
        ),
        (
            "the token of Ada's other session (her phone's)",
            "/account/email".into(),
            format!("email={email}&csrf_token={}", world.ada_phone.csrf_token),
            None,
        ),
        (
            "Bob's token in the X-CSRF-Token header",
            "/account/email".into(),
            format!("email={email}"),
            Some(("x-csrf-token", world.bob.csrf_token.clone())),
        ),
        (
            "Ada's token with its last character changed",
            "/account/email".into(),
            format!("email={email}&csrf_token={last_changed}"),
            None,
        ),
        (
            "Ada's token with one letter in the other case",
            "/account/email".into(),
            format!("email={email}&csrf_token={case_flipped}"),
            None,
        ),
        (
            "Ada's token without its last character",
            "/account/email".into(),
            format!("email={email}&csrf_token={}", &token[..token.len() - 1]),
            None,
        ),
        (
            "Ada's token with a character added",
            "/account/email".into(),
            format!("email={email}&csrf_token={token}A"),
            None,
        ),
        (
            "Ada's session id as the token",
            "/account/email".into(),
            format!("email={email}&csrf_token={}", ada.id),
            None,
        ),
        (
            "Ada's token in the query string instead of the form",
            format!("/account/email?csrf_token={token}"),
            format!("email={email}"),
            None,
        ),
        (
            "Ada's token in a form field named `_csrf`",
            "/account/email".into(),
            format!("email={email}&_csrf={token}"),
            None,
        ),
    ];
    for (attack, path, body, header) in attacks {
        let mut call = same_origin(world.form(&path, ada));
        if let Some((name, value)) = &header {
            call = call.header(name, value);
        }
        let reply = call.body(&body).send().await;
        world.assert_email_attack_refused(
            &reply,
            &format!("a same-origin form post with {attack}"),
            "The Origin check alone is not the whole defence: every request that can \
             change something must also carry the token of the very session its cookie \
             names (`sessions.csrf_token`), in the `csrf_token` field of a form or the \
             X-CSRF-Token header, equal to it byte for byte. A token in the URL leaks \
             through logs, history and Referer headers: it does not count.",
        );
    }

    // The cancel form, too.
    let path = format!("/orders/{}/cancel", world.order);
    let reply = same_origin(world.form(&path, ada)).body("").send().await;
    if world.order_status() != "pending" {
        reply.fail(&format!(
            "a same-origin POST {path} without a token cancelled Ada's order: expected 403 \
             Forbidden\nEvery route that changes something needs the token, not only the \
             email form."
        ));
    }
    refused(
        &reply,
        &format!("a same-origin POST {path} without a token"),
        "Every route that changes something needs the token.",
    );

    let reply = world
        .email_form(ada, "ada@new.example", &token)
        .send()
        .await;
    assert_back_to_account(&reply, "the form with Ada's own token");

    // A form whose text ends in a lone `%` is read, not a panic.
    let reply = same_origin(world.form("/account/email", ada))
        .body(&format!("csrf_token={token}&email=ada%"))
        .send()
        .await;
    reply.assert_status(422);
}

#[tokio::test]
async fn a_json_client_sends_the_token_in_a_header_and_nothing_passes_without_it() {
    let world = World::new().await;
    let ada = &world.ada;
    let cookie = format!("session={}", ada.id);
    let body = json!({ "email": MALLORY });

    // A script on another site cannot send `content-type: application/json`
    // without a CORS preflight, but a form with enctype="text/plain" sends
    // a body that reads as JSON:
    //   <form method="post" enctype="text/plain" action="https://shop.example/account/email">
    //     <input name='{"email":"mallory@evil.example","x":"' value='"}'>
    //   </form>
    let smuggled = format!("{{\"email\":\"{MALLORY}\",\"x\":\"=\"}}");
    let attacks = [
        (
            "a text/plain form from evil.example whose body reads as JSON",
            cross_site(
                world
                    .server
                    .post("/account/email")
                    .header("cookie", &cookie)
                    .header("content-type", "text/plain"),
            )
            .body(&smuggled),
        ),
        (
            "a text/plain body that reads as JSON, with no Origin and no token (an older browser)",
            world
                .server
                .post("/account/email")
                .header("cookie", &cookie)
                .header("content-type", "text/plain")
                .body(&smuggled),
        ),
        (
            "a JSON body with no Origin, no Referer and no token",
            world
                .server
                .post("/account/email")
                .header("cookie", &cookie)
                .json(&body),
        ),
        (
            "a same-origin JSON body without the X-CSRF-Token header",
            same_origin(
                world
                    .server
                    .post("/account/email")
                    .header("cookie", &cookie),
            )
            .json(&body),
        ),
    ];
    for (attack, call) in attacks {
        let reply = call.send().await;
        world.assert_email_attack_refused(
            &reply,
            attack,
            "The token is needed on every request that can change something, whatever its \
             content type: JSON clients send it in the X-CSRF-Token header. Checking forms \
             only, or Origin only when it is present, lets these through.",
        );
    }

    let cancel = format!("/orders/{}/cancel", world.order);
    // The token in a body that is not a form: a text/plain form from
    // another origin cannot know the token, but the shop must not read a
    // token out of anything but a form or its header either.
    let reply = same_origin(
        world
            .server
            .post(&cancel)
            .header("cookie", &cookie)
            .header("content-type", "text/plain"),
    )
    .body(&format!("csrf_token={}", ada.csrf_token))
    .send()
    .await;
    if world.order_status() != "pending" {
        reply.fail(
            "a text/plain body `csrf_token=...` cancelled Ada's order: expected 403 Forbidden\n\
             The token counts in the X-CSRF-Token header, or in the `csrf_token` field of a \
             form (`application/x-www-form-urlencoded`) body: a body of any other type is \
             not a form.",
        );
    }
    refused(
        &reply,
        &format!("a same-origin POST {cancel} whose text/plain body carries the token"),
        "Read the `csrf_token` field only from a form body.",
    );

    let cancel = format!("/orders/{}/cancel", world.order);
    let reply = world
        .server
        .post(&cancel)
        .header("cookie", &cookie)
        .send()
        .await;
    if world.order_status() != "pending" {
        reply.fail(&format!(
            "a POST {cancel} with no Origin, no Referer and no token cancelled Ada's order: \
             expected 403 Forbidden"
        ));
    }
    refused(
        &reply,
        &format!("a POST {cancel} with no Origin, no Referer and no token"),
        "Without Origin or Referer, only the token can tell the shop's requests apart.",
    );

    // A script of the shop's own page: same origin, the token in the header.
    let reply = same_origin(
        world
            .server
            .post("/account/email")
            .header("cookie", &cookie)
            .header("x-csrf-token", &ada.csrf_token),
    )
    .json(&json!({ "email": "ada@new.example" }))
    .send()
    .await;
    reply.assert_status(200).assert_json(&json!({
        "id": world.ada_id, "email": "ada@new.example", "name": "Ada"
    }));
    world.reset_email();

    // With the token, the given rules for an address still apply: an @,
    // at most 254 characters, no other customer's.
    let json_change = |email: &str| {
        same_origin(
            world
                .server
                .post("/account/email")
                .header("cookie", &cookie)
                .header("x-csrf-token", &ada.csrf_token),
        )
        .json(&json!({ "email": email }))
        .send()
    };
    let longest = format!("{}@shop.example", "a".repeat(254 - "@shop.example".len()));
    json_change(&format!("a{longest}")).await.assert_status(422);
    json_change("not-an-address").await.assert_status(422);
    json_change("bob@example.com").await.assert_status(409);
    json_change(&longest).await.assert_status(200);
    world.reset_email();

    // A client that is no browser (a mobile app, a script with curl): no
    // Origin, no Sec-Fetch-Site, and the token in the header.
    let reply = world
        .server
        .post(&cancel)
        .header("cookie", &cookie)
        .header("x-csrf-token", &ada.csrf_token)
        .send()
        .await;
    reply.assert_status(200);
    if reply.json()["status"] != json!("cancelled") || world.order_status() != "cancelled" {
        reply.fail(
            "a POST with the token in the X-CSRF-Token header and no browser headers did \
             not cancel the order\nA client that is no browser sends no Origin: its token \
             alone lets it through.",
        );
    }

    // A browser's own action (Sec-Fetch-Site: none) with the token.
    let reply = world
        .server
        .post("/account/email")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "none")
        .header("x-csrf-token", &ada.csrf_token)
        .json(&json!({ "email": "ada@other.example" }))
        .send()
        .await;
    reply.assert_status(200);
}

#[tokio::test]
async fn each_session_sees_its_own_token_and_no_one_elses_works() {
    let world = World::new().await;

    // Bob, logged in, takes the token his own page shows him and makes
    // Ada's browser post it with her cookie.
    let bob_token = world.bob.csrf_token.clone();
    let reply = world
        .email_form(&world.ada, MALLORY, &bob_token)
        .send()
        .await;
    world.assert_email_attack_refused(
        &reply,
        "Ada's cookie with the token of Bob's page",
        "A token proves that the request comes from a page shown to this very session: \
         compare it with the token of the session the cookie names, not with any token \
         the shop ever gave out.",
    );

    // Each page shows its own session's token: Bob's, Ada's phone's, Ada's.
    token_on_the_page(&world, &world.bob, "/account/email").await;
    token_on_the_page(&world, &world.ada_phone, "/account/email").await;
    let token = token_on_the_page(&world, &world.ada, "/account/email").await;

    // A session that ended (in 2001) is no session, with its own token or
    // not: the cookie of an old laptop, replayed.
    let ended = start_session(&world.db(), world.ada_id, 1_000_000_000)
        .expect("the test could not add an ended session");
    let reply = world
        .email_form(&ended, MALLORY, &ended.csrf_token)
        .send()
        .await;
    let email = world.ada_email();
    if email != "ada@example.com" || reply.status() != 401 {
        reply.fail(&format!(
            "a session that ended in 2001 still changed the email (now {email:?}), answering \
             {}: expected 401 Unauthorized and nothing changed\nA session is valid while \
             now < expires_at; the given `shop.session(...)` checks it.",
            status_text(reply.status())
        ));
    }

    let reply = world
        .email_form(&world.ada, "ada@new.example", &token)
        .send()
        .await;
    assert_back_to_account(&reply, "Ada's form with the token of her page");
}
