#!/usr/bin/env bash
# Are `bpprof plan`'s predictions right on this machine? For each case, records an example in
# one configuration, asks `bpprof plan` what a change gives (throughput and what limits it), then
# records the example with that change made and measures it. Repeats each case N times, the two
# recordings in alternating order (so a machine that gets busier or quieter does not favour a
# side), and prints one row per run and the median error per case.
#
#   ./scripts/plan-check.sh [N] [SECONDS] [CASE...]   (defaults 3, 4 and every case; output in
#                                                      ./out/plan-check/)
#
# Cases (the examples take --parallelism and --slowdown, see their docs):
#   enrich-1-2    slow_operator --parallelism Enrich=1, predict --set Enrich.parallelism=2
#   enrich-4-8    slow_operator (Enrich 4 on the machine's CPUs), predict --set Enrich.parallelism=8
#   score-5x      slow_operator --slowdown 2, predict --speedup slow_operator::score_record=5x,
#                 measured without --slowdown (score_record then costs a fifth)
#   sink-1-2      slow_sink (an off-CPU Sink), predict --set Sink.parallelism=2
#   chain-advice  chain (one CPU-bound Chain subtask, a Filter that drops 1 in 8), plan
#                 --target 1M: "the CPUs cannot carry it", with the parallelism for what they
#                 carry; measured with that advice (MEASURED ARGS @advice)
#
# @advice: the measured run takes the parallelism the plan advises for the target (the tasks it
# changes, as --parallelism TASK=N,...) and the prediction is the plan's for that configuration
# (--set). In F>M order the advice is the one of the run's own first recording; in M>F order
# (the measured run first) it is the previous run's, and the ADVICE column says whether the
# run's own recording gave the same (a "!" when not).
#
# The predicted limit is right when the measured run's `bpprof locate` names that task as the
# bottleneck, or, for a prediction limited by the CPUs, when the measured run's threads wanted at
# least the CPUs of the plan (CPUs used + waited for, from `locate`'s cpu_use).
#
# Exit codes: 0 every case's median error within ±15 %, 1 otherwise, 2 usage error or a failed run.
# Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-3}"
seconds="${2:-4}"
only=("${@:3}")
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]] || ! [[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "usage: $0 [N] [SECONDS] [CASE...]   (N a positive integer, SECONDS a number)" >&2
    exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: needs python3 to read the JSON reports" >&2
    exit 2
fi
out="out/plan-check"
target="${CARGO_TARGET_DIR:-target}"
bpprof="${target}/release/bpprof"
echo "==> building bpprof and the examples (release)"
cargo build --release --quiet -p bpprof-cli -p bpprof-scenarios --bin bpprof \
    --example slow_operator --example slow_sink --example chain
mkdir -p "$out"
rm -f "$out"/*.bpprof "$out"/*.json
echo "==> ${runs} runs per case, ${seconds} s recordings (load average before: $(cat /proc/loadavg))"

# case NAME EXAMPLE "FROM ARGS" "PLAN ARGS" "MEASURED ARGS"
cases=(
    "enrich-1-2|slow_operator|--parallelism Enrich=1|--set Enrich.parallelism=2|--parallelism Enrich=2"
    "enrich-4-8|slow_operator||--set Enrich.parallelism=8|--parallelism Enrich=8"
    "score-5x|slow_operator|--slowdown 2|--speedup slow_operator::score_record=5x|"
    "sink-1-2|slow_sink||--set Sink.parallelism=2|--parallelism Sink=2"
    "chain-advice|chain||--target 1M|@advice"
)

for wanted in "${only[@]}"; do
    if ! printf '%s\n' "${cases[@]}" | grep -q "^${wanted}|"; then
        echo "error: unknown case '${wanted}'; cases: $(printf '%s\n' "${cases[@]}" | cut -d'|' -f1 | tr '\n' ' ')" >&2
        exit 2
    fi
done

# record FILE EXAMPLE ARGS...: records the example into FILE.
record() {
    local file="$1" example="$2"
    shift 2
    "$bpprof" record -o "$file" -- "${target}/release/examples/${example}" --seconds "$seconds" \
        "$@" >/dev/null 2>&1
}

# advice PLAN_JSON: the parallelism a target plan advises, the tasks it changes as TASK=N,...
# (empty when it changes none).
advice() {
    python3 - "$1" <<'EOF'
import json, sys
target = json.load(open(sys.argv[1]))["target"]
print(",".join("%s=%d" % (p["task"], p["to"]) for p in target["parallelism"] if p["to"] != p["from"]))
EOF
}

# advised_args ADVICE: sets the array `measured` to the example's arguments for ADVICE.
advised_args() {
    measured=()
    if [[ -n "$1" ]]; then
        measured=(--parallelism "$1")
    fi
}

# set_args ADVICE: --set TASK.parallelism=N for each TASK=N of ADVICE, one word a line.
set_args() {
    local item items
    IFS=',' read -r -a items <<<"$1"
    for item in "${items[@]}"; do
        printf '%s\n' --set "${item%%=*}.parallelism=${item#*=}"
    done
}

printf '%-12s %-4s %-5s %12s %12s %8s  %-10s %-10s %-5s %-6s %s\n' CASE RUN ORDER PREDICTED \
    MEASURED ERROR LIMIT MEASURED RIGHT LOAD1 ADVICE
rows="$out/rows.tsv"
: >"$rows"
for spec in "${cases[@]}"; do
    IFS='|' read -r name example from_args plan_args measured_args <<<"$spec"
    if ((${#only[@]} > 0)) && ! [[ " ${only[*]} " == *" $name "* ]]; then
        continue
    fi
    read -r -a from <<<"$from_args"
    read -r -a change <<<"$plan_args"
    read -r -a measured <<<"$measured_args"
    advised=""
    for ((i = 1; i <= runs; i++)); do
        base="$out/${name}-${i}"
        agrees="-"
        if [[ "$measured_args" == "@advice" ]]; then
            if ((i % 2 == 1)); then
                order="F>M"
                record "$base-from.bpprof" "$example" "${from[@]}"
                "$bpprof" plan "$base-from.bpprof" "${change[@]}" --format json >"$base-advice.json"
                advised="$(advice "$base-advice.json")"
                agrees="${advised:-none}"
                advised_args "$advised"
                record "$base-measured.bpprof" "$example" "${measured[@]}"
            else
                order="M>F"
                advised_args "$advised"
                record "$base-measured.bpprof" "$example" "${measured[@]}"
                record "$base-from.bpprof" "$example" "${from[@]}"
                "$bpprof" plan "$base-from.bpprof" "${change[@]}" --format json >"$base-advice.json"
                own="$(advice "$base-advice.json")"
                if [[ "$own" == "$advised" ]]; then agrees="${own:-none}"; else agrees="${own:-none}!"; fi
            fi
            mapfile -t sets < <(set_args "$advised")
            "$bpprof" plan "$base-from.bpprof" "${sets[@]}" --format json >"$base-plan.json"
        else
            if ((i % 2 == 1)); then
                order="F>M"
                record "$base-from.bpprof" "$example" "${from[@]}"
                record "$base-measured.bpprof" "$example" "${measured[@]}"
            else
                order="M>F"
                record "$base-measured.bpprof" "$example" "${measured[@]}"
                record "$base-from.bpprof" "$example" "${from[@]}"
            fi
            "$bpprof" plan "$base-from.bpprof" "${change[@]}" --format json >"$base-plan.json"
        fi
        "$bpprof" plan "$base-measured.bpprof" --format json >"$base-measured-plan.json"
        "$bpprof" locate "$base-measured.bpprof" --format json >"$base-measured-locate.json"
        load1="$(cut -d' ' -f1 /proc/loadavg)"
        python3 - "$base" "$name" "$i" "$order" "$load1" "$agrees" >>"$rows" <<'EOF'
import json, sys
base, name, run, order, load1, agrees = sys.argv[1:]
plan = json.load(open(base + "-plan.json"))
measured = json.load(open(base + "-measured-plan.json"))["measured_per_s"]
located = json.load(open(base + "-measured-locate.json"))
# Advice that changes nothing has no scenario: the prediction is the recorded configuration's.
predicted = plan["scenario"]["prediction"] if plan["scenario"] else plan["baseline"]
limit = predicted["limit"]["task"] or "CPUs"
bottlenecks = [b["task"] for b in located["bottlenecks"]]
use = located.get("cpu_use") or {}
wanted = use.get("used", 0) + (use.get("waited") or 0)
if limit == "CPUs":
    seen = "CPUs" if wanted >= plan["cpus"] * 0.95 else (bottlenecks[0] if bottlenecks else "-")
else:
    seen = bottlenecks[0] if bottlenecks else "-"
error = predicted["throughput_per_s"] / measured - 1
print("\t".join([name, run, order, "%.0f" % predicted["throughput_per_s"], "%.0f" % measured,
                 "%+.1f%%" % (100 * error), limit, seen, "yes" if seen == limit else "no", load1,
                 agrees]))
EOF
        tail -n 1 "$rows" | awk -F'\t' '{ printf "%-12s %-4s %-5s %12s %12s %8s  %-10s %-10s %-5s %-6s %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
    done
done

python3 - "$rows" <<'EOF'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
failed = False
print()
print("%-12s %14s %12s" % ("CASE", "MEDIAN ERROR", "LIMIT RIGHT"))
for name in dict.fromkeys(r[0] for r in rows):
    mine = [r for r in rows if r[0] == name]
    median = statistics.median(float(r[5].rstrip("%")) for r in mine)
    right = sum(r[8] == "yes" for r in mine)
    failed |= abs(median) > 15
    print("%-12s %13.1f%% %9d/%d" % (name, median, right, len(mine)))
sys.exit(1 if failed else 0)
EOF
