//! Tests for `production/deploy`: the `Dockerfile` and `.dockerignore`
//! beside this crate's `Cargo.toml`.
//!
//! Docker is not needed: the tests read both files the way Docker reads
//! them (instructions in any case, `\` continuations, comments, exec and
//! shell forms, stages and their names, variables) and check what can be
//! checked without building: the stages, the image the binary runs on, the
//! user, the port, the command, the health check, the build cache, the
//! secrets and the build context. The health check's route is asked of the
//! real app, started on a free port with a real SQLite file.
//!
//! The files are compiled into the tests (`include_str!`), so cargo runs
//! them again whenever you change either file.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use production_deploy::{app, port_from_lookup, prepare_database};
use testkit::TestServer;

/// The files the tests read: this crate's own (the learner's, or the
/// solution's when the solution is checked).
const DOCKERFILE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"));
const DOCKERIGNORE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/.dockerignore"));
/// The oldest Rust that builds this crate (its `rust-version`).
const RUST_VERSION: &str = env!("CARGO_PKG_RUST_VERSION");

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

/// A builder stage on a pinned Rust image builds the release binary.
#[test]
fn a_builder_stage_builds_the_release_binary_on_a_pinned_rust_image() {
    let image = image();
    if image.file.stages.len() < 2 {
        fail(
            "the Dockerfile has one stage: the toolchain, the sources and the build all ship in the image",
            &[image.final_stage().head()],
            "Build in a first stage (`FROM rust:1.89-... AS builder`) and start the image that \
             runs the shop with a second `FROM` of a small image, which copies only the binary \
             from the builder (`COPY --from=builder ...`).",
        );
    }
    let builders = image.rust_stages();
    if builders.is_empty() {
        let froms: Vec<&Instruction> = image.file.stages.iter().map(Stage::head).collect();
        fail(
            "no stage before the last is built FROM a Rust image",
            &froms,
            "The builder stage needs the Rust toolchain: `FROM rust:<version> AS builder` (or an \
             image made from it, such as cargo-chef's).",
        );
    }
    for &stage in &builders {
        let (from, reference) = image.rust_base(stage);
        match rust_version_of(&reference) {
            None => fail(
                &format!(
                    "the builder's Rust version is not pinned: `{}` names no version",
                    reference.shown
                ),
                &[from],
                &format!(
                    "`latest` (or no tag) is whatever Rust was newest on the day of the build: \
                     two builds of the same commit can differ, or one can break. Name the \
                     version: `rust:{RUST_VERSION}-slim-bookworm` (this crate needs {RUST_VERSION} \
                     or newer)."
                ),
            ),
            Some(version) if version_less(&version, RUST_VERSION) => fail(
                &format!(
                    "the builder's Rust {version} is older than {RUST_VERSION}, which this crate needs"
                ),
                &[from],
                &format!(
                    "Cargo.toml says `rust-version = \"{RUST_VERSION}\"` (edition 2024 and the \
                     dependencies need it): cargo refuses to build with an older toolchain."
                ),
            ),
            Some(_) => {}
        }
    }
    let release = builders
        .iter()
        .flat_map(|&stage| image.chain_instructions(stage))
        .filter(|instruction| instruction.keyword == "RUN")
        .any(|instruction| {
            cargo_commands(&instruction.args)
                .iter()
                .any(CargoCommand::builds_release)
        });
    if !release {
        let runs: Vec<&Instruction> = builders
            .iter()
            .flat_map(|&stage| image.chain_instructions(stage))
            .filter(|instruction| instruction.keyword == "RUN")
            .collect();
        fail(
            "the builder stage never runs `cargo build --release`",
            &runs,
            "A debug build is many times slower and larger: the image must ship the optimised \
             binary (`cargo build --release --locked`, or `cargo install --path .`).",
        );
    }
}

/// The image that runs the shop has no toolchain in it.
#[test]
fn the_final_image_is_not_a_toolchain_image() {
    let image = image();
    let last = image.final_index();
    let chain = image.chain(last);
    let froms: Vec<&Instruction> = chain
        .iter()
        .map(|&stage| image.file.stages[stage].head())
        .collect();
    let base = image.base(last);
    if let Base::Image(reference) = &base
        && is_toolchain(reference)
    {
        let verdict = if chain.len() > 1 {
            format!(
                "the final stage starts FROM another stage, which is built on the toolchain image `{}`",
                reference.shown
            )
        } else {
            format!(
                "the final image is the toolchain image `{}`",
                reference.shown
            )
        };
        fail(
            &verdict,
            &froms,
            "The image that runs the shop needs the binary and what the binary needs (a C \
             library, at most), not a compiler, cargo and the sources: over a gigabyte, and \
             everything an attacker inside the container would like to find. Start the last \
             stage FROM a small image (`debian:bookworm-slim`, \
             `gcr.io/distroless/cc-debian12`, or `scratch` for a static binary) and copy the \
             binary into it.",
        );
    }
}

/// The container runs as a user that is not root, and exists.
#[test]
fn the_container_runs_as_a_user_that_is_not_root() {
    let image = image();
    let last = image.final_index();
    let base = image.base(last);
    let Some((user, at)) = image.user(last) else {
        if let Base::Image(reference) = &base
            && default_user_is_nonroot(reference)
        {
            return;
        }
        let elsewhere: Vec<&Instruction> = image
            .file
            .stages
            .iter()
            .flat_map(|stage| stage.instructions.iter())
            .filter(|instruction| instruction.keyword == "USER")
            .collect();
        let diagnosis = if elsewhere.is_empty() {
            "Without `USER`, the process runs as root (uid 0): a flaw in the shop or a \
             dependency is then a root shell in the container, a step from the host. Create a \
             user in the final stage (`RUN useradd --system --uid 10001 shop`) and switch to it \
             (`USER 10001`), or use an image that has one (`gcr.io/distroless/cc-debian12:nonroot`)."
        } else {
            "`USER` in an earlier stage does not carry over: each `FROM` starts again from its \
             image, as root. Say `USER` in the final stage."
        };
        let mut quoted = vec![image.final_stage().head()];
        quoted.extend(elsewhere);
        fail(
            "the final stage runs as root: it never says USER",
            &quoted,
            diagnosis,
        );
    };
    let name = user.split(':').next().unwrap_or_default().trim();
    if name.is_empty() || name == "0" || name.eq_ignore_ascii_case("root") {
        fail(
            &format!("the container runs as root: `USER {user}`"),
            &[at],
            "uid 0 is root, whatever the name. Run as a user of its own (`USER 10001`).",
        );
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return; // a number needs no entry in /etc/passwd
    }
    let exists = image.creates_user(last, name)
        || matches!(&base, Base::Image(reference) if image_has_user(reference, name));
    if !exists {
        fail(
            &format!("`USER {user}` names a user the final image does not have"),
            &[image.final_stage().head(), at],
            &format!(
                "`docker run` would stop with `unable to find user {name}`. Create it in the \
                 final stage (`RUN useradd --system --uid 10001 {name}`), or use a number \
                 (`USER 10001`), which Kubernetes' `runAsNonRoot` can also check."
            ),
        );
    }
}

/// `EXPOSE` documents the port the app really listens on.
#[test]
fn the_exposed_port_is_the_port_the_app_listens_on() {
    let image = image();
    let last = image.final_index();
    let port = image.app_port();
    let exposes: Vec<&Instruction> = image
        .chain_instructions(last)
        .into_iter()
        .filter(|instruction| instruction.keyword == "EXPOSE")
        .collect();
    if exposes.is_empty() {
        fail(
            &format!("the final stage exposes no port; the app listens on {port}"),
            &[image.final_stage().head()],
            &format!("Document it with `EXPOSE {port}`: `docker run -P` and readers rely on it."),
        );
    }
    let env = image.env(last);
    for &expose in &exposes {
        for word in expose.args.split_whitespace() {
            let word = expand(word, &env);
            let (number, protocol) = word.split_once('/').unwrap_or((&word, "tcp"));
            if number.parse::<u16>() != Ok(port) || !protocol.eq_ignore_ascii_case("tcp") {
                fail(
                    &format!("EXPOSE says {word}, but the app listens on {port}/tcp"),
                    &[expose],
                    &format!(
                        "The shop listens on the port `PORT` gives it, {port} here ({}): expose \
                         that one, and only that one.",
                        image.port_origin()
                    ),
                );
            }
        }
    }
}

/// The command starts the binary in exec form: it is PID 1 and hears SIGTERM.
#[test]
fn the_command_is_in_exec_form() {
    let image = image();
    let last = image.final_index();
    let (entrypoint, cmd) = image.commands(last);
    let Some(first) = entrypoint.or(cmd) else {
        fail(
            "the final stage has no CMD or ENTRYPOINT: the container would run the base image's command",
            &[image.final_stage().head()],
            "End with `ENTRYPOINT [\"/usr/local/bin/shop\"]` (exec form).",
        );
    };
    for instruction in [entrypoint, cmd].into_iter().flatten() {
        if let Form::Shell(text) = instruction.form() {
            let extra = if text.trim_start().starts_with('[') {
                " It looks like a list, but it is not valid JSON (JSON strings take double \
                 quotes), so Docker runs it as a shell command."
            } else {
                ""
            };
            fail(
                &format!("{} is in shell form", instruction.keyword),
                &[instruction],
                &format!(
                    "In shell form Docker runs `/bin/sh -c \"{}\"`: unless the shell happens to \
                     replace itself with the shop, the shell is PID 1 and does not pass SIGTERM \
                     on, so `docker stop` waits 10 seconds and kills the shop mid-request. Write the exec form, a JSON list: `{} [\"/usr/local/bin/shop\"]`.{extra}",
                    text.trim(),
                    instruction.keyword
                ),
            );
        }
    }
    let argv = image.argv(last);
    let program = unwrap_init(&argv).first().cloned().unwrap_or_default();
    if is_shell(&program) {
        fail(
            &format!("the container's PID 1 is the shell `{program}`, not the shop"),
            &[first],
            "A shell started with `-c` runs the shop as its child and does not pass SIGTERM on. \
             Start the binary itself: `ENTRYPOINT [\"/usr/local/bin/shop\"]`.",
        );
    }
}

