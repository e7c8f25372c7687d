#!/usr/bin/env bash
# Measures `cargo checker grade` on a class of LEARNERS copies of this
# workbook, each with the reference solutions of one lesson written in (so
# that every learner's code differs from the starters and must be built):
#   - the warm build of the starters, made once per `grade`;
#   - the time per learner (a fresh tree, a copy of the warm build, the
#     learner's edited files built and tested);
#   - and, for scale, one cold `check` of the same lesson in a fresh copy:
#     what each learner would cost without the warm build.
# Usage: bench/grade.sh [LESSON] [LEARNERS]   (default: server 3)
# Works in a temporary folder; the workbook and its target/ are left alone.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/bench/lib.sh"

lesson="${1:-server}"
learners="${2:-3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "grade on $learners learners, lesson $lesson: $(machine)"
copy_repo "$work/instructor"
(cd "$work/instructor" && git init -q && git add -A && git -c user.name=b -c user.email=b@b commit -qm bench)
lesson_dir=$(cd "$work/instructor" && ls -d lessons/*-"$lesson")
sources=()
for n in $(seq "$learners"); do
    copy_repo "$work/learner$n"
    for solution in "$work/learner$n/solutions/${lesson_dir#lessons/}"/*/src/*.rs; do
        rel=${solution#"$work/learner$n/solutions/"}
        cp "$solution" "$work/learner$n/lessons/$rel"
    done
    sources+=("$work/learner$n")
done

cd "$work/instructor"
cargo build --quiet --package checker
start=$(now_ms)
cargo checker grade "${sources[@]}" --only "$lesson" --out "$work/grades" 2> "$work/stderr" | tee "$work/stdout"
total=$(( $(now_ms) - start ))
warm=$(sed -n 's/.*ready in \([0-9.]*\) s.*/\1/p' "$work/stderr" | head -1)
per=$(sed -n 's/.*(\([0-9.]*\) s)$/\1/p' "$work/stdout" | median)

copy_repo "$work/cold"
cd "$work/cold"
start=$(now_ms)
cargo checker check "$lesson" > /dev/null || true
cold=$(( $(now_ms) - start ))

echo
echo "Results:"
figure "warm build of the starters (once per grade)" "$warm" s "once" 999999
figure "per learner (median of $learners)" "$per" s "seconds, not a cold build" "$(awk -v c="$cold" 'BEGIN {print c / 1000}')"
figure "whole grade of $learners learners" "$(( total / 1000 ))" s "-" 999999
figure "one cold check of the lesson, for scale" "$(( cold / 1000 ))" s "-" 999999
