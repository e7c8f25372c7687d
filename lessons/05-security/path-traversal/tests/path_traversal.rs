//! Tests for security/path-traversal: the shop's download folder, served on
//! 127.0.0.1, asked for files inside it and, with real payloads, for files
//! outside it.
//!
//! Every test builds this on disk, in a temporary folder of its own:
//!
//! ```text
//! secret.txt                  the secret (outside the download folder)
//! private/keys.txt            the secret, in a folder beside it
//! public-archive/secret.txt   the secret, in a folder whose name starts
//!                             with the download folder's name
//! public/                     the download folder
//!   logo.png                  binary
//!   images/kettle.JPG, kettle-side.jpeg, all.zip
//!   release..notes.txt        dots inside a name are not `..`
//!   manuals/kettle.txt, kettle.pdf
//!   manuals/Küchenwaage – Anleitung.txt   spaces and non-ASCII
//!   manuals/v2..3 changes.txt
//!   escape.txt  -> ../secret.txt          symbolic links that lead out
//!   private     -> ../private
//!   archive     -> ../public-archive
//! current -> public           the download folder, through a link
//! ```
//!
//! The attacks are sent as raw HTTP over a `TcpStream`, byte for byte: an
//! HTTP client (reqwest, a browser, curl without `--path-as-is`) removes
//! `..` and `%2e%2e` segments from a URL before it sends it, and an attacker
//! does not. Each test pairs legitimate downloads with attacks, so that an
//! app that lets everything through passes none of them. A refusal is
//! `400 Bad Request` for a path no file inside the folder can have (`..`,
//! absolute, backslash, NUL) and `404 Not Found` for one that leads out
//! through a symbolic link or to no file; never the secret, never a `500`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use security_path_traversal::app;
use testkit::tempfile::TempDir;
use testkit::{TestServer, quote, status_text};

/// What every secret file holds: a download that contains it has left the
/// folder.
const SECRET: &str = "TOP SECRET: the database password is correct-horse-battery-staple";

/// The bytes of `logo.png`: a PNG signature and a few bytes that are not
/// text.
const LOGO: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe";

/// The bytes of the other downloads whose content type the tests check.
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00";
const ARCHIVE: &[u8] = b"PK\x03\x04\x14\x00";

const KETTLE: &str = "Kettle K-100\nFill to the MAX line. Never boil it dry.\n";
const SCALE: &str = "Küchenwaage: auf eine ebene Fläche stellen, dann einschalten.\n";
const NOTES: &str = "Release notes: the kettle now whistles.\n";
const CHANGES: &str = "From v2 to v3: a longer cable.\n";

/// The download folder with the secrets around it, as the module doc draws
/// it, and the app serving it.
struct World {
    folder: TempDir,
    server: TestServer,
}

impl World {
    /// The app serving `public/` directly.
    async fn new() -> World {
        World::serving("public").await
    }

    /// The app serving `root` (`public`, or `current`, a link to it).
    async fn serving(root: &str) -> World {
        let folder = testkit::tempfile::tempdir().expect("the test could not create a temp folder");
        build(folder.path());
        let root = folder.path().join(root);
        let app = match app(&root) {
            Ok(app) => app,
            Err(error) => panic!(
                "\nexpected `app` to accept the download folder, got the error: {error}\n  \
                 folder: {}\n  The folder exists and its files are readable.\n",
                root.display()
            ),
        };
        let server = TestServer::spawn(app).await;
        World { folder, server }
    }

    /// The secret's absolute path, as text.
    fn secret_path(&self) -> String {
        self.folder.path().join("secret.txt").display().to_string()
    }

