#!/usr/bin/env bash
# What `cargo run` costs before a program's first line runs, which every
# `cargo checker ...` pays: for the checker itself (`cargo checker --version`),
# for an empty program that is a member of this workspace, and for an empty
# program in a workspace of its own. The gap between the last two is the
# workbook's workspace (loading its members, resolving its dependencies);
# between the first two, checking the checker's own dependencies.
# Usage: bench/cargo-start.sh [RUNS] [DIR]   (default: 9 runs, a new copy)
#   DIR: a copy made by the bench scripts; an empty member is added to it.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"

runs="${1:-9}"
tree="${2:-}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ -z "$tree" ]; then
    tree="$scratch/workbook"
    copy_repo "$tree"
fi
if [ ! -f "$tree/.bench-copy" ]; then
    echo "cargo-start.sh: $tree is not a copy made by the bench scripts; it would be changed" >&2
    exit 2
fi
cd "$tree"
unset CARGO_TARGET_DIR
trap 'rm -rf "$tree/lessons/00-bench" "$scratch"' EXIT

empty_package() { # DIR NAME [WORKSPACE]
    mkdir -p "$1/src"
    printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n%s' \
        "$2" "${3:-}" > "$1/Cargo.toml"
    echo 'fn main() {}' > "$1/src/main.rs"
}
# A member of the copy's workspace (its members include lessons/*/*).
empty_package lessons/00-bench/empty bench-empty
# And one alone, outside any workspace.
empty_package "$scratch/alone" bench-alone $'[workspace]\n'

echo "cargo run's own start: $(machine)"
echo "Warming up..."
cargo build --quiet --package checker --package bench-empty
cargo build --quiet --manifest-path "$scratch/alone/Cargo.toml"

time_ms() { local start; start=$(now_ms); "$@" >/dev/null; echo $(( $(now_ms) - start )); }
checker_ms=(); member_ms=(); alone_ms=()
for _ in $(seq "$runs"); do
    checker_ms+=($(time_ms cargo checker --version))
    member_ms+=($(time_ms cargo run --quiet --package bench-empty))
    alone_ms+=($(time_ms cargo run --quiet --manifest-path "$scratch/alone/Cargo.toml"))
done

echo
echo "$runs runs, medians, load now $(load):"
printf '  %-44s %9s ms\n' "cargo checker --version" "$(printf '%s\n' "${checker_ms[@]}" | median)"
printf '  %-44s %9s ms\n' "an empty program in this workspace" "$(printf '%s\n' "${member_ms[@]}" | median)"
printf '  %-44s %9s ms\n' "an empty program in a workspace of its own" "$(printf '%s\n' "${alone_ms[@]}" | median)"
