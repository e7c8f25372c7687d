//! HTTP on the wire: a real server on `127.0.0.1:0`, and a client that keeps
//! the status line and the headers exactly as the server wrote them, in
//! their order, as `curl -i` prints them.

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::{TcpListener, TcpStream};

/// Serves `app` on a free port of 127.0.0.1 until the test ends. The
/// listener is bound before this returns, so a request can follow at once.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the test binds a free port on 127.0.0.1");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// A request as it goes on the wire.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path and query, as in the request line: `/users?page=2`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn get(target: &str) -> Request {
        Request::new("GET", target)
    }

    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: &str) -> Request {
        self.body = body.to_string();
        self
    }

    /// `POST /users HTTP/1.1`, the headers given with [`Request::header`],
    /// a blank line and the body: a request as the book shows one.
    pub fn shown(&self) -> String {
        let mut text = format!("{} {} HTTP/1.1\n", self.method, self.target);
        for (name, value) in &self.headers {
            let _ = writeln!(text, "{name}: {value}");
        }
        if !self.body.is_empty() {
            let _ = write!(text, "\n{}\n", self.body);
        }
        text
    }

    /// The bytes sent: the request line, a `host`, the headers, a
    /// `content-length` when there is a body, and the body.
    fn wire(&self, address: SocketAddr) -> Vec<u8> {
        let mut text = format!(
            "{} {} HTTP/1.1\r\nhost: {address}\r\n",
            self.method, self.target
        );
        for (name, value) in &self.headers {
            let _ = write!(text, "{name}: {value}\r\n");
        }
        if !self.body.is_empty() {
            let _ = write!(text, "content-length: {}\r\n", self.body.len());
        }
        text.push_str("\r\n");
        text.push_str(&self.body);
        text.into_bytes()
    }
}

/// A response as it came off the wire.
#[derive(Clone, Debug)]
pub struct Response {
    /// `HTTP/1.1 200 OK`, as the server wrote it.
    pub status_line: String,
    /// Every header, in the order the server wrote them.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The status code, such as `200`.
    pub fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    /// The status as the book names it: `404 Not Found`.
    pub fn status_text(&self) -> &str {
        self.status_line
            .split_once(' ')
            .map_or("", |(_, status)| status)
    }

    /// The status line, every header but those in `hide`, a blank line and
    /// the body: what `curl -i` prints, less the headers the book leaves out.
    pub fn shown(&self, hide: &[&str]) -> String {
        let mut text = format!("{}\n", self.status_line);
        for (name, value) in &self.headers {
            if !hide.iter().any(|hidden| hidden.eq_ignore_ascii_case(name)) {
                let _ = writeln!(text, "{name}: {value}");
            }
        }
        text.push('\n');
        if !self.body.is_empty() {
            let _ = writeln!(text, "{}", self.body);
        }
        text
    }
}

/// Sends `request` to the server at `address` on a connection of its own
/// and reads the whole response.
pub async fn send(address: SocketAddr, request: &Request) -> Response {
    let stream = TcpStream::connect(address).await.unwrap_or_else(|error| {
        panic!("could not connect to the test's server at {address}: {error}")
    });
    write_all(&stream, &request.wire(address)).await;
    let mut received = Vec::new();
    let mut buffer = [0; 8192];
    loop {
        if let Some(response) = parse(&received) {
            return response;
        }
        let read = read(&stream, &mut buffer).await;
        assert!(
            read > 0,
            "the server closed the connection before a whole response to {} {} came: {:?}",
            request.method,
            request.target,
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buffer[..read]);
    }
}

/// Writes all of `bytes` (tokio's `AsyncWriteExt` needs a feature the
/// workspace does not build).
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        stream
            .writable()
            .await
            .expect("the test's socket stays usable");
        match stream.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("could not send the request to the test's server: {error}"),
        }
    }
}

/// Reads what has come, waiting for something if nothing has; 0 at the end.
async fn read(stream: &TcpStream, buffer: &mut [u8]) -> usize {
    loop {
        stream
            .readable()
            .await
            .expect("the test's socket stays usable");
        match stream.try_read(buffer) {
            Ok(read) => return read,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("could not read the response of the test's server: {error}"),
        }
    }
}

/// A whole response, once `bytes` holds one: its head, and a body of
/// `content-length` bytes or in chunks.
fn parse(bytes: &[u8]) -> Option<Response> {
    let head_end = bytes.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..head_end]).expect("a response head is text");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_string(), value.trim().to_string()))
        .collect();
    let rest = &bytes[head_end + 4..];
    let find = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
    };
    let body = if find("transfer-encoding") == Some("chunked") {
        unchunk(rest)?
    } else {
        let length: usize = find("content-length").map_or(0, |value| value.parse().unwrap_or(0));
        if rest.len() < length {
            return None;
        }
        rest[..length].to_vec()
    };
    let body = String::from_utf8(body).expect("the book's responses are text");
    Some(Response {
        status_line,
        headers,
        body,
    })
}

/// The body of a chunked response, once its last chunk has come.
fn unchunk(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|window| window == b"\r\n")?;
        let size = std::str::from_utf8(&bytes[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if bytes.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}