    /// Fails unless `GET target` (sent through an HTTP client) is `200 OK`
    /// with `body` and the media type `content_type`.
    async fn assert_download(&self, target: &str, body: &[u8], content_type: &str) {
        let reply = self.server.get(target).send().await;
        if reply.status() != 200 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 200 OK for the file `{}`, got {}",
                    decoded(target),
                    status_text(reply.status())
                ),
                "  This file is inside the download folder: refusing it breaks the shop's \
                 downloads. Refuse `..` *segments* (a whole segment that is exactly `..`), \
                 not every name with two dots in it, and compare real locations as paths \
                 (the folder's real location too), not as strings.",
            );
        }
        let expected = String::from_utf8_lossy(body);
        if reply.text() != expected {
            reply.fail(&format!(
                "the file `{}` came back with other contents\n  expected: {}",
                decoded(target),
                quote(&expected)
            ));
        }
        reply.assert_content_type(content_type);
    }

    /// Fails unless `GET target` is `404 Not Found`: a file the folder does
    /// not have, asked for the ordinary way.
    async fn assert_missing(&self, target: &str, what: &str) {
        let reply = self.server.get(target).send().await;
        if reply.status() != 404 {
            reply.fail_with_diagnosis(
                &format!(
                    "expected 404 Not Found for {what}, got {}",
                    status_text(reply.status())
                ),
                "  A path that names no regular file inside the folder is `not_found()`.",
            );
        }
    }

    /// Sends `GET target` byte for byte and fails unless the answer is
    /// `expected` and holds nothing of the secret.
    async fn assert_refused(&self, attack: &Attack) {
        let target = attack.target.replace("{secret}", &self.secret_path());
        let reply = raw_get(self.server.addr(), &target).await;
        if reply.body.contains(SECRET) {
            reply.fail(
                &format!(
                    "{} read a file outside the download folder: the answer holds the secret",
                    attack.name
                ),
                attack.expected,
                attack.diagnosis,
            );
        }
        if reply.status != attack.expected {
            reply.fail(
                &format!(
                    "expected {} for {}, got {}",
                    status_text(attack.expected),
                    attack.name,
                    status_text(reply.status)
                ),
                attack.expected,
                attack.diagnosis,
            );
        }
    }
}

/// One attack: what it is called in a failure message, the request target
/// (`{secret}` stands for the secret file's absolute path), the status it
/// must get, and what usually lets it through.
struct Attack {
    name: &'static str,
    target: &'static str,
    expected: u16,
    diagnosis: &'static str,
}

const DOT_DOT: &str = "A `..` segment climbs out of the folder: `root.join(\"../secret.txt\")` \
    is `root/../secret.txt`, the file beside the folder. Look at the path's segments (its \
    components) and refuse any that is not a plain name, with `bad_request()`.";

const ENCODED: &str = "axum percent-decodes the path before your handler sees it: `%2f` is \
    `/` and `%2e` is `.` by then, so `..%2fsecret.txt` arrives as `../secret.txt`. Check the \
    decoded path's segments, not the raw URL's text (and do not decode it a second time).";

const NAIVE_FILTER: &str = "Removing `../` from the text does not remove it: `....//` loses \
    one `../` and becomes `../`. Do not repair a bad path; refuse it, by looking at its \
    segments: a segment that is exactly `..` is refused, a name that merely contains dots \
    (`....`, `release..notes.txt`) is a name.";

const ABSOLUTE: &str = "`Path::join` with an absolute path *replaces* the base: \
    `root.join(\"/etc/passwd\")` is `/etc/passwd`. A path whose first segment is the root \
    (after axum's decoding, `//etc/passwd` and `/%2Fetc%2Fpasswd` both arrive as \
    `/etc/passwd`) is refused with `bad_request()`.";

const NUL: &str = "A NUL byte (`%00`) ends a string in C: `secret.txt%00.png` once fooled \
    checks of the extension. Rust's file functions refuse it with an error, which the given \
    `serve_file` answers as a 500. Refuse the NUL byte first, with `bad_request()`.";

const BACKSLASH: &str = "On Windows a backslash separates folders, so `..\\secret.txt` is \
    `../secret.txt` there; on Unix it is a legal character in a name that no download has. \
    Refuse it with `bad_request()`, so the same code is safe on both.";

