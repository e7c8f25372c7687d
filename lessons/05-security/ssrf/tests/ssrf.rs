//! Tests for security/ssrf: the shop's link preview, served on 127.0.0.1,
//! on a make-believe internet the tests build on loopback, attacked with
//! URLs that lead to the shop's own machine, its private network and the
//! cloud's metadata service, spelled every way a URL parser accepts.
//!
//! The network the shop is given ([`TestNetwork`]) resolves made-up names
//! (`public.example` is `93.184.216.34`, `internal.example` is `10.0.0.5`,
//! ...) and routes every connection to one of two servers on loopback:
//! connections to the handful of public addresses in [`PUBLIC_IPS`] go to
//! the "public" server (a supplier's web site), connections to any other
//! address to the "internal" server (the shop's admin interface, the
//! metadata service). The internal server writes down every request it
//! receives: after an attack it must have received none. So the shop's
//! checks are tested on the real addresses (127.1, 169.254.169.254,
//! [::ffff:127.0.0.1]), and no packet leaves the machine.
//!
//! Each test previews legitimate pages, which must work, and tries
//! attacks, which must be refused with `422` and a problem details body
//! before any connection, so that the starter, which fetches whatever it
//! is given, passes none of them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::header::{HOST, LOCATION};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use security_ssrf::{Network, Resolving, app};
use testkit::{Reply, TestServer, json};

/// The addresses the make-believe internet has public servers on: a
/// connection to any of them reaches the public server.
const PUBLIC_IPS: [&str; 14] = [
    "93.184.216.34",
    "93.184.216.35",
    "2606:2800:220:1:248:1893:25c8:1946",
    "2001:4860:4860::8888",
    "11.0.0.1",
    "172.15.255.254",
    "172.32.0.1",
    "192.169.0.1",
    "100.63.255.254",
    "100.128.0.1",
    "192.0.1.1",
    "198.17.255.254",
    "198.20.0.1",
    "223.255.255.254",
];

/// The names the network resolves, and to what.
const NAMES: [(&str, &[&str]); 9] = [
    ("public.example", &["93.184.216.34"]),
    (
        "www.public.example",
        &["93.184.216.35", "2606:2800:220:1:248:1893:25c8:1946"],
    ),
    ("localhost", &["127.0.0.1", "::1"]),
    ("localhost.", &["127.0.0.1", "::1"]),
    ("internal.example", &["10.0.0.5"]),
    ("metadata.google.internal", &["169.254.169.254"]),
    ("mapped.example", &["::ffff:10.0.0.5"]),
    ("both.example", &["93.184.216.34", "10.0.0.7"]),
    (
        "both-v6.example",
        &["2606:2800:220:1:248:1893:25c8:1946", "fd00::7"],
    ),
];

/// The page the public server answers at `/page`.
const PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\">\n\
    <TITLE>\n  Rubber duck, yellow —  Duckworks   </TITLE></head>\n\
    <body><h1>Rubber duck</h1></body></html>";

/// Its title, as the preview must show it.
const PAGE_TITLE: &str = "Rubber duck, yellow — Duckworks";

const CHECK_DIAGNOSIS: &str = "Before connecting, the preview must know which addresses the \
    URL's host stands for (the address itself for an IP address, whatever the name resolves \
    to otherwise) and refuse the URL, with 422 and a problem details body, unless every one \
    of them is a public internet address. The URL parser reads `127.1`, `0x7f000001`, \
    `2130706433` and `0177.0.0.1` as 127.0.0.1: check the parsed address, never the text.";

const RANGE_DIAGNOSIS: &str = "Refuse every address that is not on the public internet: \
    loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local \
    (169.254/16 with the cloud metadata service, fe80::/10), shared (100.64/10), unspecified \
    (0.0.0.0, ::), broadcast, and an IPv4 address written as IPv6 (::ffff:10.0.0.5) for what \
    it is. Check the ranges exactly: their neighbours are public and must still work.";

const REDIRECT_DIAGNOSIS: &str = "A redirect is a new URL from the page's server, as untrusted \
    as the first: follow redirects yourself (never the HTTP client's automatic policy) and \
    run every check on every hop, the scheme and the addresses, before connecting.";

/// A server on loopback that writes down every request it receives.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    fn entries(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.entries()
            .iter()
            .filter(|entry| entry.starts_with(prefix))
            .count()
    }
}

