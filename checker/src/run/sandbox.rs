//! For `grade`: each test binary runs as the first process of a PID
//! namespace of its own (Linux, `unshare` from util-linux). When it exits,
//! or is killed at the time limit, the kernel ends every process left in
//! that namespace, including one that left the process group and cleared
//! its environment, which the process-group kill and the environment marker
//! of `process` cannot find.
//!
//! Unprivileged users need user namespaces for this (some distributions
//! switch them off); where `unshare` is missing or refused, grading goes on
//! with process groups and markers, and says so.

use std::path::Path;
use std::process::{Command, Stdio};

/// How to start a test binary in a PID namespace of its own.
#[derive(Debug, Clone)]
pub struct Sandbox {
    args: Vec<&'static str>,
}

/// `--kill-child`: if `unshare` itself is killed (the time limit kills the
/// process group), the kernel kills the namespace's first process, and with
/// it the namespace.
const AS_ROOT: [&str; 3] = ["--pid", "--fork", "--kill-child"];
const AS_USER: [&str; 5] = [
    "--user",
    "--map-current-user",
    "--pid",
    "--fork",
    "--kill-child",
];

impl Sandbox {
    /// A sandbox that works here, or why there is none.
    pub fn probe() -> Result<Sandbox, String> {
        if !cfg!(target_os = "linux") {
            return Err("PID namespaces exist only on Linux".into());
        }
        let mut last = String::from("`unshare` (util-linux) was not found");
        for args in [&AS_ROOT[..], &AS_USER[..]] {
            let sandbox = Sandbox {
                args: args.to_vec(),
            };
            match sandbox
                .command(Path::new("true"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
            {
                Ok(output) if output.status.success() => return Ok(sandbox),
                Ok(output) => {
                    last = format!(
                        "`unshare {}` failed: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&output.stderr).trim()
                    );
                }
                Err(error) => last = format!("`unshare` could not start: {error}"),
            }
        }
        Err(last)
    }

    /// `program` to be started in a fresh PID namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new("unshare");
        command.args(&self.args).arg("--").arg(program);
        command
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_leaves_the_group_and_clears_its_environment_dies_with_the_sandbox() {
        let Ok(sandbox) = Sandbox::probe() else {
            // Nothing to prove where the kernel refuses namespaces.
            return;
        };
        let marker = format!("sleep 7{}.5", std::process::id());
        let mut command = sandbox.command(Path::new("sh"));
        command.args([
            "-c",
            &format!("setsid env -i sh -c 'exec {marker}' & echo started"),
        ]);
        let output = command.output().unwrap();
        assert!(output.status.success());
        let left = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        assert!(
            left.stdout.is_empty(),
            "a process outlived its sandbox: {}",
            String::from_utf8_lossy(&left.stdout)
        );
    }
}