/// The command starts the binary that the builder stage built.
#[test]
fn the_command_starts_the_binary_built_in_the_builder_stage() {
    let image = image();
    let last = image.final_index();
    let (entrypoint, cmd) = image.commands(last);
    let Some(first) = entrypoint.or(cmd) else {
        fail(
            "the final stage has no CMD or ENTRYPOINT: nothing starts the shop",
            &[image.final_stage().head()],
            "End with `ENTRYPOINT [\"/usr/local/bin/shop\"]` (exec form).",
        );
    };
    let argv = image.argv(last);
    let program = unwrap_init(&argv).first().cloned().unwrap_or_default();
    if program.is_empty() {
        fail(
            &format!("{} starts no program", first.keyword),
            &[first],
            "Name the binary the builder stage built.",
        );
    }
    if program == "cargo" || program.ends_with("/cargo") {
        fail(
            "the container builds and runs the shop with `cargo run` at every start",
            &[first],
            "The image should carry the binary built once in the builder stage, and run it: \
             `ENTRYPOINT [\"/usr/local/bin/shop\"]`.",
        );
    }
    match image.copied_binary(last, &program) {
        Some(Copied {
            instruction,
            source,
            from,
        }) => {
            if !image.is_rust_build(from) {
                fail(
                    &format!(
                        "the container starts `{program}`, copied from stage `{}`, which builds nothing with cargo",
                        image.stage_label(from)
                    ),
                    &[first, instruction],
                    "Copy the binary from the stage that runs `cargo build --release`.",
                );
            }
            if source.contains("/debug/") {
                fail(
                    &format!("the container starts the debug build `{source}`"),
                    &[first, instruction],
                    "Copy the optimised binary, from `target/release/`.",
                );
            }
        }
        None => fail(
            &format!(
                "the container starts `{program}`, but no `COPY --from=<builder>` puts a file there"
            ),
            &[first],
            &format!(
                "The final stage must copy the binary from the builder \
                 (`COPY --from=builder /app/target/release/{} /usr/local/bin/shop`) and start \
                 what it copied, by the same path (or by name, from a folder on the PATH).",
                env!("CARGO_PKG_NAME")
            ),
        ),
    }
}

/// The health check asks for a route the app serves, on its port.
#[tokio::test]
async fn the_health_check_asks_for_a_route_the_app_serves() {
    let image = image();
    let check = image.healthcheck();
    let probe = match image.probe(&check) {
        Ok(probe) => probe,
        Err(problem) => fail(&problem.verdict, &[check.instruction], &problem.diagnosis),
    };
    let port = image.app_port();
    if probe.port != port {
        fail(
            &format!(
                "the health check asks port {}, but the app listens on {port}",
                probe.port
            ),
            &[check.instruction],
            &format!(
                "The check runs inside the container and must reach the shop where it listens: \
                 port {port} ({}).",
                image.port_origin()
            ),
        );
    }
    let folder = testkit::tempfile::tempdir().expect("the test could not make a temporary folder");
    let database = folder.path().join("shop.db");
    prepare_database(&database).expect("the given app could not make its database");
    let server = TestServer::spawn(app(database.clone())).await;
    let reply = server.get(&probe.path).send().await;
    if !(200..300).contains(&reply.status()) {
        reply.fail_with_diagnosis(
            &format!(
                "the health check asks for {}, which the app answers with {}",
                probe.path,
                testkit::status_text(reply.status())
            ),
            &format!(
                "  Dockerfile:{}: `{}`\nThe shop serves `/health/live` (is the process up?) and \
                 `/health/ready` (can it serve: does its database answer?).",
                check.instruction.line, check.instruction.text
            ),
        );
    }
    if probe.by_the_shop {
        // The command itself, run as Docker runs it: the shop's program
        // with the arguments the HEALTHCHECK gives, in an environment whose
        // PORT is where the shop listens. It must pass against the running
        // shop, and fail where no shop answers.
        let args = probe.args.clone();
        let port = server.addr().port();
        let up = tokio::task::spawn_blocking(move || run_program(&args, port))
            .await
            .expect("the thread that runs the health check ended");
        if up != Some(0) {
            fail(
                &format!(
                    "the health check, run against a shop that answers {} with 200, {}",
                    probe.path,
                    exit_shown(up)
                ),
                &[check.instruction],
                &format!(
                    "The test ran `{} {}` with PORT={port}, where the shop listens. The shop's \
                     program checks itself with `healthcheck PATH`.",
                    env!("CARGO_PKG_NAME"),
                    probe.args.join(" ")
                ),
            );
        }
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("the test could not find a free port")
            .port();
        let args = probe.args.clone();
        let down = tokio::task::spawn_blocking(move || run_program(&args, closed))
            .await
            .expect("the thread that runs the health check ended");
        if matches!(down, Some(0) | None) {
            fail(
                &format!(
                    "the health check passes where no shop listens: it {}",
                    exit_shown(down)
                ),
                &[check.instruction],
                &format!(
                    "The test ran `{} {}` with PORT={closed}, where nothing listens: a health \
                     check that cannot reach the shop must fail.",
                    env!("CARGO_PKG_NAME"),
                    probe.args.join(" ")
                ),
            );
        }
    }
}

/// The health check runs a program the final image has, and fails on a 5xx.
#[test]
fn the_health_check_runs_a_program_the_final_image_has() {
    let image = image();
    let last = image.final_index();
    let check = image.healthcheck();
    let base = image.base(last);
    let words = match &check.form {
        Form::Exec(argv) => argv.clone(),
        Form::Shell(text) => {
            if !base_has_shell(&base) {
                fail(
                    &format!(
                        "the health check is in shell form, but `{}` has no shell to run it",
                        base.shown()
                    ),
                    &[image.final_stage().head(), check.instruction],
                    "Docker runs a shell-form HEALTHCHECK with `/bin/sh -c`, and distroless and \
                     scratch images have no `/bin/sh`: every check fails. Use the exec form: \
                     `HEALTHCHECK CMD [\"/usr/local/bin/shop\", \"healthcheck\", \"/health/live\"]`.",
                );
            }
            first_command(&shell_words(&expand(text, &image.runtime_env(last))))
        }
    };
    let program = words.first().cloned().unwrap_or_default();
    if image.copied_binary(last, &program).is_some() {
        return;
    }
    let name = program.rsplit('/').next().unwrap_or_default().to_string();
    match name.as_str() {
        "curl" => {
            if !image.installs(last, "curl") {
                fail(
                    &format!(
                        "the health check runs curl, which `{}` does not have",
                        base.shown()
                    ),
                    &[image.final_stage().head(), check.instruction],
                    "Slim and distroless images come without curl (and wget): the check fails \
                     every time and the container is marked unhealthy. Install it in the final \
                     stage (`RUN apt-get update && apt-get install -y --no-install-recommends \
                     curl && rm -rf /var/lib/apt/lists/*`), or let the shop check itself: \
                     `HEALTHCHECK CMD [\"/usr/local/bin/shop\", \"healthcheck\", \"/health/live\"]`.",
                );
            }
            let fails_on_errors = words.iter().skip(1).any(|word| {
                word == "--fail"
                    || word == "--fail-with-body"
                    || (word.starts_with('-')
                        && !word.starts_with("--")
                        && word[1..].chars().all(|c| c.is_ascii_alphabetic())
                        && word.contains('f'))
            });
            if !fails_on_errors {
                fail(
                    "the health check's curl succeeds on any answer, 503 included: it lacks --fail",
                    &[check.instruction],
                    "curl exits with 0 whenever a response arrives, whatever its status, so a \
                     shop that answers `503 Service Unavailable` still counts as healthy. Add \
                     `-f` (`--fail`): then an error status makes curl exit with 22.",
                );
            }
        }
        "wget" => {
            let busybox = matches!(&base, Base::Image(reference)
                if ["alpine", "busybox"].contains(&reference.name()));
            if !busybox && !image.installs(last, "wget") {
                fail(
                    &format!(
                        "the health check runs wget, which `{}` does not have",
                        base.shown()
                    ),
                    &[image.final_stage().head(), check.instruction],
                    "Install it in the final stage, or let the shop check itself: \
                     `HEALTHCHECK CMD [\"/usr/local/bin/shop\", \"healthcheck\", \"/health/live\"]`.",
                );
            }
        }
        _ => fail(
            &format!(
                "the health check runs `{program}`, which is neither the shop's binary nor curl or wget"
            ),
            &[check.instruction],
            "The tests accept the shop's own `healthcheck PATH` (the binary the final stage \
             copied from the builder), or curl (with `--fail`) or wget installed in the final \
             stage.",
        ),
    }
}

