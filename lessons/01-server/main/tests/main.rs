//! Tests for server/main: the server program itself, started as a process.
//!
//! Each test starts the program cargo built from `src/main.rs`, with its
//! settings in the environment. `APP_BIND_ADDR=127.0.0.1:0` lets the program
//! take any free port, and the program tells which one it got with the line
//! `listening on http://127.0.0.1:PORT`. (Picking a free port here, closing
//! it and handing its number to the program would be a race: another test
//! could take the port in between.) The test waits for that line, never for
//! a fixed time, calls the server with reqwest, and stops it with a signal,
//! as `docker stop` (SIGTERM) or Ctrl+C (SIGINT) would.
//!
//! A guard kills the program when its test ends, however the test ends, so
//! no server outlives its test. Waits that a wrong program might never end
//! are bounded by limits a correct program never comes near.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;

// ANCHOR: program
/// The program cargo built from `src/main.rs`: cargo tells an integration
/// test, as it compiles it, where it put the package's programs. (This file
/// also grades the reference solution, whose program is named
/// `server-main-solution`: two programs of one workspace cannot share a
/// name.)
const SERVER_PROGRAM: &str = match (
    option_env!("CARGO_BIN_EXE_server-main"),
    option_env!("CARGO_BIN_EXE_server-main-solution"),
) {
    (Some(program), _) | (None, Some(program)) => program,
    (None, None) => panic!("cargo built no server program for these tests"),
};
// ANCHOR_END: program

/// How long a test waits for the program to print its address. Starting
/// takes milliseconds; the limit is there for a machine that is very busy.
const STARTUP_PATIENCE: Duration = Duration::from_secs(5);

/// How long a test waits for anything a correct program does at once:
/// answer a request, stop accepting connections, exit after a signal.
const PATIENCE: Duration = Duration::from_secs(5);

/// The settings most tests start the program with: any free port.
const ANY_FREE_PORT: (&str, &str) = ("APP_BIND_ADDR", "127.0.0.1:0");

/// What the program prints, before the address, once it listens.
const ANNOUNCEMENT: &str = "listening on http://";

/// The body of the app's `GET /`.
const GREETING: &str = "Hello from your first server!";

/// What tower-http's `TraceLayer` logs, at level debug, for every request.
const REQUEST_LOGGED: &str = "finished processing request";

/// The body of the request the tests hold in flight across a shutdown.
const HELD_BODY: &str = "Finish me before you stop, s'il vous plaît ✋";

/// The signals a server is stopped with.
#[derive(Clone, Copy)]
enum Signal {
    /// What `docker stop`, Kubernetes and systemd send.
    Term,
    /// What Ctrl+C in a terminal sends.
    Int,
}

impl Signal {
    /// The name `kill -s` takes.
    fn short(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Int => "INT",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT (Ctrl+C)",
        }
    }
}

/// What the program wrote so far.
#[derive(Default)]
struct Output {
    stdout: String,
    stderr: String,
    stdout_closed: bool,
    stderr_closed: bool,
}

impl Output {
    /// Both streams are closed: the program has exited (or is exiting).
    fn closed(&self) -> bool {
        self.stdout_closed && self.stderr_closed
    }

    fn contains(&self, text: &str) -> bool {
        self.stdout.contains(text) || self.stderr.contains(text)
    }
}

// ANCHOR: guard
/// The server program, running, with what it printed so far.
struct Server {
    child: Child,
    output: watch::Receiver<Output>,
    /// How it was started, for failure messages:
    /// `APP_BIND_ADDR=127.0.0.1:0 server-main`.
    command: String,
    /// The shell of [`Server::start_and_signal_at_announcement`], if any.
    armed: Option<Child>,
}

/// However the test ends, even by a failed assertion, the program is
/// killed (SIGKILL, which no program can ignore) and reaped.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(shell) = &mut self.armed {
            let _ = shell.kill();
            let _ = shell.wait();
        }
    }
}
// ANCHOR_END: guard

