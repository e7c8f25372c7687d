#!/usr/bin/env bash
# What an elective costs (the graphql one), and proof that a learner who
# never takes it pays nothing for it.
# Usage: bench/elective.sh [DIR]
#   DIR: an empty folder to work in, left there; by default a temporary
#   folder, removed afterwards. The workbook's own target/ is never touched.
#
# In a fresh copy of the workbook, with the checker's binary run directly and
# a cargo shim that keeps the JSON of every build the checker asks for:
#   1. The elective is taken out (its crates, its workspace dependencies,
#      the book listings' lines that use its solutions), and a cold
#      `check --all` runs: the workbook as it was before it. Then the
#      learner's file of server/hello is edited and checked alone, as watch
#      mode would run it (cargo unifies features over the packages of a run,
#      so one exercise alone builds a few shared crates with fewer features
#      than all of them: a cost that has nothing to do with the elective).
#   2. The elective is put back, as a learner's `git pull` would bring it,
#      and `check --all` runs again: the dependency crates it compiles are
#      the price of the elective for a learner who never opens it (0 is the
#      goal), and nothing of async-graphql may be in target/. The pull
#      changed the workspace's Cargo.toml and Cargo.lock, but only in what
#      the elective uses: the checker's ledger sees each exercise's view of
#      them (see "How grading works" in the instructor guide), so none of the
#      workbook's own crates is built again either (0 is the goal).
#   3. The learner takes the elective (`goto graphql/schema`) and runs
#      `check --all`: what taking it costs, in time, crates and target/.
#   4. Back to a lesson (`check server/hello` with its file edited, then
#      `check --all`): the dependency crates they compile (0 is the goal:
#      the elective is built in a cargo run of its own, so the lessons'
#      shared crates keep their features).
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

# The checker's binary, run with a cargo shim that appends the JSON of every
# build to $BUILD_LOG (`cargo checker` is `cargo run`, which would set CARGO
# to the real cargo).
cargo build --quiet --package checker
REAL_CARGO=$(command -v cargo)
export REAL_CARGO
cat > cargo-shim <<'SHIM'
#!/usr/bin/env bash
if [ "${1:-}" = build ]; then
    set -o pipefail
    "$REAL_CARGO" "$@" | tee -a "$BUILD_LOG"
    exit "${PIPESTATUS[0]}"
fi
exec "$REAL_CARGO" "$@"
SHIM
chmod +x cargo-shim
checker() { CARGO="$tree/cargo-shim" "$tree/target/debug/checker" "$@"; }
# checked LOG COMMAND...: runs the checker with its builds logged to LOG.
checked() { local log=$1; shift; : > "$log"; BUILD_LOG="$tree/$log" checker "$@" > "$log.out" 2>&1 || true; }
# Crates compiled (not found fresh) in a build log: the dependencies (from a
# registry), or the workbook's own (exercises, testkit).
dependencies() { grep '"reason":"compiler-artifact"' "$1" | grep '"fresh":false' | grep -vc '"package_id":"path+' || true; }
own_crates() { grep '"reason":"compiler-artifact"' "$1" | grep '"fresh":false' | grep -c '"package_id":"path+' || true; }

# An edit of the learner's file: the checker's ledger digests sources, so a
# `touch` alone makes it build nothing.
edit_hello() { echo "// an edit" >> lessons/01-server/hello/src/lib.rs; }

echo "The $ID elective, in a fresh copy ($tree): $(machine)"

# 1. The workbook without the elective.
tar -cf elective.tar Cargo.toml Cargo.lock book/listings lessons solutions
rm -rf "lessons/$LESSON" "solutions/$LESSON"
sed -i '/async-graphql/d; /elective only/d' Cargo.toml
sed -i "/${ID}-.*-solution/d" book/listings/Cargo.toml
checker dev checksums > /dev/null
start=$(now_ms)
checked without.json check --all
without_seconds=$(seconds_since "$start")
edit_hello
checked hello-alone.json check server/hello
without_size=$(size_mib)
echo
echo "1. the workbook without the elective:"
printf '  %-52s %9s s\n' "cold check --all (the checker built before)" "$without_seconds"
printf '  %-52s %9s\n' "then server/hello edited and checked: dependency crates" "$(dependencies hello-alone.json)"
printf '  %-52s %9s MiB\n' "target/" "$without_size"

# 2. The elective pulled in, not taken.
tar -xf elective.tar
checker dev checksums > /dev/null
start=$(now_ms)
checked pulled.json check --all
pulled_seconds=$(seconds_since "$start")
pulled_size=$(size_mib)
graphql_files=$(find target -name '*async_graphql*' | wc -l)
start=$(now_ms)
checked pulled-again.json check --all
again_seconds=$(seconds_since "$start")
echo
echo "2. the elective pulled in, never opened, then check --all:"
figure "dependency crates compiled" "$(dependencies pulled.json)" "" "0" 0
figure "files of async-graphql in target/" "$graphql_files" "" "0" 0
figure "the workbook's own crates built again" "$(own_crates pulled.json)" "" "0" 0
printf '  %-52s %9s s\n' "time" "$pulled_seconds"
printf '  %-52s %9s MiB\n' "target/ grew by" "$(( pulled_size - without_size ))"
printf '  %-52s %9s s\n' "check --all again, nothing changed" "$again_seconds"
figure "crates compiled by that second check --all" "$(( $(dependencies pulled-again.json) + $(own_crates pulled-again.json) ))" "" "0" 0
grep -q "Not checked: the elective $ID" pulled.json.out \
    && echo "  check --all says it left the elective out" \
    || { echo "  check --all did not say it left the elective out:" >&2; tail -5 pulled.json.out >&2; exit 1; }

# 3. Taken.
checker goto "$ID/schema" > /dev/null
start=$(now_ms)
checked taken.json check --all
taken_seconds=$(seconds_since "$start")
taken_size=$(size_mib)
echo
echo "3. the elective taken (goto $ID/schema), then check --all:"
printf '  %-52s %9s s\n' "time (its dependencies and 4 exercises built)" "$taken_seconds"
printf '  %-52s %9s\n' "dependency crates compiled" "$(dependencies taken.json)"
printf '  %-52s %9s MiB\n' "target/ grew by" "$(( taken_size - pulled_size ))"

# 4. Back to a lesson: nothing of the lessons' dependencies is rebuilt.
edit_hello
checked back.json check server/hello
edit_hello
checked back-all.json check --all
echo
echo "4. back to server/hello after taking the elective (its file edited):"
figure "check server/hello: dependency crates compiled" "$(dependencies back.json)" "" "0" 0
figure "then check --all: dependency crates compiled" "$(dependencies back-all.json)" "" "0" 0
