# Helpers for the bench scripts: `source` it, do not run it. Expects REPO
# (the workbook's root) to be set.

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# meets VALUE LIMIT: "ok" if VALUE <= LIMIT, else "MISSED".
meets() { awk -v v="$1" -v l="$2" 'BEGIN {print (v <= l ? "ok" : "MISSED")}'; }

# figure LABEL VALUE UNIT GOAL LIMIT: one line of results, with its goal.
figure() {
    printf '  %-44s %9s %-3s (goal: %s) %s\n' "$1" "$2" "$3" "$4" "$(meets "$2" "$5")"
}

# The load averages (1, 5, 15 minutes): a busy machine makes slow figures.
load() { uptime | sed 's/.*load average[s]*: *//'; }

machine() {
    local memory
    memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || echo "?")
    echo "$(nproc) cores, $memory, load $(load)"
}

# copy_repo DEST: the workbook's files (tracked and new, not ignored) into
# the empty folder DEST, without target/ or progress: a fresh clone, with the
# work in progress. The copy is marked so that scripts that change files
# (check-all.sh solves every exercise) only ever change a copy.
copy_repo() {
    local dest=$1
    mkdir -p "$dest"
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$dest"
    touch "$dest/.bench-copy"
}

# The checker runs tests with RUST_BACKTRACE=0; raw cargo takes the shell's
# setting, and backtraces make panicking tests slow. Compare like with like.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
