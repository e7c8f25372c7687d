#!/usr/bin/env bash
# The first run on a fresh clone: the learner's first verdict (`cargo
# checker check` of the current exercise from an empty target/), then the
# rest of `cargo checker check --all` (every dependency and every exercise
# built, every test run), and the size of target/ after that full check. Then the
# rest of the workspace (solutions, book listings, the checker's own tests:
# what `scripts/test-all.sh` builds too), and target/ after everything.
# Usage: bench/cold-build.sh [DIR]
#   DIR: an empty folder to copy the workbook into, left there (warm) for
#   the other scripts; by default a temporary folder, removed afterwards.
#   With BENCH_REST=later, the rest of the workspace is left for
#   `bench/cold-build.sh --rest DIR`, run last (bench/all.sh does so: its
#   gigabytes of writes would slow the timings that follow).
# The workbook's own target/ is never touched.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"

# rest: builds the rest of the workspace in the copy $1 and prints the
# figures for the whole, with the first check's time saved there.
rest() {
    local tree=$1 first start end seconds size
    cd "$tree"
    unset CARGO_TARGET_DIR
    first=$(cat .bench-cold-seconds)
    start=$(now_ms)
    cargo build --quiet --workspace --tests
    end=$(now_ms)
    seconds=$(awk -v ms=$(( end - start )) 'BEGIN {printf "%.0f", ms / 1000}')
    size=$(du -sk target | awk '{printf "%.0f", $1 / 1024}')
    echo "the rest of the workspace (cargo build --workspace --tests), load now $(load):"
    printf '  %-44s %9s s\n' "building the rest" "$seconds"
    figure "the whole workspace, cold" "$(( first + seconds ))" "s" "under 240 s on 2 cores" 239.999
    figure "target/ after everything" "$size" "MiB" "under 3072 MiB" 3071.999
}

if [ "${1:-}" = "--rest" ]; then
    rest "$2"
    exit
fi

if [ $# -ge 1 ]; then
    tree=$1
    keep=1
    if [ -n "$(ls -A "$tree" 2>/dev/null)" ]; then
        echo "cold-build.sh: $tree is not empty" >&2
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

echo "Cold build in a fresh copy ($tree): $(machine)"
# A learner's first step is `cargo checker` (watch mode on the current
# exercise, server/hello): its one-shot twin is `cargo checker check`. Then
# the rest of `check --all`; the two together are a cold `check --all`.
start=$(now_ms)
cargo checker check > first-check.out 2>&1 || true
middle=$(now_ms)
cargo checker check --all --format json > check-all.json 2> check-all.err || true
end=$(now_ms)
first_seconds=$(awk -v ms=$(( middle - start )) 'BEGIN {printf "%.0f", ms / 1000}')
rest_seconds=$(awk -v ms=$(( end - middle )) 'BEGIN {printf "%.0f", ms / 1000}')
seconds=$(awk -v ms=$(( end - start )) 'BEGIN {printf "%.0f", ms / 1000}')
echo "$seconds" > .bench-cold-seconds
tests=$(sed -n 's/^ *"tests_total": \([0-9]*\),*$/\1/p' check-all.json | tail -1)
exercises=$(sed -n 's/^ *"exercises_total": \([0-9]*\),*$/\1/p' check-all.json | tail -1)
if [ -z "$exercises" ]; then
    echo "cargo checker check --all failed:" >&2
    cat check-all.err >&2
    exit 1
fi
size_mib=$(du -sk target | awk '{printf "%.0f", $1 / 1024}')

echo
echo "first check --all from an empty target/ ($exercises exercises, $tests tests), load now $(load):"
figure "first verdict: cargo checker check, cold" "$first_seconds" "s" "under 120 s on 2 cores" 119.999
printf '  %-44s %9s s\n' "then the rest of check --all" "$rest_seconds"
figure "cold cargo checker check --all (both)" "$seconds" "s" "under 240 s on 2 cores" 239.999
printf '  %-44s %9s s\n' "the rest, per further exercise (deps included)" "$(awk -v r="$rest_seconds" -v n="$exercises" 'BEGIN {printf "%.1f", r / (n - 1)}')"
figure "target/ after the full check" "$size_mib" "MiB" "under 3072 MiB" 3071.999
if [ "${BENCH_REST:-now}" != later ]; then
    echo
    rest "$tree"
fi
# Let the gigabytes just written reach the disk before anything is timed.
sync
