//! Tests for security/xss: the shop's pages served on 127.0.0.1 over an
//! in-memory SQLite database, attacked the way a browser would be. Every
//! test sends legitimate text and attack payloads, then reads the HTML the
//! way a browser's tokenizer does (a small one is below: tags, attributes
//! in any quoting, character references, the raw text of `<script>` and
//! `<textarea>`), and checks that
//!
//! - no payload became markup: no `<script>`, `<img>`, `<svg>`, `<iframe>`
//!   element, no `on...` event-handler attribute, no link or source whose
//!   URL has a scheme other than `http` or `https` once the browser has
//!   decoded and cleaned it;
//! - the text still reads as it was typed, escaped exactly once: the
//!   decoded page shows it character for character.
//!
//! So an untouched starter fails every test, and any correct escaping
//! passes (named or numeric references, either quote, a link dropped or
//! pointed at `#`).

use rusqlite::Connection;
use security_xss::{Db, app, create_schema, insert_product};
use testkit::{Reply, TestServer};

// ---------------------------------------------------------------- the shop

/// Serves the app over a new in-memory database holding `products`
/// (name, price in cents), with ids 1, 2, ... in that order.
async fn serve(products: &[(&str, i64)]) -> TestServer {
    let db = Connection::open_in_memory().expect("the test could not open an in-memory database");
    create_schema(&db).expect("create_schema failed on an empty database");
    for (number, (name, price_cents)) in products.iter().enumerate() {
        insert_product(&db, &format!("SKU-{number}"), name, *price_cents, 10)
            .expect("the test could not store its product");
    }
    TestServer::spawn(app(Db::new(db))).await
}

