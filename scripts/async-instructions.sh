#!/usr/bin/env bash
# Instructions per message that bpprof's async channel and subtasks add to a tokio pipeline:
# callgrind counts a source and a sink task exchanging MESSAGES records on a current_thread
# runtime, on plain tokio::sync::mpsc, on bpprof::tokio::channel and on tokio::sync::mpsc with
# tokio-metrics' TaskMonitor on each task, at capacity 256 (the
# non-blocking path) and 1 (every message waits: the wait path), and the cost per poll
# (a task polled 300,000 times: plain, as a subtask without and with a recorder, under a
# TaskMonitor; counted inside tokio's poll of the task). One line per case.
#
#   ./scripts/async-instructions.sh
#
# Needs valgrind. Builds the async_channel bench in release, in ${CARGO_TARGET_DIR:-target}.
# Exit codes: 0 printed, 2 valgrind missing or a run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v valgrind >/dev/null 2>&1; then
    echo "error: needs valgrind (apt-get install valgrind)" >&2
    exit 2
fi
echo "==> building the async_channel bench (release)" >&2
bench="$(cargo bench --bench async_channel --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "async_channel" and m.get("executable"):
        print(m["executable"])')"
if [[ -z "$bench" ]]; then
    echo "error: could not build the async_channel bench" >&2
    exit 2
fi
messages=300000
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
count() { # variant capacity [polls] -> instructions
    # Per poll, only the instructions inside tokio's poll of a task are counted (the wrapper's
    # and the future's), so that a recorder's own threads do not count as cost per poll.
    local per_poll=()
    if [[ -n "${3:-}" ]]; then
        per_poll=(--collect-atstart=no '--toggle-collect=tokio::runtime::task::raw::poll*')
    fi
    env ASYNC_CALLGRIND="$1" CAPACITY="$2" ${3:+POLLS=1} valgrind --tool=callgrind \
        "${per_poll[@]}" --callgrind-out-file="$tmp/out" "$bench" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 2; }
    grep -m1 '^summary:' "$tmp/out" | awk '{print $2}'
}
for capacity in 256 1; do
    plain="$(count plain "$capacity")"
    bpprof="$(count bpprof "$capacity")"
    metrics="$(count tokio_metrics "$capacity")"
    python3 - "$capacity" "$plain" "$bpprof" "$metrics" "$messages" <<'PY'
import sys
cap, plain, bp, tm, n = (int(a) for a in sys.argv[1:])
print(f"capacity {cap}: plain {plain / n:.0f} instructions/message, bpprof {bp / n:.0f} (+{(bp - plain) / n:.0f}, x{bp / plain:.2f}), tokio-metrics {tm / n:.0f} (+{(tm - plain) / n:.0f}, x{tm / plain:.2f})")
PY
done
plain="$(count plain 0 polls)"
bpprof="$(count bpprof 0 polls)"
recording="$(count bpprof_recording 0 polls)"
sampled="$(count bpprof_recording_sampled 0 polls)"
metrics="$(count tokio_metrics 0 polls)"
python3 - "$plain" "$bpprof" "$recording" "$sampled" "$metrics" "$messages" <<'PY'
import sys
plain, bp, rec, sampled, tm, n = (int(a) for a in sys.argv[1:])
def case(name, value):
    return f"{name} {value / n:.0f} (+{(value - plain) / n:.0f})"
print(f"per poll (a task that yields {n:,} times, instructions inside tokio's poll of the task): plain {plain / n:.0f}, "
      + ", ".join([case("bpprof", bp), case("bpprof recording", rec),
                   case("bpprof recording and sampling at 99 Hz", sampled), case("tokio-metrics", tm)]))
PY
