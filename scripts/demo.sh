#!/usr/bin/env bash
# The bpprof demo: records the slow_operator example pipeline and prints where its bottleneck is.
#
#   ./scripts/demo.sh [SECONDS]      (default 6; output in ./out/)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-6}"
mkdir -p out
recording="out/slow_operator.bpprof"

echo "==> building bpprof and the example pipeline (release)"
cargo build --release --quiet -p bpprof-cli -p bpprof-scenarios --example slow_operator

echo "==> recording Source(1) -> Parse(2) -> Enrich(4) -> Sink(1) for ${seconds} s into ${recording}"
BPPROF_OUT="$recording" ./target/release/examples/slow_operator --seconds "$seconds"

echo "==> bpprof locate ${recording}"
./target/release/bpprof locate "$recording"
