#!/usr/bin/env bash
# `cargo checker check --all` on a fully solved workbook against raw
# `cargo test` of the same lesson crates: the checker's whole overhead (its
# own start through `cargo run`, a second cargo call, listing each binary's
# tests, reading the output, checksums, saving progress) on every test there
# is. Both run warm, with nothing changed; the solutions' files are copied
# over the starters in a copy of the workbook, never in the workbook itself.
# Usage: bench/check-all.sh [RUNS] [DIR]   (default: 5 runs, a new copy)
#   DIR: a copy made by bench/cold-build.sh DIR (saves building it again).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"

runs="${1:-5}"
tree="${2:-}"
if [ -z "$tree" ]; then
    tree=$(mktemp -d)
    trap 'rm -rf "$tree"' EXIT
    copy_repo "$tree"
fi
if [ ! -f "$tree/.bench-copy" ]; then
    echo "check-all.sh: $tree is not a copy made by the bench scripts; it would be changed" >&2
    exit 2
fi
cd "$tree"
unset CARGO_TARGET_DIR

# Solve every exercise with its reference solution.
for solution in solutions/*/*/; do
    exercise="lessons/${solution#solutions/}"
    cp -R "$solution/src/." "$exercise/src/"
done

echo "Solved copy ($tree): $(machine)"
echo "Warming up: building the solved crates..."
cargo checker check --all --format json > solved.json 2>/dev/null || true
if ! grep -q '"exercises_total"' solved.json; then
    echo "check-all.sh: cargo checker check --all failed" >&2
    exit 1
fi
# A lesson being written may have solutions that fail or hang (and raw
# cargo test has no time limit): compare on the finished lessons only.
incomplete=$(awk -F'"' '/"id": /{id=$4} /"status": /{if ($4 != "done") {split(id, part, "/"); print part[1]}}' solved.json | sort -u)
for lesson in $incomplete; do
    echo "note: lesson $lesson is left out: not all its solutions pass"
    rm -rf lessons/*-"$lesson" solutions/*-"$lesson"
done
packages=()
for manifest in lessons/*/*/Cargo.toml; do
    packages+=(--package "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
done
if [ ${#packages[@]} = 0 ]; then
    echo "check-all.sh: no lesson has all its solutions passing" >&2
    exit 1
fi
cargo checker check --all --format json > solved.json 2>/dev/null || true
exercises=$(sed -n 's/^ *"exercises_done": \([0-9]*\),*$/\1/p' solved.json | tail -1)
raw_test() { cargo test --quiet "${packages[@]}" >/dev/null 2>&1 || true; }
raw_test

checker_ms=(); cargo_ms=()
for run in $(seq "$runs"); do
    start=$(now_ms); cargo checker check --all >/dev/null 2>&1 || true; end=$(now_ms)
    checker_ms+=($(( end - start )))
    start=$(now_ms); raw_test; end=$(now_ms)
    cargo_ms+=($(( end - start )))
done
checker=$(printf '%s\n' "${checker_ms[@]}" | median)
raw=$(printf '%s\n' "${cargo_ms[@]}" | median)

echo
echo "check --all on the solved workbook ($exercises exercises, all done), $runs runs, medians, load now $(load):"
printf '  %-44s %9s ms\n' "cargo checker check --all" "$checker"
printf '  %-44s %9s ms\n' "raw cargo test of the same crates" "$raw"
figure "ratio checker / raw cargo" "$(ratio "$checker" "$raw")" "" "at most 1.25" 1.25
