#!/usr/bin/env bash
# The issue's "Done when" measurement: a real Prometheus scrapes the live endpoint of the
# slow_operator example every second for a minute (release build), and its stored busy ratios are
# compared with `bpprof locate` on the recording of the same run (tests/prometheus.rs, which CI
# runs for 15 s in a debug build). Prints the per-subtask table.
#
# Usage: scripts/live-prometheus.sh [SECONDS (default 60)]
# Needs Debian's prometheus (.ci/deps.d/20-prometheus.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v prometheus >/dev/null 2>&1 ||
    { echo "error: prometheus is not installed (bash .ci/deps.d/20-prometheus.sh)" >&2; exit 1; }
CI=true BPPROF_PROMETHEUS_SECONDS="${1:-60}" \
    cargo test --release --test prometheus -- --nocapture --test-threads 1 2>&1 |
    grep -E 'prometheus stored|prometheus +[0-9.]+ %|test result|panicked|history'
