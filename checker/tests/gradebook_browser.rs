//! The gradebook page in a real browser: headless Chromium driven through
//! chromedriver's W3C WebDriver HTTP API (plain HTTP/1.1 over a TCP socket
//! on localhost: a client crate would add a build for one test). The page
//! loads with no console error, sorts on a header's click, filters on the
//! text box, and a screenshot of it lands in target/gradebook-screenshot.png.
//!
//! Needs Debian's `chromium` and `chromium-driver` (scripts/test-all.sh
//! installs them); without them this test fails, saying how to install them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const REPORTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gradebook");
/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

#[test]
fn the_page_loads_without_errors_sorts_on_click_and_filters_in_chromium() {
    let chromium = find_program(&["chromium", "chromium-browser"]);
    let chromedriver = find_program(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        panic!(
            "chromium and chromedriver are needed for this test: install them with `sudo apt-get install -y chromium chromium-driver` (scripts/test-all.sh does it)"
        );
    };

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gradebook");
    let status = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args(["gradebook", REPORTS, "--out"])
        .arg(&out)
        .env("NO_COLOR", "1")
        .status()
        .unwrap();
    assert!(status.success());
    let page = out.join("gradebook.html");

    let driver = Driver::start(&chromedriver, &chromium, dir.path());
    driver.call(
        "POST",
        "/url",
        json!({ "url": format!("file://{}", page.display()) }),
    );
    assert_eq!(driver.script("return document.title"), "Gradebook");

    let errors: Vec<Value> = driver
        .browser_log()
        .into_iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    // As rendered: by name.
    assert_eq!(
        driver.learners(),
        ["alice", "bob", "dave", "Doe, \"JJ\" Jane"]
    );
    // A real click on the overall percentage's header: best first.
    driver.click("#gradebook thead th:nth-child(2)");
    assert_eq!(
        driver.learners(),
        ["alice", "Doe, \"JJ\" Jane", "dave", "bob"]
    );
    assert_eq!(
        driver.script("return document.querySelector('#gradebook thead th:nth-child(2)').getAttribute('aria-sort')"),
        "descending"
    );
    // Again: reversed.
    driver.click("#gradebook thead th:nth-child(2)");
    assert_eq!(
        driver.learners(),
        ["bob", "dave", "Doe, \"JJ\" Jane", "alice"]
    );

    let screenshot = driver.call("GET", "/screenshot", Value::Null);
    let png = base64_decode(screenshot.as_str().expect("a screenshot"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // CARGO_TARGET_TMPDIR is target/tmp: the screenshot goes beside it.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let shot = target.join("gradebook-screenshot.png");
    std::fs::write(&shot, &png).unwrap();
    println!("screenshot: {}", shot.display());

    // Typing in the filter box hides the other learners.
    let filter = driver.find("#filter");
    driver.call(
        "POST",
        &format!("/element/{filter}/value"),
        json!({ "text": "DO" }),
    );
    assert_eq!(driver.visible_learners(), ["Doe, \"JJ\" Jane"]);
    assert_eq!(
        driver.script("return document.getElementById('shown').textContent"),
        "1 of 4 shown"
    );

    // The log really reaches this test: what the page logs as an error is seen.
    driver.script("console.error('gradebook-test-probe'); return null");
    let log = driver.browser_log();
    assert!(
        log.iter().any(|entry| entry["message"]
            .as_str()
            .unwrap_or("")
            .contains("gradebook-test-probe")),
        "the browser log is not captured: {log:#?}"
    );
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A chromedriver process and one browser session; both end with it.
struct Driver {
    process: Child,
    port: u16,
    session: String,
}

impl Driver {
    fn start(chromedriver: &Path, chromium: &Path, scratch: &Path) -> Driver {
        // A free port: the system picks one, and chromedriver takes it over.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut driver = Driver {
            process,
            port,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while request(port, "GET", "/status", &Value::Null)
            .map(|status| status["value"]["ready"] != true)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = scratch.join("chromium-profile");
        let created = request(
            port,
            "POST",
            "/session",
            &json!({
                "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chromium,
                        // --no-sandbox: CI containers run as root, where
                        // Chromium's sandbox refuses to start.
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                 "--disable-dev-shm-usage", "--window-size=1280,1000",
                                 format!("--user-data-dir={}", profile.display())]
                    },
                    "goog:loggingPrefs": { "browser": "ALL" }
                }}
            }),
        )
        .expect("chromedriver answers");
        driver.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created:#}"))
            .to_string();
        driver
    }

    /// A command of the session; its `value`, or a failure with WebDriver's error.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = request(self.port, method, &path, &body).expect("chromedriver answers");
        let value = answer["value"].clone();
        if let Some(error) = value.get("error") {
            panic!("{method} {path}: {error}: {}", value["message"]);
        }
        value
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
    }

    fn find(&self, selector: &str) -> String {
        let element = self.call(
            "POST",
            "/element",
            json!({ "using": "css selector", "value": selector }),
        );
        element[ELEMENT].as_str().unwrap().to_string()
    }

    fn click(&self, selector: &str) {
        let element = self.find(selector);
        self.call("POST", &format!("/element/{element}/click"), json!({}));
    }

    fn learners(&self) -> Vec<String> {
        self.names("return Array.from(document.querySelectorAll('#gradebook tbody th')).map(c => c.textContent)")
    }

    fn visible_learners(&self) -> Vec<String> {
        self.names("return Array.from(document.querySelectorAll('#gradebook tbody tr')).filter(r => !r.hidden && r.offsetParent !== null).map(r => r.cells[0].textContent)")
    }

    fn names(&self, script: &str) -> Vec<String> {
        serde_json::from_value(self.script(script)).unwrap()
    }

    /// What the page wrote to its console since the last call (chromedriver's
    /// extension of WebDriver, with `goog:loggingPrefs`).
    fn browser_log(&self) -> Vec<Value> {
        let log = self.call("POST", "/se/log", json!({ "type": "browser" }));
        serde_json::from_value(log).unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                &Value::Null,
            );
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One HTTP/1.1 exchange with chromedriver; `None` when it does not answer.
fn request(port: u16, method: &str, path: &str, body: &Value) -> Option<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body.as_bytes()).ok()?;
    // chromedriver keeps the connection open whatever the request says, so
    // the answer ends where its Content-Length (or its last chunk) says.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16384];
    loop {
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
        let Some(split) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&answer[..split]).to_lowercase();
        let content = &answer[split + 4..];
        let length = headers.lines().find_map(|line| {
            let value = line.strip_prefix("content-length:")?;
            value.trim().parse::<usize>().ok()
        });
        match length {
            Some(length) if content.len() >= length => {
                return serde_json::from_slice(&content[..length]).ok();
            }
            None if headers.contains("transfer-encoding: chunked")
                && content.ends_with(b"0\r\n\r\n") =>
            {
                return serde_json::from_slice(&unchunk(content)).ok();
            }
            _ => {}
        }
    }
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let content = answer[split + 4..].to_vec();
    serde_json::from_slice(&content).ok()
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

/// Standard base64 (WebDriver's screenshots).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for group in digits.chunks(4) {
        let bits = group
            .iter()
            .enumerate()
            .fold(0u32, |bits, (i, &c)| bits | value(c) << (18 - 6 * i));
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

#[test]
fn base64_decodes_with_and_without_padding() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk="), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