/// `text` percent-encoded for a query string or a form body: every byte
/// but letters, digits and `-._~` as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Sends the review form of product `id`, as a browser does.
async fn post_review(
    server: &TestServer,
    id: i64,
    author: &str,
    website: &str,
    body: &str,
) -> Reply {
    let form = format!(
        "author={}&website={}&body={}",
        percent_encode(author),
        percent_encode(website),
        percent_encode(body)
    );
    server
        .post(&format!("/products/{id}/reviews"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(&form)
        .send()
        .await
}

/// Posts a review that must be accepted (303 back to the product), then
/// reads the product's page, which must answer 200.
async fn review_and_read(
    server: &TestServer,
    id: i64,
    author: &str,
    website: &str,
    body: &str,
) -> Reply {
    let posted = post_review(server, id, author, website, body).await;
    if posted.status() != 303 {
        posted.fail_with_diagnosis(
            &format!(
                "expected 303 See Other for a complete review, got {}",
                testkit::status_text(posted.status())
            ),
            "A review with an author and a body is stored, and the browser sent back to the \
             product's page. Escaping changes what a page shows, never what is accepted.",
        );
    }
    posted.assert_header("location", &format!("/products/{id}"));
    let page = server.get(&format!("/products/{id}")).send().await;
    page.assert_status(200);
    page
}

// ------------------------------------------------------- reading the HTML

/// One element's start tag: its name and attributes (names lower-cased,
/// values decoded as a browser decodes them), and for `<textarea>`,
/// `<title>` and `<script>` the text inside.
#[derive(Debug)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    inner: Option<String>,
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(attribute, _)| attribute == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A page as a browser's tokenizer reads it.
struct Page {
    elements: Vec<Element>,
    /// Every text node, decoded, joined: what the reader sees.
    text: String,
}

/// The elements whose content is text up to their end tag: the first two
/// are raw, the others have their character references decoded.
const RAW_TEXT: [&str; 2] = ["script", "style"];
const ESCAPABLE_RAW_TEXT: [&str; 2] = ["textarea", "title"];

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

impl Page {
    fn parse(html: &str) -> Page {
        let bytes = html.as_bytes();
        let mut elements = Vec::new();
        let mut text = String::new();
        let mut at = 0;
        let mut text_start = 0;
        while at < bytes.len() {
            if bytes[at] != b'<' {
                at += 1;
                continue;
            }
            let next = bytes.get(at + 1).copied().unwrap_or(0);
            let is_start = next.is_ascii_alphabetic();
            let is_end = next == b'/' && bytes.get(at + 2).is_some_and(u8::is_ascii_alphabetic);
            let is_markup = next == b'!' || next == b'?';
            if !(is_start || is_end || is_markup) {
                at += 1;
                continue;
            }
            text.push_str(&decode(&html[text_start..at]));
            if is_markup {
                at = if html[at..].starts_with("<!--") {
                    html[at + 4..]
                        .find("-->")
                        .map_or(bytes.len(), |end| at + 4 + end + 3)
                } else {
                    html[at..].find('>').map_or(bytes.len(), |end| at + end + 1)
                };
            } else if is_end {
                at = html[at..].find('>').map_or(bytes.len(), |end| at + end + 1);
            } else {
                let (mut element, end) = start_tag(html, at + 1);
                at = end;
                let name = element.name.clone();
                if RAW_TEXT.contains(&name.as_str()) || ESCAPABLE_RAW_TEXT.contains(&name.as_str())
                {
                    let closing = format!("</{name}");
                    let rest = html[at..].to_ascii_lowercase();
                    let content_end = rest.find(&closing).map_or(bytes.len(), |end| at + end);
                    let content = &html[at..content_end];
                    let content = if RAW_TEXT.contains(&name.as_str()) {
                        content.to_string()
                    } else {
                        let decoded = decode(content);
                        text.push_str(&decoded);
                        decoded
                    };
                    element.inner = Some(content);
                    at = content_end;
                }
                elements.push(element);
            }
            text_start = at;
        }
        text.push_str(&decode(&html[text_start.min(bytes.len())..]));
        Page { elements, text }
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &Element> {
        self.elements
            .iter()
            .filter(move |element| element.name == name)
    }
}

/// Reads the start tag whose name begins at `at`; returns it and where the
/// text after it begins.
fn start_tag(html: &str, mut at: usize) -> (Element, usize) {
    let bytes = html.as_bytes();
    let name_start = at;
    while at < bytes.len() && !is_space(bytes[at]) && bytes[at] != b'/' && bytes[at] != b'>' {
        at += 1;
    }
    let name = html[name_start..at].to_ascii_lowercase();
    let mut attributes = Vec::new();
    loop {
        while at < bytes.len() && (is_space(bytes[at]) || bytes[at] == b'/') {
            at += 1;
        }
        if at >= bytes.len() {
            break;
        }
        if bytes[at] == b'>' {
            at += 1;
            break;
        }
        let attribute_start = at;
        at += 1;
        while at < bytes.len() && !is_space(bytes[at]) && !matches!(bytes[at], b'/' | b'>' | b'=') {
            at += 1;
        }
        let attribute = html[attribute_start..at].to_ascii_lowercase();
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        let mut value = String::new();
        if bytes.get(at) == Some(&b'=') {
            at += 1;
            while at < bytes.len() && is_space(bytes[at]) {
                at += 1;
            }
            match bytes.get(at) {
                Some(&quote) if quote == b'"' || quote == b'\'' => {
                    let end = html[at + 1..]
                        .find(quote as char)
                        .map_or(bytes.len(), |end| at + 1 + end);
                    value = decode(&html[at + 1..end]);
                    at = (end + 1).min(bytes.len());
                }
                _ => {
                    let value_start = at;
                    while at < bytes.len() && !is_space(bytes[at]) && bytes[at] != b'>' {
                        at += 1;
                    }
                    value = decode(&html[value_start..at]);
                }
            }
        }
        attributes.push((attribute, value));
    }
    let element = Element {
        name,
        attributes,
        inner: None,
    };
    (element, at)
}

/// Decodes character references as a browser does: the named ones the
/// escaping of HTML uses, and every numeric one, with or without `;`.
fn decode(text: &str) -> String {
    let mut decoded = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        decoded.push_str(&rest[..at]);
        rest = &rest[at..];
        let named = [
            ("&amp;", "&"),
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&quot;", "\""),
            ("&apos;", "'"),
            ("&nbsp;", "\u{a0}"),
            ("&Tab;", "\t"),
            ("&NewLine;", "\n"),
            ("&colon;", ":"),
        ];
        if let Some((reference, character)) = named
            .iter()
            .find(|(reference, _)| rest.starts_with(reference))
        {
            decoded.push_str(character);
            rest = &rest[reference.len()..];
            continue;
        }
        if let Some(number) = rest.strip_prefix("&#") {
            let (digits, radix) = match number.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            let length = digits
                .bytes()
                .take_while(|byte| (*byte as char).is_digit(radix))
                .count();
            if length > 0 {
                let code = u32::from_str_radix(&digits[..length], radix).unwrap_or(0xfffd);
                decoded.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                rest = &rest[rest.len() - digits.len() + length..];
                rest = rest.strip_prefix(';').unwrap_or(rest);
                continue;
            }
        }
        decoded.push('&');
        rest = &rest[1..];
    }
    decoded.push_str(rest);
    decoded
}

/// The scheme a browser would follow `url` with, lower-cased, if it has
/// one: leading and trailing spaces and control characters are dropped
/// and tabs and newlines inside are removed first, as the URL standard
/// says.
fn scheme_of(url: &str) -> Option<String> {
    let cleaned: String = url
        .trim_matches(|character: char| character <= ' ')
        .chars()
        .filter(|character| !matches!(character, '\t' | '\n' | '\r'))
        .collect();
    let (scheme, _) = cleaned.split_once(':')?;
    let mut characters = scheme.chars();
    let first = characters.next()?;
    let valid = first.is_ascii_alphabetic()
        && characters
            .all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character));
    valid.then(|| scheme.to_ascii_lowercase())
}

