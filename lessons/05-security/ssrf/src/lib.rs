//! # security/ssrf — Server-side request forgery
//!
//! The shop's product pages link to suppliers' sites, and the admin's
//! editor shows a preview of each link: `POST /preview` with
//! `{"url": "http://duckworks.example/rubber-duck"}` fetches the page and
//! answers its title. It fetches anything: `http://127.0.0.1:8080/admin`
//! (the shop's own admin interface, which trusts requests from its own
//! machine), `http://169.254.169.254/latest/meta-data/` (the cloud's
//! metadata service, which hands out the server's credentials), any
//! address of the private network behind the firewall, and whatever a
//! public page redirects to. The shop's server makes the request, from
//! inside: server-side request forgery.
//!
//! Make the preview fetch pages on the public internet, and nothing else:
//!
//! - only `http` and `https` URLs;
//! - only hosts that are, or resolve only to, public internet addresses:
//!   not loopback, private, link-local, shared, unspecified, broadcast,
//!   multicast or reserved, IPv4 or IPv6, nor an IPv4 address written as
//!   IPv6, however the URL spells them;
//! - connecting to exactly the addresses checked, never resolving again;
//! - the same checks at every redirect, and at most [`MAX_REDIRECTS`].
//!
//! A URL the shop does not fetch is `422 Unprocessable Content` with a
//! problem details body, before any connection; a page that cannot be
//! fetched, or redirects too many times, is `502 Bad Gateway`. The book's
//! section "Server-side request forgery" explains the attacks and the fix.
//! The network (name resolution, and where connections go) is given to
//! [`app`], so the tests can run a make-believe internet on loopback.
//!
//! Run `cargo checker check` when you think you are done.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::header::{CONTENT_TYPE, HOST, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The future [`Network::resolve`] returns: the addresses a host name
/// resolves to.
pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// How the shop reaches other computers: which addresses a host name
/// resolves to, and where a connection to an address actually goes.
///
/// The shop serves with [`Internet`]. The tests give a network of their
/// own: made-up names that resolve to the addresses they choose, and a
/// make-believe internet on loopback (a "public" server standing in for
/// `93.184.216.34`, an "internal" one for every private address).
pub trait Network: Send + Sync + 'static {
    /// The addresses `host` (a domain name, never an IP address) resolves
    /// to.
    fn resolve(&self, host: &str) -> Resolving;

    /// Where a connection to `addr` goes: to `addr` itself on the real
    /// internet; the tests send it to one of their servers on loopback.
    fn route(&self, addr: SocketAddr) -> SocketAddr {
        addr
    }
}

/// The real network: the system's resolver (DNS, `/etc/hosts`).
pub struct Internet;

impl Network for Internet {
    fn resolve(&self, host: &str) -> Resolving {
        let host = host.to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(found.map(|addr| addr.ip()).collect())
        })
    }
}

/// The most redirects a preview follows: the sixth `Location` in a row is
/// not fetched.
pub const MAX_REDIRECTS: usize = 5;

/// How long one fetch may take, connecting included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes of a page the preview reads.
const MAX_PAGE_BYTES: usize = 64 * 1024;

/// The shop's link previewer. Cloning it is cheap.
#[derive(Clone)]
pub struct Previewer {
    network: Arc<dyn Network>,
}

/// The shop's link preview on `network`: `POST /preview` with
/// `{"url": "http://..."}` answers `200 OK` with `{"url", "status",
/// "title"}` of the page, after redirects.
pub fn app(network: Arc<dyn Network>) -> Router {
    Router::new()
        .route("/preview", post(preview))
        .with_state(Previewer { network })
}

/// What `POST /preview` takes.
#[derive(Deserialize)]
pub struct PreviewRequest {
    pub url: String,
}

/// What `POST /preview` answers: the URL of the page shown (after
/// redirects), the status it was served with, and its `<title>`.
#[derive(Serialize)]
pub struct Preview {
    pub url: String,
    pub status: u16,
    pub title: Option<String>,
}

/// `POST /preview`.
async fn preview(
    State(previewer): State<Previewer>,
    body: Result<Json<PreviewRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let Ok(mut url) = Url::parse(&request.url) else {
        return refused("The `url` is not an absolute URL.");
    };
    let mut redirects = 0;
    loop {
        // TODO: refuse (422, with `refused`) every scheme but `http` and
        // `https`, at the first URL and at every redirect.
        let addrs = match previewer.addresses(&url).await {
            Ok(addrs) => addrs,
            Err(response) => return response,
        };
        // TODO: refuse the URL unless the host stands for at least one
        // address and every one of `addrs` is on the public internet (not
        // loopback, private, link-local, shared, unspecified, broadcast,
        // multicast or reserved; an IPv4 address mapped into IPv6 is judged
        // as the IPv4 address it is). Connect only to the addresses you
        // checked: do not resolve the host a second time.
        let response = match previewer.get(&url, &addrs).await {
            Ok(response) => response,
            Err(response) => return response,
        };
        let Some(next) = redirect_target(&url, &response) else {
            return read_preview(url, response).await;
        };
        redirects += 1;
        // TODO: follow at most MAX_REDIRECTS redirects.
        if redirects > 20 {
            return bad_gateway("The page redirects too many times.");
        }
        url = next;
    }
}