impl Server {
    /// Starts the program with `settings` as its only `APP_*` variables.
    fn start(settings: &[(&str, &str)]) -> Server {
        Server::launch(settings, None)
    }

    /// Starts the program like [`Server::start`], and sends it `signal` the
    /// moment its address line arrives, as fast as this machine allows: a
    /// shell started beforehand waits for the program's process id, and
    /// the thread that reads the program's output hands it over on seeing
    /// the line. (Starting `kill` only then would take a millisecond or
    /// more, time enough for a program that listens for signals too late
    /// to get away with it.)
    fn start_and_signal_at_announcement(settings: &[(&str, &str)], signal: Signal) -> Server {
        Server::launch(settings, Some(signal))
    }

    fn launch(settings: &[(&str, &str)], signal_at_announcement: Option<Signal>) -> Server {
        let mut armed = signal_at_announcement.map(|signal| {
            Command::new("sh")
                .args([
                    "-c",
                    r#"read pid && kill -s "$1" "$pid""#,
                    "sh",
                    signal.short(),
                ])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap_or_else(|error| {
                    panic!(
                        "\nThe test could not start `sh` to send {}: {error}. These tests need a Unix shell, `sh`.\n",
                        signal.name()
                    )
                })
        });
        let mut command = Command::new(SERVER_PROGRAM);
        // Whatever the test's own environment holds, the program sees only
        // the settings the test chose.
        for variable in ["APP_BIND_ADDR", "APP_LOG_LEVEL", "RUST_LOG"] {
            command.env_remove(variable);
        }
        command
            // A panic's message, not a backtrace that buries it.
            .env("RUST_BACKTRACE", "0")
            .envs(settings.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let name = std::path::Path::new(SERVER_PROGRAM)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shown: Vec<String> = settings
            .iter()
            .map(|(variable, value)| format!("{variable}={value}"))
            .chain([name])
            .collect();
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "\nThe server program could not be started: {error}\n  program: {SERVER_PROGRAM}\n"
            )
        });
        let (sender, output) = watch::channel(Output::default());
        let sender = Arc::new(sender);
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let trigger = armed.as_mut().and_then(|shell| shell.stdin.take());
        capture(
            stdout,
            sender.clone(),
            Some(trigger.map(|stdin| (stdin, child.id()))),
        );
        capture(stderr, sender, None);
        Server {
            child,
            output,
            command: shown.join(" "),
            armed,
        }
    }

    /// Waits for the line `listening on http://ADDRESS` and returns the
    /// address, after checking that it is the one asked for: 127.0.0.1 and
    /// a real port.
    async fn address(&mut self) -> SocketAddr {
        let _ = timeout(
            STARTUP_PATIENCE,
            self.output
                .wait_for(|output| announced(&output.stdout).is_some() || output.stdout_closed),
        )
        .await;
        let found = announced(&self.output.borrow().stdout);
        let Some(addr) = found else {
            self.fail_without_announcement().await;
        };
        if addr.port() == 0 {
            self.fail(&format!(
                "The server announced port 0, where nobody can connect.\n  expected: `{ANNOUNCEMENT}127.0.0.1:PORT` with the port it really listens on\n  got:      `{ANNOUNCEMENT}{addr}`\nPort 0 in APP_BIND_ADDR asks the system for any free port: only the listener knows which one it got."
            ));
        }
        if addr.ip() != IpAddr::V4(Ipv4Addr::LOCALHOST) {
            self.fail(&format!(
                "The server announced another address than the one it was asked to listen on.\n  expected: `{ANNOUNCEMENT}127.0.0.1:PORT`\n  got:      `{ANNOUNCEMENT}{addr}`\nDoes it listen on the address APP_BIND_ADDR gives?"
            ));
        }
        addr
    }

    async fn fail_without_announcement(&mut self) -> ! {
        let what = match self.exit_within(Duration::ZERO).await {
            Some(status) => format!("no such line; the program {}", describe_exit(status)),
            None => {
                format!("no such line within {STARTUP_PATIENCE:?}; the program is still running")
            }
        };
        let near_miss = self
            .output
            .borrow()
            .stdout
            .lines()
            .find(|line| line.to_ascii_lowercase().contains("listening"))
            .map(str::to_string);
        let diagnosis = match near_miss {
            Some(line) => format!(
                "\nThis line comes close, but is not exactly it: {line:?}\nPrint the line itself, with nothing before or after it. (A log event adds a time and a level, and disappears when the log level is higher.)"
            ),
            None => String::new(),
        };
        self.fail(&format!(
            "The server never announced its address.\n  expected: the line `{ANNOUNCEMENT}127.0.0.1:PORT` on standard output\n  got:      {what}{diagnosis}"
        ))
    }

    /// Sends `signal` to the program.
    fn send(&self, signal: Signal) {
        // The standard library can only kill a child outright (`Child::kill`
        // sends SIGKILL, which cannot be caught). The shell's `kill` sends
        // any signal.
        let sent = Command::new("sh")
            .args(["-c", r#"kill -s "$1" "$2""#, "sh", signal.short()])
            .arg(self.child.id().to_string())
            .status();
        match sent {
            Ok(status) if status.success() => {}
            Ok(status) => panic!(
                "\nThe test could not send {}: `kill` ended with {status}.\n",
                signal.name()
            ),
            Err(error) => panic!(
                "\nThe test could not send {}: {error}. These tests need a Unix shell, `sh`.\n",
                signal.name()
            ),
        }
    }

    /// The program's exit status, once it has exited, waiting at most
    /// `patience`; `None` if it is still running.
    async fn exit_within(&mut self, patience: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + patience;
        // Both streams close when the program exits: no polling until then.
        let _ = timeout(patience, self.output.wait_for(Output::closed)).await;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Ok(None) => return None,
                Err(error) => {
                    panic!("\nThe test could not learn whether the server exited: {error}\n")
                }
            }
        }
    }

    /// Fails the test unless the program exits with status 0, soon, after
    /// `signal`.
    async fn expect_clean_exit(&mut self, signal: Signal, when: &str) {
        let status = self.exit_within(PATIENCE).await;
        match status {
            Some(status) if status.code() == Some(0) => {}
            None => self.fail(&format!(
                "The server was still running {PATIENCE:?} after {}.\n  expected: a graceful shutdown, then exit status 0, {when}\n  got:      still running (the test then killed it)\nDoes it listen for {}?",
                signal.name(),
                signal.name()
            )),
            Some(status) if killed_by(status, signal) => self.fail(&format!(
                "{} killed the server instead of stopping it gracefully.\n  expected: exit status 0, {when}\n  got:      it {}\nA program that is not listening for {} dies of it. This one does not listen for it, or began listening only after printing its address (the test may send the signal right after that line).",
                signal.name(),
                describe_exit(status),
                signal.name()
            )),
            Some(status) => self.fail(&format!(
                "The server did not exit with status 0 after {}.\n  expected: exit status 0, {when}\n  got:      it {}",
                signal.name(),
                describe_exit(status)
            )),
        }
    }

    /// Fails the test unless the program refuses to start: exit status 1,
    /// and `expected` on standard error. `problem` says what is wrong with
    /// the settings, for the failure message.
    async fn expect_startup_error(&mut self, expected: &str, problem: &str) {
        let _ = timeout(
            STARTUP_PATIENCE,
            self.output
                .wait_for(|output| output.closed() || announced(&output.stdout).is_some()),
        )
        .await;
        let announcement = announced(&self.output.borrow().stdout);
        if let Some(addr) = announcement {
            self.fail(&format!(
                "The server started although {problem}.\n  expected: exit status 1, and on standard error a line with: {expected}\n  got:      `{ANNOUNCEMENT}{addr}`\nA setting the program cannot use must stop it: no falling back to a default, no listening elsewhere."
            ));
        }
        let Some(status) = self.exit_within(PATIENCE).await else {
            self.fail(&format!(
                "The server neither stopped nor announced an address, although {problem}.\n  expected: exit status 1, and on standard error a line with: {expected}\n  got:      still running after {:?}",
                STARTUP_PATIENCE + PATIENCE
            ));
        };
        if status.code() != Some(1) {
            self.fail(&format!(
                "The server did not exit with status 1 although {problem}.\n  expected: exit status 1, and on standard error a line with: {expected}\n  got:      it {}",
                describe_exit(status)
            ));
        }
        let (on_stdout, debug_form) = {
            let output = self.output.borrow();
            (
                output.stdout.contains(expected),
                output.stderr.contains("ConfigError {"),
            )
        };
        if !self.output.borrow().stderr.contains(expected) {
            let diagnosis = if on_stdout {
                "\nIt is on standard output: error messages go to standard error."
            } else if debug_form {
                "\nThat is the error's Debug form (what `main` returning `Err` prints): print its Display form, `{error}`."
            } else {
                ""
            };
            self.fail(&format!(
                "The server's startup error does not say what is wrong: {problem}.\n  expected: exit status 1, and on standard error a line with: {expected}\n  got:      exit status 1, and the output below{diagnosis}"
            ));
        }
    }

    /// Waits until the program's output contains `text`; returns whether it
    /// did within `PATIENCE`.
    async fn wait_for_output(&mut self, text: &str) -> bool {
        let _ = timeout(
            PATIENCE,
            self.output
                .wait_for(|output| output.contains(text) || output.closed()),
        )
        .await;
        self.output.borrow().contains(text)
    }

    /// Kills the program and waits until everything it wrote has been read.
    async fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = timeout(PATIENCE, self.output.wait_for(Output::closed)).await;
    }

    /// Fails the test unless `GET /` answers with the app's greeting.
    async fn assert_greets(&self, addr: SocketAddr) {
        let answer = get(addr, "/").await;
        if !matches!(&answer, Ok((200, body)) if body == GREETING) {
            self.fail(&format!(
                "The server did not answer GET / with the app's greeting.\n  request:  GET http://{addr}/\n  expected: 200 OK with the body {GREETING:?}\n  got:      {}\nIs it serving the app from app.rs, on the address it announced?",
                show(&answer)
            ));
        }
    }

    /// Fails the test with `problem` (its first line is the verdict), then
    /// how the program was started and what it printed.
    #[track_caller]
    fn fail(&self, problem: &str) -> ! {
        let output = self.output.borrow();
        panic!(
            "\n{problem}\n  started:  {}\n  stdout:   {}\n  stderr:   {}\n",
            self.command,
            quote_lines(&output.stdout),
            quote_lines(&output.stderr)
        )
    }
}