// ---------------------------------------------------------- the verdicts

/// The attributes that hold a URL a browser follows or loads.
const URL_ATTRIBUTES: [&str; 7] = [
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "xlink:href",
    "srcdoc",
];

/// Elements the shop's pages never have: if one is there, a payload made it.
const INJECTED_ELEMENTS: [&str; 7] = ["script", "img", "svg", "iframe", "object", "embed", "math"];

/// Fails unless nothing in the page is active markup that `payload`
/// (sent as `what`) could have made.
#[track_caller]
fn assert_inert(reply: &Reply, what: &str, payload: &str) {
    let page = Page::parse(reply.text());
    let escape = "Text a customer typed goes into the page only escaped: `&`, `<`, `>`, `\"` \
                  and `'` as character references (`&amp;` `&lt;` `&gt;` `&quot;` `&#x27;`), \
                  in text and in attribute values alike.";
    if let Some(element) = page
        .elements
        .iter()
        .find(|element| INJECTED_ELEMENTS.contains(&element.name.as_str()))
    {
        reply.fail_with_diagnosis(
            &format!(
                "the page has {} <{}> element after {what} `{payload}`: the payload became \
                 markup, and a browser runs it",
                article(&element.name),
                element.name
            ),
            &format!("  element:  {element:?}\n{escape}"),
        );
    }
    for element in &page.elements {
        if let Some((attribute, value)) = element
            .attributes
            .iter()
            .find(|(attribute, _)| attribute.starts_with("on"))
        {
            reply.fail_with_diagnosis(
                &format!(
                    "the page has an event handler `{attribute}=\"{value}\"` on {} <{}> after \
                     {what} `{payload}`: the payload broke out of its place and a browser \
                     runs it",
                    article(&element.name),
                    element.name
                ),
                &format!(
                    "{escape} A quote that is not escaped ends the attribute value it is in, \
                     whichever quote the attribute uses: escape both."
                ),
            );
        }
        for (attribute, value) in &element.attributes {
            if !URL_ATTRIBUTES.contains(&attribute.as_str()) {
                continue;
            }
            if let Some(scheme) = scheme_of(value)
                && scheme != "http"
                && scheme != "https"
            {
                reply.fail_with_diagnosis(
                    &format!(
                        "the page has {} <{} {attribute}> with a `{scheme}:` URL after {what} \
                         `{payload}`: a click runs the attacker's code",
                        article(&element.name),
                        element.name
                    ),
                    &format!(
                        "  the URL as the browser reads it: {value:?}\n\
                         Escaping does not make a URL safe: `javascript:alert(1)` has nothing \
                         to escape. Keep a URL a customer typed only if its scheme is `http` \
                         or `https` (an allowlist: a blocklist misses `JaVaScRiPt:`, a leading \
                         space or tab, `&#106;avascript:`, `data:`, `vbscript:`), and use `#` \
                         otherwise."
                    ),
                );
            }
        }
    }
}

