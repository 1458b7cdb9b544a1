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
bpprof="./target/release/bpprof"
example="./target/release/examples/slow_operator"
read -r -a check_args <<<"${BPPROF_CHECK_ARGS:-}"
recheck="${BPPROF_RECHECK:-0}"

# One tab-separated line from a `bpprof.check` JSON report: status, throughput change, Enrich
# CPU/record change and interval, whether the Enrich cpu_per_record error finding names
# score_record (yes/no), and the function of that finding.
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
finding = next(
    (f for f in r.get("findings", [])
     if f["severity"] == "error" and f.get("task") == "Enrich"
     and f.get("metric") == "cpu_per_record"),
    None,
)
function = (finding or {}).get("function") or "-"
named = "yes" if "score_record" in function else "no"
thr, _ = pct(r.get("throughput"))
print("\t".join([r["status"], thr, *pct(enrich), named, function]))
EOF
    else
        jq -r '
          def pct: if . == null or .change == null then ["-", "-"]
            else [ ((.change * 1000 | round) / 10 | tostring) + "%",
                   (if .interval then "[" + ((.interval[0] * 1000 | round) / 10 | tostring) + ", "
                      + ((.interval[1] * 1000 | round) / 10 | tostring) + "]" else "-" end) ] end;
          ([ .findings[] | select(.severity == "error" and .task == "Enrich"
                                  and .metric == "cpu_per_record") ] | first | .function // "-") as $f
          | [ .status, (.throughput | pct | .[0]) ]
            + ([ .tasks[] | select(.name == "Enrich") | .metrics[]
                 | select(.metric == "cpu_per_record") ] | first | pct)
            + [ (if ($f | contains("score_record")) then "yes" else "no" end), $f ]
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

record() { # RUN SIDE [EXAMPLE ARGS...]: 0 when the recording was made
    local run="$1" side="$2"
    shift 2
    "$bpprof" record -o "${out}/${run}-${side}.bpprof" -- \
        "$example" --seconds "$seconds" "$@" >"${out}/${run}-${side}.log" 2>&1
}

load_before="$(cat /proc/loadavg)"
echo "==> ${runs} comparisons of ${seconds} s recordings, baseline against --slowdown ${factor} (load average before: ${load_before})"
if [[ ${#check_args[@]} -gt 0 ]]; then
    echo "==> extra check arguments: ${check_args[*]}"
fi

caught=0 missed=0 errors=0
columns() { printf '%-4s %-5s %-4s %-13s %-10s %-10s %-16s %-6s %-5s %s' "$@"; }
table="$(columns RUN ORDER EXIT STATUS THROUGHPUT "ENRICH CPU" "INTERVAL %" CAUGHT LOAD1 \
    "FUNCTION OF THE ENRICH CPU/RECORD FINDING")"
echo "$table"
for ((i = 1; i <= runs; i++)); do
    run="$(printf 'run-%02d' "$i")"
    ok=1
    if ((i % 2 == 1)); then order="B>S"; else order="S>B"; fi
    if [[ "$recheck" != 1 ]]; then
        if ((i % 2 == 1)); then
            record "$run" base || ok=0
            record "$run" slow --slowdown "$factor" || ok=0
        else
            record "$run" slow --slowdown "$factor" || ok=0
            record "$run" base || ok=0
        fi
    fi
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    rc=0
    if [[ $ok -eq 1 ]]; then
        "$bpprof" check --no-config --format json "${check_args[@]}" \
            --baseline "${out}/${run}-base.bpprof" "${out}/${run}-slow.bpprof" \
            >"${out}/${run}.json" 2>"${out}/${run}.stderr" || rc=$?
    else
        rc=-1
    fi
    status="-" thr="-" cpu="-" cpu_iv="-" named="-" fn="-"
    if [[ $rc -eq 0 || $rc -eq 1 || $rc -eq 3 ]]; then
        IFS=$'\t' read -r status thr cpu cpu_iv named fn <<<"$(summarise "${out}/${run}.json")"
    fi
    if [[ $rc -eq 1 && "$named" == yes ]]; then
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
load_after="$(cat /proc/loadavg)"

needed="$(awk -v n="$runs" 'BEGIN { printf "%g", n * 0.9 }')"
summary="Sensitivity: ${runs} comparisons of ${seconds} s recordings, baseline against --slowdown ${factor} (bpprof check defaults${check_args[*]:+, plus ${check_args[*]}})
  (ORDER B>S: baseline recorded first; S>B: the slowed run first)
  caught:  ${caught}   (target: at least ${needed})
  missed:  ${missed}
  errors:  ${errors}
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
if [[ $((caught * 10)) -lt $((runs * 9)) ]]; then
    echo "FAILED: caught ${caught} of ${runs} (target: at least ${needed})" >&2
    exit 1
fi
echo "OK: caught ${caught} of ${runs} (target: at least ${needed})"
