#!/usr/bin/env bash
# What an elective costs (the graphql one), and proof that a learner who
# never takes it pays nothing for it.
# Usage: bench/elective.sh [DIR]
#   DIR: an empty folder to work in, left there; by default a temporary
#   folder, removed afterwards. The workbook's own target/ is never touched.
#
# In a fresh copy of the workbook:
#   1. The elective is taken out (its crates, its workspace dependencies,
#      the book listings' lines that use its solutions), and a cold
#      `cargo checker check --all` runs: the workbook as it was before it.
#   2. The elective is put back, as a learner's `git pull` would bring it.
#      cargo is asked to build what that `check --all` builds (every lesson's
#      package, the same command the checker runs): the number of crates it
#      compiles is the price of the elective for a learner who never opens
#      it (0 is the goal), and nothing of async-graphql may be in target/.
#      Then `check --all` itself runs again.
#   3. The learner takes the elective (`goto graphql/schema`) and runs
#      `check --all`: what taking it costs, in time and in target/.
#   4. Back to a lesson (`check server/hello` with its file touched): the
#      crates it compiles (0 is the goal: the elective is built in a cargo
#      run of its own, so the lessons' shared crates keep their features).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"

LESSON=08-graphql
ID=graphql

if [ $# -ge 1 ]; then
    tree=$1
    keep=1
    if [ -n "$(ls -A "$tree" 2>/dev/null)" ]; then
        echo "elective.sh: $tree is not empty" >&2
        exit 2
    fi
else
    tree=$(mktemp -d)
    keep=0
fi
trap '[ "$keep" = 1 ] || rm -rf "$tree"' EXIT
copy_repo "$tree"
cd "$tree"
unset CARGO_TARGET_DIR

seconds_since() { awk -v ms=$(( $(now_ms) - $1 )) 'BEGIN {printf "%.1f", ms / 1000}'; }
size_mib() { du -sk target | awk '{printf "%.0f", $1 / 1024}'; }
# Crates cargo compiled (not found fresh) in a `--message-format json` log.
compiled() { grep -c '"reason":"compiler-artifact".*"fresh":false' "$1" || true; }
# Every lesson package but the elective's: what `check --all` builds for a
# learner who has not taken it.
lesson_packages() {
    cargo metadata --no-deps --format-version 1 --offline | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    path = p["manifest_path"]
    if "/lessons/" in path and "/'"$LESSON"'/" not in path:
        print("--package", p["name"])'
}

echo "The $ID elective, in a fresh copy ($tree): $(machine)"

# 1. The workbook without the elective.
tar -cf elective.tar Cargo.toml Cargo.lock book/listings lessons solutions
rm -rf "lessons/$LESSON" "solutions/$LESSON"
sed -i '/async-graphql/d; /elective only/d' Cargo.toml
sed -i "/${ID}-.*-solution/d" book/listings/Cargo.toml
cargo checker dev checksums > /dev/null
start=$(now_ms)
cargo checker check --all > without.out 2>&1 || true
without_seconds=$(seconds_since "$start")
without_size=$(size_mib)
echo
echo "1. the workbook without the elective, cold check --all:"
printf '  %-52s %9s s\n' "time" "$without_seconds"
printf '  %-52s %9s MiB\n' "target/" "$without_size"

# 2. The elective pulled in, not taken.
tar -xf elective.tar
cargo checker dev checksums > /dev/null
# shellcheck disable=SC2046
cargo build --tests --keep-going --message-format json $(lesson_packages) > pulled.json 2> pulled.err || true
units=$(compiled pulled.json)
graphql_files=$(find target -name '*async_graphql*' | wc -l)
start=$(now_ms)
cargo checker check --all > pulled.out 2>&1 || true
pulled_seconds=$(seconds_since "$start")
pulled_size=$(size_mib)
echo
echo "2. the elective pulled in, never opened:"
figure "crates compiled for the lessons' check --all" "$units" "" "0" 0
figure "files of async-graphql in target/" "$graphql_files" "" "0" 0
printf '  %-52s %9s s\n' "check --all, nothing changed" "$pulled_seconds"
figure "target/ grew by" "$(( pulled_size - without_size ))" "MiB" "0" 0
grep -q "Not checked: the elective $ID" pulled.out \
    && echo "  check --all says it left the elective out" \
    || { echo "  check --all did not say it left the elective out:" >&2; tail -5 pulled.out >&2; exit 1; }

# 3. Taken.
cargo checker goto "$ID/schema" > /dev/null
start=$(now_ms)
cargo checker check --all > taken.out 2>&1 || true
taken_seconds=$(seconds_since "$start")
taken_size=$(size_mib)
echo
echo "3. the elective taken (goto $ID/schema), then check --all:"
printf '  %-52s %9s s\n' "time (its dependencies and 4 exercises built)" "$taken_seconds"
printf '  %-52s %9s MiB\n' "target/ grew by" "$(( taken_size - pulled_size ))"

# 4. Back to a lesson: nothing of the lessons' dependencies is rebuilt.
touch lessons/01-server/hello/src/lib.rs
cargo build --tests --message-format json --package server-hello > back.json 2> back.err
back_units=$(compiled back.json)
echo
echo "4. back to server/hello after taking the elective:"
figure "crates compiled (server-hello itself and its tests)" "$back_units" "" "at most 2" 2