/// "a" or "an", for an element's name.
fn article(name: &str) -> &'static str {
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Fails unless the page, decoded as a browser shows it, contains `text`
/// (sent as `what`) exactly.
#[track_caller]
fn assert_shows(reply: &Reply, what: &str, text: &str) {
    let page = Page::parse(reply.text());
    if page.text.contains(text) {
        return;
    }
    // Escaped twice, the page shows the references themselves: decoding
    // its text once more gives the text back.
    let escaped_twice = decode(&page.text).contains(text);
    let diagnosis = if escaped_twice {
        "The page shows the escaped form itself (`&amp;` `&lt;` ...) to the reader: the \
         text was escaped twice. Escape once, at the moment the text goes into the HTML, \
         not when it is stored and again when it is shown."
    } else {
        "Escaping keeps every character the customer typed: the browser decodes `&lt;` \
         back to `<`, so the reader sees exactly what was typed. Removing characters, \
         tags or words (\"sanitising\" by hand) changes the text and is easy to get \
         around; and every character outside ASCII (é, €, emoji) goes out as it is."
    };
    reply.fail_with_diagnosis(
        &format!("the page does not show {what} `{text}`"),
        &format!(
            "  the text of the page, as a browser shows it: {}\n{diagnosis}",
            testkit::quote(&page.text)
        ),
    );
}

/// Fails unless the form's field `name` (an input's value, or the
/// textarea's text) reads exactly `expected` in the browser.
#[track_caller]
fn assert_field(reply: &Reply, name: &str, expected: &str) {
    let page = Page::parse(reply.text());
    let field = page
        .elements
        .iter()
        .filter(|element| element.name == "input" || element.name == "textarea")
        .find(|element| element.attribute("name") == Some(name));
    let Some(field) = field else {
        reply.fail(&format!(
            "the page has no form field named `{name}`: the form is expected to be shown \
             again, filled in with what was sent"
        ));
    };
    let value = if field.name == "textarea" {
        field.inner.as_deref().unwrap_or_default()
    } else {
        field.attribute("value").unwrap_or_default()
    };
    if value != expected {
        reply.fail_with_diagnosis(
            &format!(
                "the form field `{name}` reads {value:?} in the browser, expected {expected:?} \
                 as it was sent"
            ),
            "The form is shown again with what the customer typed, escaped once: the browser \
             decodes the references in an attribute value or a textarea, so the field \
             reads exactly as typed. A value cut short ends at a quote that was not escaped.",
        );
    }
}

/// The Content-Security-Policy the pages must send, directive by directive.
const POLICY: [(&str, &[&str]); 5] = [
    ("default-src", &["'self'"]),
    ("script-src", &["'self'"]),
    ("object-src", &["'none'"]),
    ("base-uri", &["'none'"]),
    ("frame-ancestors", &["'none'"]),
];

