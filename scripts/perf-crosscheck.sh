#!/usr/bin/env bash
# Cross-checks bpprof's stack sampling against perf on the same thread at the same time.
#
# Runs examples/cpu_split.rs (one registered subtask, Split#0, that spends ~2/3 of its CPU in
# `heavy` and ~1/3 in `light`), records it with bpprof (BPPROF_OUT, BPPROF_SAMPLE_HZ) and, at
# the same time, with `perf record -e cpu-clock -t TID` on the thread id the example prints;
# folds both profiles and prints each function's share of the thread's samples side by side.
#
# It does so in two modes, at each rate: `plain` (Split#0 alone) and `wake` (the example's
# `--wake`: after each record Split#0 sends it through an instrumented channel to a second
# subtask, Sink#0, so it wakes another thread after almost every record), then prints one
# summary table: mode, rate, bpprof's and perf's share of `heavy`, and their difference.
#
# Usage: scripts/perf-crosscheck.sh [SECONDS (default 5)] [HZ (default 99,999; a comma-separated list)]
#        MODES="plain wake" (default) selects the modes;
#        KEEP=1 keeps the work directory (recordings, perf.data, folded stacks).
# Exit status: 0 when every profile was taken; 1 when perf is missing or a step fails.
set -euo pipefail

run_s=${1:-5}
rates=${2:-99,999}
modes=${MODES:-plain wake}

die() {
    echo "error: $*" >&2
    exit 1
}

command -v perf >/dev/null 2>&1 ||
    die "perf is not installed (Debian/Ubuntu: apt-get install linux-perf); this script needs it to take the reference profile"
perf --version >/dev/null 2>&1 ||
    die "perf is installed but does not run ($(command -v perf)); install the linux-perf package matching the kernel"

cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}

echo "== building (release) ==" >&2
cargo build --release --quiet --example cpu_split -p bpprof-scenarios
cargo build --release --quiet -p bpprof-cli --bin bpprof
example="$target_dir/release/examples/cpu_split"
bpprof="$target_dir/release/bpprof"