/// The public server: a supplier's web site, at the names and addresses
/// of the public internet (any `Host` but the loopback address).
///
/// - `/page`: [`PAGE`].
/// - `/long`: the page after 8 KiB of `<meta>`; `/huge`: after 100 KiB.
/// - `/moved`: `301` to `/page`.
/// - `/redirect?code=302&to=URL`: `code` to `URL` (as given, not encoded).
/// - `/hops/N`: `302` to `/hops/N-1`; `/hops/0` is the page.
/// - `/to-private`: `302` to `http://10.0.0.1/`.
/// - `/loop`: `302` to itself.
async fn public_site(State(log): State<Log>, headers: HeaderMap, uri: Uri) -> Response {
    log.push(uri.to_string());
    // A virtual host, as web servers are: it serves the names and addresses
    // it is known by, and not requests that name the loopback address the
    // test network routed them to.
    let host = headers.get(HOST).and_then(|host| host.to_str().ok());
    if host.is_none_or(|host| host.starts_with("127.0.0.1")) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            Html("<title>Misdirected</title>"),
        )
            .into_response();
    }
    let path = uri.path();
    if path == "/page" || path == "/hops/0" {
        return Html(PAGE).into_response();
    }
    if path == "/long" {
        // The title after 8 KiB of <head>: inside what the preview reads.
        let meta = "<meta name=\"keywords\" content=\"duck, rubber, yellow, bath\">\n";
        return Html(format!(
            "<html><head>{}{PAGE}",
            meta.repeat(8 * 1024 / meta.len() + 1)
        ))
        .into_response();
    }
    if path == "/huge" {
        // The title after 100 KiB: past what the preview reads.
        return Html(format!("<!-- {} -->{PAGE}", "x".repeat(100 * 1024))).into_response();
    }
    if path == "/moved" {
        return redirect(301, "/page");
    }
    if path == "/to-private" {
        return redirect(302, "http://10.0.0.1/");
    }
    if path == "/loop" {
        return redirect(302, "/loop");
    }
    if let Some(n) = path.strip_prefix("/hops/")
        && let Ok(n) = n.parse::<u32>()
    {
        return redirect(302, &format!("/hops/{}", n - 1));
    }
    if path == "/redirect" {
        let query = uri.query().unwrap_or_default();
        let mut code = 302;
        let mut to = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("code", value)) => code = value.parse().unwrap_or(302),
                Some(("to", value)) => to = value.to_string(),
                _ => {}
            }
        }
        return redirect(code, &to);
    }
    (StatusCode::NOT_FOUND, Html("<title>Not found</title>")).into_response()
}

fn redirect(code: u16, to: &str) -> Response {
    let status = StatusCode::from_u16(code).expect("the test uses real redirect codes");
    (status, [(LOCATION, to.to_string())]).into_response()
}

/// The internal server: the shop's admin interface, the metadata service.
/// Whatever it answers must never reach a client.
async fn internal_service(State(log): State<Log>, uri: Uri) -> Response {
    log.push(uri.to_string());
    Html(
        "<title>Internal admin</title>\
         AccessKeyId=ASIAEXAMPLE SecretAccessKey=wJalrXUtnFEMI/K7MDENG",
    )
    .into_response()
}

// ANCHOR: network
/// The network the tests give the shop: [`NAMES`], `rebind.example` (see
/// [`TestNetwork::resolve`]), and every connection routed to the public
/// or the internal server on loopback.
struct TestNetwork {
    names: HashMap<String, Vec<IpAddr>>,
    public_ips: Vec<IpAddr>,
    public: SocketAddr,
    internal: SocketAddr,
    rebinds: AtomicUsize,
}

impl Network for TestNetwork {
    /// `rebind.example` resolves to `93.184.216.34` the first time it is
    /// asked, and to `127.0.0.1` ever after (DNS rebinding: the attacker's
    /// DNS server answers with a time to live of 0).
    fn resolve(&self, host: &str) -> Resolving {
        let found = if host == "rebind.example" {
            let asked = self.rebinds.fetch_add(1, Ordering::SeqCst);
            let ip = if asked == 0 {
                "93.184.216.34"
            } else {
                "127.0.0.1"
            };
            Some(vec![ip.parse().expect("a test address")])
        } else {
            self.names.get(host).cloned()
        };
        let host = host.to_string();
        Box::pin(async move {
            found.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("no such host {host}"))
            })
        })
    }

    fn route(&self, addr: SocketAddr) -> SocketAddr {
        if self.public_ips.contains(&addr.ip()) {
            self.public
        } else {
            self.internal
        }
    }
}
// ANCHOR_END: network

