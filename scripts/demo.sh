#!/usr/bin/env bash
# The bpprof demo: records the slow_operator example pipeline, prints where its bottleneck is and
# renders the flame graph of the bottleneck subtask.
#
#   ./scripts/demo.sh [SECONDS]      (default 6; output in ./out/)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-6}"
mkdir -p out
recording="out/slow_operator.bpprof"

echo "==> building bpprof and the example pipeline (release)"
cargo build --release --quiet -p bpprof-cli -p bpprof-scenarios --bin bpprof --example slow_operator

echo "==> recording Source(1) -> Parse(2) -> Enrich(4) -> Sink(1) for ${seconds} s into ${recording}"
release="${CARGO_TARGET_DIR:-target}/release"
BPPROF_OUT="$recording" "$release/examples/slow_operator" --seconds "$seconds"

echo "==> bpprof locate ${recording} --svg out/job.svg"
"$release/bpprof" locate "$recording" --svg out/job.svg

echo
echo "==> bpprof flame ${recording}   (the bottleneck subtask)"
"$release/bpprof" flame "$recording" -o out/bottleneck-flame.svg
echo "open out/job.svg (the job graph) and out/bottleneck-flame.svg (where the bottleneck subtask"
echo "spends its time) in a browser"
