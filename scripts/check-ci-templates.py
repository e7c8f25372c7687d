#!/usr/bin/env python3
"""Checks the CI templates for learners' forks (templates/): each YAML file
parses and does what the instructor guide says (on push, fetch the
instructor's ref, grade, publish JUnit and the report), every
`cargo checker` command they run exists with every flag it uses (read from
the checker's own --help), and Classroom's autograding.json lists every
exercise of the workbook, as its generator writes it.

It also runs the GitLab job's script as a runner would, with the checker's
fixture workbook as the instructor's repository and a copy of it with one
exercise solved as the learner's project: the learner's report and JUnit
XML must come out, saying what was solved.

Usage, from the workbook's folder: python3 scripts/check-ci-templates.py
(CHECKER=path/to/checker runs that binary instead of `cargo run`).
"""
import json
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("PyYAML is missing: install it with `python3 -m pip install pyyaml` and run again")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GITHUB = "templates/github/workbook-grade.yml"
GITLAB = "templates/gitlab/.gitlab-ci.yml"
CLASSROOM = "templates/github/classroom/classroom.yml"
AUTOGRADING = "templates/github/classroom/autograding.json"
GENERATOR = "templates/github/classroom/autograding.py"

problems = []


def checker(*args):
    command = os.environ.get("CHECKER")
    base = [command] if command else ["cargo", "run", "--quiet", "--locked", "--package", "checker", "--"]
    result = subprocess.run(
        base + list(args), cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if result.returncode != 0:
        sys.exit(f"`checker {' '.join(args)}` failed: {result.stderr.strip()}")
    return result.stdout


def load(path):
    with open(os.path.join(ROOT, path)) as file:
        try:
            return yaml.safe_load(file)
        except yaml.YAMLError as error:
            sys.exit(f"{path} is not valid YAML: {error}")


def expect(condition, message):
    if not condition:
        problems.append(message)


def triggers(workflow):
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean true.
    on = workflow.get("on", workflow.get(True))
    return on if isinstance(on, (dict, list)) else [on]


def commands(text):
    """Every `cargo checker ...` command in a shell script, as argument lists."""
    found = []
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        for match in re.finditer(r"cargo checker ([^|;&\n]*)", line):
            found.append(shlex.split(match.group(1)))
    return found


HELP = {}


def flags_of(subcommand):
    if subcommand not in HELP:
        HELP[subcommand] = checker(subcommand, "--help")
    return set(re.findall(r"--[a-z][a-z-]*", HELP[subcommand]))


def check_command(where, args):
    subcommands = re.findall(r"^  ([a-z][a-z-]*)\s", checker("--help"), re.M)
    expect(args and args[0] in subcommands, f"{where}: `cargo checker {' '.join(args)}`: no such command")
    if not args or args[0] not in subcommands:
        return
    for arg in args[1:]:
        if arg.startswith("--"):
            flag = arg.split("=")[0]
            expect(flag in flags_of(args[0]),
                   f"{where}: `cargo checker {args[0]}` has no {flag} (see `cargo checker {args[0]} --help`)")


def check_github():
    workflow = load(GITHUB)
    expect("push" in triggers(workflow), f"{GITHUB}: does not run on push")
    env = workflow.get("env", {})
    for name in ["INSTRUCTOR_REPO", "INSTRUCTOR_REF"]:
        expect(f"vars.{name}" in str(env.get(name)), f"{GITHUB}: {name} is not read from the repository variables")
    steps = workflow["jobs"]["grade"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    expect(any(u.startswith("dtolnay/rust-toolchain@stable") for u in uses), f"{GITHUB}: no Rust stable")
    scripts = "\n".join(step.get("run", "") for step in steps)
    expect('fetch -q --depth 1 "$INSTRUCTOR_REPO" "$INSTRUCTOR_REF"' in scripts,
           f"{GITHUB}: does not fetch INSTRUCTOR_REPO at INSTRUCTOR_REF")
    graded = commands(scripts)
    expect(any(c[:1] == ["grade"] and "--junit" in c for c in graded), f"{GITHUB}: runs no `cargo checker grade --junit`")
    for args in graded:
        check_command(GITHUB, args)
    artifact = next((s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")), None)
    expect(artifact and artifact["with"]["path"].strip() == "grades/" and artifact.get("if") == "always()",
           f"{GITHUB}: grades/ is not always uploaded as an artifact")
    junit = next((s for s in steps if s.get("uses", "").startswith("mikepenz/action-junit-report@")), None)
    expect(junit and junit["with"]["report_paths"] == "grades/*.xml", f"{GITHUB}: the JUnit XML is not published")
    expect(workflow.get("permissions", {}).get("checks") == "write",
           f"{GITHUB}: publishing test results needs `checks: write`")


def check_gitlab():
    pipeline = load(GITLAB)
    for name in ["INSTRUCTOR_REPO", "INSTRUCTOR_REF"]:
        expect(name in pipeline.get("variables", {}), f"{GITLAB}: no variable {name}")
    job = pipeline["workbook-grade"]
    expect(job["image"].startswith("rust:"), f"{GITLAB}: no Rust image")
    expect(any('"push"' in rule.get("if", "") for rule in job["rules"]), f"{GITLAB}: does not run on push")
    script = "\n".join(job["script"])
    expect('fetch -q --depth 1 "$INSTRUCTOR_REPO" "$INSTRUCTOR_REF"' in script,
           f"{GITLAB}: does not fetch INSTRUCTOR_REPO at INSTRUCTOR_REF")
    graded = commands(script)
    expect(any(c[:1] == ["grade"] and "--junit" in c for c in graded), f"{GITLAB}: runs no `cargo checker grade --junit`")
    for args in graded:
        check_command(GITLAB, args)
    artifacts = job["artifacts"]
    expect(artifacts.get("when") == "always", f"{GITLAB}: artifacts are not kept when the job fails")
    expect("grades/" in artifacts.get("paths", []), f"{GITLAB}: grades/ is not an artifact")
    expect(artifacts.get("reports", {}).get("junit") == "grades/*.xml", f"{GITLAB}: the JUnit XML is not a test report")


def check_classroom():
    workflow = load(CLASSROOM)
    expect("push" in triggers(workflow), f"{CLASSROOM}: does not run on push")
    uses = [s.get("uses", "") for s in workflow["jobs"]["autograding"]["steps"]]
    expect("education/autograding@v1" in uses, f"{CLASSROOM}: does not run Classroom's autograding")
    with open(os.path.join(ROOT, AUTOGRADING)) as file:
        autograding = json.load(file)
    for test in autograding["tests"]:
        args = commands(test["run"])
        expect(len(args) == 1 and args[0][:2] == ["check", test["name"]],
               f"{AUTOGRADING}: test {test['name']} does not run `cargo checker check {test['name']}`")
        for one in args:
            check_command(AUTOGRADING, one)
        expect(isinstance(test["points"], int) and test["points"] > 0, f"{AUTOGRADING}: {test['name']} earns no points")
    fresh = subprocess.run(
        [sys.executable, os.path.join(ROOT, GENERATOR)],
        input=checker("list", "--format", "json"), capture_output=True, text=True, check=True,
    ).stdout
    expect(json.loads(fresh) == autograding,
           f"{AUTOGRADING} does not list the workbook's exercises: write it again with "
           f"`cargo checker list --format json | python3 {GENERATOR} > {AUTOGRADING}`")


def run_gitlab_job():
    import shutil
    import tempfile

    pipeline = load(GITLAB)
    job = pipeline["workbook-grade"]
    binary = os.environ.get("CHECKER")
    if not binary:
        subprocess.run(["cargo", "build", "--quiet", "--locked", "--package", "checker"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target", "debug", "checker")
    fixture = os.path.join(ROOT, "checker", "tests", "fixtures", "workbook")
    skip = shutil.ignore_patterns("target", ".workbook-progress.json*")
    with tempfile.TemporaryDirectory() as tmp:
        instructor = os.path.join(tmp, "instructor")
        shutil.copytree(fixture, instructor, ignore=skip)
        git = ["git", "-c", "user.name=Instructor", "-c", "user.email=i@example.test"]
        subprocess.run(["git", "init", "-q", "-b", "main", instructor], check=True)
        subprocess.run(git + ["-C", instructor, "add", "-A"], check=True)
        subprocess.run(git + ["-C", instructor, "commit", "-qm", "the course"], check=True)
        project = os.path.join(tmp, "project")
        shutil.copytree(fixture, project, ignore=skip)
        with open(os.path.join(project, "lessons", "01-basics", "failing", "src", "lib.rs"), "w") as file:
            file.write("pub fn double(x: u32) -> u32 {\n    x * 2\n}\n")
        # The workbook's `cargo checker` is an alias of its own Cargo config;
        # the fixture has none, so cargo finds this `cargo-checker` on PATH.
        bin_dir = os.path.join(tmp, "bin")
        os.mkdir(bin_dir)
        shim = os.path.join(bin_dir, "cargo-checker")
        with open(shim, "w") as file:
            file.write(f"#!/bin/sh\nshift\nexec {shlex.quote(binary)} \"$@\"\n")
        os.chmod(shim, 0o755)
        env = {
            **os.environ,
            "CI_PROJECT_DIR": project,
            "CI_PROJECT_NAMESPACE": "class/alice",
            "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        }
        for name, value in pipeline.get("variables", {}).items():
            env[name] = os.path.expandvars(str(value).replace("$CI_PROJECT_DIR", project))
        env["INSTRUCTOR_REPO"] = instructor
        env["INSTRUCTOR_REF"] = "main"
        # The runner's rustup is the machine's; the job's own CARGO_HOME
        # holds no toolchain, so keep rustup's.
        env.setdefault("RUSTUP_HOME", os.path.join(os.path.expanduser("~"), ".rustup"))
        script = "set -e\n" + "\n".join(job["script"])
        result = subprocess.run(["bash", "-c", script], cwd=project, env=env,
                                capture_output=True, text=True, timeout=900)
        expect(result.returncode == 0,
               f"{GITLAB}: the job's script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        report_path = os.path.join(project, "grades", "class-alice.json")
        if not os.path.exists(report_path):
            expect(False, f"{GITLAB}: the job wrote no grades/class-alice.json:\n{result.stderr}")
            return
        with open(report_path) as file:
            report = json.load(file)
        expect(report.get("kind") == "grade" and report["learner"]["name"] == "class-alice",
               f"{GITLAB}: the report does not name the learner class-alice")
        solved = [e for e in report["exercises"] if e["id"] == "basics/failing"]
        expect(solved and solved[0]["status"] == "done",
               f"{GITLAB}: the report does not say basics/failing is done")
        expect(os.path.exists(os.path.join(project, "grades", "class-alice.xml")),
               f"{GITLAB}: the job wrote no JUnit XML")


check_github()
check_gitlab()
check_classroom()
run_gitlab_job()
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("CI templates: the YAML parses, every checker command and flag exists, autograding.json is up to date, and the GitLab job grades a learner's project")