/// The shop, and the make-believe internet it previews pages on.
struct World {
    shop: TestServer,
    public_log: Log,
    internal_log: Log,
    _public: TestServer,
    internal: TestServer,
}

impl World {
    async fn new() -> World {
        let public_log = Log::default();
        let internal_log = Log::default();
        let public = TestServer::spawn(
            Router::new()
                .fallback(public_site)
                .with_state(public_log.clone()),
        )
        .await;
        let internal = TestServer::spawn(
            Router::new()
                .fallback(internal_service)
                .with_state(internal_log.clone()),
        )
        .await;
        let ip = |text: &str| text.parse::<IpAddr>().expect("a test address");
        let network = TestNetwork {
            names: NAMES
                .iter()
                .map(|(name, ips)| (name.to_string(), ips.iter().map(|text| ip(text)).collect()))
                .collect(),
            public_ips: PUBLIC_IPS.iter().map(|text| ip(text)).collect(),
            public: public.addr(),
            internal: internal.addr(),
            rebinds: AtomicUsize::new(0),
        };
        let shop = TestServer::spawn(app(Arc::new(network))).await;
        World {
            shop,
            public_log,
            internal_log,
            _public: public,
            internal,
        }
    }

    /// `POST /preview` with `{"url": url}`.
    async fn preview(&self, url: &str) -> Reply {
        self.shop
            .post("/preview")
            .json(&json!({ "url": url }))
            .send()
            .await
    }

    /// Previews `url`, which must work: `200 OK` with the public page's
    /// preview, found at `final_url`.
    async fn assert_previewed(&self, url: &str, final_url: &str, diagnosis: &str) {
        let reply = self.preview(url).await;
        self.assert_nothing_internal(&reply, url, diagnosis);
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "the preview of the public page `{url}` failed: expected 200 OK, got {}",
                    testkit::status_text(reply.status())
                ),
                diagnosis,
            );
        }
        let expected = json!({ "url": final_url, "status": 200, "title": PAGE_TITLE });
        if reply.json() != expected {
            reply.fail_with_diagnosis(
                &format!(
                    "the preview of the public page `{url}` is not the page's: expected {expected}"
                ),
                "The preview answers the URL of the page it shows (after redirects), the status \
                 the page was served with, and its title; the starter gets this right.",
            );
        }
    }

    /// Previews `url`, an attack described as `attack`, which must be
    /// refused with `422` and a problem details body, without a single
    /// request reaching the internal server.
    async fn assert_refused(&self, url: &str, attack: &str, diagnosis: &str) {
        let reply = self.preview(url).await;
        self.assert_nothing_internal(&reply, url, diagnosis);
        if reply.status() != 422 {
            reply.fail_with_diagnosis(
                &format!(
                    "the preview of `{url}` ({attack}) was not refused: expected {}, got {}",
                    testkit::status_text(422),
                    testkit::status_text(reply.status())
                ),
                diagnosis,
            );
        }
        assert_problem(&reply, url);
    }

    /// Fails if the internal server received any request.
    fn assert_nothing_internal(&self, reply: &Reply, url: &str, diagnosis: &str) {
        let received = self.internal_log.entries();
        if !received.is_empty() {
            reply.fail_with_diagnosis(
                &format!(
                    "the shop's internal server received {} request(s) ({}) while the shop \
                     previewed `{url}`: the preview reached inside the network",
                    received.len(),
                    received.join(", ")
                ),
                diagnosis,
            );
        }
    }
}

/// Fails unless `reply` is a problem details body (RFC 9457) with its
/// status.
fn assert_problem(reply: &Reply, url: &str) {
    let content_type = reply.header("content-type").unwrap_or_default();
    if content_type != "application/problem+json" {
        reply.fail_with_diagnosis(
            &format!(
                "the refusal of `{url}` is not problem details: expected content-type \
                 application/problem+json, got `{content_type}`"
            ),
            "Refuse with the given `problem` helper (RFC 9457), like the starter's other errors.",
        );
    }
    let status = reply.json()["status"].clone();
    if status != json!(reply.status()) {
        reply.fail(&format!(
            "the refusal of `{url}` says status {status} in its body, but was sent with {}",
            reply.status()
        ));
    }
}

