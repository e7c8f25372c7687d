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

# Solve every exercise: the solution's version of each file the learner
# edits (a solution may take the rest from the lesson with #[path]).
cargo checker list --format json > exercises.json
python3 - <<'PY'
import json, shutil
for exercise in json.load(open("exercises.json"))["exercises"]:
    for edited in exercise["edit"]:
        lesson_dir, _, rest = edited.partition("/")  # lessons/NN-x/name/...
        shutil.copyfile("solutions/" + rest, edited)
PY

echo "Solved copy ($tree): $(machine)"
echo "Warming up: building the solved crates..."
cargo checker check --all --format json > solved.json 2>/dev/null || true
if ! grep -q '"exercises_total"' solved.json; then
    echo "check-all.sh: cargo checker check --all failed" >&2
    exit 1
fi
# Every solution passes (dev verify proves it); a run where one does not
# would compare the checker's time limit with a raw cargo test that has none.
not_done=$(awk -F'"' '/"id": /{id=$4} /"status": /{if ($4 != "done") print id}' solved.json)
if [ -n "$not_done" ]; then
    echo "check-all.sh: not every solution passes in the solved copy: $not_done" >&2
    exit 1
fi
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
