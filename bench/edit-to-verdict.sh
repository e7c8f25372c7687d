#!/usr/bin/env bash
# Measures the learner's loop on a warm build and compares it with raw cargo:
#   - edit-to-verdict: change the exercise file, then `cargo checker check ID`,
#     against the same edit followed by `cargo test -p PACKAGE`;
#   - a no-change `cargo checker check ID`.
# Usage: bench/edit-to-verdict.sh [EXERCISE_ID] [RUNS]   (default: server/hello 7)
# Prints medians, the ratio, and the goals they are held to. Restores the file.
# It works on the workbook it belongs to (bench/all.sh runs it in a copy).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"
cd "$REPO"

id="${1:-server/hello}"
runs="${2:-7}"
lesson="${id%%/*}"
name="${id##*/}"
dir=$(ls -d lessons/*-"$lesson"/"$name")
file="$dir/src/lib.rs"
package=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -1)
backup=$(mktemp)
cp "$file" "$backup"
trap 'cp "$backup" "$file"; rm -f "$backup"' EXIT

now() { date +%s%N; }
edit() { printf '// bench edit %s\n' "$1" >> "$file"; }

echo "Edit to verdict on $id: $(machine)"
echo "Warming up: building $id and the checker..."
cargo build --quiet --package checker
cargo checker check "$id" >/dev/null || true
cargo test --quiet --package "$package" >/dev/null 2>&1 || true

checker_ms=(); cargo_ms=(); nochange_ms=(); start_ms=(); after_raw_ms=()
for run in $(seq "$runs"); do
    edit "checker-$run"
    start=$(now); cargo checker check "$id" >/dev/null || true; end=$(now)
    checker_ms+=($(( (end - start) / 1000000 )))

    edit "cargo-$run"
    start=$(now); cargo test --quiet --package "$package" >/dev/null 2>&1 || true; end=$(now)
    cargo_ms+=($(( (end - start) / 1000000 )))

    # The checker does not take a test binary that another cargo built
    # for one it saw built (see the instructor guide's "Seal"): the first
    # check after a raw `cargo test` of new sources builds once more.
    start=$(now); cargo checker check "$id" >/dev/null || true; end=$(now)
    after_raw_ms+=($(( (end - start) / 1000000 )))

    start=$(now); cargo checker check "$id" >/dev/null || true; end=$(now)
    nochange_ms+=($(( (end - start) / 1000000 )))

    # What `cargo run` costs before the checker's first line runs.
    start=$(now); cargo checker --version >/dev/null; end=$(now)
    start_ms+=($(( (end - start) / 1000000 )))
done

checker=$(printf '%s\n' "${checker_ms[@]}" | median)
raw=$(printf '%s\n' "${cargo_ms[@]}" | median)
nochange=$(printf '%s\n' "${nochange_ms[@]}" | median)
after_raw=$(printf '%s\n' "${after_raw_ms[@]}" | median)
cargo_start=$(printf '%s\n' "${start_ms[@]}" | median)
ratio=$(ratio "$checker" "$raw")

echo
echo "exercise $id, $runs runs, medians, load now $(load):"
figure "edit-to-verdict, cargo checker check" "$checker" "ms" "under 1500 ms" 1499.999
printf '  %-44s %9s ms\n' "edit-to-test-result, raw cargo test" "$raw"
figure "ratio checker / raw cargo" "$ratio" "" "at most 1.10" 1.10
printf '  %-44s %9s ms\n' "  of which cargo run's own start" "$cargo_start"
# The rest is the checker's: its build, its test runs, its progress.
after=$(awk -v a="$checker" -v b="$cargo_start" 'BEGIN {print a - b}')
printf '  %-44s %9s ms (ratio to raw cargo %s)\n' "  the rest, from the checker's first line" "$after" "$(ratio "$after" "$raw")"
figure "no-change cargo checker check" "$nochange" "ms" "under 500 ms" 499.999
printf '  %-44s %9s ms\n' "first check after a raw cargo test (rebuilds)" "$after_raw"
