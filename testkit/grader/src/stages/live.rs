//! `live`: following an order over Server-Sent Events. The grader reads the
//! stream as a browser's `EventSource` would (fields, comments, blank lines
//! that end an event), with a deadline on every awaited event.
//!
//! The helpers the later stages share (buying, the event-stream reader, the
//! order-not-found comparison) live here too.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::http::{Call, Http, Reply, Sent, status_line};
use crate::support::{self, id_of};
use crate::{Account, Ctx, Stage, Stop, ensure};

pub const SCENARIOS: &[&str] = &[
    "event_stream_replays_pending_then_paid_and_stays_open",
    "shipping_sends_shipped_and_ends_the_stream",
    "last_event_id_resumes_after_it",
    "two_streams_each_carry_only_their_order",
    "strangers_and_anonymous_callers_get_no_stream",
];

/// How long a stream may take to send its head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an awaited event may take after the change that made it.
pub(crate) const EVENT_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn run(ctx: &mut Ctx, stage: &mut Stage) -> Result<(), Stop> {
    let followed = stage.check(
        "event_stream_replays_pending_then_paid_and_stays_open",
        replays_pending_then_paid(ctx).await,
    )?;
    let followed = stage.check(
        "shipping_sends_shipped_and_ends_the_stream",
        shipping_ends_the_stream(ctx, followed).await,
    )?;
    stage.check(
        "last_event_id_resumes_after_it",
        last_event_id_resumes(ctx, &followed).await,
    )?;
    stage.check(
        "two_streams_each_carry_only_their_order",
        two_streams(ctx).await,
    )?;
    stage.check(
        "strangers_and_anonymous_callers_get_no_stream",
        strangers_get_no_stream(ctx, &followed).await,
    )?;
    Ok(())
}

/// An order followed since the start of the stage.
pub(crate) struct Followed {
    customer: Account,
    order_id: i64,
    /// The ids of its `pending`, `paid` and (once shipped) `shipped` events.
    ids: Vec<i64>,
    stream: Option<Stream>,
}

async fn replays_pending_then_paid(ctx: &mut Ctx) -> Result<Followed, Failure> {
    let marker = ctx.rng.lower(8);
    let price = ctx.rng.price();
    let stock = ctx.rng.range(20, 50);
    let product = new_product(ctx, &marker, price, stock).await?;
    let customer = support::customer(ctx, "live").await?;
    let quantity = ctx.rng.range(1, 3);
    let order = buy(ctx, &customer.token, product, quantity).await?;
    let order_id = id_of(&order).unwrap_or_default();

    let call = ctx
        .http
        .get(&format!("/orders/{order_id}/events"))
        .bearer(&customer.token);
    let mut stream = open_stream(call, "the order's events").await?;
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let pending = stream
        .expect_event(deadline, order_id, "pending", "its history, at once")
        .await?;
    let paid = stream
        .expect_event(deadline, order_id, "paid", "its history, at once")
        .await?;
    stream.expect_increasing(pending, paid)?;
    // The order is paid and not final: the stream waits for what comes next.
    stream
        .expect_quiet(
            Duration::from_millis(1500),
            "the stream to stay open (the order is paid, not shipped or cancelled), with no other event",
        )
        .await?;
    Ok(Followed {
        customer,
        order_id,
        ids: vec![pending, paid],
        stream: Some(stream),
    })
}

async fn shipping_ends_the_stream(
    ctx: &mut Ctx,
    mut followed: Followed,
) -> Result<Followed, Failure> {
    let Some(mut stream) = followed.stream.take() else {
        return Err(Failure::new(
            "the grader lost its stream (a bug in the grader)",
        ));
    };
    let admin = support::admin_token(ctx).await?;
    let order_id = followed.order_id;
    let reply = ctx
        .http
        .post(&format!("/orders/{order_id}/ship"))
        .bearer(&admin)
        .send()
        .await?;
    reply.expect_json(200, "the shipped order")?;
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let shipped = stream
        .expect_event(
            deadline,
            order_id,
            "shipped",
            "the `shipped` event within 2 s of the admin's POST /orders/{id}/ship",
        )
        .await?;
    stream.expect_increasing(followed.ids[1], shipped)?;
    stream
        .expect_end(Instant::now() + EVENT_TIMEOUT, "shipped")
        .await?;
    followed.ids.push(shipped);
    Ok(followed)
}