/// Fails unless `reply` is UTF-8 HTML with the policy and `nosniff`.
#[track_caller]
fn assert_html_headers(reply: &Reply) {
    let content_type = reply.expect_header("content-type");
    let mut parts = content_type.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or_default();
    let charset = parts
        .filter_map(|part| part.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("charset"))
        .map(|(_, value)| value.trim().trim_matches('"').to_ascii_lowercase());
    if !media_type.eq_ignore_ascii_case("text/html") || charset.as_deref() != Some("utf-8") {
        reply.fail_with_diagnosis(
            &format!("expected `content-type: text/html; charset=utf-8`, got `{content_type}`"),
            "The page is HTML in UTF-8, and says so: without a charset, a browser guesses \
             the encoding from the bytes, and a guessed encoding (UTF-7, say) reads markup \
             that your escaping never saw.",
        );
    }
    if reply.header("x-content-type-options") != Some("nosniff") {
        reply.fail_with_diagnosis(
            "expected `x-content-type-options: nosniff`",
            "`nosniff` tells the browser to trust the content type and never guess: a \
             response meant as text cannot then be run as a script or shown as HTML.",
        );
    }
    let policies = reply.header_all("content-security-policy");
    let [policy] = policies.as_slice() else {
        reply.fail_with_diagnosis(
            &format!(
                "expected one `content-security-policy` header, got {}",
                policies.len()
            ),
            "Every page is sent with `content-security-policy: default-src 'self'; \
             script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`: \
             if a payload ever gets through the escaping, the browser still refuses to run \
             inline script.",
        );
    };
    let mut directives: Vec<(String, Vec<String>)> = Vec::new();
    for directive in policy.split(';') {
        let mut words = directive.split_ascii_whitespace();
        if let Some(name) = words.next() {
            let sources = words.map(str::to_ascii_lowercase).collect();
            directives.push((name.to_ascii_lowercase(), sources));
        }
    }
    for (_, sources) in &directives {
        if let Some(unsafe_source) = sources.iter().find(|source| source.starts_with("'unsafe-")) {
            reply.fail_with_diagnosis(
                &format!(
                    "the content-security-policy allows {unsafe_source}: injected script would \
                     run anyway"
                ),
                "`'unsafe-inline'` lets every inline `<script>` and `on...` attribute run, \
                 which is what the policy is there to stop; `'unsafe-eval'` lets strings \
                 become code. The shop's pages have no inline script to allow.",
            );
        }
    }
    for (name, expected) in POLICY {
        let sources = directives
            .iter()
            .find(|(directive, _)| directive == name)
            .map(|(_, sources)| sources);
        let mut expected_sources: Vec<&str> = expected.to_vec();
        expected_sources.sort_unstable();
        let mut actual: Vec<&str> = sources
            .map(|sources| sources.iter().map(String::as_str).collect())
            .unwrap_or_default();
        actual.sort_unstable();
        if actual != expected_sources {
            reply.fail_with_diagnosis(
                &format!(
                    "expected the content-security-policy to say `{name} {}`, got `{policy}`",
                    expected.join(" ")
                ),
                "The policy is, exactly: `default-src 'self'; script-src 'self'; object-src \
                 'none'; base-uri 'none'; frame-ancestors 'none'`.",
            );
        }
    }
}

// ------------------------------------------------------------ the tests

const SCRIPT: &str = "<script>alert(1)</script>";

#[tokio::test]
async fn the_search_query_is_shown_as_text_in_the_results_line() {
    let server = serve(&[("Red mug", 1250), ("Mug & cup <3 set", 2400)]).await;
    let queries = [
        "mug & cup <3",
        SCRIPT,
        "<ScRiPt>alert(document.cookie)</sCrIpT>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<svg/onload=alert(1)>",
        "<iframe src=javascript:alert(1)>",
        // Typed literally: the server decodes the URL once, and only once.
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ];
    for q in queries {
        let reply = server
            .get(&format!("/search?q={}", percent_encode(q)))
            .send()
            .await;
        reply.assert_status(200);
        assert_inert(&reply, "the query", q);
        assert_shows(&reply, "the query", &format!("Results for {q}"));
    }
    let reply = server.get("/search?q=%3C3").send().await;
    assert_shows(&reply, "the product", "Mug & cup <3 set");
}

#[tokio::test]
async fn the_search_box_keeps_a_query_with_quotes_inside_its_value() {
    let server = serve(&[("Red mug", 1250)]).await;
    let queries = [
        "12\" vinyl & 'singles'",
        "\"><script>alert(1)</script>",
        "\" autofocus onfocus=\"alert(1)",
        "' autofocus onfocus='alert(1)",
        "\"/onmouseover=alert(1)//",
        "\"><img src=x onerror=alert(1)>",
    ];
    for q in queries {
        let reply = server
            .get(&format!("/search?q={}", percent_encode(q)))
            .send()
            .await;
        reply.assert_status(200);
        assert_inert(&reply, "the query", q);
        assert_field(&reply, "q", q);
    }
}