/// `.dockerignore` keeps secrets and build output out of the build
/// context, and what the build needs in.
#[test]
fn the_dockerignore_keeps_secrets_and_build_output_out_of_the_context() {
    let ignore = DockerIgnore::parse(DOCKERIGNORE);
    let must_leave_out = [
        (".env", "the environment file, with its secrets"),
        ("config/.env", "an environment file in a folder"),
        ("shop.pem", "a certificate or key"),
        ("certs/shop.pem", "a certificate or key in a folder"),
        ("shop.key", "a private key"),
        ("certs/tls/shop.key", "a private key in a folder"),
        ("shop.db", "a database, with customers' data"),
        ("data/shop.db", "a database in a folder"),
        (
            "target/release/production-deploy",
            "build output (gigabytes, rebuilt in the image anyway)",
        ),
        (".git/config", "git's history and settings"),
    ];
    for (path, what) in must_leave_out {
        if !ignore.excludes(path) {
            let nested =
                if path.contains('/') && !path.starts_with("target/") && !path.starts_with(".git/")
                {
                    " A pattern without `**/` matches at the top of the context only: `*.pem` \
                 leaves out `shop.pem` but not `certs/shop.pem`; `**/*.pem` leaves out both."
                } else {
                    ""
                };
            fail(
                &format!(".dockerignore lets {path} ({what}) into the build context"),
                &[],
                &format!(
                    "Everything the context holds is sent to the builder, and `COPY . .` puts it \
                     in a layer, where anyone who pulls the image can read it.{nested}\n  \
                     .dockerignore:\n{}",
                    indent(DOCKERIGNORE)
                ),
            );
        }
    }
    for path in ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/lib.rs"] {
        if ignore.excludes(path) {
            fail(
                &format!(".dockerignore leaves out {path}, which the build needs"),
                &[],
                &format!(
                    "`COPY` cannot copy what is not in the context: the build would fail (a \
                     missing Cargo.lock fails `cargo build --locked`). Re-include it with `!{path}` \
                     after a broad pattern, or make the pattern narrower.\n  .dockerignore:\n{}",
                    indent(DOCKERIGNORE)
                ),
            );
        }
    }
}