async fn last_event_id_resumes(ctx: &mut Ctx, followed: &Followed) -> Result<(), Failure> {
    let order_id = followed.order_id;
    let token = followed.customer.token.clone();
    let admin = support::admin_token(ctx).await?;
    let [pending, paid, shipped] = [followed.ids[0], followed.ids[1], followed.ids[2]];
    let path = format!("/orders/{order_id}/events");

    // After `paid`: only `shipped`, then the end.
    type Case<'a> = (String, String, Vec<(&'a str, i64)>);
    let cases: Vec<Case> = vec![
        (token.clone(), paid.to_string(), vec![("shipped", shipped)]),
        (
            token.clone(),
            pending.to_string(),
            vec![("paid", paid), ("shipped", shipped)],
        ),
        (
            token.clone(),
            "0".into(),
            vec![("pending", pending), ("paid", paid), ("shipped", shipped)],
        ),
        (
            admin.clone(),
            "abc".into(),
            vec![("pending", pending), ("paid", paid), ("shipped", shipped)],
        ),
    ];
    for (bearer, last, expected) in cases {
        let call = ctx
            .http
            .get(&path)
            .bearer(&bearer)
            .header("last-event-id", last.clone());
        let what = format!("the events after Last-Event-ID {last}");
        let mut stream = open_stream(call, &what).await?;
        let deadline = Instant::now() + EVENT_TIMEOUT;
        for (status, id) in &expected {
            let got = stream
                .expect_event(deadline, order_id, status, &what)
                .await?;
            ensure!(
                got == *id,
                stream.fail(
                    format!(
                        "the `{status}` event came again with id {got}, not the id {id} it had the first time"
                    ),
                    "each event keeps its id (order_events.id)",
                )
            );
        }
        stream
            .expect_end(Instant::now() + EVENT_TIMEOUT, "shipped")
            .await?;
    }

    // Everything seen: no stream at all.
    for last in [shipped.to_string(), (shipped + 1000).to_string()] {
        let call = ctx
            .http
            .get(&path)
            .bearer(&token)
            .header("last-event-id", last.clone());
        match open(call).await? {
            Opened::Reply(reply) if reply.status == 204 => {}
            Opened::Reply(reply) => {
                return Err(reply.fail(
                    format!(
                        "{}: expected 204 No Content, got {}",
                        reply.sent.line(),
                        status_line(reply.status)
                    ),
                    format!("204 No Content: the order is shipped and Last-Event-ID {last} is not below its final event's id {shipped}"),
                ));
            }
            Opened::Stream(stream) => {
                return Err(stream.fail(
                    format!("GET {path}: expected 204 No Content, got a 200 event stream"),
                    format!("204 No Content: the order is shipped and Last-Event-ID {last} is not below its final event's id {shipped}"),
                ));
            }
        }
    }
    Ok(())
}