#[tokio::test]
async fn product_names_are_shown_as_text_in_search_results_and_on_their_page() {
    // Names come from the shop's staff or an import: a stolen admin account
    // or a poisoned supplier feed puts markup there.
    let names = [
        "Salt & Pepper <Set> \"Deluxe\"",
        "<img src=x onerror=alert(1)>Mug",
        "Mug</title><script>alert(1)</script>",
    ];
    let products: Vec<(&str, i64)> = names.iter().map(|name| (*name, 1205)).collect();
    let server = serve(&products).await;
    let reply = server.get("/search?q=").send().await;
    reply.assert_status(200);
    assert_inert(&reply, "the product names", &names.join("`, `"));
    for name in names {
        assert_shows(&reply, "the product name", name);
    }
    for (index, name) in names.iter().enumerate() {
        let reply = server.get(&format!("/products/{}", index + 1)).send().await;
        reply.assert_status(200);
        assert_inert(&reply, "the product name", name);
        assert_shows(&reply, "the product name", name);
        assert_shows(&reply, "the price", "€12.05");
        let page = Page::parse(reply.text());
        let title = page
            .all("title")
            .next()
            .and_then(|title| title.inner.clone());
        if !title.as_deref().is_some_and(|title| title.contains(name)) {
            reply.fail_with_diagnosis(
                &format!("the page's <title> does not read `{name}`, the product's name"),
                &format!(
                    "  the title as the browser reads it: {title:?}\nThe title is text like \
                     any other: escaped once, it reads as the name."
                ),
            );
        }
    }
}

#[tokio::test]
async fn a_review_body_with_markup_is_stored_and_shown_as_text() {
    let server = serve(&[("Red mug", 1250)]).await;
    let bodies = [
        "Tom & Jerry <3 \"the best\" mug, isn't it? Ça coûte 12 € 🎉 — 5/5",
        SCRIPT,
        "<img src=x onerror=alert(1)>",
        "<svg/onload=alert(1)>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "<a href=\"javascript:alert(1)\">free mugs</a>",
        "&lt;script&gt; is how you write <script> in HTML",
        "</p></li></ul><script>alert(1)</script>",
        "<!-- <script>alert(1)</script> -->",
    ];
    for body in bodies {
        let reply = review_and_read(&server, 1, "Ada", "", body).await;
        assert_inert(&reply, "the review", body);
        assert_shows(&reply, "the review", body);
    }
}

#[tokio::test]
async fn a_review_author_is_shown_as_text() {
    let server = serve(&[("Red mug", 1250)]).await;
    let authors = [
        "O'Brien & \"Sons\" <Ltd> — Zoë",
        "<b onmouseover=alert(1)>Eve</b>",
        "Eve<script>alert(1)</script>",
    ];
    for author in authors {
        for website in ["", "https://example.com/"] {
            let reply = review_and_read(&server, 1, author, website, "Nice mug.").await;
            assert_inert(&reply, "the author", author);
            assert_shows(&reply, "the author", author);
        }
    }
}

#[tokio::test]
async fn a_website_becomes_a_link_only_for_http_and_https() {
    let server = serve(&[("Red mug", 1250)]).await;
    let legitimate = [
        "https://example.com/shop?a=1&b=2&copy=3",
        "http://blog.example/~bob/mugs",
        "HTTPS://EXAMPLE.ORG/",
    ];
    for website in legitimate {
        let reply = review_and_read(&server, 1, "Bob", website, "Nice mug.").await;
        assert_inert(&reply, "the website", website);
        let page = Page::parse(reply.text());
        if !page
            .all("a")
            .any(|link| link.attribute("href") == Some(website))
        {
            let hrefs: Vec<&str> = page
                .all("a")
                .filter_map(|link| link.attribute("href"))
                .collect();
            reply.fail_with_diagnosis(
                &format!("the page has no link to the website `{website}`"),
                &format!(
                    "  the links, as the browser reads them: {hrefs:?}\nAn `http` or `https` \
                     website stays a link, to exactly that URL: escaped once (`&` as `&amp;`), \
                     the browser reads it as it was typed. Schemes are case-insensitive."
                ),
            );
        }
    }
    let attacks = [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "\tjavascript:alert(1)",
        "\njavascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "&#106;avascript:alert(1)",
        "&#x6A;avascript&colon;alert(1)",
        "javascript://example.com/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
    ];
    for website in attacks {
        let reply = review_and_read(&server, 1, "Mallory", website, "Click my name!").await;
        assert_inert(&reply, "the website", website);
        assert_shows(&reply, "the author", "Mallory");
    }
}

