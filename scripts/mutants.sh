#!/usr/bin/env bash
# Mutation testing of the reference solutions against the lessons' own tests.
# Usage: scripts/mutants.sh [LESSON|ID]
#   (nothing)        every lesson
#   server           one lesson, by its id (or its folder, 01-server)
#   server/config    one exercise
#
# cargo-mutants changes one thing at a time in a solution (a body replaced by
# a default, an operator flipped, a match arm deleted) and runs the
# exercise's tests, which are the lesson's test files: a change no test
# notices is a survivor ("missed"). Every survivor must be caught by a test
# or explained as equivalent on the lesson's instructor page
# (book/src/instructor/<lesson>.md), see the curriculum's test-strength rule.
#
# Only the solution's own code is mutated. Files a solution takes from the
# lesson with `#[path = "../../../../lessons/..."]` (the app given in
# server/testing, the modules given in server/main) are the workbook's, not
# the learner's answer, and are left alone.
#
# cargo-mutants builds in a copy of the workbook, with a target folder of its
# own, target/mutants/build, kept between runs so that dependencies are built
# once (the first run takes a few minutes more); the workspace's own target/
# is never touched. Its reports stay in target/mutants/out/<name>/mutants.out
# (outcomes.json, a log per mutant, a diff per mutant).
#
# Environment: MUTANTS_TIMEOUT, the seconds one mutant's tests may run
# (default 90; a hanging mutant counts as "timed out").
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"

TIMEOUT="${MUTANTS_TIMEOUT:-90}"
BUILD_DIR="$REPO/target/mutants/build"
OUT_ROOT="$REPO/target/mutants/out"

# The checker runs tests with RUST_BACKTRACE=0; a backtrace per failing test
# only slows every caught mutant down.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "Installing cargo-mutants (once; it takes a few minutes)..."
    cargo install --locked cargo-mutants
fi

# lesson_id DIR: the `id` of lessons/DIR/lesson.toml.
lesson_id() { sed -n 's/^id *= *"\(.*\)".*/\1/p' "lessons/$1/lesson.toml" | head -1; }

# exercises DIR: the lesson's exercises, in its order.
exercises() {
    awk '/^exercises *= *\[/ {inside = 1; next} inside && /\]/ {exit} inside' \
        "lessons/$1/lesson.toml" | sed -n 's/^ *"\([^"]*\)".*/\1/p'
}

# package_of DIR: the package name in DIR/Cargo.toml.
package_of() { sed -n 's/^name *= *"\(.*\)".*/\1/p' "$1/Cargo.toml" | head -1; }

# The lessons and exercises to run: "DIR EXERCISE" lines.
selected=()
want="${1:-}"
for toml in lessons/*/lesson.toml; do
    dir=$(basename "$(dirname "$toml")")
    id=$(lesson_id "$dir")
    case "$want" in
        "" | "$id" | "$dir") only="" ;;
        "$id"/* | "$dir"/*) only="${want#*/}" ;;
        *) continue ;;
    esac
    for exercise in $(exercises "$dir"); do
        if [ -z "$only" ] || [ "$only" = "$exercise" ]; then
            selected+=("$dir $exercise")
        fi
    done
done
if [ ${#selected[@]} -eq 0 ]; then
    echo "No lesson or exercise \`$want\`. Give a lesson (server, 01-server) or an exercise (server/config)." >&2
    exit 2
fi

# diff_lines OUT NAME: the changed lines of mutant NAME (as listed in
# missed.txt, "FILE:LINE:COL: WHAT"), from its diff in OUT/diff.
diff_lines() {
    local out=$1 name=$2
    local file=${name%%:*} rest=${name#*:}
    local line=${rest%%:*} rest2=${rest#*:}
    local col=${rest2%%:*} what=${rest2#*: }
    local mangled=${file//\//__}
    local diff
    for diff in "$out/diff/${mangled}_line_${line}_col_${col}"*.diff; do
        [ -f "$diff" ] || continue
        if [ "$(sed -n 2p "$diff")" = "+++ $what" ]; then
            tail -n +3 "$diff" | grep -E '^[-+]' | head -4 | sed 's/^\([-+]\) */\1 /; s/^/            /'
            return
        fi
    done
}

# count FILE: the number of lines in FILE (0 if it does not exist).
count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }

total_caught=0 total_missed=0 total_unviable=0 total_timeout=0
summary=()

# One cargo-mutants run per lesson: one copy of the workbook, one baseline.
for dir in $(printf '%s\n' "${selected[@]}" | cut -d' ' -f1 | uniq); do
    id=$(lesson_id "$dir")
    packages=()
    names=()
    for line in "${selected[@]}"; do
        [ "${line%% *}" = "$dir" ] || continue
        exercise=${line#* }
        solution="solutions/$dir/$exercise"
        if [ ! -f "$solution/Cargo.toml" ]; then
            echo "warning: $id/$exercise has no solution at $solution; skipped" >&2
            continue
        fi
        packages+=(--package "$(package_of "$solution")")
        names+=("$exercise")
    done
    [ ${#names[@]} -gt 0 ] || continue
    name=$id
    [ -z "$want" ] || [ "${want#*/}" = "$want" ] || name="$id-${want#*/}"
    out="$OUT_ROOT/$name"
    mkdir -p "$out"

    echo "==> cargo mutants on the solutions of $id: ${names[*]}"
    status=0
    # --jobs 1: one cargo build already keeps two cores busy, and the jobs
    # would share the one target folder. -E: leave the given files alone.
    CARGO_TARGET_DIR="$BUILD_DIR" cargo mutants "${packages[@]}" \
        --jobs 1 --timeout "$TIMEOUT" --exclude-re '/lessons/' \
        --output "$out" || status=$?
    # 0: all caught; 2: some missed; 3: some timed out. Anything else (1: bad
    # usage, 4: the tests fail on the unchanged solutions) is no result.
    case $status in
        0 | 2 | 3) ;;
        *)
            echo "cargo mutants failed (exit $status); see $out/mutants.out/log" >&2
            exit "$status"
            ;;
    esac

    results="$out/mutants.out"
    for exercise in "${names[@]}"; do
        prefix="solutions/$dir/$exercise/"
        for outcome in caught missed unviable timeout; do
            grep -F "$prefix" "$results/$outcome.txt" 2>/dev/null > "$out/$exercise.$outcome" || true
        done
        caught=$(count "$out/$exercise.caught")
        missed=$(count "$out/$exercise.missed")
        unviable=$(count "$out/$exercise.unviable")
        timeout=$(count "$out/$exercise.timeout")
        total_caught=$((total_caught + caught))
        total_missed=$((total_missed + missed))
        total_unviable=$((total_unviable + unviable))
        total_timeout=$((total_timeout + timeout))
        summary+=("$(printf '%-24s caught %3d   missed %3d   unviable %3d   timed out %3d' \
            "$id/$exercise" "$caught" "$missed" "$unviable" "$timeout")")
        while IFS= read -r mutant; do
            summary+=("    missed:    ${mutant#"$prefix"}")
            while IFS= read -r changed; do summary+=("$changed"); done < <(diff_lines "$results" "$mutant")
        done < "$out/$exercise.missed"
        while IFS= read -r mutant; do
            summary+=("    timed out: ${mutant#"$prefix"}")
        done < "$out/$exercise.timeout"
    done
done

echo
echo "Mutants per exercise (survivors with the lines they change):"
printf '%s\n' "${summary[@]}"
total=$((total_caught + total_missed + total_unviable + total_timeout))
echo "total: $total mutants, $total_caught caught, $total_missed missed, $total_unviable unviable, $total_timeout timed out"
