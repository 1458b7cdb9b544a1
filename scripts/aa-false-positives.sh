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
bpprof="./target/release/bpprof"
example="./target/release/examples/slow_operator"
read -r -a check_args <<<"${BPPROF_CHECK_ARGS:-}"
recheck="${BPPROF_RECHECK:-0}"

# One tab-separated line from a `bpprof.check` JSON report: status, throughput change and interval,
# Enrich CPU/record change and interval, the titles of the error findings.
summarise() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$1" <<'EOF'
import json, sys

with open(sys.argv[1]) as f:
    r = json.load(f)

def pct(c):
    if not c or c.get("change") is None:
        return "-", "-"
    iv = c.get("interval")
    ivs = "[%+.1f, %+.1f]" % (iv[0] * 100, iv[1] * 100) if iv else "-"
    return "%+.1f%%" % (c["change"] * 100), ivs

enrich = None
for task in r.get("tasks", []):
    if task["name"] == "Enrich":
        for m in task["metrics"]:
            if m["metric"] == "cpu_per_record":
                enrich = m
errors = [f["title"] for f in r.get("findings", []) if f["severity"] == "error"]
print("\t".join([r["status"], *pct(r.get("throughput")), *pct(enrich), "; ".join(errors) or "-"]))
EOF
    else
        jq -r '
          def pct: if . == null or .change == null then ["-", "-"]
            else [ ((.change * 1000 | round) / 10 | tostring) + "%",
                   (if .interval then "[" + ((.interval[0] * 1000 | round) / 10 | tostring) + ", "
                      + ((.interval[1] * 1000 | round) / 10 | tostring) + "]" else "-" end) ] end;
          [ .status ]
          + (.throughput | pct)
          + ([ .tasks[] | select(.name == "Enrich") | .metrics[]
               | select(.metric == "cpu_per_record") ] | first | pct)
          + [ ([ .findings[] | select(.severity == "error") | .title ] | join("; "))
              | if . == "" then "-" else . end ]
          | @tsv' "$1"
    fi
}

if ! command -v python3 >/dev/null 2>&1 && ! command -v jq >/dev/null 2>&1; then
    echo "error: needs python3 or jq to read the JSON reports" >&2
    exit 2
fi

echo "==> building bpprof and the example pipeline (release)"
cargo build --release --quiet -p bpprof-cli -p bpprof-scenarios --bin bpprof --example slow_operator
started=$SECONDS

mkdir -p "$out"
if [[ "$recheck" != 1 ]]; then
    rm -f "$out"/run-*.bpprof "$out"/run-*.json "$out"/run-*.log "$out"/run-*.stderr "$out"/summary.txt
fi

load_before="$(cat /proc/loadavg)"
echo "==> ${runs} A/A comparisons of ${seconds} s recordings (load average before: ${load_before})"
if [[ ${#check_args[@]} -gt 0 ]]; then
    echo "==> extra check arguments: ${check_args[*]}"
fi

pass=0 false_regressions=0 inconclusive=0 errors=0
table="$(printf '%-4s %-4s %-13s %-10s %-16s %-10s %-16s %-5s %s' \
    RUN EXIT STATUS THROUGHPUT "INTERVAL %" "ENRICH CPU" "INTERVAL %" LOAD1 "ERROR FINDINGS")"
echo "$table"
for ((i = 1; i <= runs; i++)); do
    run="$(printf 'run-%02d' "$i")"
    ok=1
    if [[ "$recheck" != 1 ]]; then
        for side in A B; do
            if ! "$bpprof" record -o "${out}/${run}-${side}.bpprof" -- \
                "$example" --seconds "$seconds" >"${out}/${run}-${side}.log" 2>&1; then
                ok=0
            fi
        done
    fi
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    rc=0
    if [[ $ok -eq 1 ]]; then
        "$bpprof" check --no-config --format json "${check_args[@]}" \
            --baseline "${out}/${run}-A.bpprof" "${out}/${run}-B.bpprof" \
            >"${out}/${run}.json" 2>"${out}/${run}.stderr" || rc=$?
    else
        rc=-1
    fi
    status="-" fields=$'-\t-\t-\t-\t-'
    if [[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]]; then
        IFS=$'\t' read -r status fields_rest <<<"$(summarise "${out}/${run}.json")"
        fields="$fields_rest"
    fi
    IFS=$'\t' read -r thr thr_iv cpu cpu_iv findings <<<"$fields"
    case "$rc:$status" in
        0:pass) pass=$((pass + 1)) ;;
        1:*) false_regressions=$((false_regressions + 1)) ;;
        3:* | 0:inconclusive) inconclusive=$((inconclusive + 1)) ;;
        *) errors=$((errors + 1)) ;;
    esac
    row="$(printf '%-4s %-4s %-13s %-10s %-16s %-10s %-16s %-5s %s' \
        "$i" "$rc" "$status" "$thr" "$thr_iv" "$cpu" "$cpu_iv" "$load1" "$findings")"
    echo "$row"
    table+=$'\n'"$row"
done
load_after="$(cat /proc/loadavg)"

allowed_text="$(awk -v n="$runs" 'BEGIN { printf "%g", n / 20 }')"
summary="A/A comparisons: ${runs} of ${seconds} s recordings (bpprof check defaults${check_args[*]:+, plus ${check_args[*]}})
  pass:              ${pass}
  false regressions: ${false_regressions}   (target: at most ${allowed_text})
  inconclusive:      ${inconclusive}
  errors:            ${errors}
  load average before: ${load_before}
  load average after:  ${load_after}
  wall time: $((SECONDS - started)) s (after the build)"
printf '%s\n\n%s\n' "$table" "$summary" >"${out}/summary.txt"
echo
echo "$summary"
echo "JSON reports, recordings and this table (summary.txt) in ${out}/"

if [[ $errors -gt 0 ]]; then
    echo "FAILED: ${errors} run(s) failed (see ${out}/run-*.log and run-*.stderr)" >&2
    exit 2
fi
if [[ $((false_regressions * 20)) -gt $runs ]]; then
    echo "FAILED: ${false_regressions} false regressions in ${runs} A/A comparisons (target: at most ${allowed_text})" >&2
    exit 1
fi
echo "OK: ${false_regressions} false regressions in ${runs} A/A comparisons (target: at most ${allowed_text})"
