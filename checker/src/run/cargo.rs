//! Reads cargo's `--message-format json` stream: which test executables were
//! built, and which compiler errors belong to which package.

use std::path::PathBuf;

use serde::Deserialize;

use super::process::LineSink;

/// A test executable cargo built, with the source file of its target.
#[derive(Debug, Clone)]
pub struct TestExecutable {
    pub src_path: PathBuf,
    pub executable: PathBuf,
    /// cargo found it up to date (by modification times) and built nothing.
    pub fresh: bool,
}

/// A compiler error, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub package_dir: PathBuf,
    /// Relative to the workspace root, as rustc reports it.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// `error[E0308]: mismatched types`
    pub headline: String,
    /// rustc's full explanation, as it would print it.
    pub rendered: String,
}

#[derive(Debug, Default)]
pub struct BuildMessages {
    pub executables: Vec<TestExecutable>,
    pub errors: Vec<CompileError>,
    pub success: Option<bool>,
    /// Crates compiled or found fresh so far, for progress displays.
    pub artifacts: usize,
}

#[derive(Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
#[allow(clippy::enum_variant_names)] // the names are cargo's `reason` values
enum Message {
    CompilerArtifact {
        target: Target,
        profile: Profile,
        executable: Option<PathBuf>,
        #[serde(default)]
        fresh: bool,
    },
    CompilerMessage {
        manifest_path: PathBuf,
        message: Diagnostic,
    },
    BuildFinished {
        success: bool,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
    src_path: PathBuf,
}

#[derive(Deserialize)]
struct Profile {
    test: bool,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    message: String,
    code: Option<Code>,
    rendered: Option<String>,
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Code {
    code: String,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    line_start: usize,
    column_start: usize,
    is_primary: bool,
}

impl LineSink for BuildMessages {
    fn line(&mut self, line: &str) {
        if !line.starts_with('{') {
            return;
        }
        let Ok(message) = serde_json::from_str::<Message>(line) else {
            return;
        };
        match message {
            Message::CompilerArtifact {
                target,
                profile,
                executable,
                fresh,
            } => {
                self.artifacts += 1;
                if let (true, Some(executable)) = (
                    profile.test && target.kind.iter().any(|k| k == "test"),
                    executable,
                ) {
                    self.executables.push(TestExecutable {
                        src_path: target.src_path,
                        executable,
                        fresh,
                    });
                }
            }
            Message::CompilerMessage {
                manifest_path,
                message,
            } if message.level == "error" => {
                // "aborting due to ..." and friends carry no location: they
                // only repeat that errors happened.
                let Some(span) = message.spans.iter().find(|span| span.is_primary) else {
                    return;
                };
                let headline = match &message.code {
                    Some(code) => format!("error[{}]: {}", code.code, message.message),
                    None => format!("error: {}", message.message),
                };
                self.errors.push(CompileError {
                    package_dir: parent(manifest_path),
                    file: span.file_name.clone(),
                    line: span.line_start,
                    column: span.column_start,
                    rendered: message.rendered.clone().unwrap_or_else(|| headline.clone()),
                    headline,
                });
            }
            Message::BuildFinished { success } => self.success = Some(success),
            _ => {}
        }
    }
}

fn parent(manifest_path: PathBuf) -> PathBuf {
    manifest_path
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_executables_and_errors_are_attributed_to_their_package() {
        let mut messages = BuildMessages::default();
        messages.line(r#"{"reason":"compiler-artifact","package_id":"x","manifest_path":"/w/lessons/a/Cargo.toml","target":{"kind":["lib"],"crate_types":["lib"],"name":"a","src_path":"/w/lessons/a/src/lib.rs"},"profile":{"test":false},"executable":null,"fresh":true}"#);
        messages.line(r#"{"reason":"compiler-artifact","package_id":"x","manifest_path":"/w/lessons/a/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"a","src_path":"/w/lessons/a/tests/a.rs"},"profile":{"test":true},"executable":"/w/target/debug/deps/a-123","fresh":false}"#);
        messages.line(r#"{"reason":"compiler-message","package_id":"y","manifest_path":"/w/lessons/b/Cargo.toml","target":{"kind":["lib"],"src_path":"/w/lessons/b/src/lib.rs"},"message":{"level":"error","message":"mismatched types","code":{"code":"E0308","explanation":null},"rendered":"error[E0308]: mismatched types\n --> lessons/b/src/lib.rs:4:5\n","spans":[{"file_name":"lessons/b/src/lib.rs","line_start":4,"column_start":5,"is_primary":true}],"children":[]}}"#);
        messages.line(r#"{"reason":"compiler-message","package_id":"y","manifest_path":"/w/lessons/b/Cargo.toml","target":{"kind":["lib"],"src_path":"/w/lessons/b/src/lib.rs"},"message":{"level":"error","message":"aborting due to 1 previous error","code":null,"rendered":"error: aborting","spans":[],"children":[]}}"#);
        messages.line(r#"{"reason":"build-finished","success":false}"#);
        messages.line("not json at all");

        assert_eq!(messages.executables.len(), 1);
        assert_eq!(
            messages.executables[0].src_path,
            PathBuf::from("/w/lessons/a/tests/a.rs")
        );
        assert_eq!(
            messages.executables[0].executable,
            PathBuf::from("/w/target/debug/deps/a-123")
        );
        assert_eq!(messages.errors.len(), 1);
        assert_eq!(messages.errors[0].file, "lessons/b/src/lib.rs");
        assert_eq!(messages.errors[0].line, 4);
        assert_eq!(
            messages.errors[0].headline,
            "error[E0308]: mismatched types"
        );
        assert_eq!(messages.success, Some(false));
        assert_eq!(messages.artifacts, 2);
    }
}