const DOUBLE: &str = "A path decoded once more than it was encoded turns `%252e%252e%252f` into \
    `../`. axum decodes the path once; the result is a name like any other, which this folder \
    does not have: `not_found()`.";

const SYMLINK: &str = "The path is a plain name inside the folder, but a symbolic link there \
    points outside it, and opening the path follows the link. Resolve the path to its real \
    location (every link followed) and serve it only if that is inside the folder's real \
    location; otherwise `not_found()`. Compare as paths (segment by segment), not as \
    strings: `/srv/public-archive` starts with the text `/srv/public`.";

/// `GET target` sent byte for byte on a new connection: the request line
/// exactly as given, so `..` and `%2e%2e` reach the server as an attacker
/// sends them.
async fn raw_get(address: SocketAddr, target: &str) -> RawReply {
    let request = format!("GET {target} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\n\r\n");
    let shown = format!("GET {target} HTTP/1.1 (sent byte for byte)");
    // A blocking socket, on a thread of its own: the server runs on this
    // test's runtime.
    let received = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(request.as_bytes())?;
        let mut received = Vec::new();
        stream.read_to_end(&mut received)?;
        Ok(received)
    })
    .await
    .expect("the test's request thread does not panic");
    let received = match received {
        Ok(received) => received,
        Err(error) => panic!(
            "\nThe request got no complete response ({error}).\n  request:  {shown}\n  Does \
             the handler ever return?\n"
        ),
    };
    RawReply::parse(shown, &received)
}

/// A response read off the wire.
struct RawReply {
    request: String,
    status: u16,
    head: String,
    body: String,
}

impl RawReply {
    fn parse(request: String, received: &[u8]) -> RawReply {
        let text = String::from_utf8_lossy(received).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "\nThe answer is not HTTP.\n  request:  {request}\n  received: {}\n",
                    quote(&text)
                )
            });
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let body = if chunked {
            unchunk(body)
        } else {
            body.to_string()
        };
        // `date` changes with every run and never matters here.
        let head: Vec<&str> = head
            .split("\r\n")
            .filter(|line| !line.to_ascii_lowercase().starts_with("date:"))
            .collect();
        RawReply {
            head: head.join("\n            "),
            request,
            status,
            body,
        }
    }

    #[track_caller]
    fn fail(&self, verdict: &str, expected: u16, diagnosis: &str) -> ! {
        panic!(
            "\n{verdict}\n  request:  {}\n  expected: {}, and nothing of the secret\n  \
             response: {}\n            {}\n\n  {diagnosis}\n",
            self.request,
            status_text(expected),
            self.head,
            quote(&self.body),
        )
    }
}

/// The body of a `transfer-encoding: chunked` response.
fn unchunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// A target as a person reads it: `%20` as a space, and so on (for
/// messages only).
fn decoded(target: &str) -> String {
    let bytes = target.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes the folders and files the module doc draws, in `base`.
fn build(base: &Path) {
    let write = |path: &str, contents: &[u8]| {
        let path = base.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the test could not create a folder");
        }
        std::fs::write(&path, contents).expect("the test could not write a file");
    };
    write("secret.txt", SECRET.as_bytes());
    write("private/keys.txt", SECRET.as_bytes());
    write("public-archive/secret.txt", SECRET.as_bytes());
    write("public/logo.png", LOGO);
    write("public/release..notes.txt", NOTES.as_bytes());
    write("public/manuals/kettle.txt", KETTLE.as_bytes());
    write("public/manuals/kettle.pdf", PDF);
    write("public/images/kettle.JPG", JPEG);
    write("public/images/kettle-side.jpeg", JPEG);
    write("public/images/all.zip", ARCHIVE);
    write(
        "public/manuals/Küchenwaage – Anleitung.txt",
        SCALE.as_bytes(),
    );
    write("public/manuals/v2..3 changes.txt", CHANGES.as_bytes());
    // Absolute and relative link targets, to a file and to folders.
    symlink(&base.join("secret.txt"), &base.join("public/escape.txt"));
    symlink(Path::new("../private"), &base.join("public/private"));
    symlink(Path::new("../public-archive"), &base.join("public/archive"));
    symlink(Path::new("public"), &base.join("current"));
}

