#!/usr/bin/env python3
"""Save-to-verdict latency of watch mode, against raw `cargo test`.

Runs `cargo checker` (watch mode) in a pseudo-terminal, appends a comment to
the exercise file, and times until the verdict is drawn again; then times the
same edit followed by raw `cargo test -p PACKAGE`. Prints medians, the ratio
and the goals. Restores the file.

Usage: bench/watch-latency.py [EXERCISE_ID] [RUNS]   (default: server/hello 7)
"""
import fcntl
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERDICT = re.compile(rb"tests? pass|does not compile|timed out|not graded")
BUSY = re.compile(rb"\xe2\x9f\xb3")  # the "⟳" drawn while a check runs


def exercise_paths(exercise_id):
    lesson, name = exercise_id.split("/")
    folder = next(ROOT.glob(f"lessons/*-{lesson}/{name}"))
    package = re.search(r'^name = "(.*)"', (folder / "Cargo.toml").read_text(), re.M).group(1)
    return folder / "src" / "lib.rs", package


def read_until(fd, pattern, timeout=120.0):
    """Reads the pty until `pattern` appears in what was read; returns the time."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            seen += chunk
            if pattern.search(seen):
                return time.monotonic()
    raise SystemExit(f"timed out waiting for {pattern.pattern!r}; the screen got: {seen[-600:]!r}")


def main():
    exercise_id = sys.argv[1] if len(sys.argv) > 1 else "server/hello"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    source, package = exercise_paths(exercise_id)
    original = source.read_text()
    subprocess.run(["cargo", "build", "--quiet", "--package", "checker"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "test", "--quiet", "--package", package], cwd=ROOT, capture_output=True)
    checker = ROOT / "target" / "debug" / "checker"
    subprocess.run([checker, "goto", exercise_id], cwd=ROOT, capture_output=True, check=True)
    env = dict(os.environ, NO_COLOR="1", TERM="xterm-256color")
    pid, fd = pty.fork()
    if pid != 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    if pid == 0:
        os.chdir(ROOT)
        os.execve(str(checker), [str(checker)], env)
    watch, raw = [], []
    try:
        read_until(fd, VERDICT)  # the first check, on opening
        for run in range(runs):
            with source.open("a") as file:
                file.write(f"// watch bench {run}\n")
            start = time.monotonic()
            read_until(fd, BUSY)
            watch.append(read_until(fd, VERDICT) - start)
    finally:
        os.write(fd, b"q")
        os.waitpid(pid, 0)
    # Raw cargo runs after watch mode has quit, so neither slows the other.
    try:
        for run in range(runs):
            with source.open("a") as file:
                file.write(f"// cargo bench {run}\n")
            start = time.monotonic()
            subprocess.run(["cargo", "test", "--quiet", "--package", package], cwd=ROOT, capture_output=True)
            raw.append(time.monotonic() - start)
    finally:
        source.write_text(original)

    watch_ms = statistics.median(watch) * 1000
    raw_ms = statistics.median(raw) * 1000
    print(f"exercise {exercise_id}, {runs} runs, {os.cpu_count()} cores, medians:")
    print(f"  save to verdict drawn, watch mode  : {watch_ms:6.0f} ms   (goal: under 1500 ms)")
    print(f"  save to test result, raw cargo test: {raw_ms:6.0f} ms")
    print(f"  ratio watch / raw cargo            : {watch_ms / raw_ms:6.2f}      (goal: at most 1.10)")


if __name__ == "__main__":
    main()