#[tokio::test]
async fn a_public_page_is_previewed_and_loopback_is_refused_however_written() {
    let world = World::new().await;
    world
        .assert_previewed(
            "http://public.example/page",
            "http://public.example/page",
            "The starter previews this page: keep it working.",
        )
        .await;
    world
        .assert_previewed(
            "http://public.example/long",
            "http://public.example/long",
            "The preview reads the first 64 KiB of a page: a title after 8 KiB is in them.",
        )
        .await;
    let huge = world.preview("http://public.example/huge").await;
    huge.assert_status(200);
    let title = huge.json()["title"].clone();
    if !title.is_null() {
        huge.fail(&format!(
            "the preview of a page whose title comes after 100 KiB shows the title {title}: \
             expected null, as the preview reads at most the first 64 KiB"
        ));
    }
    let port = world.internal.addr().port();
    let attacks = [
        (format!("http://127.0.0.1:{port}/admin"), "loopback"),
        ("http://127.1/admin".to_string(), "loopback written `127.1`"),
        (
            "http://0x7f000001/admin".to_string(),
            "loopback as one hexadecimal number",
        ),
        (
            "http://2130706433/admin".to_string(),
            "loopback as one decimal number",
        ),
        (
            "http://0177.0.0.1/admin".to_string(),
            "loopback with an octal first part",
        ),
        (
            "http://127.0.0.2/admin".to_string(),
            "loopback: all of 127.0.0.0/8 is",
        ),
        (
            "http://127.255.255.254/admin".to_string(),
            "the top of 127.0.0.0/8",
        ),
        (
            "http://LocalHost/admin".to_string(),
            "the name `localhost`, in capitals",
        ),
        (
            "http://0.0.0.0/admin".to_string(),
            "the unspecified address, which reaches this machine",
        ),
    ];
    for (url, attack) in attacks {
        world.assert_refused(&url, attack, CHECK_DIAGNOSIS).await;
    }
}

#[tokio::test]
async fn ipv6_loopback_and_ipv4_mapped_addresses_are_refused() {
    let world = World::new().await;
    world
        .assert_previewed(
            "http://[2606:2800:220:1:248:1893:25c8:1946]/page",
            "http://[2606:2800:220:1:248:1893:25c8:1946]/page",
            "A public IPv6 address is public: refuse IPv6 by range, not as a whole.",
        )
        .await;
    world
        .assert_previewed(
            "http://www.public.example/page",
            "http://www.public.example/page",
            "www.public.example resolves to a public IPv4 and a public IPv6 address: both \
             are fine.",
        )
        .await;
    world
        .assert_previewed(
            "http://[2001:4860:4860::8888]/page",
            "http://[2001:4860:4860::8888]/page",
            "2001:4860::/32 is ordinary global unicast, beside Teredo (2001::/32) and the \
             documentation block (2001:db8::/32): refuse those two exactly.",
        )
        .await;
    let attacks = [
        ("http://[::1]/admin", "IPv6 loopback"),
        (
            "http://[0:0:0:0:0:0:0:1]/admin",
            "IPv6 loopback written out",
        ),
        ("http://[::]/admin", "the unspecified IPv6 address"),
        (
            "http://[::ffff:127.0.0.1]/admin",
            "IPv4 loopback mapped into IPv6",
        ),
        (
            "http://[::ffff:7f00:1]/admin",
            "IPv4 loopback mapped into IPv6, in hexadecimal",
        ),
        (
            "http://[::ffff:10.0.0.1]/admin",
            "a private IPv4 address mapped into IPv6",
        ),
        (
            "http://[::ffff:169.254.169.254]/latest/meta-data/",
            "the metadata service mapped into IPv6",
        ),
        (
            "http://[2002:7f00:1::]/admin",
            "6to4 (2002::/16) carrying 127.0.0.1",
        ),
        (
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "Teredo (2001::/32), another IPv4 tunnel",
        ),
        (
            "http://[2001:db8::1]/",
            "IPv6 documentation (2001:db8::/32)",
        ),
    ];
    for (url, attack) in attacks {
        world.assert_refused(url, attack, RANGE_DIAGNOSIS).await;
    }
}

#[tokio::test]
async fn the_cloud_metadata_service_and_link_local_addresses_are_refused() {
    let world = World::new().await;
    world
        .assert_previewed(
            "http://public.example/page",
            "http://public.example/page",
            "The starter previews this page: keep it working.",
        )
        .await;
    let attacks = [
        (
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "the AWS, Azure and GCP metadata service",
        ),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            "a name for the metadata service",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/",
            "the AWS metadata service over IPv6 (unique local)",
        ),
        ("http://169.254.0.1/", "the bottom of 169.254.0.0/16"),
        ("http://169.254.255.254/", "the top of 169.254.0.0/16"),
        ("http://[fe80::1]/", "IPv6 link-local"),
        ("http://[febf::1]/", "the top of fe80::/10"),
    ];
    for (url, attack) in attacks {
        world.assert_refused(url, attack, RANGE_DIAGNOSIS).await;
    }
}

