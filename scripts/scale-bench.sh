#!/usr/bin/env bash
# Recordings at production scale: builds synthetic recordings (8 tasks in a chain, SUBTASKS
# subtasks, 2,000 distinct stacks of depth 20–40, 99 samples per subtask-second, 1-second
# intervals; `crates/bpprof-format/examples/scale.rs`) and measures their size and each
# command's wall time and peak RSS (`/usr/bin/time`), printing one Markdown table per shape.
#
# Usage: scripts/scale-bench.sh [SHAPES (default "64x3600 256x3600")]
#        a shape is SUBTASKSxSECONDS; WORK=DIR keeps the recordings there (default: a temporary
#        directory, removed at the end); REUSE=1 reuses recordings already in WORK.
# Needs about 250 MB of disk for 256x3600 (formats 1.4 and 1.5; 1.2 GB in 1.3). Exit status: 0, or 1 when a step fails.
set -euo pipefail

shapes=${1:-64x3600 256x3600}

die() {
    echo "error: $*" >&2
    exit 1
}

[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian/Ubuntu: apt-get install time)"
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
cargo build --release -q -p bpprof-format --example scale
cargo build --release -q -p bpprof-cli
bpprof=$target/release/bpprof
scale=$target/release/examples/scale

if [ -n "${WORK:-}" ]; then
    mkdir -p "$WORK"
    work=$WORK
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi

# measure NAME COMMAND...: one table row, wall seconds and peak RSS in MiB.
measure() {
    local name=$1
    shift
    local status=0
    /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
        # 1 is `check` finding a regression between the two different seeds: still measured.
        cat "$work/stderr" >&2
        die "$name failed with exit status $status"
    fi
    read -r secs kib <"$work/time"
    printf '| `%s` | %s | %s |\n' "$name" "$secs" "$(( (kib + 512) / 1024 ))"
}

for shape in $shapes; do
    subtasks=${shape%x*}
    seconds=${shape#*x}
    a=$work/a-$shape.bpprof
    b=$work/b-$shape.bpprof
    if [ -z "${REUSE:-}" ] || [ ! -s "$a" ] || [ ! -s "$b" ]; then
        "$scale" --subtasks "$subtasks" --seconds "$seconds" --seed 1 --out "$a"
        "$scale" --subtasks "$subtasks" --seconds "$seconds" --seed 2 --out "$b"
    fi
    size=$(stat -c %s "$a")
    echo
    echo "### $subtasks subtasks × $seconds s: $size bytes ($(( size / (subtasks * seconds) )) bytes per subtask-second)"
    echo
    echo '| command | wall s | peak RSS MiB |'
    echo '|---|---:|---:|'
    half=$(( seconds / 2 ))
    measure "locate" "$bpprof" locate "$a"
    measure "locate --from $half --to $(( half + 60 ))" "$bpprof" locate --from "$half" --to "$(( half + 60 ))" "$a"
    measure "flame --subtask stage3#0" "$bpprof" flame --subtask 'stage3#0' -o "$work/flame.svg" "$a"
    measure "flame --subtask stage3#0 --folded" "$bpprof" flame --subtask 'stage3#0' --folded -o "$work/flame.folded" "$a"
    measure "flame --subtask stage3#0 --from $half --to $(( half + 60 )) --folded" "$bpprof" flame --subtask 'stage3#0' --from "$half" --to "$(( half + 60 ))" --folded -o "$work/flame.folded" "$a"
    measure "check --baseline A B" "$bpprof" check --baseline "$a" "$b"
    measure "diff A B" "$bpprof" diff --subtask 'stage3#0' -o "$work/diff.svg" "$a" "$b"
    measure "diff A B --from $half --to $(( half + 60 ))" "$bpprof" diff --subtask 'stage3#0' --from "$half" --to "$(( half + 60 ))" -o "$work/diff.svg" "$a" "$b"
done