/// No secret is written into the image.
#[test]
fn no_secret_is_written_into_the_image() {
    let image = image();
    for stage in &image.file.stages {
        for instruction in &stage.instructions {
            match instruction.keyword.as_str() {
                "ENV" | "ARG" => {
                    let names: Vec<String> = if instruction.keyword == "ENV" {
                        env_pairs(&instruction.args)
                            .into_iter()
                            .map(|(name, _)| name)
                            .collect()
                    } else {
                        arg_pairs(&instruction.args)
                            .into_iter()
                            .map(|(name, _)| name)
                            .collect()
                    };
                    if let Some(name) = names.iter().find(|name| is_secret_name(name)) {
                        fail(
                            &format!(
                                "the image holds the secret `{name}`: {} writes it into the image",
                                instruction.keyword
                            ),
                            &[instruction],
                            "`docker history` and `docker inspect` show every ENV and every ARG \
                             a build used, to anyone who pulls the image, forever. Give the \
                             secret when the container starts (`docker run -e SESSION_SECRET`, \
                             a Kubernetes Secret); a secret the build itself needs goes through \
                             `RUN --mount=type=secret`.",
                        );
                    }
                }
                "COPY" | "ADD" if instruction.flag("from").is_none() => {
                    let sources = copy_sources(instruction);
                    if let Some(source) = sources.iter().find(|source| is_secret_file(source)) {
                        fail(
                            &format!("the image holds the secret file `{source}`"),
                            &[instruction],
                            "A file copied into a layer stays in the image even if a later \
                             layer deletes it. Mount secrets at run time instead.",
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

/// The dependencies are built before the sources are copied.
#[test]
fn dependencies_are_built_before_the_sources_are_copied() {
    let image = image();
    let last = image.final_index();
    let argv = image.argv(last);
    let program = unwrap_init(&argv).first().cloned().unwrap_or_default();
    let builder = match image.copied_binary(last, &program) {
        Some(copied) if image.is_rust_build(copied.from) => copied.from,
        _ => match image
            .rust_stages()
            .into_iter()
            .find(|&stage| image.is_rust_build(stage))
        {
            Some(stage) => stage,
            None => fail(
                "no builder stage runs cargo build, so nothing is cached",
                &[image.final_stage().head()],
                "Build in a builder stage on a Rust image first.",
            ),
        },
    };
    let instructions = image.chain_instructions(builder);
    let is_build = |instruction: &Instruction| {
        instruction.keyword == "RUN"
            && cargo_commands(&instruction.args)
                .iter()
                .any(|command| command.builds())
    };
    let Some(first_build) = instructions.iter().position(|i| is_build(i)) else {
        fail(
            "the builder stage runs no cargo build",
            &[image.file.stages[builder].head()],
            "Build the shop with `cargo build --release --locked`.",
        );
    };
    let build = instructions[first_build];
    let cached = build.flags_named("mount").any(|mount| {
        mount
            .split(',')
            .any(|part| part.trim().eq_ignore_ascii_case("type=cache"))
    });
    if cached {
        return; // BuildKit keeps target/ and the registry between builds
    }
    let sources_copied = first_sources_copy;
    if let Some(copy) = sources_copied(&instructions[..first_build]) {
        fail(
            &format!(
                "the sources are copied (line {}) before the dependencies are built (line {}): every change in src/ rebuilds every dependency",
                copy.line, build.line
            ),
            &[copy, build],
            "Docker reuses a layer only while everything before it is unchanged, and a `COPY` \
             of the sources changes with every edit. Copy `Cargo.toml` and `Cargo.lock` alone \
             first and build the dependencies (with stand-in sources, or `cargo chef cook`), \
             then copy `src/` and build the shop; or build with cache mounts \
             (`RUN --mount=type=cache,target=/app/target ...`).",
        );
    }
    // The dependencies came first: the sources must come after, then a build.
    let rest = &instructions[first_build + 1..];
    let Some(copy) = sources_copied(rest) else {
        let mounts_sources = instructions
            .iter()
            .filter(|i| is_build(i))
            .any(|i| i.flags_named("mount").any(|m| m.contains("type=bind")));
        if mounts_sources {
            return;
        }
        fail(
            "the builder stage never copies the sources after building the dependencies",
            &[build],
            "Copy `src/` after the dependencies are built, then build the shop.",
        );
    };
    let after_copy = rest
        .iter()
        .position(|i| std::ptr::eq(*i, copy))
        .unwrap_or(0);
    let Some(&final_build) = rest[after_copy..].iter().find(|i| is_build(i)) else {
        fail(
            "nothing builds the shop after its sources are copied: the binary is the stand-in's",
            &[build, copy],
            "Run `cargo build --release --locked` again after `COPY src ./src`.",
        );
    };
    let chef = cargo_commands(&build.args)
        .iter()
        .any(|command| command.subcommand == "chef");
    let refreshes = final_build.args.contains("touch ")
        || final_build.args.contains("cargo clean")
        || (final_build.args.contains("rm ") && final_build.args.contains("target"));
    if !chef && !refreshes {
        fail(
            "the shop is built over the stand-in sources' build without `touch`: cargo may keep the empty program",
            &[build, copy, final_build],
            "`COPY` keeps the files' dates, which are older than the stand-in build, so cargo \
             finds the shop up to date and ships the empty `fn main() {}`. Make the real \
             sources newer first: `RUN touch src/main.rs src/lib.rs && cargo build --release \
             --locked` (cargo-chef needs none of this).",
        );
    }
}

/// The binary the builder makes can run on the final image.
#[test]
fn the_binary_can_run_on_the_final_image() {
    let image = image();
    let last = image.final_index();
    let argv = image.argv(last);
    let program = unwrap_init(&argv).first().cloned().unwrap_or_default();
    let Some(copied) = image
        .copied_binary(last, &program)
        .filter(|copied| image.is_rust_build(copied.from))
    else {
        fail(
            "the final stage starts no binary copied from a builder stage, so nothing tells which C library it needs",
            &[image.final_stage().head()],
            "Build in a builder stage, copy the binary into the final stage, and start it.",
        );
    };
    let builder = copied.from;
    let (builder_from, reference) = image.rust_base(builder);
    let built = image.linkage(builder, &reference);
    let base = image.base(last);
    let runtime = runtime_libc(&base);
    let mismatch = match (built, runtime) {
        (Linkage::Static, _) | (_, Runtime::Unknown) => None,
        (Linkage::Glibc(_), Runtime::NoLibc) => Some(format!(
            "the binary is linked against glibc, and `{}` has no C library",
            base.shown()
        )),
        (Linkage::Glibc(_), Runtime::Musl) => Some(format!(
            "the binary is linked against glibc, and `{}` has musl",
            base.shown()
        )),
        (Linkage::Glibc(needed), Runtime::Glibc(has))
            if version_less(needed, has) || needed == has =>
        {
            None
        }
        (Linkage::Glibc(needed), Runtime::Glibc(has)) => Some(format!(
            "the binary is built against glibc {needed} ({}), and `{}` has glibc {has}",
            reference.shown,
            base.shown()
        )),
    };
    if let Some(verdict) = mismatch {
        fail(
            &verdict,
            &[builder_from, image.final_stage().head(), copied.instruction],
            "A binary built on Debian needs that release's C library or a newer one: on an \
             older one it stops with `version GLIBC_2.xx not found`, and on a musl or empty \
             image with `no such file or directory`. Pin both to one Debian release \
             (`rust:1.89-slim-bookworm` with `debian:bookworm-slim` or \
             `gcr.io/distroless/cc-debian12`), or build a static binary for `scratch` \
             (`--target x86_64-unknown-linux-musl`). An unsuffixed `rust:1.89` is built on \
             Debian trixie.",
        );
    }
}

// ---------------------------------------------------------------------------
// Failing with the verdict first
// ---------------------------------------------------------------------------

/// Fails the test: the verdict, then the Dockerfile's lines it is about,
/// then what usually causes it.
#[track_caller]
fn fail(verdict: &str, lines: &[&Instruction], diagnosis: &str) -> ! {
    let mut quoted = String::new();
    for instruction in lines {
        quoted.push_str(&format!(
            "  Dockerfile:{}: `{}`\n",
            instruction.line,
            shorten(&instruction.text)
        ));
    }
    panic!("\n{verdict}\n{quoted}{diagnosis}\n");
}

/// The shop's program (this crate's binary), started with `args` and
/// `PORT=port`: its exit code, or `None` if it had not ended after 10 s
/// (then it is killed).
fn run_program(args: &[String], port: u16) -> Option<i32> {
    let program = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));
    let mut child = std::process::Command::new(program)
        .args(args)
        .env("PORT", port.to_string())
        .env_remove("SESSION_SECRET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the test could not start the shop's program");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status.code().unwrap_or(-1)),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn exit_shown(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exits with {code}"),
        None => "has not ended after 10 seconds".to_string(),
    }
}

fn shorten(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 160 {
        format!("{}...", flat.chars().take(160).collect::<String>())
    } else {
        flat
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// The image the Dockerfile describes
// ---------------------------------------------------------------------------

/// The learner's Dockerfile, read once (after the reader has checked
/// itself).
fn image() -> Image {
    static PARSED: OnceLock<Dockerfile> = OnceLock::new();
    let file = PARSED.get_or_init(|| {
        self_check();
        Dockerfile::parse(DOCKERFILE)
    });
    if file.stages.is_empty() {
        panic!(
            "\nthe Dockerfile has no FROM: it describes no image\n  {}\n",
            shorten(DOCKERFILE)
        );
    }
    Image { file }
}

struct Image {
    file: &'static Dockerfile,
}

/// What an image starts from: another image, or nothing.
#[derive(Debug, Clone, PartialEq)]
enum Base {
    Scratch,
    Image(ImageRef),
}

impl Base {
    fn shown(&self) -> String {
        match self {
            Base::Scratch => "scratch".into(),
            Base::Image(reference) => reference.shown.clone(),
        }
    }
}

/// A file the final stage copied from another stage.
struct Copied {
    instruction: &'static Instruction,
    source: String,
    from: usize,
}

/// Where a health check sends its request.
#[derive(Debug, PartialEq)]
struct Probe {
    port: u16,
    path: String,
    /// The shop's own `healthcheck PATH`.
    by_the_shop: bool,
    /// The arguments given to the shop's program.
    args: Vec<String>,
}

struct Problem {
    verdict: String,
    diagnosis: String,
}

struct HealthCheck {
    instruction: &'static Instruction,
    form: Form,
}

impl Image {
    fn final_index(&self) -> usize {
        self.file.stages.len() - 1
    }

    fn final_stage(&self) -> &'static Stage {
        &self.file.stages[self.final_index()]
    }

    fn stage_label(&self, stage: usize) -> String {
        self.file.stages[stage]
            .name
            .clone()
            .unwrap_or_else(|| stage.to_string())
    }

    /// The stage `name` refers to (a stage name, or an index), before `before`.
    fn stage_named(&self, name: &str, before: usize) -> Option<usize> {
        let name = name.to_ascii_lowercase();
        self.file.stages[..before.min(self.file.stages.len())]
            .iter()
            .position(|stage| stage.name.as_deref() == Some(name.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|&index| index < before))
    }

    /// The stage and the stages it is built FROM, the oldest first.
    fn chain(&self, stage: usize) -> Vec<usize> {
        let mut chain = vec![stage];
        let mut current = stage;
        while let Some(parent) = self.stage_named(&self.file.stages[current].base, current) {
            if chain.contains(&parent) {
                break;
            }
            chain.push(parent);
            current = parent;
        }
        chain.reverse();
        chain
    }

    /// Every instruction that shapes `stage`, its parents' first.
    fn chain_instructions(&self, stage: usize) -> Vec<&'static Instruction> {
        let stages = &self.file.stages;
        self.chain(stage)
            .into_iter()
            .flat_map(|index| stages[index].instructions.iter())
            .collect()
    }

    /// The image the stage ultimately starts from.
    fn base(&self, stage: usize) -> Base {
        let root = self.chain(stage)[0];
        let base = &self.file.stages[root].base;
        if base.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else {
            Base::Image(ImageRef::parse(base))
        }
    }

    /// Stages other than the last that are built on a Rust toolchain image.
    fn rust_stages(&self) -> Vec<usize> {
        (0..self.final_index())
            .filter(|&stage| matches!(self.base(stage), Base::Image(r) if is_toolchain(&r)))
            .collect()
    }

    /// The FROM line that brought the toolchain into `stage`, and its image.
    fn rust_base(&self, stage: usize) -> (&'static Instruction, ImageRef) {
        let root = self.chain(stage)[0];
        let stage_ref = &self.file.stages[root];
        (stage_ref.head(), ImageRef::parse(&stage_ref.base))
    }

    /// A stage on a Rust image that runs a cargo build.
    fn is_rust_build(&self, stage: usize) -> bool {
        matches!(self.base(stage), Base::Image(r) if is_toolchain(&r))
            && self.chain_instructions(stage).iter().any(|instruction| {
                instruction.keyword == "RUN"
                    && cargo_commands(&instruction.args)
                        .iter()
                        .any(CargoCommand::builds_binary)
            })
    }

    /// The variables a stage's instructions see: its ARGs (global ones it
    /// declares again included) and ENVs, its parents' first.
    fn env(&self, stage: usize) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        for instruction in self.chain_instructions(stage) {
            match instruction.keyword.as_str() {
                "ARG" => {
                    for (name, default) in arg_pairs(&instruction.args) {
                        let value = default
                            .map(|value| expand(&value, &vars))
                            .or_else(|| self.file.global_args.get(&name).cloned());
                        if let Some(value) = value {
                            vars.insert(name, value);
                        }
                    }
                }
                "ENV" => {
                    for (name, value) in env_pairs(&instruction.args) {
                        let value = expand(&value, &vars);
                        vars.insert(name, value);
                    }
                }
                _ => {}
            }
        }
        vars
    }

    /// Only ENV survives into the running container (ARGs do not).
    fn runtime_env(&self, stage: usize) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        let all = self.env(stage);
        for instruction in self.chain_instructions(stage) {
            if instruction.keyword == "ENV" {
                for (name, _) in env_pairs(&instruction.args) {
                    if let Some(value) = all.get(&name) {
                        vars.insert(name, value.clone());
                    }
                }
            }
        }
        vars
    }

    /// The port the app listens on in the container: the config's, read
    /// with the final stage's environment.
    fn app_port(&self) -> u16 {
        let env = self.runtime_env(self.final_index());
        match port_from_lookup(|name| env.get(name).cloned()) {
            Ok(port) => port,
            Err(error) => {
                let at: Vec<&Instruction> = self
                    .chain_instructions(self.final_index())
                    .into_iter()
                    .filter(|i| i.keyword == "ENV" && i.args.contains("PORT"))
                    .collect();
                fail(
                    &format!("the app would not start: {error}"),
                    &at,
                    "PORT is a number from 1 to 65535.",
                )
            }
        }
    }

    /// Where the port comes from, for messages.
    fn port_origin(&self) -> String {
        let env = self.runtime_env(self.final_index());
        match env.get("PORT") {
            Some(value) => format!("the final stage sets `PORT={value}`"),
            None => "the app's default, as the final stage sets no `PORT`".to_string(),
        }
    }

    /// The last `USER` of the stage (or its parents), expanded, and where.
    fn user(&self, stage: usize) -> Option<(String, &'static Instruction)> {
        let env = self.env(stage);
        self.chain_instructions(stage)
            .into_iter()
            .rfind(|instruction| instruction.keyword == "USER")
            .map(|instruction| (expand(instruction.args.trim(), &env), instruction))
    }

    /// Whether `stage` creates the user `name`, or copies an /etc/passwd
    /// from a stage that does.
    fn creates_user(&self, stage: usize, name: &str) -> bool {
        let creates = |instruction: &Instruction| {
            instruction.keyword == "RUN" && {
                let words = shell_words(&instruction.args);
                words.iter().any(|word| {
                    ["useradd", "adduser"].contains(&word.rsplit('/').next().unwrap_or_default())
                }) && words.iter().any(|word| word == name)
            }
        };
        let instructions = self.chain_instructions(stage);
        if instructions.iter().any(|i| creates(i)) {
            return true;
        }
        instructions.iter().any(|instruction| {
            instruction.keyword == "COPY"
                && copy_sources(instruction)
                    .iter()
                    .any(|source| source.trim_end_matches('/') == "/etc/passwd")
                && instruction
                    .flag("from")
                    .and_then(|from| self.stage_named(from, self.file.stages.len()))
                    .is_some_and(|from| self.chain_instructions(from).iter().any(|i| creates(i)))
        })
    }

    /// Whether the stage installs `tool` with a package manager.
    fn installs(&self, stage: usize, tool: &str) -> bool {
        self.chain_instructions(stage).iter().any(|instruction| {
            instruction.keyword == "RUN" && {
                let words = shell_words(&instruction.args);
                let manager = words.windows(2).any(|pair| {
                    let program = pair[0].rsplit('/').next().unwrap_or_default();
                    matches!(
                        (program, pair[1].as_str()),
                        ("apt-get" | "apt" | "dnf" | "yum" | "microdnf", "install")
                            | ("apk", "add")
                    )
                });
                manager
                    && words
                        .iter()
                        .any(|word| word == tool || word.starts_with(&format!("{tool}=")))
            }
        })
    }

    /// The last ENTRYPOINT and CMD of the stage or its parents. A CMD
    /// before the last ENTRYPOINT is dropped, as Docker drops it.
    fn commands(
        &self,
        stage: usize,
    ) -> (Option<&'static Instruction>, Option<&'static Instruction>) {
        let instructions = self.chain_instructions(stage);
        let entrypoint = instructions.iter().rposition(|i| i.keyword == "ENTRYPOINT");
        let cmd = instructions.iter().rposition(|i| i.keyword == "CMD");
        let cmd = match (entrypoint, cmd) {
            (Some(e), Some(c)) if c < e => None,
            (_, cmd) => cmd,
        };
        (
            entrypoint.map(|index| instructions[index]),
            cmd.map(|index| instructions[index]),
        )
    }

    /// The command line the container starts with: ENTRYPOINT then CMD.
    fn argv(&self, stage: usize) -> Vec<String> {
        let (entrypoint, cmd) = self.commands(stage);
        let words = |instruction: &Instruction| match instruction.form() {
            Form::Exec(argv) => argv,
            Form::Shell(text) => first_command(&shell_words(&text)),
        };
        match (entrypoint, cmd) {
            (Some(entrypoint), cmd) => {
                let mut argv = words(entrypoint);
                if let (Form::Exec(_), Some(cmd)) = (entrypoint.form(), cmd) {
                    argv.extend(words(cmd));
                }
                argv
            }
            (None, Some(cmd)) => words(cmd),
            (None, None) => Vec::new(),
        }
    }

    /// The `COPY --from=...` of the final stage that put `program` where
    /// the container finds it.
    fn copied_binary(&self, stage: usize, program: &str) -> Option<Copied> {
        if program.is_empty() {
            return None;
        }
        let env = self.env(stage);
        let path_dirs: Vec<String> = env
            .get("PATH")
            .cloned()
            .unwrap_or_else(|| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            })
            .split(':')
            .map(|dir| normalize(dir, "/"))
            .collect();
        let instructions = self.chain_instructions(stage);
        // The program is found from the folder the container starts in,
        // the last WORKDIR; a COPY's relative destination from the WORKDIR
        // of its time.
        let final_workdir = instructions
            .iter()
            .filter(|instruction| instruction.keyword == "WORKDIR")
            .fold("/".to_string(), |workdir, instruction| {
                normalize(&expand(instruction.args.trim(), &env), &workdir)
            });
        let wanted: Vec<String> = if program.contains('/') {
            vec![normalize(program, &final_workdir)]
        } else {
            path_dirs
                .iter()
                .map(|dir| normalize(&format!("{dir}/{program}"), "/"))
                .collect()
        };
        let mut workdir = "/".to_string();
        let mut found = None;
        for instruction in instructions {
            match instruction.keyword.as_str() {
                "WORKDIR" => workdir = normalize(&expand(instruction.args.trim(), &env), &workdir),
                "COPY" => {
                    let Some(from) = instruction
                        .flag("from")
                        .and_then(|from| self.stage_named(from, self.file.stages.len()))
                    else {
                        continue;
                    };
                    let mut paths = copy_paths(instruction);
                    let Some(dest) = paths.pop() else { continue };
                    let dest = expand(&dest, &env);
                    let dest_is_dir = dest.ends_with('/') || paths.len() > 1;
                    let dest_path = normalize(&dest, &workdir);
                    for source in paths {
                        let base_name = source
                            .trim_end_matches('/')
                            .rsplit('/')
                            .next()
                            .unwrap_or_default();
                        let mut lands = vec![normalize(&format!("{dest_path}/{base_name}"), "/")];
                        if !dest_is_dir {
                            lands.push(dest_path.clone());
                        }
                        if lands.iter().any(|land| wanted.contains(land)) {
                            found = Some(Copied {
                                instruction,
                                source: source.clone(),
                                from,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        found
    }

    /// The final stage's HEALTHCHECK, or a failure that says it is missing.
    fn healthcheck(&self) -> HealthCheck {
        let last = self.final_index();
        let Some(instruction) = self
            .chain_instructions(last)
            .into_iter()
            .rfind(|instruction| instruction.keyword == "HEALTHCHECK")
        else {
            fail(
                "the final stage has no HEALTHCHECK",
                &[self.final_stage().head()],
                "Without one, Docker only knows whether the process runs, not whether it \
                 answers. Add `HEALTHCHECK CMD [\"/usr/local/bin/shop\", \"healthcheck\", \
                 \"/health/live\"]`: the shop's own binary asks for the route.",
            );
        };
        let rest = instruction.args.trim();
        let (keyword, command) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if keyword.eq_ignore_ascii_case("NONE") {
            fail(
                "HEALTHCHECK NONE switches the health check off",
                &[instruction],
                "Give the check a command: `HEALTHCHECK CMD [...]`.",
            );
        }
        if !keyword.eq_ignore_ascii_case("CMD") || command.trim().is_empty() {
            fail(
                "the HEALTHCHECK has no CMD",
                &[instruction],
                "The form is `HEALTHCHECK [--interval=...] CMD [\"program\", \"arg\", ...]`.",
            );
        }
        HealthCheck {
            instruction,
            form: Form::of(command),
        }
    }

    /// What the health check asks for, and of which port.
    fn probe(&self, check: &HealthCheck) -> Result<Probe, Problem> {
        let last = self.final_index();
        let words = match &check.form {
            Form::Exec(argv) => argv.clone(),
            Form::Shell(text) => {
                first_command(&shell_words(&expand(text, &self.runtime_env(last))))
            }
        };
        let program = words.first().cloned().unwrap_or_default();
        if self.copied_binary(last, &program).is_some() {
            return match words.iter().position(|word| word == "healthcheck") {
                Some(at) => match words.get(at + 1) {
                    Some(path) => Ok(Probe {
                        port: self.app_port(),
                        path: path.clone(),
                        by_the_shop: true,
                        args: words[1..].to_vec(),
                    }),
                    None => Err(Problem {
                        verdict: "the health check runs the shop's `healthcheck` without the path to ask for".into(),
                        diagnosis: "The shop's program checks itself with `healthcheck PATH`: \
                                    `[\"/usr/local/bin/shop\", \"healthcheck\", \"/health/live\"]`."
                            .into(),
                    }),
                },
                None => Err(Problem {
                    verdict: "the health check starts a second shop instead of checking the running one".into(),
                    diagnosis: "Without `healthcheck PATH`, the binary serves: the check never \
                                ends and times out. Give it `healthcheck /health/live`."
                        .into(),
                }),
            };
        }
        let url = words.iter().skip(1).find(|word| {
            word.starts_with("http://")
                || word.starts_with("https://")
                || ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]
                    .iter()
                    .any(|host| word.starts_with(host))
        });
        let Some(url) = url else {
            return Err(Problem {
                verdict: format!(
                    "the health check names no URL the test can find (it runs `{program}`)"
                ),
                diagnosis: "The tests read the route from the shop's own `healthcheck PATH`, or \
                            from the `http://localhost:PORT/PATH` given to curl or wget."
                    .into(),
            });
        };
        if url.starts_with("https://") {
            return Err(Problem {
                verdict: format!("the health check asks for {url}, but the shop speaks plain HTTP"),
                diagnosis: "TLS ends at the load balancer or proxy in front of the shop: inside \
                            the container it is `http://`."
                    .into(),
            });
        }
        let rest = url.trim_start_matches("http://");
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port.parse::<u16>().ok()),
            _ => (authority, Some(80)),
        };
        if !["localhost", "127.0.0.1", "[::1]", "0.0.0.0"].contains(&host) {
            return Err(Problem {
                verdict: format!("the health check asks host `{host}`, not the container itself"),
                diagnosis: "The check runs inside the container: the shop is on `localhost` \
                            there."
                    .into(),
            });
        }
        let Some(port) = port else {
            return Err(Problem {
                verdict: format!("the health check's URL `{url}` has no valid port"),
                diagnosis: "Write `http://localhost:PORT/PATH`.".into(),
            });
        };
        Ok(Probe {
            port,
            path,
            by_the_shop: false,
            args: Vec::new(),
        })
    }

    /// How the builder stage links the binary.
    fn linkage(&self, builder: usize, reference: &ImageRef) -> Linkage {
        let instructions = self.chain_instructions(builder);
        let env = self.env(builder);
        let musl_target = instructions.iter().any(|instruction| {
            instruction.keyword == "RUN"
                && cargo_commands(&instruction.args).iter().any(|command| {
                    command.builds_binary()
                        && command
                            .args
                            .iter()
                            .any(|arg| arg.contains("musl") || arg.contains("+crt-static"))
                })
        }) || env
            .values()
            .any(|value| value.contains("musl") || value.contains("+crt-static"))
            || instructions.iter().any(|instruction| {
                instruction.keyword == "RUN" && instruction.args.contains("+crt-static")
            });
        if musl_target
            || reference.tag.contains("alpine")
            || ["muslrust", "rust-musl-cross"].contains(&reference.name())
        {
            return Linkage::Static;
        }
        let tag = &reference.tag;
        let glibc = [
            ("bullseye", "2.31"),
            ("bookworm", "2.36"),
            ("trixie", "2.41"),
        ]
        .iter()
        .find(|(release, _)| tag.contains(release))
        .map_or("2.41", |(_, glibc)| *glibc);
        Linkage::Glibc(glibc)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Linkage {
    Static,
    /// The glibc version of the Debian the builder ran on.
    Glibc(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Runtime {
    NoLibc,
    Musl,
    Glibc(&'static str),
    Unknown,
}

/// Which C library a final image offers.
fn runtime_libc(base: &Base) -> Runtime {
    let reference = match base {
        Base::Scratch => return Runtime::NoLibc,
        Base::Image(reference) => reference,
    };
    let name = reference.name();
    let path = reference.path.as_str();
    let tag = reference.tag.as_str();
    let debian = |text: &str| {
        [
            ("bullseye", "2.31"),
            ("debian11", "2.31"),
            ("bookworm", "2.36"),
            ("debian12", "2.36"),
            ("trixie", "2.41"),
            ("debian13", "2.41"),
        ]
        .iter()
        .find(|(release, _)| text.contains(release))
        .map(|(_, glibc)| *glibc)
    };
    if path.contains("distroless/static") || (path.contains("chainguard") && name == "static") {
        return Runtime::NoLibc;
    }
    if name == "alpine" {
        return Runtime::Musl;
    }
    if path.contains("distroless/") {
        return debian(path).map_or(Runtime::Unknown, Runtime::Glibc);
    }
    if name == "debian" {
        let numbered = match tag.split(['-', '.']).next().unwrap_or_default() {
            "11" => Some("2.31"),
            "12" => Some("2.36"),
            "13" => Some("2.41"),
            _ => None,
        };
        return debian(tag)
            .or(numbered)
            .map_or(Runtime::Unknown, Runtime::Glibc);
    }
    if name == "ubuntu" {
        let glibc = [
            ("20.04", "2.31"),
            ("focal", "2.31"),
            ("22.04", "2.35"),
            ("jammy", "2.35"),
            ("24.04", "2.39"),
            ("noble", "2.39"),
        ]
        .iter()
        .find(|(release, _)| tag.starts_with(release))
        .map(|(_, glibc)| *glibc);
        return glibc.map_or(Runtime::Unknown, Runtime::Glibc);
    }
    Runtime::Unknown
}

/// An image reference: `registry/path/name:tag@digest`.
#[derive(Debug, Clone, PartialEq)]
struct ImageRef {
    /// As written (variables expanded).
    shown: String,
    /// The repository path without registry or `library/`: `rust`,
    /// `distroless/cc-debian12`, `lukemathwalker/cargo-chef`.
    path: String,
    /// The tag, `latest` when none is given (empty with a digest alone).
    tag: String,
}

impl ImageRef {
    fn parse(text: &str) -> ImageRef {
        let shown = text.to_string();
        let without_digest = text.split('@').next().unwrap_or_default();
        let last_slash = without_digest.rfind('/').map_or(0, |at| at + 1);
        let (repository, tag) = match without_digest[last_slash..].find(':') {
            Some(at) => (
                &without_digest[..last_slash + at],
                without_digest[last_slash + at + 1..].to_string(),
            ),
            None if text.contains('@') => (without_digest, String::new()),
            None => (without_digest, "latest".to_string()),
        };
        let mut parts: Vec<&str> = repository.split('/').collect();
        if parts.len() > 1
            && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
        {
            parts.remove(0);
        }
        if parts.len() > 1 && parts[0] == "library" {
            parts.remove(0);
        }
        ImageRef {
            shown,
            path: parts.join("/").to_ascii_lowercase(),
            tag: tag.to_ascii_lowercase(),
        }
    }

    /// The last part of the path: `rust`, `cc-debian12`, `cargo-chef`.
    fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

/// Images that carry the Rust toolchain.
fn is_toolchain(reference: &ImageRef) -> bool {
    ["rust", "cargo-chef", "muslrust", "rust-musl-cross"].contains(&reference.name())
        || reference.path == "rustlang/rust"
}

/// The Rust version a toolchain image's tag names (`1.89`, `1.89.0`), if any.
fn rust_version_of(reference: &ImageRef) -> Option<String> {
    let tag = reference.tag.as_str();
    let candidates: Vec<&str> = match reference.name() {
        // cargo-chef: `latest-rust-1.89.0`, `0.1.72-rust-1.89-bookworm`.
        "cargo-chef" => tag.split("rust-").skip(1).collect(),
        _ => vec![tag],
    };
    candidates.into_iter().find_map(|candidate| {
        let version: String = candidate
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let version = version.trim_end_matches('.');
        (version.split('.').count() >= 2 && version.split('.').all(|part| !part.is_empty()))
            .then(|| version.to_string())
    })
}

/// `a < b` for dotted versions (`1.89` < `1.89.1` < `1.90`).
fn version_less(a: &str, b: &str) -> bool {
    let numbers =
        |v: &str| -> Vec<u32> { v.split('.').map(|part| part.parse().unwrap_or(0)).collect() };
    let (mut a, mut b) = (numbers(a), numbers(b));
    let length = a.len().max(b.len());
    a.resize(length, 0);
    b.resize(length, 0);
    a < b
}

/// Images whose default user is not root.
fn default_user_is_nonroot(reference: &ImageRef) -> bool {
    (reference.path.starts_with("distroless/") && reference.tag.contains("nonroot"))
        || reference.path.starts_with("chainguard/")
}

/// Users an image has without creating them.
fn image_has_user(reference: &ImageRef, name: &str) -> bool {
    match name {
        "nonroot" => {
            reference.path.starts_with("distroless/") || reference.path.starts_with("chainguard/")
        }
        "nobody" => true,
        _ => false,
    }
}

/// Whether `/bin/sh` is in the image.
fn base_has_shell(base: &Base) -> bool {
    match base {
        Base::Scratch => false,
        Base::Image(reference) => {
            let shell_less = reference.path.starts_with("distroless/")
                || (reference.path.starts_with("chainguard/") && reference.name() == "static");
            !shell_less || reference.tag.contains("debug")
        }
    }
}

fn is_shell(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or_default();
    ["sh", "bash", "dash", "ash", "zsh"].contains(&name)
}

/// `tini -- shop` and `dumb-init shop` start the shop and pass signals on:
/// the program that matters is the one they start.
fn unwrap_init(argv: &[String]) -> Vec<String> {
    let Some(first) = argv.first() else {
        return Vec::new();
    };
    let name = first.rsplit('/').next().unwrap_or_default();
    if ["tini", "dumb-init", "catatonit"].contains(&name) {
        let rest: Vec<String> = argv[1..]
            .iter()
            .skip_while(|arg| arg.starts_with('-') && arg.as_str() != "--")
            .skip_while(|arg| arg.as_str() == "--")
            .cloned()
            .collect();
        return rest;
    }
    argv.to_vec()
}

/// Names that hold a secret, as Docker's own build check
/// (`SecretsUsedInArgOrEnv`) sees them.
fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    [
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "CREDENTIAL",
        "APIKEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|part| upper.contains(part))
        || words
            .iter()
            .any(|word| ["KEY", "PASS", "PWD"].contains(word) && upper != "PWD")
}

fn is_secret_file(source: &str) -> bool {
    let name = source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    name == ".env"
        || name.starts_with(".env.")
        || name.ends_with(".pem")
        || name.ends_with(".key")
        || name.starts_with("id_rsa")
        || name.starts_with("id_ed25519")
}

/// The first COPY or ADD among `instructions` that brings in sources.
fn first_sources_copy(instructions: &[&'static Instruction]) -> Option<&'static Instruction> {
    instructions
        .iter()
        .copied()
        .find(|i| matches!(i.keyword.as_str(), "COPY" | "ADD") && copies_sources(i))
}

/// Whether a COPY brings in sources (anything beyond the manifests).
fn copies_sources(instruction: &Instruction) -> bool {
    if instruction.flag("from").is_some() {
        return false; // a recipe or a file from another stage
    }
    copy_sources(instruction).iter().any(|source| {
        let name = source
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        ![
            "Cargo.toml",
            "Cargo.lock",
            "rust-toolchain",
            "rust-toolchain.toml",
            "config.toml",
            "recipe.json",
        ]
        .contains(&name)
    })
}

/// A COPY's or ADD's paths, sources then destination (a JSON list or words).
fn copy_paths(instruction: &Instruction) -> Vec<String> {
    match Form::of(&instruction.args) {
        Form::Exec(paths) => paths,
        Form::Shell(text) => shell_words(&text),
    }
}

fn copy_sources(instruction: &Instruction) -> Vec<String> {
    let mut paths = copy_paths(instruction);
    paths.pop();
    paths
}

/// `/a/./b/../c` from `path` taken in `from`.
fn normalize(path: &str, from: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{from}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

// ---------------------------------------------------------------------------
// Reading a Dockerfile
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Dockerfile {
    /// ARGs before the first FROM, with their defaults.
    global_args: BTreeMap<String, String>,
    stages: Vec<Stage>,
}

#[derive(Debug)]
struct Stage {
    /// The FROM instruction itself.
    from: Instruction,
    /// The image or stage it starts from, variables expanded.
    base: String,
    /// `AS name`, in lower case (stage names are not case-sensitive).
    name: Option<String>,
    /// Every instruction after FROM, up to the next FROM.
    instructions: Vec<Instruction>,
}

impl Stage {
    /// The stage's `FROM` line.
    fn head(&self) -> &Instruction {
        &self.from
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Instruction {
    /// The line it starts on, from 1.
    line: usize,
    /// In capitals: `FROM`, `RUN`, `COPY`.
    keyword: String,
    /// `--name=value` options before the arguments (FROM, RUN, COPY, ADD,
    /// HEALTHCHECK).
    flags: Vec<(String, String)>,
    /// The rest, continuation lines joined, heredoc bodies appended.
    args: String,
    /// The whole instruction as one line, for messages.
    text: String,
}

/// How CMD, ENTRYPOINT, RUN and HEALTHCHECK CMD give their command.
#[derive(Debug, Clone, PartialEq)]
enum Form {
    /// A JSON list: run as it is, no shell.
    Exec(Vec<String>),
    /// Anything else: run with `/bin/sh -c`.
    Shell(String),
}

impl Form {
    /// Docker's rule: a valid JSON list of strings is the exec form;
    /// anything else, `['single', 'quotes']` included, is a shell command.
    fn of(text: &str) -> Form {
        let trimmed = text.trim();
        if trimmed.starts_with('[')
            && let Ok(argv) = serde_json::from_str::<Vec<String>>(trimmed)
        {
            return Form::Exec(argv);
        }
        Form::Shell(trimmed.to_string())
    }
}

impl Instruction {
    fn form(&self) -> Form {
        Form::of(&self.args)
    }

    fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(flag, _)| flag.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn flags_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.flags
            .iter()
            .filter(move |(flag, _)| flag.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl Dockerfile {
    fn parse(text: &str) -> Dockerfile {
        let instructions = instructions(text);
        let mut file = Dockerfile::default();
        for instruction in instructions {
            if instruction.keyword == "FROM" {
                let words: Vec<&str> = instruction.args.split_whitespace().collect();
                let base = expand(
                    words.first().copied().unwrap_or_default(),
                    &file.global_args,
                );
                let name = match words.as_slice() {
                    [_, r#as, name, ..] if r#as.eq_ignore_ascii_case("as") => {
                        Some(name.to_ascii_lowercase())
                    }
                    _ => None,
                };
                file.stages.push(Stage {
                    from: instruction,
                    base,
                    name,
                    instructions: Vec::new(),
                });
            } else if let Some(stage) = file.stages.last_mut() {
                stage.instructions.push(instruction);
            } else if instruction.keyword == "ARG" {
                for (name, default) in arg_pairs(&instruction.args) {
                    let value = default.map(|value| expand(&value, &file.global_args));
                    file.global_args.insert(name, value.unwrap_or_default());
                }
            }
        }
        file
    }
}

/// The instructions of a Dockerfile: parser directives read, comments
/// dropped (also between continuation lines), continuation lines joined,
/// heredocs (`<<EOF`) attached to their instruction.
fn instructions(text: &str) -> Vec<Instruction> {
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    // Parser directives: `# name=value` lines at the very top.
    let mut index = 0;
    while let Some(line) = lines.get(index) {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((name, value)) = directive.split_once('=') else {
            break;
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || name.contains(char::is_whitespace) {
            break;
        }
        if name == "escape" && value.trim() == "`" {
            escape = '`';
        }
        index += 1;
    }
    let is_comment = |line: &str| line.trim_start().starts_with('#');
    let mut found = Vec::new();
    while index < lines.len() {
        let line = lines[index];
        if line.trim().is_empty() || is_comment(line) {
            index += 1;
            continue;
        }
        let start = index;
        let mut joined = String::new();
        let mut current = line;
        loop {
            let trimmed = current.trim_end();
            if let Some(body) = trimmed.strip_suffix(escape) {
                joined.push_str(body);
                joined.push(' ');
                index += 1;
                // Comment and empty lines inside a continuation are skipped.
                while index < lines.len()
                    && (lines[index].trim().is_empty() || is_comment(lines[index]))
                {
                    index += 1;
                }
                match lines.get(index) {
                    Some(next) => current = next,
                    None => break,
                }
            } else {
                joined.push_str(trimmed);
                index += 1;
                break;
            }
        }
        let joined = joined.trim().to_string();
        let (keyword, rest) = joined
            .split_once(char::is_whitespace)
            .unwrap_or((joined.as_str(), ""));
        let keyword = keyword.to_ascii_uppercase();
        let mut rest = rest.trim().to_string();
        let mut flags = Vec::new();
        if ["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"].contains(&keyword.as_str()) {
            while rest.starts_with("--") {
                let (flag, after) = rest
                    .split_once(char::is_whitespace)
                    .unwrap_or((rest.as_str(), ""));
                let flag = flag.trim_start_matches("--");
                let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
                flags.push((name.to_ascii_lowercase(), value.to_string()));
                rest = after.trim_start().to_string();
            }
        }
        // Heredocs: `RUN <<EOF` ... `EOF`, their bodies part of the arguments.
        if ["RUN", "COPY", "ADD"].contains(&keyword.as_str()) {
            for marker in heredoc_markers(&rest) {
                let (word, strip_tabs) = marker;
                while index < lines.len() {
                    let body_line = lines[index];
                    index += 1;
                    let candidate = if strip_tabs {
                        body_line.trim_start_matches('\t')
                    } else {
                        body_line
                    };
                    if candidate == word {
                        break;
                    }
                    rest.push('\n');
                    rest.push_str(body_line);
                }
            }
        }
        found.push(Instruction {
            line: start + 1,
            keyword: keyword.clone(),
            flags,
            text: joined.clone(),
            args: rest,
        });
    }
    found
}

/// The heredoc words an instruction opens (`<<EOF`, `<<-EOF`, `<<"EOF"`).
fn heredoc_markers(text: &str) -> Vec<(String, bool)> {
    let mut markers = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("<<") {
        let after = &rest[at + 2..];
        let (strip_tabs, after) = match after.strip_prefix('-') {
            Some(after) => (true, after),
            None => (false, after),
        };
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() && word.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) {
            markers.push((word, strip_tabs));
        }
        rest = after;
    }
    markers
}

/// `ARG NAME` / `ARG NAME=default ...`.
fn arg_pairs(args: &str) -> Vec<(String, Option<String>)> {
    shell_words(args)
        .into_iter()
        .map(|word| match word.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (word, None),
        })
        .collect()
}

/// `ENV A=1 B="two words"`, or the old `ENV NAME the whole value`.
fn env_pairs(args: &str) -> Vec<(String, String)> {
    let words = shell_words(args);
    match words.first() {
        Some(first) if first.contains('=') => words
            .into_iter()
            .filter_map(|word| {
                word.split_once('=')
                    .map(|(name, value)| (name.to_string(), value.to_string()))
            })
            .collect(),
        Some(first) => {
            let value = args.trim()[first.len()..].trim();
            let value = shell_words(value).join(" ");
            vec![(first.clone(), value)]
        }
        None => Vec::new(),
    }
}

/// Words as a shell splits them: quotes group and disappear, a backslash
/// escapes, and `&&`, `||`, `;` and `|` are words of their own.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '&' | '|' | ';' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                let mut operator = c.to_string();
                if (c == '&' || c == '|') && chars.peek() == Some(&c) {
                    operator.push(chars.next().unwrap_or(c));
                }
                words.push(operator);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn is_operator(word: &str) -> bool {
    ["&&", "||", ";", "|", "&"].contains(&word)
}

/// The first command of a shell line: the words up to `&&`, `||`, `;`, `|`.
fn first_command(words: &[String]) -> Vec<String> {
    words
        .iter()
        .take_while(|word| !is_operator(word))
        .cloned()
        .collect()
}

/// `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+other}` replaced
/// with `vars`; unset names give nothing.
fn expand(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'$') {
            out.push('$');
            chars.next();
            continue;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            chars.next();
            let mut inside = String::new();
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
                inside.push(c);
            }
            let (name, modifier) = match inside.find(':') {
                Some(at) => (&inside[..at], Some(&inside[at + 1..])),
                None => (inside.as_str(), None),
            };
            let value = vars.get(name).filter(|value| !value.is_empty());
            match modifier {
                Some(word) if word.starts_with('-') => {
                    out.push_str(value.map_or(&word[1..], String::as_str));
                }
                Some(word) if word.starts_with('+') => {
                    if value.is_some() {
                        out.push_str(&word[1..]);
                    }
                }
                _ => out.push_str(value.map_or("", String::as_str)),
            }
        } else {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    name.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(vars.get(&name).map_or("", String::as_str));
            }
        }
    }
    out
}

/// One `cargo` command in a RUN line.
#[derive(Debug, Clone, PartialEq)]
struct CargoCommand {
    /// `build`, `install`, `chef`...
    subcommand: String,
    /// Everything after the subcommand, up to the next `&&`, `;`...
    args: Vec<String>,
}

impl CargoCommand {
    /// Builds code: the shop or its dependencies.
    fn builds(&self) -> bool {
        match self.subcommand.as_str() {
            "build" | "b" | "install" | "auditable" | "zigbuild" => true,
            "chef" => self.args.first().is_some_and(|arg| arg == "cook"),
            _ => false,
        }
    }

    /// Builds the shop's binary (not only the dependencies).
    fn builds_binary(&self) -> bool {
        self.builds() && self.subcommand != "chef"
    }

    /// Builds the binary with optimisations.
    fn builds_release(&self) -> bool {
        if !self.builds_binary() {
            return false;
        }
        if self.subcommand == "install" {
            return !self.args.iter().any(|arg| arg == "--debug");
        }
        let mut args = self.args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--release" | "-r" => return true,
                "--profile" => {
                    return args
                        .next()
                        .is_some_and(|p| !["dev", "test"].contains(&p.as_str()));
                }
                other => {
                    if let Some(profile) = other.strip_prefix("--profile=") {
                        return !["dev", "test"].contains(&profile);
                    }
                }
            }
        }
        false
    }
}

/// The cargo commands in a RUN instruction's shell text.
fn cargo_commands(text: &str) -> Vec<CargoCommand> {
    let words = shell_words(text);
    let mut commands = Vec::new();
    let mut index = 0;
    while index < words.len() {
        let word = &words[index];
        if word.rsplit('/').next() == Some("cargo") {
            let rest: Vec<String> = words[index + 1..]
                .iter()
                .take_while(|word| !is_operator(word))
                .cloned()
                .collect();
            let mut rest = rest
                .into_iter()
                .skip_while(|word| word.starts_with('+') || word.starts_with('-'));
            if let Some(subcommand) = rest.next() {
                commands.push(CargoCommand {
                    subcommand,
                    args: rest.collect(),
                });
            }
        }
        index += 1;
    }
    commands
}

// ---------------------------------------------------------------------------
// Reading a .dockerignore
// ---------------------------------------------------------------------------

/// The patterns of a `.dockerignore`, matched as Docker matches them: Go's
/// `filepath.Match` for each path segment, `**` for any number of
/// segments, a pattern matching a folder leaving out all it holds, `!`
/// taking a path back in, the last matching pattern deciding.
struct DockerIgnore {
    patterns: Vec<(bool, Vec<String>)>,
}

impl DockerIgnore {
    fn parse(text: &str) -> DockerIgnore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (include, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let segments: Vec<String> = pattern
                    .split('/')
                    .filter(|segment| !segment.is_empty() && *segment != ".")
                    .map(String::from)
                    .collect();
                (include, segments)
            })
            .filter(|(_, segments)| !segments.is_empty())
            .collect();
        DockerIgnore { patterns }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    fn excludes(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for (include, pattern) in &self.patterns {
            // The path itself, or a folder it is in.
            let matches =
                (1..=segments.len()).any(|length| match_segments(pattern, &segments[..length]));
            if matches {
                excluded = !include;
            }
        }
        excluded
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => glob(first, segment) && match_segments(rest, path_rest),
            None => false,
        },
    }
}

/// Go's `filepath.Match` for one segment: `*`, `?`, `[...]`, `\` escapes.
fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    glob_at(&pattern, &text)
}

fn glob_at(pattern: &[char], text: &[char]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some('*') => (0..=text.len()).any(|skip| glob_at(&pattern[1..], &text[skip..])),
        Some('?') => !text.is_empty() && glob_at(&pattern[1..], &text[1..]),
        Some('[') => {
            let Some(end) = pattern.iter().position(|&c| c == ']') else {
                return false;
            };
            let Some(&c) = text.first() else { return false };
            let class = &pattern[1..end];
            let (negated, class) = match class.first() {
                Some('^') | Some('!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob_at(&pattern[end + 1..], &text[1..])
        }
        Some('\\') if pattern.len() > 1 => {
            text.first() == Some(&pattern[1]) && glob_at(&pattern[2..], &text[1..])
        }
        Some(&p) => text.first() == Some(&p) && glob_at(&pattern[1..], &text[1..]),
    }
}

// ---------------------------------------------------------------------------
// The reader checks itself
// ---------------------------------------------------------------------------

/// Runs once, before any test reads the learner's files: the reader must
/// read tricky Dockerfiles and .dockerignores as Docker does, or no verdict
/// above could be trusted.
fn self_check() {
    let tricky = "# syntax=docker/dockerfile:1\n\
        ARG RUST=1.89\n\
        \n\
        from rust:${RUST}-slim-bookworm As Build\n\
        WORKDIR /app\n\
        RUN apt-get update \\\n\
        \x20   # a comment between continuation lines\n\
        \n\
        \x20   && apt-get install -y curl\n\
        run echo '# not a comment' && cargo build --release --locked\n\
        RUN <<EOF\n\
        cargo build --release\n\
        EOF\n\
        FROM debian:bookworm-slim\n\
        COPY --from=build --chown=10001:10001 /app/target/release/shop /usr/local/bin/\n\
        ENV A=1 B=\"two words\" PORT=${PORT:-9090}\n\
        ENV LEGACY a value with spaces\n\
        CMD ['shop']\n\
        ENTRYPOINT [\"shop\", \"serve\"]\n\
        HEALTHCHECK --interval=5s CMD curl -fsS http://localhost:9090/health/live || exit 1\n\
        EXPOSE 9090/tcp\n";
    let file = Dockerfile::parse(tricky);
    let check = |ok: bool, what: &str| {
        if !ok {
            panic!(
                "\nthe test's own Dockerfile reader is broken: {what}\nThis is a bug in the tests, not in your files: tell your instructor.\n{file:#?}"
            );
        }
    };
    check(
        !RUST_VERSION.is_empty(),
        "the crate's rust-version is known",
    );
    check(file.stages.len() == 2, "two stages");
    check(
        file.global_args.get("RUST").map(String::as_str) == Some("1.89"),
        "a global ARG",
    );
    let build = &file.stages[0];
    check(
        build.base == "rust:1.89-slim-bookworm",
        "FROM with a variable",
    );
    check(
        build.name.as_deref() == Some("build"),
        "`As Build` names the stage `build`",
    );
    check(
        build.instructions.len() == 4,
        "four instructions in the first stage",
    );
    let apt = &build.instructions[1];
    check(
        apt.keyword == "RUN"
            && apt.args.contains("update")
            && apt.args.contains("install -y curl")
            && !apt.args.contains("comment"),
        "a continuation with a comment and an empty line inside",
    );
    check(apt.line == 6, "the line an instruction starts on");
    check(
        build.instructions[2].args.contains("'# not a comment'"),
        "`#` inside a line",
    );
    check(
        cargo_commands(&build.instructions[2].args)
            .iter()
            .any(CargoCommand::builds_release),
        "cargo build after &&",
    );
    check(
        build.instructions[3].args.contains("cargo build --release"),
        "a heredoc's body",
    );
    let runtime = &file.stages[1];
    check(runtime.from.line == 14, "the line after a heredoc");
    let copy = &runtime.instructions[0];
    check(
        copy.flag("from") == Some("build") && copy.flag("chown") == Some("10001:10001"),
        "COPY's flags",
    );
    check(
        copy_sources(copy) == ["/app/target/release/shop"],
        "COPY's sources",
    );
    let env = env_pairs(&runtime.instructions[1].args);
    check(
        env == [
            ("A".to_string(), "1".to_string()),
            ("B".to_string(), "two words".to_string()),
            ("PORT".to_string(), "${PORT:-9090}".to_string()),
        ],
        "ENV pairs with quotes",
    );
    check(
        env_pairs(&runtime.instructions[2].args)
            == [("LEGACY".to_string(), "a value with spaces".to_string())],
        "the old ENV form",
    );
    check(
        expand("${PORT:-9090}", &BTreeMap::new()) == "9090",
        "${NAME:-default}",
    );
    check(
        matches!(runtime.instructions[3].form(), Form::Shell(_)),
        "single quotes make the shell form",
    );
    check(
        runtime.instructions[4].form() == Form::Exec(vec!["shop".into(), "serve".into()]),
        "the exec form",
    );
    let health = &runtime.instructions[5];
    check(
        health.flag("interval") == Some("5s") && health.args.starts_with("CMD curl"),
        "HEALTHCHECK's flags",
    );
    check(
        first_command(&shell_words(
            "curl -fsS http://localhost:9090/health/live || exit 1",
        )) == ["curl", "-fsS", "http://localhost:9090/health/live"],
        "the first command of a shell line",
    );
    check(
        ImageRef::parse("gcr.io/distroless/cc-debian12:nonroot").path == "distroless/cc-debian12",
        "a registry's image",
    );
    check(
        ImageRef::parse("localhost:5000/rust").tag == "latest",
        "a registry with a port",
    );
    check(
        ImageRef::parse("docker.io/library/rust:1.89").name() == "rust",
        "docker.io/library",
    );
    check(
        rust_version_of(&ImageRef::parse(
            "lukemathwalker/cargo-chef:latest-rust-1.89.0",
        ))
        .as_deref()
            == Some("1.89.0"),
        "cargo-chef's tag",
    );
    check(
        rust_version_of(&ImageRef::parse("rust:slim")).is_none(),
        "an unpinned tag",
    );
    check(
        version_less("1.75", "1.89")
            && !version_less("1.89.0", "1.89")
            && version_less("1.89", "1.90"),
        "versions",
    );
    let ignore = DockerIgnore::parse("# comment\n**/*.pem\n/target\n*.db\n*\n!src\n!Cargo.*\n");
    check(
        ignore.excludes("a/b/c.pem") && ignore.excludes("c.pem"),
        "`**/` at any depth",
    );
    check(
        ignore.excludes("target/release/x"),
        "a folder and what it holds",
    );
    check(
        !ignore.excludes("src/main.rs") && !ignore.excludes("Cargo.lock"),
        "`!` takes back",
    );
    let narrow = DockerIgnore::parse("*.db\n.env\n");
    check(
        narrow.excludes("shop.db") && !narrow.excludes("data/shop.db"),
        "`*` stays in one folder",
    );
    check(
        !narrow.excludes("config/.env"),
        "a name matches at the top only",
    );
}