/// Reads `stream` line by line into `output`, on a thread of its own (a
/// pipe nobody reads fills up and stalls the program that writes to it).
/// `stdout` is `Some` for standard output, with the armed shell's input and
/// the program's process id when the address line must trigger a signal.
fn capture(
    stream: impl Read + Send + 'static,
    output: Arc<watch::Sender<Output>>,
    stdout: Option<Option<(ChildStdin, u32)>>,
) {
    std::thread::spawn(move || {
        let is_stdout = stdout.is_some();
        let mut trigger = stdout.flatten();
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = without_colors(&String::from_utf8_lossy(&line));
                    if announced(&text).is_some()
                        && let Some((mut shell, pid)) = trigger.take()
                    {
                        let _ = writeln!(shell, "{pid}");
                    }
                    output.send_modify(|output| {
                        if is_stdout {
                            output.stdout.push_str(&text);
                        } else {
                            output.stderr.push_str(&text);
                        }
                    });
                }
            }
        }
        output.send_modify(|output| {
            if is_stdout {
                output.stdout_closed = true;
            } else {
                output.stderr_closed = true;
            }
        });
    });
}

/// The address of the first line of `stdout` that is exactly
/// `listening on http://ADDRESS`.
fn announced(stdout: &str) -> Option<SocketAddr> {
    stdout
        .lines()
        .find_map(|line| line.trim_end().strip_prefix(ANNOUNCEMENT)?.parse().ok())
}