/// A symbolic link at `link` to `target` (relative to the link's folder).
fn symlink(target: &Path, link: &Path) {
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, link);
    #[cfg(windows)]
    let made = {
        let resolved: std::path::PathBuf =
            link.parent().map(|p| p.join(target)).unwrap_or_default();
        if resolved.is_dir() {
            std::os::windows::fs::symlink_dir(target, link)
        } else {
            std::os::windows::fs::symlink_file(target, link)
        }
    };
    made.expect("the test could not make a symbolic link");
}

#[tokio::test]
async fn files_in_the_folder_are_served_and_dot_dot_is_refused() {
    let world = World::new().await;
    world
        .assert_download("/files/logo.png", LOGO, "image/png")
        .await;
    world
        .assert_download("/files/manuals/kettle.txt", KETTLE.as_bytes(), "text/plain")
        .await;
    world
        .assert_download("/files/manuals/kettle.pdf", PDF, "application/pdf")
        .await;
    world
        .assert_download("/files/images/kettle.JPG", JPEG, "image/jpeg")
        .await;
    world
        .assert_download("/files/images/kettle-side.jpeg", JPEG, "image/jpeg")
        .await;
    world
        .assert_download("/files/images/all.zip", ARCHIVE, "application/octet-stream")
        .await;
    world
        .assert_missing(
            "/files/manuals/toaster.txt",
            "a file the folder does not have",
        )
        .await;
    world
        .assert_missing("/files/manuals", "a folder, which is no file to download")
        .await;
    world
        .assert_missing(
            "/files/logo.png/inside.txt",
            "a path that goes on through a file, as if it were a folder",
        )
        .await;
    for attack in [
        Attack {
            name: "the traversal `../secret.txt`",
            target: "/files/../secret.txt",
            expected: 400,
            diagnosis: DOT_DOT,
        },
        Attack {
            name: "the traversal `manuals/../../secret.txt`",
            target: "/files/manuals/../../secret.txt",
            expected: 400,
            diagnosis: DOT_DOT,
        },
        Attack {
            name: "the traversal `../../../../../../etc/passwd`",
            target: "/files/../../../../../../etc/passwd",
            expected: 400,
            diagnosis: DOT_DOT,
        },
        Attack {
            name: "`manuals/../logo.png` (a `..` segment, even one that comes back inside)",
            target: "/files/manuals/../logo.png",
            expected: 400,
            diagnosis: "A path with a `..` segment is refused with `bad_request()`, \
                wherever it leads: no link on the shop's pages has one, so only an attacker \
                sends it, and refusing it outright leaves nothing to get wrong.",
        },
    ] {
        world.assert_refused(&attack).await;
    }
}