#[tokio::test]
async fn a_website_cannot_break_out_of_its_link() {
    let server = serve(&[("Red mug", 1250)]).await;
    let websites = [
        "https://example.com/' onmouseover='alert(1)",
        "https://example.com/\" onmouseover=\"alert(1)",
        "https://example.com/\"><script>alert(1)</script>",
        "https://example.com/'><img src=x onerror=alert(1)>",
    ];
    for website in websites {
        let reply = review_and_read(&server, 1, "Mallory", website, "Nice mug.").await;
        assert_inert(&reply, "the website", website);
        assert_shows(&reply, "the author", "Mallory");
    }
}

#[tokio::test]
async fn a_refused_review_shows_the_form_again_with_what_was_typed_as_text() {
    let server = serve(&[("Red mug", 1250)]).await;
    let cases = [
        (
            "",
            "\"><svg onload=alert(1)>",
            "</textarea><script>alert(1)</script>",
        ),
        ("' autofocus onfocus='alert(1)", "", ""),
        (
            "\" autofocus onfocus=\"alert(1)",
            "https://example.com/?a=1&b=2",
            "  ",
        ),
        ("", "", "Ça & <3 \"quotes\" 'too' 🎉"),
    ];
    for (author, website, body) in cases {
        let reply = post_review(&server, 1, author, website, body).await;
        if reply.status() != 422 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 422 Unprocessable Content for a review without an author or a \
                     body, got {}",
                    testkit::status_text(reply.status())
                ),
                "A review needs an author and a body (not only spaces); without them the form \
                 is shown again, with what was typed.",
            );
        }
        let sent = format!("author={author:?} website={website:?} body={body:?}");
        assert_inert(&reply, "the form", &sent);
        assert_field(&reply, "author", author);
        assert_field(&reply, "website", website);
        assert_field(&reply, "body", body);
    }
    let page = server.get("/products/1").send().await;
    page.assert_status(200);
    if Page::parse(page.text()).text.contains("alert(1)") {
        page.fail("a refused review was stored: the product's page shows its text");
    }
}

#[tokio::test]
async fn every_page_is_utf8_html_with_the_content_security_policy_and_nosniff() {
    let server = serve(&[("Red mug", 1250)]).await;
    let search = server
        .get(&format!("/search?q={}", percent_encode(SCRIPT)))
        .send()
        .await;
    search.assert_status(200);
    assert_inert(&search, "the query", SCRIPT);
    assert_html_headers(&search);
    let refused = post_review(&server, 1, "", "", SCRIPT).await;
    refused.assert_status(422);
    assert_inert(&refused, "the body", SCRIPT);
    assert_html_headers(&refused);
    let product = review_and_read(&server, 1, "Ada", "", SCRIPT).await;
    assert_inert(&product, "the review", SCRIPT);
    assert_html_headers(&product);
    let missing = server.get("/products/99").send().await;
    missing.assert_status(404);
    assert_html_headers(&missing);

    // A database without its tables: every query fails.
    let broken = Connection::open_in_memory().expect("the test could not open a database");
    let server = TestServer::spawn(app(Db::new(broken))).await;
    let failed = server
        .get(&format!("/search?q={}", percent_encode(SCRIPT)))
        .send()
        .await;
    failed.assert_status(500);
    assert_html_headers(&failed);
    if failed.text().contains("no such table") {
        failed.fail("the error page shows SQLite's message: it tells an attacker about the schema");
    }
}
