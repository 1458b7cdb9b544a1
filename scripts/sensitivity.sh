#!/usr/bin/env bash
# Does `bpprof check` catch a small regression on this machine? Runs N comparisons: each records
# the slow_operator example once as it is (the baseline) and once with `--slowdown FACTOR` (task
# Enrich made FACTOR times as expensive per record, all of the extra work in `score_record`),
# then runs `bpprof check --baseline BASE CUR --format json`. A run is *caught* when the check
# exits 1 AND an error finding names task Enrich, metric cpu_per_record, with `score_record` in its
# `function`. Prints one row per comparison and the totals; fails when fewer than 9 in 10 are
# caught.
#
#   ./scripts/sensitivity.sh [N] [FACTOR] [SECONDS]      (defaults 10, 1.10, 3; output in ./out/sensitivity/)
#
# The two recordings of a run are made in alternating order (odd runs: baseline first; even runs:
# slowed first), so a machine that gets busier or quieter during the script does not favour a side.
#
# Environment:
#   BPPROF_CHECK_ARGS   extra arguments for every `bpprof check`, split on spaces
#   BPPROF_RECHECK=1    do not record: check the recordings of a previous run again
# Needs python3 (to read the JSON reports).
#
# Exit codes: 0 target met, 1 too few caught, 2 usage error or a run that failed (a recording or a
# check that exited with another code than 0, 1 or 3).
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-10}"
factor="${2:-1.10}"
seconds="${3:-3}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]] || ! [[ "$factor" =~ ^[0-9]+([.][0-9]+)?$ ]] \
    || ! [[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "usage: $0 [N] [FACTOR] [SECONDS]   (N a positive integer, FACTOR and SECONDS numbers)" >&2
    exit 2
fi
out="out/sensitivity"
# shellcheck source=scripts/lib/check-runs.sh
source scripts/lib/check-runs.sh
prepare_runs
echo "==> ${runs} comparisons of ${seconds} s recordings, baseline against --slowdown ${factor} (load average before: ${load_before})"

caught=0 missed=0 errors=0
columns() { printf '%-4s %-5s %-4s %-13s %-10s %-10s %-16s %-6s %-5s %s' "$@"; }
table="$(columns RUN ORDER EXIT STATUS THROUGHPUT "ENRICH CPU" "INTERVAL %" CAUGHT LOAD1 \
    "FUNCTION OF THE ENRICH CPU/RECORD FINDING")"
echo "$table"
for ((i = 1; i <= runs; i++)); do
    run="$(printf 'run-%02d' "$i")"
    rc=-1
    if ((i % 2 == 1)); then
        order="B>S"
        record "$run" base "$seconds" && record "$run" slow "$seconds" --slowdown "$factor" \
            && check "$run" base slow
    else
        order="S>B"
        record "$run" slow "$seconds" --slowdown "$factor" && record "$run" base "$seconds" \
            && check "$run" base slow
    fi
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    status="-" thr="-" cpu="-" cpu_iv="-" fn="-"
    if [[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]]; then
        IFS=$'\t' read -r status thr _ cpu cpu_iv _ fn <<<"$(summarise "$run")"
    fi
    if [[ $rc -eq 1 && "$fn" == *score_record* ]]; then
        verdict=yes
        caught=$((caught + 1))
    elif [[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]]; then
        verdict=no
        missed=$((missed + 1))
    else
        verdict=error
        errors=$((errors + 1))
    fi
    row="$(columns "$i" "$order" "$rc" "$status" "$thr" "$cpu" "$cpu_iv" "$verdict" \
        "$load1" "$fn")"
    echo "$row"
    table+=$'\n'"$row"
done

needed="$(awk -v n="$runs" 'BEGIN { printf "%g", n * 0.9 }')"
finish "$table" "Sensitivity: ${runs} comparisons of ${seconds} s recordings, baseline against --slowdown ${factor} (bpprof check defaults${check_args[*]:+, plus ${check_args[*]}})
  (ORDER B>S: baseline recorded first; S>B: the slowed run first)
  caught:  ${caught}   (target: at least ${needed})
  missed:  ${missed}
  errors:  ${errors}
  load average before: ${load_before}
  load average after:  $(cat /proc/loadavg)
  wall time: $((SECONDS - started)) s (after the build)"

if [[ $errors -gt 0 ]]; then
    echo "FAILED: ${errors} run(s) failed (see ${out}/run-*.log and run-*.stderr)" >&2
    exit 2
fi
if [[ $((caught * 10)) -lt $((runs * 9)) ]]; then
    echo "FAILED: caught ${caught} of ${runs} (target: at least ${needed})" >&2
    exit 1
fi
echo "OK: caught ${caught} of ${runs} (target: at least ${needed})"
