#!/usr/bin/env bash
# How often does `bpprof locate` name the designed bottleneck of each shape of the `topologies`
# example on contended CPUs? Runs every shape RUNS times with `--contention`, recording SECONDS at
# 100 ms intervals, locates each recording (`--format json`) and checks the first bottleneck
# against the shape's expected verdict (the same as tests/topologies.rs checks). Prints a
# Markdown table: shape | expected | right verdicts (k/N) | wrong verdicts seen (counted).
#
#   ./scripts/verdict-rates.sh [RUNS] [SECONDS]      (defaults 10 and 3)
#
# A verdict is right when the first bottleneck has the expected task and kind (and subtask, where
# the table gives one) and no bottleneck is an exchange. Builds in release, in
# ${CARGO_TARGET_DIR:-target}. Needs python3 (to read the JSON reports). Progress goes to stderr,
# with the load average after each run (other work on the machine contends for the CPUs too).
#
# Exit codes: 0 the table was printed (whatever the rates), 2 usage error or a run that failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-10}"
seconds="${2:-3}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]] || ! [[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "usage: $0 [RUNS] [SECONDS]   (RUNS a positive integer, SECONDS a number)" >&2
    exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: needs python3 to read the JSON reports" >&2
    exit 2
fi

# The expected verdicts: shape, task, kind, subtask ("-": any). A copy of EXPECTED in
# tests/topologies.rs: change both.
expected=(
    "three-stage Transform cpu 0"
    "fan-out SinkSlow cpu -"
    "fan-in Merge cpu -"
    "join-alternating SourceB cpu -"
    "union Sink cpu -"
    "diamond Right cpu -"
    "pool-skew Score skew 2"
)

echo "==> building the topologies example and bpprof (release)" >&2
cargo build --release -q --example topologies -p bpprof-scenarios
cargo build --release -q -p bpprof-cli
bin="${CARGO_TARGET_DIR:-target}/release"
example="$bin/examples/topologies"
bpprof="$bin/bpprof"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# verdict JSON: prints "task/kind subtask exchanges" of the first bottleneck ("none/- - 0" when
# there is none), exchanges being the number of exchange bottlenecks.
verdict() {
    python3 - "$1" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
bottlenecks = report["bottlenecks"]
exchanges = sum(1 for b in bottlenecks if b["kind"] == "exchange")
if not bottlenecks:
    print("none/-", "-", exchanges)
else:
    first = bottlenecks[0]
    subtask = first["subtasks"][0] if first["subtasks"] else "-"
    print(f'{first["task"]}/{first["kind"]}', subtask, exchanges)
EOF
}

# The 1-minute load average after each run: other work on the machine contends for its CPUs too.
loads=()
echo "| shape | expected | right verdicts | wrong verdicts seen |"
echo "| --- | --- | --- | --- |"
for row in "${expected[@]}"; do
    read -r shape task kind subtask <<<"$row"
    want="$task/$kind"
    [[ "$subtask" == - ]] || want+=" #$subtask"
    right=0
    declare -A wrong=()
    for ((i = 1; i <= runs; i++)); do
        rec="$tmp/$shape-$i.bpprof"
        if ! BPPROF_OUT="$rec" BPPROF_INTERVAL_MS=100 BPPROF_EXAMPLE_SECONDS="$seconds" \
            "$example" --shape "$shape" --contention >"$tmp/example.log" 2>&1; then
            echo "error: topologies --shape $shape --contention failed:" >&2
            cat "$tmp/example.log" >&2
            exit 2
        fi
        if ! "$bpprof" locate "$rec" --format json >"$tmp/locate.json" 2>"$tmp/locate.err"; then
            echo "error: bpprof locate $rec failed:" >&2
            cat "$tmp/locate.err" >&2
            exit 2
        fi
        summary="$(verdict "$tmp/locate.json")"
        read -r got got_subtask exchanges <<<"$summary"
        seen="$got"
        [[ "$subtask" == - ]] || seen+=" #$got_subtask"
        if [[ "$seen" == "$want" && "$exchanges" == 0 ]]; then
            right=$((right + 1))
            outcome=right
        else
            # A right first bottleneck with an exchange elsewhere is wrong too: say so.
            [[ "$seen" != "$want" ]] || seen+=" +exchange"
            wrong["$seen"]=$((${wrong["$seen"]:-0} + 1))
            outcome="wrong: $seen"
        fi
        load1="$(cut -d' ' -f1 /proc/loadavg)"
        loads+=("$load1")
        echo "$shape run $i/$runs: $got (subtask $got_subtask, $exchanges exchange) - $outcome" \
            "(load $load1)" >&2
        rm -f "$rec"
    done
    wrong_list=""
    for seen in "${!wrong[@]}"; do
        wrong_list+="${wrong_list:+, }$seen (${wrong[$seen]})"
    done
    unset wrong
    echo "| $shape | $want | $right/$runs | ${wrong_list:--} |"
done
echo "load average (1 min) after the runs: $(printf '%s\n' "${loads[@]}" | sort -n | head -1)" \
    "to $(printf '%s\n' "${loads[@]}" | sort -n | tail -1) on $(nproc) CPUs" >&2