async fn two_streams(ctx: &mut Ctx) -> Result<(), Failure> {
    let marker = ctx.rng.lower(8);
    let (price, stock) = (ctx.rng.price(), ctx.rng.range(20, 50));
    let product = new_product(ctx, &marker, price, stock).await?;
    let customer = support::customer(ctx, "live-two").await?;
    let first = buy(ctx, &customer.token, product, 1).await?;
    let second = buy(ctx, &customer.token, product, 2).await?;
    let (first, second) = (
        id_of(&first).unwrap_or_default(),
        id_of(&second).unwrap_or_default(),
    );
    let mut streams = Vec::new();
    for order in [first, second] {
        let call = ctx
            .http
            .get(&format!("/orders/{order}/events"))
            .bearer(&customer.token);
        streams.push(open_stream(call, "the order's events").await?);
    }
    let deadline = Instant::now() + EVENT_TIMEOUT;
    for (stream, order) in streams.iter_mut().zip([first, second]) {
        for status in ["pending", "paid"] {
            stream
                .expect_event(deadline, order, status, "its history, at once")
                .await?;
        }
    }
    let mut second_stream = streams.pop().expect("two streams");
    let mut first_stream = streams.pop().expect("two streams");

    // The owner cancels the first: only the first stream hears it.
    let reply = ctx
        .http
        .post(&format!("/orders/{first}/cancel"))
        .bearer(&customer.token)
        .send()
        .await?;
    reply.expect_json(200, "the cancelled order")?;
    first_stream
        .expect_event(
            Instant::now() + EVENT_TIMEOUT,
            first,
            "cancelled",
            "the `cancelled` event within 2 s of POST /orders/{id}/cancel",
        )
        .await?;
    first_stream
        .expect_end(Instant::now() + EVENT_TIMEOUT, "cancelled")
        .await?;
    drop(first_stream);

    // The admin ships the second: its stream's next event is its own.
    let admin = support::admin_token(ctx).await?;
    let reply = ctx
        .http
        .post(&format!("/orders/{second}/ship"))
        .bearer(&admin)
        .send()
        .await?;
    reply.expect_json(200, "the shipped order")?;
    second_stream
        .expect_event(
            Instant::now() + EVENT_TIMEOUT,
            second,
            "shipped",
            "the `shipped` event of this order within 2 s of POST /orders/{id}/ship (the other order's cancellation is not this stream's)",
        )
        .await?;
    second_stream
        .expect_end(Instant::now() + EVENT_TIMEOUT, "shipped")
        .await?;
    Ok(())
}

async fn strangers_get_no_stream(ctx: &mut Ctx, followed: &Followed) -> Result<(), Failure> {
    let order_id = followed.order_id;
    let stranger = support::customer(ctx, "live-stranger").await?;
    let missing = missing_order_id(ctx);
    let theirs = expect_no_stream(
        ctx.http
            .get(&format!("/orders/{order_id}/events"))
            .bearer(&stranger.token),
        404,
    )
    .await?;
    let none = expect_no_stream(
        ctx.http
            .get(&format!("/orders/{missing}/events"))
            .bearer(&stranger.token),
        404,
    )
    .await?;
    same_not_found(&theirs, order_id, &none, missing)?;

    let anonymous =
        expect_no_stream(ctx.http.get(&format!("/orders/{order_id}/events")), 401).await?;
    anonymous.expect_problem(401, "about:blank")?;
    let challenge = anonymous.header("www-authenticate").unwrap_or("");
    ensure!(
        challenge == r#"Bearer realm="shop""#,
        anonymous.fail(
            format!(
                "GET /orders/{order_id}/events without a token: expected `WWW-Authenticate: Bearer realm=\"shop\"`"
            ),
            "401 Unauthorized with WWW-Authenticate: Bearer realm=\"shop\"",
        )
    );
    let invalid = expect_no_stream(
        ctx.http.get("/orders/abc/events").bearer(&stranger.token),
        400,
    )
    .await?;
    invalid.expect_problem(400, "invalid-id")?;
    Ok(())
}

/// A request that must not open a stream: its answer, with `status`.
async fn expect_no_stream(call: Call, status: u16) -> Result<Reply, Failure> {
    match open(call).await? {
        Opened::Reply(reply) => {
            reply.expect_status(status, "no stream")?;
            Ok(*reply)
        }
        Opened::Stream(stream) => Err(stream.fail(
            format!(
                "{}: expected {}, got a 200 event stream",
                stream.sent.line(),
                status_line(status)
            ),
            format!("{} problem, no stream", status_line(status)),
        )),
    }
}

// ---------------------------------------------------------------------------
// Shared with the jobs, attacks and load stages.

/// A product the admin makes, named with `marker`: its id.
pub(crate) async fn new_product(
    ctx: &mut Ctx,
    marker: &str,
    price_cents: i64,
    stock: i64,
) -> Result<i64, Failure> {
    let name = ctx.rng.product_name(marker);
    let body = support::product(ctx, &name, price_cents, stock).await?;
    Ok(id_of(&body).unwrap_or_default())
}

/// `PUT /cart/items/{id}`: `200`.
pub(crate) async fn put_cart(
    http: &Http,
    token: &str,
    product_id: i64,
    quantity: i64,
) -> Result<Value, Failure> {
    let reply = http
        .put(&format!("/cart/items/{product_id}"))
        .bearer(token)
        .json(&json!({ "quantity": quantity }))
        .send()
        .await?;
    reply.expect_json(200, "the cart")
}

