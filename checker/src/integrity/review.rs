//! Code worth a human look: what an exercise's edited files say that its
//! starter did not, and that tampering needs (leaving the process, writing
//! past libtest's capture, finding the build, reaching into the tests or the
//! solutions, starting programs, dating files back). A learner may have a
//! good reason; an instructor decides. Nothing here changes a score.

use std::fs;
use std::path::Path;

pub use crate::outcome::Flag;

/// One pattern: what it looks like in source, and why it is worth a look.
struct Pattern {
    needle: &'static str,
    why: &'static str,
}

/// The one list of what `grade` and `check` flag.
const PATTERNS: &[Pattern] = &[
    Pattern {
        needle: "process::exit",
        why: "ends the test process, which can cut libtest's report short",
    },
    Pattern {
        needle: "stdout()",
        why: "writes past libtest's output capture, where a forged report would go",
    },
    Pattern {
        needle: "current_exe",
        why: "finds the test binary, and through it the build folder",
    },
    Pattern {
        needle: "/proc",
        why: "reads or changes other processes",
    },
    Pattern {
        needle: "target/",
        why: "names the build folder, where test binaries live",
    },
    Pattern {
        needle: "include_str!",
        why: "pulls another file into the code (the tests or a solution?)",
    },
    Pattern {
        needle: "include_bytes!",
        why: "pulls another file into the code (the tests or a solution?)",
    },
    Pattern {
        needle: "include!",
        why: "pulls another file into the code (the tests or a solution?)",
    },
    Pattern {
        needle: "#[path",
        why: "compiles a module from another file (the tests or a solution?)",
    },
    Pattern {
        needle: "solutions/",
        why: "names the reference solutions",
    },
    Pattern {
        needle: "Command",
        why: "starts another program",
    },
    Pattern {
        needle: "set_modified",
        why: "dates a file back, which fools cargo's idea of what is up to date",
    },
    Pattern {
        needle: "set_times",
        why: "dates a file back, which fools cargo's idea of what is up to date",
    },
];

/// The flags for one edited file: lines holding a pattern more often than
/// the starter does (a starter's own comment mentioning one is no flag).
pub fn scan(file: &Path, text: &str, starter: &str) -> Vec<Flag> {
    let mut flags = Vec::new();
    for pattern in PATTERNS {
        let allowed = starter.matches(pattern.needle).count();
        let mut seen = 0;
        for (number, line) in text.lines().enumerate() {
            seen += line.matches(pattern.needle).count();
            if seen > allowed && line.contains(pattern.needle) {
                flags.push(Flag {
                    file: file.to_string_lossy().replace('\\', "/"),
                    line: number + 1,
                    pattern: pattern.needle,
                    why: pattern.why,
                });
                break;
            }
        }
    }
    flags.sort_by_key(|flag| flag.line);
    flags
}

/// The flags of every edited file of an exercise, against the starters in
/// `starters` (the text of each file as given; missing: empty). Only Rust
/// sources are scanned: the patterns are Rust's, and an edited file of
/// another kind (a `Dockerfile`, a `.dockerignore`) is data the tests read,
/// where `target/` or `Command` is ordinary text, not tampering.
pub fn scan_files(root: &Path, files: &[(std::path::PathBuf, String)]) -> Vec<Flag> {
    files
        .iter()
        .filter(|(file, _)| file.extension().is_some_and(|ext| ext == "rs"))
        .flat_map(|(file, starter)| {
            let text = fs::read_to_string(root.join(file)).unwrap_or_default();
            scan(file, &text, starter)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(code: &str) -> Vec<&'static str> {
        scan(Path::new("src/lib.rs"), code, "")
            .into_iter()
            .map(|flag| flag.pattern)
            .collect()
    }

    #[test]
    fn every_pattern_is_flagged_with_its_line() {
        let cases = [
            ("std::process::exit(0);", "process::exit"),
            ("let out = std::io::stdout();", "stdout()"),
            ("let me = std::env::current_exe();", "current_exe"),
            ("fs::read(\"/proc/self/maps\")", "/proc"),
            ("let dir = \"../../target/debug\";", "target/"),
            (
                "const T: &str = include_str!(\"../tests/t.rs\");",
                "include_str!",
            ),
            ("const T: &[u8] = include_bytes!(\"x\");", "include_bytes!"),
            ("include!(\"../../solutions/x.rs\");", "include!"),
            ("#[path = \"../tests/t.rs\"] mod t;", "#[path"),
            ("// see solutions/01-server", "solutions/"),
            ("std::process::Command::new(\"sh\")", "Command"),
            ("file.set_modified(old)?;", "set_modified"),
            ("file.set_times(times)?;", "set_times"),
        ];
        for (code, pattern) in cases {
            let text = format!("fn a() {{}}\n{code}\n");
            let flags = scan(Path::new("lessons/x/src/lib.rs"), &text, "");
            let flag = flags
                .iter()
                .find(|flag| flag.pattern == pattern)
                .unwrap_or_else(|| panic!("`{code}` is not flagged as `{pattern}`: {flags:?}"));
            assert_eq!(flag.line, 2, "{code}");
            assert_eq!(flag.file, "lessons/x/src/lib.rs");
        }
        assert_eq!(cases.len(), PATTERNS.len(), "a case for every pattern");
    }

    #[test]
    fn ordinary_code_is_not_flagged() {
        assert!(
            flagged("pub fn app() -> Router {\n    Router::new().route(\"/\", get(hello))\n}\n")
                .is_empty()
        );
        assert!(flagged("println!(\"{}\", 1);\nlet x = vec![1];\n").is_empty());
    }

    #[test]
    fn only_rust_sources_are_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let dockerfile = "COPY --from=builder /app/target/release/shop /usr/local/bin/\n";
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        std::fs::write(dir.path().join("lib.rs"), "// target/\n").unwrap();
        let flags = scan_files(
            dir.path(),
            &[
                (std::path::PathBuf::from("Dockerfile"), String::new()),
                (std::path::PathBuf::from("lib.rs"), String::new()),
            ],
        );
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].file, "lib.rs");
    }

    #[test]
    fn what_the_starter_already_says_is_not_flagged() {
        let starter = "// TODO: never call process::exit here\n";
        let learner = "// TODO: never call process::exit here\nfn a() {}\n";
        assert!(scan(Path::new("a.rs"), learner, starter).is_empty());
        let more = "// TODO: never call process::exit here\nfn a() { std::process::exit(1) }\n";
        let flags = scan(Path::new("a.rs"), more, starter);
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].line, 2);
    }
}