#[tokio::test]
async fn percent_encoded_traversal_is_refused() {
    let world = World::new().await;
    world
        .assert_download(
            "/files/manuals/K%C3%BCchenwaage%20%E2%80%93%20Anleitung.txt",
            SCALE.as_bytes(),
            "text/plain",
        )
        .await;
    for attack in [
        Attack {
            name: "the encoded slash `..%2fsecret.txt`",
            target: "/files/..%2fsecret.txt",
            expected: 400,
            diagnosis: ENCODED,
        },
        Attack {
            name: "the encoded dots `%2e%2e/secret.txt`",
            target: "/files/%2e%2e/secret.txt",
            expected: 400,
            diagnosis: ENCODED,
        },
        Attack {
            name: "the encoded traversal `%2e%2e%2fsecret.txt`",
            target: "/files/%2e%2e%2fsecret.txt",
            expected: 400,
            diagnosis: ENCODED,
        },
        Attack {
            name: "the upper-case encoded traversal `%2E%2E%2F%2E%2E%2Fsecret.txt`",
            target: "/files/manuals/%2E%2E%2F%2E%2E%2Fsecret.txt",
            expected: 400,
            diagnosis: ENCODED,
        },
        Attack {
            name: "the half-encoded `.%2e/secret.txt`",
            target: "/files/.%2e/secret.txt",
            expected: 400,
            diagnosis: ENCODED,
        },
        Attack {
            name: "the overlong UTF-8 slash `..%c0%afsecret.txt`",
            target: "/files/..%c0%afsecret.txt",
            expected: 400,
            diagnosis: "`%c0%af` is an overlong (invalid) UTF-8 spelling of `/` that old \
                decoders accepted; it is no text at all, and axum refuses it with 400 before \
                your handler runs. Keep taking the path as a `String`.",
        },
        Attack {
            name: "the double-encoded `%252e%252e%252fsecret.txt`",
            target: "/files/%252e%252e%252fsecret.txt",
            expected: 404,
            diagnosis: DOUBLE,
        },
    ] {
        world.assert_refused(&attack).await;
    }
}

#[tokio::test]
async fn names_with_dots_are_served_and_filter_evasions_are_refused() {
    let world = World::new().await;
    world
        .assert_download("/files/release..notes.txt", NOTES.as_bytes(), "text/plain")
        .await;
    world
        .assert_download(
            "/files/manuals/v2..3%20changes.txt",
            CHANGES.as_bytes(),
            "text/plain",
        )
        .await;
    for attack in [
        Attack {
            name: "the filter evasion `....//secret.txt`",
            target: "/files/....//secret.txt",
            expected: 404,
            diagnosis: NAIVE_FILTER,
        },
        Attack {
            name: "the filter evasion `manuals/....//....//secret.txt`",
            target: "/files/manuals/....//....//secret.txt",
            expected: 404,
            diagnosis: NAIVE_FILTER,
        },
        Attack {
            name: "the filter evasion `..././secret.txt`",
            target: "/files/..././secret.txt",
            expected: 404,
            diagnosis: NAIVE_FILTER,
        },
        Attack {
            name: "the encoded traversal `manuals/..%2f..%2fsecret.txt`",
            target: "/files/manuals/..%2f..%2fsecret.txt",
            expected: 400,
            diagnosis: NAIVE_FILTER,
        },
        Attack {
            name: "the backslash traversal `..\\secret.txt`",
            target: "/files/..\\secret.txt",
            expected: 400,
            diagnosis: BACKSLASH,
        },
        Attack {
            name: "the encoded backslash traversal `..%5c..%5csecret.txt`",
            target: "/files/manuals/..%5c..%5csecret.txt",
            expected: 400,
            diagnosis: BACKSLASH,
        },
        Attack {
            name: "the full-width dots and slash `．．／secret.txt`",
            target: "/files/%EF%BC%8E%EF%BC%8E%EF%BC%8Fsecret.txt",
            expected: 404,
            diagnosis: "U+FF0E and U+FF0F look like `.` and `/`, and some systems fold \
                them into ASCII; on Unix they are ordinary characters of a name that this \
                folder does not have: `not_found()`.",
        },
    ] {
        world.assert_refused(&attack).await;
    }
}