/// `POST /checkout` with a new key.
pub(crate) fn checkout_call(http: &Http, token: &str, key: &str, body: &Value) -> Call {
    http.post("/checkout")
        .bearer(token)
        .header("idempotency-key", key)
        .json(body)
}

/// Puts `quantity` of the product in the cart and checks out with a card
/// that charges: the paid order.
pub(crate) async fn buy(
    ctx: &mut Ctx,
    token: &str,
    product_id: i64,
    quantity: i64,
) -> Result<Value, Failure> {
    put_cart(&ctx.http, token, product_id, quantity).await?;
    let payment = ctx.gateway.charging(&mut ctx.rng);
    let key = format!("grader-{}", ctx.rng.alnum(20));
    let reply = checkout_call(&ctx.http, token, &key, &json!({ "payment_token": payment }))
        .send()
        .await?;
    let order = reply.expect_json(201, "the paid order")?;
    ensure!(
        id_of(&order).is_some() && order.get("status").and_then(Value::as_str) == Some("paid"),
        reply.fail(
            "POST /checkout: the order has no integer `id` or is not `paid`",
            "201 Created, {\"id\": <integer>, \"status\": \"paid\", ...}",
        )
    );
    Ok(order)
}

/// An order id no order has.
pub(crate) fn missing_order_id(ctx: &mut Ctx) -> i64 {
    ctx.rng.range(5_000_000_000, 9_000_000_000)
}

/// Two `404 order-not-found` answers the same but for the id each names.
pub(crate) fn same_not_found(
    theirs: &Reply,
    their_id: i64,
    none: &Reply,
    missing_id: i64,
) -> Result<(), Failure> {
    let hint = "another customer's order must not exist for the caller: answer exactly what an id no order has gets (404 order-not-found), never 403";
    let missing = none.expect_problem(404, "order-not-found")?;
    let got = theirs
        .expect_problem(404, "order-not-found")
        .map_err(|f| f.hint(hint))?;
    for (reply, body, id) in [(theirs, &got, their_id), (none, &missing, missing_id)] {
        ensure!(
            body.get("order_id").and_then(Value::as_i64) == Some(id),
            reply.fail(
                format!(
                    "{}: the order-not-found problem's `order_id` is not {id}",
                    reply.sent.line()
                ),
                format!("404 order-not-found with \"order_id\": {id}"),
            )
        );
    }
    let normal = |body: &Value| {
        let mut body = body.clone();
        if let Some(map) = body.as_object_mut() {
            map.remove("detail");
            map.remove("instance");
            map.insert("order_id".into(), Value::Null);
        }
        body
    };
    ensure!(
        normal(&got) == normal(&missing),
        theirs
            .fail(
                format!(
                    "{}: another customer's order is not answered as a missing one",
                    theirs.sent.line()
                ),
                format!(
                    "the same problem as for an order that does not exist:\n{}",
                    none.shown()
                ),
            )
            .hint(hint)
    );
    Ok(())
}

/// Whether a string is an RFC 3339 time in UTC (`Z` or `+00:00`).
pub(crate) fn utc_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() < 20 || !text.is_ascii() {
        return false;
    }
    let digits = |from: usize, to: usize| b[from..to].iter().all(u8::is_ascii_digit);
    let frame = digits(0, 4)
        && b[4] == b'-'
        && digits(5, 7)
        && b[7] == b'-'
        && digits(8, 10)
        && matches!(b[10], b'T' | b't')
        && digits(11, 13)
        && b[13] == b':'
        && digits(14, 16)
        && b[16] == b':'
        && digits(17, 19);
    if !frame {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    matches!(rest, "Z" | "z" | "+00:00")
}

// ---------------------------------------------------------------------------
// The event-stream reader.

/// An answer that is a stream, or not.
pub(crate) enum Opened {
    Stream(Box<Stream>),
    Reply(Box<Reply>),
}