work=$(mktemp -d "${TMPDIR:-/tmp}/perf-crosscheck.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
    echo "work directory: $work" >&2
else
    trap 'rm -rf "$work"' EXIT
fi

# Share of the samples whose stack contains each function (inclusive), per profile.
shares() {
    awk '
        {
            n = $NF; total += n
            if ($0 ~ /cpu_split::heavy/) heavy += n
            else if ($0 ~ /cpu_split::light/) light += n
            else other += n
        }
        END { printf "%d %d %d %d\n", total, heavy, light, other }
    ' "$1"
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f %%", 100 * a / b }'; }
diff_pts() {
    awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { printf "%+.1f", 100 * a / b - 100 * c / d }'
}

# One cross-check: mode ($1: plain or wake) at $2 Hz, in $work/$1-$2; prints the side-by-side
# table and appends a line "mode hz bpprof-share perf-share bpprof-samples perf-samples" to
# $work/summary.
crosscheck() {
    local mode=$1 hz=$2
    local dir="$work/$mode-$hz"
    local wake_flag=()
    [[ "$mode" == wake ]] && wake_flag=(--wake)
    mkdir -p "$dir"
    local tid example_pid perf_pid example_status
    local b_total b_heavy b_light b_other p_total p_heavy p_light p_other
    echo "== ${mode}: recording Split#0 for ${run_s} s at ${hz} Hz with bpprof and perf ==" >&2
    BPPROF_OUT="$dir/split.bpprof" BPPROF_SAMPLE_HZ="$hz" \
        "$example" --seconds "$run_s" "${wake_flag[@]}" >"$dir/example.out" 2>"$dir/example.err" &
    example_pid=$!

    tid=""
    for _ in $(seq 200); do
        tid=$(awk '/^tid [0-9]+$/ { print $2; exit }' "$dir/example.out")
        [[ -n "$tid" ]] && break
        kill -0 "$example_pid" 2>/dev/null || break
        sleep 0.02
    done
    if [[ -z "$tid" ]]; then
        cat "$dir/example.err" >&2
        die "the example did not print its thread id"
    fi

    perf record -q -e cpu-clock -F "$hz" -g -t "$tid" -o "$dir/perf.data" \
        >"$dir/perf.out" 2>"$dir/perf.err" &
    perf_pid=$!

    example_status=0
    wait "$example_pid" || example_status=$?
    # perf usually ends by itself when the thread exits; stop it if it has not.
    for _ in $(seq 50); do
        kill -0 "$perf_pid" 2>/dev/null || break
        sleep 0.02
    done
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" || true
    if [[ "$example_status" != 0 ]]; then
        cat "$dir/example.err" >&2
        die "the example exited with status $example_status"
    fi
    [[ -s "$dir/perf.data" ]] || { cat "$dir/perf.err" >&2; die "perf recorded nothing"; }

    # perf: one sample = a header line, then one line per frame (innermost first), then a blank line.
    perf script -i "$dir/perf.data" -F comm,tid,ip,sym 2>/dev/null | awk '
        function flush() {
            if (n > 0) {
                stack = frame[n - 1]
                for (i = n - 2; i >= 0; i--) stack = stack ";" frame[i]
                count[stack]++
            }
            n = 0
        }
        /^[^ \t]/ { flush(); next }
        /^[ \t]+[0-9a-f]+ / {
            sym = $2
            for (i = 3; i <= NF; i++) { if ($i ~ /^\(/) break; sym = sym " " $i }
            gsub(/;/, ":", sym)
            frame[n++] = sym
            next
        }
        /^[ \t]*$/ { flush() }
        END { flush(); for (s in count) print s, count[s] }
    ' >"$dir/perf.folded"

    "$bpprof" flame "$dir/split.bpprof" --subtask 'Split#0' --mode on-cpu --folded \
        >"$dir/bpprof.folded"

    read -r b_total b_heavy b_light b_other < <(shares "$dir/bpprof.folded")
    read -r p_total p_heavy p_light p_other < <(shares "$dir/perf.folded")
    [[ "$b_total" -gt 0 ]] || die "bpprof took no on-CPU samples of Split#0"
    [[ "$p_total" -gt 0 ]] || die "perf took no samples of thread $tid"

    echo
    echo "Split#0 (tid $tid), ${mode}, ${run_s} s at ${hz} Hz; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%-26s %16s %16s %12s\n' "" "bpprof on-CPU" "perf -t TID" "difference"
    printf '%-26s %16s %16s %12s\n' "samples" "$b_total" "$p_total" ""
    printf '%-26s %16s %16s %12s\n' "cpu_split::heavy (2/3)" "$(pct "$b_heavy" "$b_total")" \
        "$(pct "$p_heavy" "$p_total")" "$(diff_pts "$b_heavy" "$b_total" "$p_heavy" "$p_total") pts"
    printf '%-26s %16s %16s %12s\n' "cpu_split::light (1/3)" "$(pct "$b_light" "$b_total")" \
        "$(pct "$p_light" "$p_total")" "$(diff_pts "$b_light" "$b_total" "$p_light" "$p_total") pts"
    printf '%-26s %16s %16s %12s\n' "elsewhere" "$(pct "$b_other" "$b_total")" \
        "$(pct "$p_other" "$p_total")" "$(diff_pts "$b_other" "$b_total" "$p_other" "$p_total") pts"
    awk -v m="$mode" -v hz="$hz" -v bh="$b_heavy" -v bt="$b_total" -v ph="$p_heavy" -v pt="$p_total" \
        'BEGIN { printf "%s %s %.4f %.4f %d %d\n", m, hz, bh / bt, ph / pt, bt, pt }' >>"$work/summary"
}

for mode in $modes; do
    [[ "$mode" == plain || "$mode" == wake ]] || die "unknown mode '$mode' in MODES (plain, wake)"
done
for hz in ${rates//,/ }; do
    [[ "$hz" =~ ^[1-9][0-9]*$ ]] || die "HZ must be a positive rate or a comma-separated list of them, not '$hz'"
done
: >"$work/summary"
for hz in ${rates//,/ }; do
    for mode in $modes; do
        crosscheck "$mode" "$hz"
    done
done

echo
echo "Summary: share of Split#0's on-CPU samples in cpu_split::heavy (expected 2/3); load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %6s %10s %10s %12s %10s %10s\n' mode Hz bpprof perf difference "bpprof n" "perf n"
awk '{
    d = 100 * ($3 - $4)
    printf "%-6s %6s %9.1f%% %9.1f%% %+8.1f pts %10d %10d  %s\n", $1, $2, 100 * $3, 100 * $4, d, $5, $6,
        (d <= 2 && d >= -2) ? "within 2 pts" : "OUTSIDE 2 pts"
}' "$work/summary"