/// `exited with status 1`, `was killed by signal 15 (SIGTERM)`, ...
fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                2 => " (SIGINT)",
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                15 => " (SIGTERM)",
                _ => "",
            };
            return format!("was killed by signal {signal}{name}");
        }
    }
    match status.code() {
        Some(101) => "exited with status 101, the status of a panic".to_string(),
        Some(code) => format!("exited with status {code}"),
        None => format!("ended with {status}"),
    }
}

/// Whether `status` says the program died of `signal`.
fn killed_by(status: ExitStatus, signal: Signal) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let number = match signal {
            Signal::Term => 15,
            Signal::Int => 2,
        };
        status.signal() == Some(number)
    }
    #[cfg(not(unix))]
    {
        let _ = (status, signal);
        false
    }
}

/// Sends `GET path` and reads the whole response: its status and body.
async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    let response = testkit::client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .map_err(|error| describe_error(&error))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|error| describe_error(&error))?;
    Ok((status, body))
}

/// An answer for a failure message: `404 Not Found with the body ""`.
fn show(answer: &Result<(u16, String), String>) -> String {
    match answer {
        Ok((status, body)) => format!(
            "{} with the body {}",
            testkit::status_text(*status),
            testkit::quote(body)
        ),
        Err(error) => format!("no response: {error}"),
    }
}

