#!/usr/bin/env bash
# The cost of the live endpoint being scraped every second, against no endpoint: CPU per record.
#
# Runs examples/slow_operator.rs (release, recording with stack sampling at 99 Hz as usual) in
# pairs: once without the endpoint, once with BPPROF_HTTP and a scraper fetching /metrics every
# second, in alternating order (AB, BA, AB ...) so that drift in the machine's load falls on both
# sides alike. For each run: the process's CPU time (user + system) divided by the records its
# sink received (from `bpprof locate --format json --from 0`). Prints each pair and the median
# of the pairs' relative differences.
#
# Usage: scripts/live-overhead.sh [PAIRS (default 5)] [SECONDS per run (default 10)]
# Exit status: 0 when every run succeeded.
set -euo pipefail

pairs=${1:-5}
run_s=${2:-10}

die() {
    echo "error: $*" >&2
    exit 1
}
command -v curl >/dev/null 2>&1 || die "curl is needed to scrape the endpoint"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is needed (Debian: apt-get install time)"

cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
echo "== building (release) ==" >&2
cargo build --release --quiet --example slow_operator -p bpprof-scenarios
cargo build --release --quiet -p bpprof-cli --bin bpprof
example="$target_dir/release/examples/slow_operator"
bpprof="$target_dir/release/bpprof"

work=$(mktemp -d "${TMPDIR:-/tmp}/live-overhead.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A free loopback port for the endpoint.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# CPU clock ticks (user + system) of the thread named bpprof-http in process $1, or nothing.
http_ticks() {
    local stat
    for stat in /proc/"$1"/task/*/stat; do
        # comm is in parentheses; utime and stime are fields 14 and 15.
        if [[ $(cat "$stat" 2>/dev/null) =~ \(bpprof-http\)\ (.*) ]]; then
            awk '{print $12 + $13}' <<<"${BASH_REMATCH[1]}"
            return
        fi
    done
}

# run NAME LIVE: prints the run's CPU seconds per record; for LIVE=1, appends the endpoint
# thread's CPU ticks and the scrapes made to $work/http.
run() {
    local name=$1 live=$2 rec="$work/$1.bpprof"
    local env=(BPPROF_OUT="$rec" BPPROF_EXAMPLE_SECONDS="$run_s")
    [[ $live == 1 ]] && env+=(BPPROF_HTTP="127.0.0.1:$port")
    env "${env[@]}" /usr/bin/time -f '%U %S' -o "$work/$name.time" "$example" >/dev/null 2>"$work/$name.err" &
    local timer=$! pid="" ticks=0 scrapes=0
    if [[ $live == 1 ]]; then
        sleep 0.2
        pid=$(pgrep -P "$timer" || true)
        while kill -0 "$timer" 2>/dev/null; do
            sleep 1
            if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/metrics"; then
                scrapes=$((scrapes + 1))
                ticks=$(http_ticks "$pid" || echo "$ticks")
                ticks=${ticks:-0}
            fi
        done
        echo "$ticks $scrapes" >>"$work/http"
    fi
    wait "$timer" || die "the example failed: $(cat "$work/$name.err")"
    "$bpprof" locate --format json --from 0 "$rec" >"$work/$name.json" 2>/dev/null ||
        die "bpprof locate failed on $rec"
    python3 - "$work/$name.time" "$work/$name.json" <<'PY'
import json, sys
user, system = map(float, open(sys.argv[1]).read().split()[-2:])
report = json.load(open(sys.argv[2]))
sink = next(t for t in report["tasks"] if t["name"] == "Sink")
records = sum(s["records_in"] for s in sink["subtasks"])
print(f"{(user + system) / records:.9g}")
PY
}

results=()
printf '%-6s %-14s %-14s %s\n' pair "off (us/rec)" "scraped (us/rec)" "difference"
for ((p = 1; p <= pairs; p++)); do
    if ((p % 2)); then
        off=$(run "off$p" 0)
        on=$(run "on$p" 1)
    else
        on=$(run "on$p" 1)
        off=$(run "off$p" 0)
    fi
    diff=$(python3 -c "print(f'{($on / $off - 1) * 100:+.2f}')")
    results+=("$diff")
    python3 -c "print(f'{$p:<6} {$off * 1e6:<14.2f} {$on * 1e6:<16.2f} {\"$diff\"} %')"
done
median=$(printf '%s\n' "${results[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
echo "median CPU per record, scraped every second vs no endpoint: ${median} % over $pairs pairs of ${run_s} s"
hz=$(getconf CLK_TCK)
awk -v hz="$hz" '{t += $1; n += $2} END {if (n) printf "endpoint thread: %.1f ms of CPU per scrape (%d scrapes)\n", t / hz * 1000 / n, n}' "$work/http"