/// Sends `call` and reads its head within 10 s: a `200` `text/event-stream`
/// is a stream; anything else is read whole (up to 2 s) as a reply.
pub(crate) async fn open(call: Call) -> Result<Opened, Failure> {
    // The reader keeps its own deadlines: the client's own limit would cut
    // a stream that is read for long.
    let call = call.timeout(Duration::from_secs(300));
    let sent = call.sent();
    let started = Instant::now();
    let mut response = match tokio::time::timeout(HEAD_TIMEOUT, call.start()).await {
        Ok(response) => response?,
        Err(_) => {
            return Err(Failure::new(format!(
                "the shop did not send the head of its answer to {} within {} s",
                sent.line(),
                HEAD_TIMEOUT.as_secs()
            ))
            .request(sent.curl())
            .hint("send the response head at once, then the events: return the `Sse` from the handler without waiting for the first change"));
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if status == 200 && content_type.starts_with("text/event-stream") {
        return Ok(Opened::Stream(Box::new(Stream {
            response: Some(response),
            sent,
            headers,
            parser: Parser::default(),
            transcript: String::new(),
            ended: None,
        })));
    }
    let mut body = Vec::new();
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, response.chunk()).await {
        body.extend_from_slice(&chunk);
    }
    Ok(Opened::Reply(Box::new(Reply {
        status,
        headers,
        body,
        sent,
        elapsed: started.elapsed(),
    })))
}

/// Opens a stream that must be a `200` `text/event-stream`.
pub(crate) async fn open_stream(call: Call, what: &str) -> Result<Stream, Failure> {
    match open(call).await? {
        Opened::Stream(stream) => Ok(*stream),
        Opened::Reply(reply) => {
            let expected = format!("200 OK, content-type text/event-stream: {what}");
            reply.expect_status(200, &expected)?;
            Err(reply.fail(
                format!(
                    "{}: expected content-type text/event-stream, got {}",
                    reply.sent.line(),
                    reply.header("content-type").unwrap_or("none")
                ),
                expected,
            ))
        }
    }
}

/// One event as dispatched.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Default)]
struct Block {
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
}

/// The SSE standard's parser: lines end with CRLF, LF or CR; a blank line
/// dispatches the event (if it has data); `:` starts a comment.
#[derive(Debug, Default)]
struct Parser {
    buffer: Vec<u8>,
    block: Block,
    /// The byte-order mark, if any, is behind us.
    started: bool,
    /// No more bytes will come.
    finished: bool,
}

impl Parser {
    fn feed(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    fn finish(&mut self) {
        self.finished = true;
    }

    /// Parses complete lines; returns an event when a blank line ends one.
    fn next_event(&mut self) -> Option<Event> {
        loop {
            if !self.started {
                const BOM: &[u8] = b"\xEF\xBB\xBF";
                if self.buffer.len() < 3 && !self.finished && BOM.starts_with(&self.buffer) {
                    return None;
                }
                if self.buffer.starts_with(BOM) {
                    self.buffer.drain(..3);
                }
                self.started = true;
            }
            let end = self.buffer.iter().position(|&b| b == b'\n' || b == b'\r')?;
            let mut consumed = end + 1;
            if self.buffer[end] == b'\r' {
                match self.buffer.get(end + 1) {
                    Some(b'\n') => consumed += 1,
                    Some(_) => {}
                    // A CR at the end may be the first half of a CRLF.
                    None if !self.finished => return None,
                    None => {}
                }
            }
            let line = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
            self.buffer.drain(..consumed);
            if line.is_empty() {
                let block = std::mem::take(&mut self.block);
                if block.data.is_empty() {
                    continue;
                }
                return Some(Event {
                    id: block.id,
                    event: block.event,
                    data: block.data.join("\n"),
                });
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line.as_str(), ""),
            };
            match field {
                "data" => self.block.data.push(value.to_string()),
                "id" if !value.contains('\0') => self.block.id = Some(value.to_string()),
                "event" => self.block.event = Some(value.to_string()),
                _ => {}
            }
        }
    }
}

pub(crate) enum Next {
    Event(Event),
    /// The stream ended (the reason).
    Ended(String),
    /// Nothing before the deadline.
    Quiet,
}

/// An open event stream, read as the SSE standard says. Dropping it closes
/// the connection.
pub(crate) struct Stream {
    response: Option<reqwest::Response>,
    pub sent: Sent,
    pub headers: HeaderMap,
    parser: Parser,
    transcript: String,
    ended: Option<String>,
}

const TRANSCRIPT_LIMIT: usize = 3000;

impl Stream {
    /// The next event, the end, or nothing before `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Next {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Next::Event(event);
            }
            if let Some(reason) = &self.ended {
                return Next::Ended(reason.clone());
            }
            let Some(response) = self.response.as_mut() else {
                return Next::Ended("closed".into());
            };
            let until = tokio::time::Instant::from_std(deadline);
            match tokio::time::timeout_at(until, response.chunk()).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(Some(bytes))) => {
                    if self.transcript.len() < TRANSCRIPT_LIMIT {
                        self.transcript.push_str(&String::from_utf8_lossy(&bytes));
                    }
                    self.parser.feed(&bytes);
                }
                Ok(Ok(None)) => {
                    self.ended = Some("the shop ended the stream".into());
                    self.parser.finish();
                    self.response = None;
                }
                Ok(Err(error)) => {
                    self.ended = Some(format!("the connection broke off ({error})"));
                    self.parser.finish();
                    self.response = None;
                }
            }
        }
    }

    /// A failure about this stream: the request, what it carried so far.
    pub fn fail(&self, verdict: impl Into<String>, expected: impl Into<String>) -> Failure {
        let mut got = String::from("200 OK, content-type text/event-stream; the stream so far:\n");
        if self.transcript.is_empty() {
            got.push_str("(nothing)");
        } else {
            got.push_str(&self.transcript);
        }
        if let Some(reason) = &self.ended {
            got.push_str(&format!("\n({reason})"));
        }
        Failure::new(verdict)
            .request(format!("{} -N", self.sent.curl()))
            .expected(expected)
            .actual(got)
    }

    /// The next event must be `status` for `order_id`, before `deadline`:
    /// its id.
    pub async fn expect_event(
        &mut self,
        deadline: Instant,
        order_id: i64,
        status: &str,
        what: &str,
    ) -> Result<i64, Failure> {
        let line = self.sent.line();
        let expected = format!(
            "an event `{status}`: id: <integer>, event: status, data: {{\"order_id\":{order_id},\"status\":\"{status}\",\"at\":\"<RFC 3339 UTC>\"}} ({what})"
        );
        let event = match self.next(deadline).await {
            Next::Event(event) => event,
            Next::Ended(reason) => {
                return Err(self.fail(
                    format!("{line}: the stream ended before the `{status}` event ({reason})"),
                    expected,
                ).hint("a stream ends only after the event of a final status (shipped, cancelled); until then it waits for the next change"));
            }
            Next::Quiet => {
                return Err(self.fail(
                    format!(
                        "{line}: no `{status}` event within {} s",
                        EVENT_TIMEOUT.as_secs()
                    ),
                    expected,
                ).hint("send the stored history first, then each change as it happens: a broadcast channel the order routes send to after they commit, or a short poll of order_events"));
            }
        };
        let data: Option<Value> = serde_json::from_str(&event.data).ok();
        let got_status = data
            .as_ref()
            .and_then(|d| d.get("status"))
            .and_then(Value::as_str);
        ensure!(
            got_status == Some(status),
            self.fail(
                format!(
                    "{line}: expected the `{status}` event, got {}",
                    match got_status {
                        Some(other) => format!("`{other}`"),
                        None => format!("data that is not the stated JSON: {}", event.data),
                    }
                ),
                expected.clone(),
            )
        );
        let data = data.unwrap_or_default();
        ensure!(
            data.get("order_id").and_then(Value::as_i64) == Some(order_id),
            self.fail(
                format!(
                    "{line}: the stream of order {order_id} carried an event whose `order_id` is {}",
                    data.get("order_id").map(Value::to_string).unwrap_or("missing".into())
                ),
                expected.clone(),
            )
            .hint("a stream carries only its own order's events: filter what the broadcast channel brings by order id")
        );
        let at = data.get("at").and_then(Value::as_str).unwrap_or("");
        ensure!(
            utc_timestamp(at),
            self.fail(
                format!(
                    "{line}: the `{status}` event's `at` is not an RFC 3339 time in UTC: {}",
                    data.get("at")
                        .map(Value::to_string)
                        .unwrap_or("missing".into())
                ),
                expected.clone(),
            )
        );
        ensure!(
            event.event.as_deref() == Some("status"),
            self.fail(
                format!(
                    "{line}: the `{status}` event's type is {}, not `status`",
                    event
                        .event
                        .as_deref()
                        .map(|e| format!("`{e}`"))
                        .unwrap_or("missing (no `event:` line)".into())
                ),
                expected.clone(),
            )
        );
        let id = event
            .id
            .as_deref()
            .and_then(|id| id.trim().parse::<i64>().ok());
        let Some(id) = id else {
            return Err(self.fail(
                format!(
                    "{line}: the `{status}` event has no integer id (`id:` line: {})",
                    event.id.as_deref().unwrap_or("missing")
                ),
                expected,
            )
            .hint("each event carries `id: <order_events.id>`, which a client sends back as Last-Event-ID"));
        };
        Ok(id)
    }

    pub fn expect_increasing(&self, earlier: i64, later: i64) -> Result<(), Failure> {
        ensure!(
            later > earlier,
            self.fail(
                format!(
                    "{}: an event's id ({later}) is not greater than the one before it ({earlier})",
                    self.sent.line()
                ),
                "ids that grow with every change (order_events.id, AUTOINCREMENT)",
            )
        );
        Ok(())
    }

    /// Nothing for `wait`: no event, no end.
    pub async fn expect_quiet(&mut self, wait: Duration, expected: &str) -> Result<(), Failure> {
        let line = self.sent.line();
        match self.next(Instant::now() + wait).await {
            Next::Quiet => Ok(()),
            Next::Event(event) => Err(self.fail(
                format!("{line}: an event came that no change made: {}", event.data),
                expected,
            ).hint("each event is sent exactly once: the history, then only what changes after")),
            Next::Ended(reason) => Err(self.fail(
                format!("{line}: the stream ended though the order can still change ({reason})"),
                expected,
            ).hint("keep the stream open until the order reaches a final status (shipped or cancelled)")),
        }
    }

    /// The stream must end, with no other event, before `deadline`.
    pub async fn expect_end(&mut self, deadline: Instant, last: &str) -> Result<(), Failure> {
        let line = self.sent.line();
        let expected = format!("the stream ends after the final `{last}` event");
        match self.next(deadline).await {
            Next::Ended(_) => Ok(()),
            Next::Event(event) => Err(self.fail(
                format!("{line}: another event came after the final `{last}`: {}", event.data),
                expected,
            )),
            Next::Quiet => Err(self.fail(
                format!(
                    "{line}: the stream did not end within {} s of the final `{last}` event",
                    EVENT_TIMEOUT.as_secs()
                ),
                expected,
            ).hint("after the event of a final status, end the stream (the stream of events returns None)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_follows_the_standard() {
        let mut parser = Parser::default();
        parser.feed(b"\xEF\xBB\xBF: keep-alive\r\nid: 5\r\nevent: status\r\ndata: {\"a\":1}\r");
        assert!(
            parser.next_event().is_none(),
            "a CR at the end may be half a CRLF"
        );
        parser.feed(b"\n\r\ndata:x\ndata: y\n\nid: 9\nevent: status\n\n");
        let first = parser.next_event().expect("the first event");
        assert_eq!(first.id.as_deref(), Some("5"));
        assert_eq!(first.event.as_deref(), Some("status"));
        assert_eq!(first.data, "{\"a\":1}");
        let second = parser.next_event().expect("the second event");
        assert_eq!((second.id, second.data.as_str()), (None, "x\ny"));
        assert!(
            parser.next_event().is_none(),
            "an event without data is not dispatched"
        );
        parser.feed(b"data: cut");
        parser.finish();
        assert!(
            parser.next_event().is_none(),
            "an unfinished event is dropped"
        );
    }

    #[test]
    fn utc_timestamps_are_recognised() {
        assert!(utc_timestamp("2026-11-30T09:15:00Z"));
        assert!(utc_timestamp("2026-11-30T09:15:00.123456+00:00"));
        assert!(!utc_timestamp("2026-11-30T09:15:00+01:00"));
        assert!(!utc_timestamp("2026-11-30 09:15:00"));
        assert!(!utc_timestamp("2026-11-30T09:15:00.Z"));
    }
}
