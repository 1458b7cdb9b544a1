#!/usr/bin/env bash
# How often does `bpprof check` cry wolf on this machine? Runs N A/A comparisons: each records the
# slow_operator example twice with the same build (`bpprof record`) and compares the two
# recordings with `bpprof check --baseline A B --format json`. Every regression it reports is a
# false one. Prints one row per comparison and the totals, and fails when there are more than
# N/20 false regressions (1 in 20: the default 95% family-wise confidence).
#
#   ./scripts/aa-false-positives.sh [N] [SECONDS]      (defaults 20 and 3; output in ./out/aa/)
#
# Environment:
#   BPPROF_CHECK_ARGS   extra arguments for every `bpprof check`, split on spaces
#                       (e.g. "--limit cpu_per_record=10% --window 0.2")
#   BPPROF_RECHECK=1    do not record: check the recordings of a previous run again (out/aa/), e.g.
#                       to try other limits or statistics on the same data
# Needs python3 (to read the JSON reports).
#
# Exit codes: 0 target met, 1 too many false regressions, 2 usage error or a run that failed
# (a recording or a check that exited with another code than 0, 1 or 3).
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-20}"
seconds="${2:-3}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]] || ! [[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "usage: $0 [N] [SECONDS]   (N a positive integer, SECONDS a number)" >&2
    exit 2
fi
out="out/aa"
# shellcheck source=scripts/lib/check-runs.sh
source scripts/lib/check-runs.sh
prepare_runs
echo "==> ${runs} A/A comparisons of ${seconds} s recordings (load average before: ${load_before})"

pass=0 false_regressions=0 inconclusive=0 errors=0
columns() { printf '%-4s %-4s %-13s %-10s %-16s %-10s %-16s %-5s %s' "$@"; }
table="$(columns RUN EXIT STATUS THROUGHPUT "INTERVAL %" "ENRICH CPU" "INTERVAL %" LOAD1 \
    "ERROR FINDINGS")"
echo "$table"
for ((i = 1; i <= runs; i++)); do
    run="$(printf 'run-%02d' "$i")"
    rc=-1
    if record "$run" A "$seconds" && record "$run" B "$seconds"; then
        check "$run" A B
    fi
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    status="-" thr="-" thr_iv="-" cpu="-" cpu_iv="-" findings="-"
    if [[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]]; then
        IFS=$'\t' read -r status thr thr_iv cpu cpu_iv findings _ <<<"$(summarise "$run")"
    fi
    case "$rc:$status" in
        0:pass) pass=$((pass + 1)) ;;
        1:*) false_regressions=$((false_regressions + 1)) ;;
        3:* | 0:inconclusive) inconclusive=$((inconclusive + 1)) ;;
        *) errors=$((errors + 1)) ;;
    esac
    row="$(columns "$i" "$rc" "$status" "$thr" "$thr_iv" "$cpu" "$cpu_iv" "$load1" "$findings")"
    echo "$row"
    table+=$'\n'"$row"
done

allowed_text="$(awk -v n="$runs" 'BEGIN { printf "%g", n / 20 }')"
finish "$table" "A/A comparisons: ${runs} of ${seconds} s recordings (bpprof check defaults${check_args[*]:+, plus ${check_args[*]}})
  pass:              ${pass}
  false regressions: ${false_regressions}   (target: at most ${allowed_text})
  inconclusive:      ${inconclusive}
  errors:            ${errors}
  load average before: ${load_before}
  load average after:  $(cat /proc/loadavg)
  wall time: $((SECONDS - started)) s (after the build)"

if [[ $errors -gt 0 ]]; then
    echo "FAILED: ${errors} run(s) failed (see ${out}/run-*.log and run-*.stderr)" >&2
    exit 2
fi
if [[ $((false_regressions * 20)) -gt $runs ]]; then
    echo "FAILED: ${false_regressions} false regressions in ${runs} A/A comparisons (target: at most ${allowed_text})" >&2
    exit 1
fi
echo "OK: ${false_regressions} false regressions in ${runs} A/A comparisons (target: at most ${allowed_text})"
