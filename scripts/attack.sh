#!/usr/bin/env bash
# Attacks security/sql-injection with sqlmap, the tool attackers and
# penetration testers use to find and exploit SQL injection: once against the
# exercise's STARTER, where sqlmap must find the injection (and dumps the
# customers' emails and password hashes through it), and once against the
# REFERENCE SOLUTION, where it must find nothing.
#
# Usage: scripts/attack.sh
#
# Needs python3 with its venv module, and on the first run access to PyPI:
# the script makes a virtual environment in target/attack/venv and installs
# sqlmap there with pip (nothing is installed anywhere else). It builds both
# servers with cargo (the lesson's examples/serve.rs, and the same file built
# on the solution by solutions/05-security/sql-injection/examples/serve.rs),
# starts each on a free port of 127.0.0.1 (PORT=0), waits until each answers,
# runs sqlmap against `GET /products/search?q=mug&max_price=2000&sort=name`
# (all three parameters), and stops the servers when it ends, however it ends.
#
# sqlmap runs with --batch (no questions), --level 2 --risk 1 (no payload
# that could change data), the boolean-blind, error-based and UNION
# techniques (--technique=BEU; the time-based ones prove nothing more here
# and take minutes), a fresh session (--flush-session), and a time limit for
# each run (ATTACK_TIMEOUT seconds, default 600). Its logs and session stay
# in target/attack/sqlmap/{starter,solution}/.
#
# It prints sqlmap's conclusion for each server and a verdict. Exit status:
# 0 when sqlmap found the injection in the starter and nothing in the
# solution, 1 otherwise (also when a run timed out), 2 when it could not run.
#
# It is not part of `cargo checker` or of the workbook's tests: it takes a
# minute or two, and needs the network once. A learner may point it at their
# own work: `scripts/attack.sh` always attacks lessons/05-security/sql-injection
# (your code, as the starter) beside the reference solution, so once your
# fix is in, both runs should find nothing, and the verdict says so.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

OUT="$REPO/target/attack"
VENV="$OUT/venv"
TIMEOUT="${ATTACK_TIMEOUT:-600}"
mkdir -p "$OUT/bin"

# sqlmap, in a virtual environment of its own.
if [ ! -x "$VENV/bin/sqlmap" ]; then
    echo "==> installing sqlmap with pip into $VENV (once)"
    python3 -m venv "$VENV" || {
        echo "python3 -m venv failed: install python3 and its venv module" >&2
        exit 2
    }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check sqlmap || {
        echo "pip could not install sqlmap (is PyPI reachable?)" >&2
        exit 2
    }
fi
echo "==> $("$VENV/bin/sqlmap" --version 2>/dev/null | head -1 | sed 's/^/sqlmap /')"

# build PACKAGE NAME: builds PACKAGE's `serve` example and copies it to
# $OUT/bin/NAME (both examples are called `serve`: one would overwrite the
# other in cargo's target folder).
build() {
    local package=$1 name=$2 executable
    echo "==> building $package's serve example"
    executable=$(cargo build -q -p "$package" --example serve --message-format=json \
        | python3 -c '
import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message.get("executable") \
            and message["target"]["name"] == "serve":
        print(message["executable"])
')
    if [ -z "$executable" ] || [ ! -x "$executable" ]; then
        echo "cargo built no serve example for $package" >&2
        exit 2
    fi
    cp "$executable" "$OUT/bin/$name"
}
build security-sql-injection starter
build security-sql-injection-solution solution

# The servers started, killed when the script ends, however it ends.
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME: starts $OUT/bin/NAME on a free port, waits until it answers,
# and sets PORT_OF_NAME.
start() {
    local name=$1 log="$OUT/$1.log" port="" tries=0
    : > "$log"
    PORT=0 "$OUT/bin/$name" >> "$log" 2>&1 &
    pids+=($!)
    # The example prints its port once it listens; poll for that line, then
    # for an answer.
    while [ -z "$port" ]; do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log" | head -1 || true)
        tries=$((tries + 1))
        if [ "$tries" -gt 300 ]; then
            echo "the $name server did not start; its output:" >&2
            cat "$log" >&2
            exit 2
        fi
        [ -n "$port" ] || sleep 0.1
    done
    tries=0
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/products/search?q=mug"; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            echo "the $name server on port $port does not answer" >&2
            exit 2
        fi
        sleep 0.1
    done
    printf -v "PORT_OF_$name" '%s' "$port"
    echo "==> the $name serves on http://127.0.0.1:$port"
}
start starter
start solution

# attack NAME PORT: runs sqlmap against the server; its output goes to
# $OUT/sqlmap/NAME.txt. Sets FOUND_NAME to yes, no or timeout.
attack() {
    local name=$1 port=$2 status=0 started=$SECONDS
    local report="$OUT/sqlmap/$name.txt"
    mkdir -p "$OUT/sqlmap/$name"
    echo
    echo "==> sqlmap against the $name (at most ${TIMEOUT}s)"
    timeout "$TIMEOUT" "$VENV/bin/sqlmap" \
        -u "http://127.0.0.1:$port/products/search?q=mug&max_price=2000&sort=name" \
        -p "q,max_price,sort" \
        --batch --level 2 --risk 1 --technique=BEU \
        --flush-session --disable-coloring \
        -T customers --dump \
        --output-dir "$OUT/sqlmap/$name" > "$report" 2>&1 || status=$?
    local took=$((SECONDS - started))
    # What sqlmap concluded: the injection points it found, or that it found
    # none, and what it dumped.
    grep -E "identified the following injection point|^Parameter: |^    Type: |^    Title: |back-end DBMS: |^Table: |^\| |^\+-|do not appear to be injectable|does not seem to be injectable|\[CRITICAL\]|\[ERROR\]" \
        "$report" | sed 's/^/    /' || true
    if [ "$status" -eq 124 ]; then
        printf -v "FOUND_$name" '%s' timeout
        echo "    (timed out after ${TIMEOUT}s)"
    elif grep -q "identified the following injection point" "$report"; then
        printf -v "FOUND_$name" '%s' yes
    else
        printf -v "FOUND_$name" '%s' no
    fi
    echo "    ($took s; sqlmap's whole output: ${report#"$REPO"/})"
}
attack starter "$PORT_OF_starter"
attack solution "$PORT_OF_solution"

echo
verdict=0
case "$FOUND_starter" in
    yes) echo "starter:  sqlmap FOUND the injection (as it should: the starter is the vulnerable code)" ;;
    no)
        echo "starter:  sqlmap found NO injection (if you have fixed the exercise, that is your fix holding)"
        verdict=1
        ;;
    *)
        echo "starter:  sqlmap did not finish"
        verdict=1
        ;;
esac
case "$FOUND_solution" in
    no) echo "solution: sqlmap found NO injection (as it should)" ;;
    yes)
        echo "solution: sqlmap FOUND an injection in the reference solution"
        verdict=1
        ;;
    *)
        echo "solution: sqlmap did not finish"
        verdict=1
        ;;
esac
if [ "$verdict" -eq 0 ]; then
    echo "verdict:  as expected: the starter is injectable, the solution is not"
else
    echo "verdict:  NOT as expected (see above)"
fi
exit "$verdict"
