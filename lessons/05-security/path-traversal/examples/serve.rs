//! Serves this exercise's `app()` on <http://localhost:3000>, on a new
//! download folder with the tests' files, so you can call it by hand with
//! `curl` (the book's "Try it" shows how):
//!
//! ```console
//! cargo run -q -p security-path-traversal --example serve
//! ```
//!
//! The folder is `security-path-traversal/public` in the system's temporary
//! folder, made anew at every start, with `logo.png`, `manuals/kettle.txt`
//! and `manuals/Küchenwaage – Anleitung.txt` in it, and a symbolic link
//! `escape.txt` to `../secret.txt`, the file beside the folder that no
//! download may reach. It serves your code as it was when it started: after
//! a change, stop it with Ctrl+C and run it again.

use std::path::Path;

use axum::Router;
use tokio::net::TcpListener;

/// Where the app listens.
const ADDRESS: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let folder = std::env::temp_dir();
    let listener = TcpListener::bind(ADDRESS).await?;
    println!("{}", banner());
    axum::serve(listener, app(&folder)).await
}

/// The app the tests check, on a new download folder in `folder`.
pub fn app(folder: &Path) -> Router {
    let base = folder.join("security-path-traversal");
    // A folder left from an earlier run goes first: it is made anew.
    if base.exists() {
        std::fs::remove_dir_all(&base).expect("the old download folder can be removed");
    }
    let files: [(&str, &[u8]); 5] = [
        (
            "secret.txt",
            b"TOP SECRET: the database password is correct-horse-battery-staple\n",
        ),
        ("public/logo.png", b"\x89PNG\r\n\x1a\n"),
        (
            "public/manuals/kettle.txt",
            b"Kettle K-100\nFill to the MAX line. Never boil it dry.\n",
        ),
        (
            "public/manuals/K\u{fc}chenwaage \u{2013} Anleitung.txt",
            "Küchenwaage: auf eine ebene Fläche stellen, dann einschalten.\n".as_bytes(),
        ),
        (
            "public/release..notes.txt",
            b"Release notes: the kettle now whistles.\n",
        ),
    ];
    for (path, contents) in files {
        let path = base.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the download folder can be made");
        }
        std::fs::write(path, contents).expect("a file can be written there");
    }
    symlink(
        &base.join("secret.txt"),
        &base.join("public").join("escape.txt"),
    );
    security_path_traversal::app(&base.join("public")).expect("the new download folder is served")
}

/// A symbolic link at `link` to the file `target`.
fn symlink(target: &Path, link: &Path) {
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, link);
    #[cfg(windows)]
    let made = std::os::windows::fs::symlink_file(target, link);
    // Windows lets only some users make links: the example runs without it.
    if let Err(error) = made {
        eprintln!("no symbolic link escape.txt ({error})");
    }
}

/// What the example prints once it listens.
pub fn banner() -> String {
    format!(
        "security/path-traversal, a new download folder with logo.png, \
         manuals/kettle.txt and a link escape.txt to the secret beside it: \
         listening on http://{ADDRESS} (Ctrl+C stops it)"
    )
}