impl Previewer {
    /// The addresses the host of `url` stands for: the address itself for
    /// an IP address (the URL parser already read `127.1`, `0x7f000001`,
    /// `2130706433` and `0177.0.0.1` as `127.0.0.1`), the ones the network
    /// resolves a name to otherwise. A URL without a host is refused; a
    /// name that does not resolve is `502 Bad Gateway`.
    async fn addresses(&self, url: &Url) -> Result<Vec<IpAddr>, Response> {
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host,
            _ => return Err(refused("The URL has no host.")),
        };
        if let Some(ip) = ip_literal(host) {
            return Ok(vec![ip]);
        }
        match self.network.resolve(host).await {
            Ok(addrs) => Ok(addrs),
            Err(_) => Err(bad_gateway("The URL's host name does not resolve.")),
        }
    }

    /// `GET url`, connecting only to `addrs` (what the host of `url` stands
    /// for), without following a redirect: the response as it came.
    async fn get(&self, url: &Url, addrs: &[IpAddr]) -> Result<reqwest::Response, Response> {
        let port = url.port_or_known_default().unwrap_or(80);
        let routed: Vec<SocketAddr> = addrs
            .iter()
            .map(|&ip| self.network.route(SocketAddr::new(ip, port)))
            .collect();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(FETCH_TIMEOUT);
        let mut target = url.clone();
        let host = url.host_str().unwrap_or_default();
        if ip_literal(host).is_some() {
            // The URL names the address itself: nothing to resolve. On the
            // tests' make-believe internet it goes where `route` sends it.
            if let Some(&to) = routed.first()
                && to != SocketAddr::new(addrs[0], port)
            {
                let _ = target.set_ip_host(to.ip());
                let _ = target.set_port(Some(to.port()));
            }
        } else {
            // The name resolves to the addresses given, and nothing else:
            // the client does not ask DNS again.
            builder = builder.resolve_to_addrs(host, &routed);
        }
        let Ok(client) = builder.build() else {
            return Err(bad_gateway("The shop could not make an HTTP client."));
        };
        let mut request = client.get(target.as_str());
        if target != *url {
            // Still the request for `url`, wherever it went.
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            request = request.header(HOST, authority);
        }
        request
            .send()
            .await
            .map_err(|_| bad_gateway("The page could not be fetched."))
    }
}

/// The IP address `host` (a URL's host, IPv6 in brackets) is, if it is one.
fn ip_literal(host: &str) -> Option<IpAddr> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// Where `response` (to a request for `url`) redirects to, if it is a
/// redirect: its `Location`, resolved against `url`.
fn redirect_target(url: &Url, response: &reqwest::Response) -> Option<Url> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    url.join(location).ok()
}

/// The preview of the page `url` answered with `response`: its status and
/// the text of its `<title>`, from at most the first 64 KiB.
async fn read_preview(url: Url, mut response: reqwest::Response) -> Response {
    let status = response.status().as_u16();
    let mut page = Vec::new();
    while page.len() < MAX_PAGE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => page.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(_) => return bad_gateway("The page could not be read."),
        }
    }
    page.truncate(MAX_PAGE_BYTES);
    let title = title_of(&String::from_utf8_lossy(&page));
    let preview = Preview {
        url: url.to_string(),
        status,
        title,
    };
    Json(preview).into_response()
}

/// The text inside the first `<title>` of `html`, with its whitespace
/// collapsed, if there is one.
pub fn title_of(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = html[start..end].split_whitespace().collect::<Vec<_>>();
    Some(title.join(" "))
}

/// `422 Unprocessable Content`: the shop will not fetch that URL.
fn refused(detail: &str) -> Response {
    problem(StatusCode::UNPROCESSABLE_ENTITY, "URL refused", detail)
}

/// `502 Bad Gateway`: the page could not be fetched.
fn bad_gateway(detail: &str) -> Response {
    problem(StatusCode::BAD_GATEWAY, "Bad Gateway", detail)
}

/// An `application/problem+json` response (RFC 9457).
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let content_type = HeaderValue::from_static("application/problem+json");
    (status, [(CONTENT_TYPE, content_type)], body.to_string()).into_response()
}