/// An error with its causes, which say what really went wrong
/// ("connection refused", "connection reset by peer").
fn describe_error(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// A program's output for a failure message: every line, or its first and
/// last lines when there are many, indented under their label.
fn quote_lines(text: &str) -> String {
    const ENDS: usize = 8;
    let lines: Vec<&str> = text.trim_start_matches(['\n', '\r']).lines().collect();
    if lines.is_empty() {
        return "(nothing)".to_string();
    }
    let shown: Vec<String> = if lines.len() <= 2 * ENDS + 1 {
        lines.iter().map(|line| line.to_string()).collect()
    } else {
        let left_out = format!("({} lines left out)", lines.len() - 2 * ENDS);
        lines[..ENDS]
            .iter()
            .map(|line| line.to_string())
            .chain([left_out])
            .chain(
                lines[lines.len() - ENDS..]
                    .iter()
                    .map(|line| line.to_string()),
            )
            .collect()
    };
    shown.join("\n            ")
}

/// `text` without the terminal's color codes (`ESC [ ... m`), which log
/// lines often carry.
fn without_colors(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.clone().next() == Some('[') {
            chars.next();
            // Parameters, then one final character from `@` to `~`.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
}

// ANCHOR: held_request
/// A `POST /echo` whose body has not been sent yet: the request is in
/// flight, and stays so until the test sends the body. reqwest sends a body
/// all at once, so this request is written by hand, on a plain socket.
struct HeldRequest {
    stream: std::net::TcpStream,
}

impl HeldRequest {
    /// Sends the request's head, which announces a body and asks the server
    /// to confirm it wants it (`expect: 100-continue`), and waits for that
    /// `100 Continue`: hyper sends it when the handler starts reading the
    /// body, so the request has reached the app.
    fn start(server: &Server, addr: SocketAddr) -> HeldRequest {
        let head = format!(
            "POST /echo HTTP/1.1\r\nhost: {addr}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n",
            HELD_BODY.len()
        );
        let sent = (|| {
            let mut stream = std::net::TcpStream::connect_timeout(&addr, PATIENCE)?;
            // Every read and write below gives up after PATIENCE.
            stream.set_read_timeout(Some(PATIENCE))?;
            stream.set_write_timeout(Some(PATIENCE))?;
            stream.write_all(head.as_bytes())?;
            let interim = read_head(&mut stream)?;
            Ok::<_, std::io::Error>((stream, interim))
        })();
        match sent {
            Ok((stream, interim)) if interim.starts_with("HTTP/1.1 100") => {
                HeldRequest { stream }
            }
            Ok((_, interim)) => server.fail(&format!(
                "The server did not ask for the body of POST /echo.\n  request:  POST /echo, head only, with `expect: 100-continue`\n  expected: HTTP/1.1 100 Continue\n  got:      {interim:?}"
            )),
            Err(error) => server.fail(&format!(
                "The server did not ask for the body of POST /echo.\n  request:  POST /echo, head only, with `expect: 100-continue`\n  expected: HTTP/1.1 100 Continue\n  got:      {error}"
            )),
        }
    }

    /// Sends the body and reads the whole response (the server closes the
    /// connection after it): its status line and its body.
    fn finish(mut self) -> Result<(String, String), String> {
        let mut response = Vec::new();
        let exchange = self
            .stream
            .write_all(HELD_BODY.as_bytes())
            .and_then(|()| self.stream.read_to_end(&mut response));
        let response = String::from_utf8_lossy(&response).into_owned();
        if response.is_empty() {
            return Err(match exchange {
                Ok(_) => "the connection was closed without a response".to_string(),
                Err(error) => format!("no response: {error}"),
            });
        }
        if let Err(error) = exchange {
            return Err(format!("no complete response ({error}), only {response:?}"));
        }
        let Some((head, body)) = response.split_once("\r\n\r\n") else {
            return Err(format!("no complete response, only {response:?}"));
        };
        let status_line = head.lines().next().unwrap_or_default().to_string();
        Ok((status_line, body.to_string()))
    }
}
// ANCHOR_END: held_request

/// Reads a response head, up to its blank line.
fn read_head(stream: &mut std::net::TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte)? == 1 {
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Connects to `addr` until the connection is refused, as it is once the
/// server has closed its listener after a shutdown signal.
async fn wait_until_connections_are_refused(server: &Server, addr: SocketAddr, signal: Signal) {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        match TcpStream::connect(addr).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return,
            // A reset: the connection was waiting in the listener's queue as
            // the listener closed. Try again.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(error) => server.fail(&format!(
                "Connecting to the server failed unexpectedly after {}: {error}",
                signal.name()
            )),
            // A reset instead of a polite close: the probe leaves no socket
            // waiting in TIME_WAIT behind.
            Ok(stream) => drop(stream.set_zero_linger()),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.fail(&format!(
        "The server still accepted new connections {PATIENCE:?} after {}.\n  expected: the listener closed, new connections refused\n  got:      connections still accepted\nDoes it listen for {}, and shut down when it comes?",
        signal.name(),
        signal.name()
    ));
}

#[tokio::test]
async fn it_announces_the_address_it_listens_on_and_answers_there() {
    let mut server = Server::start(&[ANY_FREE_PORT]);

    let addr = server.address().await;

    server.assert_greets(addr).await;
}

#[tokio::test]
async fn sigterm_right_after_the_announcement_stops_it_with_status_0() {
    let mut server = Server::start_and_signal_at_announcement(&[ANY_FREE_PORT], Signal::Term);

    server.address().await;

    server
        .expect_clean_exit(Signal::Term, "within 5s of SIGTERM")
        .await;
}

#[tokio::test]
async fn ctrl_c_stops_it_with_status_0() {
    let mut server = Server::start(&[ANY_FREE_PORT]);
    let addr = server.address().await;
    server.assert_greets(addr).await;

    server.send(Signal::Int);

    server
        .expect_clean_exit(Signal::Int, "within 5s of Ctrl+C")
        .await;
}

// ANCHOR: in_flight
#[tokio::test]
async fn a_request_in_flight_at_sigterm_is_answered_before_the_server_exits() {
    let mut server = Server::start(&[ANY_FREE_PORT]);
    let addr = server.address().await;
    let request = HeldRequest::start(&server, addr);

    server.send(Signal::Term);
    wait_until_connections_are_refused(&server, addr, Signal::Term).await;
    if let Ok(Some(status)) = server.child.try_wait() {
        server.fail(&format!(
            "The server exited while a request was still in flight.\n  request:  POST /echo, head sent, body held back\n  expected: no new connections, then the request answered, then exit status 0\n  got:      it {} before the test sent the body\nA graceful shutdown waits for every request in flight before the program ends.",
            describe_exit(status)
        ));
    }

    let answer = request.finish();
    let expected = ("HTTP/1.1 200 OK".to_string(), HELD_BODY.to_string());
    if answer.as_ref() != Ok(&expected) {
        let got = match &answer {
            Ok((status_line, body)) => format!("{status_line} with the body {body:?}"),
            Err(error) => error.clone(),
        };
        server.fail(&format!(
            "The request in flight at SIGTERM did not get its complete answer.\n  request:  POST /echo with the body {HELD_BODY:?} (its head before SIGTERM, its body after)\n  expected: 200 OK with the same body\n  got:      {got}\nA graceful shutdown answers every request in flight before the program ends."
        ));
    }
    server
        .expect_clean_exit(Signal::Term, "once the request in flight was answered")
        .await;
}
// ANCHOR_END: in_flight

// ANCHOR: bad_setting
#[tokio::test]
async fn a_bad_setting_stops_it_with_status_1_and_a_message_naming_the_variable() {
    let mut server = Server::start(&[ANY_FREE_PORT, ("APP_LOG_LEVEL", "verbose")]);

    server
        .expect_startup_error(
            r#"APP_LOG_LEVEL="verbose" is not valid: expected one of error, warn, info, debug, trace"#,
            "APP_LOG_LEVEL=verbose is not a log level",
        )
        .await;

    let mut server = Server::start(&[("APP_BIND_ADDR", "localhost:8080")]);

    server
        .expect_startup_error(
            r#"APP_BIND_ADDR="localhost:8080" is not valid: expected an IP address and port, like 127.0.0.1:3000"#,
            "APP_BIND_ADDR=localhost:8080 names a host, not an IP address",
        )
        .await;
}
// ANCHOR_END: bad_setting

#[tokio::test]
async fn an_address_in_use_stops_it_with_status_1_and_a_message_naming_the_address() {
    // The test holds this port for as long as the program runs.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("the test could not bind a port on 127.0.0.1");
    let addr = taken
        .local_addr()
        .expect("a bound listener has an address")
        .to_string();
    // At level error, the only output is the error itself: a log line that
    // happens to mention the address does not count.
    let mut server = Server::start(&[("APP_BIND_ADDR", &addr), ("APP_LOG_LEVEL", "error")]);

    server
        .expect_startup_error(
            &addr,
            &format!("APP_BIND_ADDR={addr} is already taken by another listener"),
        )
        .await;
    drop(taken);
}

#[tokio::test]
async fn at_log_level_debug_every_request_is_logged() {
    let mut server = Server::start(&[ANY_FREE_PORT, ("APP_LOG_LEVEL", "debug")]);
    let addr = server.address().await;

    server.assert_greets(addr).await;

    if !server.wait_for_output(REQUEST_LOGGED).await {
        server.fail(&format!(
            "The request was not logged at APP_LOG_LEVEL=debug.\n  request:  GET http://{addr}/\n  expected: the app's debug event {REQUEST_LOGGED:?} in the output (standard output or standard error)\n  got:      no such line within {PATIENCE:?}\nAre log events printed, up to the level APP_LOG_LEVEL gives?"
        ));
    }
}

#[tokio::test]
async fn at_log_level_warn_requests_are_not_logged_but_the_address_is_announced() {
    let mut server = Server::start(&[ANY_FREE_PORT, ("APP_LOG_LEVEL", "warn")]);
    let addr = server.address().await;
    server.assert_greets(addr).await;

    // The event is written before the response is sent: all of it is in
    // the output once the program is gone.
    server.kill().await;

    if server.output.borrow().contains(REQUEST_LOGGED) {
        server.fail(&format!(
            "The request was logged although APP_LOG_LEVEL=warn.\n  request:  GET http://{addr}/\n  expected: no debug event, such as {REQUEST_LOGGED:?}, at level warn\n  got:      the output below\nAre log events printed only up to the level APP_LOG_LEVEL gives?"
        ));
    }
}
