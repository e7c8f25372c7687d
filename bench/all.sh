#!/usr/bin/env bash
# Every figure of the README's "Performance" section, measured in one run on
# a fresh copy of the workbook (the work in progress included; the
# workbook's own files and target/ are never touched):
#   1. bench/cold-build.sh: first `cargo checker check --all` from an empty
#      target/, and the size of target/ after it (and, last, the rest of the
#      workspace: the whole workspace built cold, and its target/);
#   2. bench/edit-to-verdict.sh: the learner's loop on one exercise with
#      `cargo checker check` against raw `cargo test -p`, and a no-change
#      check; then bench/watch-latency.py, the same loop in watch mode;
#   3. bench/cargo-start.sh: what `cargo run` costs before the checker's
#      first line, against empty programs in and outside this workspace;
#   4. bench/check-all.sh: check --all on the solved workbook against raw
#      `cargo test` of the same crates.
# Usage: bench/all.sh [RUNS] [EXERCISE_ID]   (default: 7 server/hello)
# Run it on an otherwise quiet machine: the load is printed with the figures.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"

runs="${1:-7}"
id="${2:-server/hello}"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT

echo "Benchmarks on $(machine)"
echo "$(rustc --version), $(cargo --version)"
echo
BENCH_REST=later "$REPO/bench/cold-build.sh" "$tree"
echo
"$tree/bench/edit-to-verdict.sh" "$id" "$runs"
echo
if command -v python3 >/dev/null && [ -f "$tree/bench/watch-latency.py" ]; then
    echo "Watch mode on $id: $(machine)"
    python3 "$tree/bench/watch-latency.py" "$id" "$runs"
    echo
fi
"$REPO/bench/cargo-start.sh" "$runs" "$tree"
echo
"$REPO/bench/check-all.sh" "$runs" "$tree"
echo
"$REPO/bench/cold-build.sh" --rest "$tree"
echo
echo "Done; load now $(load)."