#[tokio::test]
async fn private_and_reserved_ranges_are_refused_and_their_neighbours_previewed() {
    let world = World::new().await;
    let attacks = [
        ("http://10.0.0.1/", "private 10.0.0.0/8"),
        ("http://10.255.255.254/", "the top of 10.0.0.0/8"),
        ("http://172.16.0.1/", "private 172.16.0.0/12"),
        ("http://172.31.255.254/", "the top of 172.16.0.0/12"),
        ("http://192.168.1.1/", "private 192.168.0.0/16"),
        (
            "http://100.64.0.1/",
            "shared 100.64.0.0/10 (carrier-grade NAT)",
        ),
        ("http://100.127.255.254/", "the top of 100.64.0.0/10"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://0.1.2.3/", "0.0.0.0/8, \"this network\""),
        (
            "http://192.0.0.1/",
            "192.0.0.0/24, IETF protocol assignments",
        ),
        ("http://192.0.2.1/", "192.0.2.0/24, documentation"),
        ("http://198.18.0.1/", "198.18.0.0/15, benchmarking"),
        ("http://198.19.255.254/", "the top of 198.18.0.0/15"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "240.0.0.0/4, reserved"),
        ("http://[fd00::1]/", "IPv6 unique local fc00::/7"),
        ("http://[fc00::1]/", "the bottom of fc00::/7"),
    ];
    for (url, attack) in attacks {
        world.assert_refused(url, attack, RANGE_DIAGNOSIS).await;
    }
    // Just outside each private range: the public internet.
    for ip in [
        "11.0.0.1",
        "172.15.255.254",
        "172.32.0.1",
        "192.169.0.1",
        "100.63.255.254",
        "100.128.0.1",
        "192.0.1.1",
        "198.17.255.254",
        "198.20.0.1",
        "223.255.255.254",
    ] {
        let url = format!("http://{ip}/page");
        world
            .assert_previewed(
                &url,
                &url,
                "This address is just outside a private range, on the public internet: \
                 check the ranges' exact bounds (172.16.0.0/12 ends at 172.31.255.255, \
                 100.64.0.0/10 at 100.127.255.255).",
            )
            .await;
    }
}

#[tokio::test]
async fn names_are_judged_by_every_address_they_resolve_to() {
    let world = World::new().await;
    world
        .assert_previewed(
            "http://www.public.example/page",
            "http://www.public.example/page",
            "www.public.example resolves to two public addresses: it is public.",
        )
        .await;
    let attacks = [
        (
            "http://internal.example/admin",
            "a name that resolves to 10.0.0.5",
        ),
        (
            "http://mapped.example/admin",
            "a name that resolves to ::ffff:10.0.0.5",
        ),
        (
            "http://both.example/admin",
            "a name that resolves to a public and a private address",
        ),
        (
            "http://both-v6.example/admin",
            "a name that resolves to a public and a unique local IPv6 address",
        ),
        ("http://localhost./admin", "`localhost.`, with the root dot"),
    ];
    for (url, attack) in attacks {
        world
            .assert_refused(
                url,
                attack,
                "Judge a name by the addresses it resolves to, all of them: the client may \
                 connect to any one. A name that resolves to anything but public addresses \
                 is refused.",
            )
            .await;
    }
}

#[tokio::test]
async fn the_addresses_checked_are_the_addresses_connected_to() {
    let world = World::new().await;
    // rebind.example says 93.184.216.34 the first time it is resolved, and
    // 127.0.0.1 ever after.
    world
        .assert_previewed(
            "http://rebind.example/page",
            "http://rebind.example/page",
            "Resolve the name once for each hop, check those addresses, and connect to \
             exactly those: a second resolution, by the HTTP client or by a check of \
             your own, may answer differently (DNS rebinding).",
        )
        .await;
    world
        .assert_refused(
            "http://rebind.example/admin",
            "the same name, which now resolves to 127.0.0.1",
            CHECK_DIAGNOSIS,
        )
        .await;
}

#[tokio::test]
async fn only_http_and_https_are_fetched() {
    let world = World::new().await;
    world
        .assert_previewed(
            "HTTP://Public.Example/page",
            "http://public.example/page",
            "Schemes and host names are case-insensitive: the URL parser lowercases them.",
        )
        .await;
    let port = world.internal.addr().port();
    let attacks = [
        ("file:///etc/passwd".to_string(), "a local file"),
        (
            "file://localhost/etc/passwd".to_string(),
            "a local file with a host",
        ),
        (
            format!("gopher://127.0.0.1:{port}/_SET%20evil%201"),
            "gopher, which writes raw bytes to any TCP port",
        ),
        (
            format!("dict://127.0.0.1:{port}/info"),
            "dict, another raw-TCP scheme",
        ),
        (
            "ftp://public.example/page".to_string(),
            "ftp, even to a public host",
        ),
        (
            "ws://public.example/page".to_string(),
            "ws, even to a public host",
        ),
    ];
    for (url, attack) in attacks {
        world
            .assert_refused(
                &url,
                attack,
                "Allow the schemes the preview is for, `http` and `https`, and refuse every \
                 other one with 422 before anything else: an allowlist, not a blocklist.",
            )
            .await;
    }
}

#[tokio::test]
async fn every_redirect_is_checked_like_the_first_url() {
    let world = World::new().await;
    world
        .assert_previewed(
            "http://public.example/moved",
            "http://public.example/page",
            "A redirect to a public page is followed: the preview shows the page it leads to.",
        )
        .await;
    world
        .assert_previewed(
            "http://public.example/redirect?code=307&to=http://www.public.example/page",
            "http://www.public.example/page",
            "A redirect to another public host is followed.",
        )
        .await;
    let port = world.internal.addr().port();
    let attacks = [
        (
            format!("http://public.example/redirect?code=302&to=http://127.0.0.1:{port}/admin"),
            "a public page that redirects (302) to loopback",
        ),
        (
            "http://public.example/redirect?code=301&to=http://169.254.169.254/latest/meta-data/"
                .to_string(),
            "a public page that redirects (301) to the metadata service",
        ),
        (
            "http://public.example/redirect?code=303&to=http://internal.example/admin".to_string(),
            "a public page that redirects (303) to a name inside",
        ),
        (
            "http://public.example/redirect?code=307&to=http://[::1]/admin".to_string(),
            "a public page that redirects (307) to IPv6 loopback",
        ),
        (
            "http://public.example/redirect?code=308&to=http://0x7f000001/admin".to_string(),
            "a public page that redirects (308) to loopback in hexadecimal",
        ),
        (
            "http://public.example/redirect?code=302&to=file:///etc/passwd".to_string(),
            "a public page that redirects to a local file",
        ),
        (
            "http://www.public.example/redirect?code=302&to=http://public.example/to-private"
                .to_string(),
            "two redirects, the second to a private address",
        ),
    ];
    for (url, attack) in attacks {
        world.assert_refused(&url, attack, REDIRECT_DIAGNOSIS).await;
    }
}

#[tokio::test]
async fn at_most_five_redirects_are_followed() {
    let world = World::new().await;
    world
        .assert_previewed(
            "http://public.example/hops/5",
            "http://public.example/hops/0",
            "Five redirects in a row are allowed: follow at most MAX_REDIRECTS (5), not fewer.",
        )
        .await;
    for (url, attack) in [
        ("http://public.example/hops/6", "six redirects in a row"),
        (
            "http://public.example/loop",
            "a page that redirects to itself",
        ),
    ] {
        let before = world.public_log.entries().len();
        let reply = world.preview(url).await;
        let fetched = world.public_log.entries().len() - before;
        if fetched > 6 {
            reply.fail_with_diagnosis(
                &format!(
                    "the preview of `{url}` ({attack}) fetched {fetched} pages: expected at \
                     most 6 (the URL and five redirects)"
                ),
                "Count the redirects you follow and stop at the sixth: a chain of redirects \
                 costs the shop a request each, and an endless one never ends.",
            );
        }
        if reply.status() != 502 {
            reply.fail_with_diagnosis(
                &format!(
                    "the preview of `{url}` ({attack}) did not fail: expected 502 Bad \
                     Gateway, got {}",
                    testkit::status_text(reply.status())
                ),
                "More than MAX_REDIRECTS redirects is the page's failure: 502 Bad Gateway \
                 with a problem details body.",
            );
        }
        assert_problem(&reply, url);
    }
    let loops = world.public_log.count("/loop");
    assert!(
        loops == 6,
        "the page that redirects to itself was fetched {loops} times: expected 6 (the URL and \
         five redirects)"
    );
}