#[tokio::test]
async fn absolute_paths_are_refused() {
    let world = World::new().await;
    world
        .assert_download("/files/logo.png", LOGO, "image/png")
        .await;
    for attack in [
        Attack {
            name: "the absolute path of the secret file (`/files//tmp/.../secret.txt`)",
            target: "/files/{secret}",
            expected: 400,
            diagnosis: ABSOLUTE,
        },
        Attack {
            name: "the absolute path `//etc/passwd`",
            target: "/files//etc/passwd",
            expected: 400,
            diagnosis: ABSOLUTE,
        },
        Attack {
            name: "the absolute path `///etc/passwd`",
            target: "/files///etc/passwd",
            expected: 400,
            diagnosis: ABSOLUTE,
        },
        Attack {
            name: "the encoded absolute path `%2Fetc%2Fpasswd`",
            target: "/files/%2Fetc%2Fpasswd",
            expected: 400,
            diagnosis: ABSOLUTE,
        },
    ] {
        world.assert_refused(&attack).await;
    }
    // `/etc/passwd` is not the secret: make sure it did not come back either.
    let reply = raw_get(world.server.addr(), "/files//etc/passwd").await;
    if reply.body.contains("root:") {
        reply.fail(
            "the absolute path `//etc/passwd` read the system's /etc/passwd",
            400,
            ABSOLUTE,
        );
    }
}

#[tokio::test]
async fn a_nul_byte_is_a_bad_request_not_a_server_error() {
    let world = World::new().await;
    world
        .assert_download("/files/manuals/kettle.txt", KETTLE.as_bytes(), "text/plain")
        .await;
    for attack in [
        Attack {
            name: "the NUL byte in `logo.png%00.txt`",
            target: "/files/logo.png%00.txt",
            expected: 400,
            diagnosis: NUL,
        },
        Attack {
            name: "the NUL byte in `manuals/kettle.txt%00`",
            target: "/files/manuals/kettle.txt%00",
            expected: 400,
            diagnosis: NUL,
        },
        Attack {
            name: "the traversal with a NUL byte `..%2fsecret.txt%00.png`",
            target: "/files/..%2fsecret.txt%00.png",
            expected: 400,
            diagnosis: NUL,
        },
    ] {
        world.assert_refused(&attack).await;
    }
}

// ANCHOR: symlinks
#[tokio::test]
async fn a_symbolic_link_out_of_the_folder_is_not_followed() {
    let world = World::new().await;
    world
        .assert_download("/files/manuals/kettle.txt", KETTLE.as_bytes(), "text/plain")
        .await;
    for attack in [
        Attack {
            name: "the symbolic link `escape.txt` (to the secret's absolute path)",
            target: "/files/escape.txt",
            expected: 404,
            diagnosis: SYMLINK,
        },
        Attack {
            name: "the symbolic link `private` (to the folder `../private`)",
            target: "/files/private/keys.txt",
            expected: 404,
            diagnosis: SYMLINK,
        },
        Attack {
            name: "the symbolic link `archive` (to `../public-archive`, whose name starts \
                with the folder's)",
            target: "/files/archive/secret.txt",
            expected: 404,
            diagnosis: SYMLINK,
        },
    ] {
        world.assert_refused(&attack).await;
    }
}
// ANCHOR_END: symlinks

#[tokio::test]
async fn a_folder_reached_through_a_symbolic_link_serves_its_files() {
    // The app is given `current`, a link to `public`, as a deployment's
    // `current` link (or macOS's `/tmp`, a link to `/private/tmp`) is.
    let world = World::serving("current").await;
    world
        .assert_download("/files/logo.png", LOGO, "image/png")
        .await;
    world
        .assert_download(
            "/files/manuals/K%C3%BCchenwaage%20%E2%80%93%20Anleitung.txt",
            SCALE.as_bytes(),
            "text/plain",
        )
        .await;
    for attack in [
        Attack {
            name: "the traversal `../secret.txt` (from a folder given through a link)",
            target: "/files/../secret.txt",
            expected: 400,
            diagnosis: DOT_DOT,
        },
        Attack {
            name: "the symbolic link `escape.txt` (from a folder given through a link)",
            target: "/files/escape.txt",
            expected: 404,
            diagnosis: SYMLINK,
        },
        Attack {
            name: "the symbolic link `private` (from a folder given through a link)",
            target: "/files/private/keys.txt",
            expected: 404,
            diagnosis: SYMLINK,
        },
    ] {
        world.assert_refused(&attack).await;
    }
}
