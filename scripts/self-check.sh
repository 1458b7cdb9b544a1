#!/usr/bin/env bash
# bpprof checks itself: records the slow_operator example twice without a regression (A1, A2) and
# once with an injected one (B: `--slowdown 1.25`, all of the extra work in `score_record` of task
# Enrich), then asserts what `bpprof check` must say about them:
#
#   (a) A1 against A2 (an A/A comparison) passes: exit code 0;
#   (b) A1 + A2 against B is a regression: exit code exactly 1, naming Enrich and score_record;
#   (c) `bpprof diff A1 B --task Enrich` draws a differential flame graph.
#
#   ./scripts/self-check.sh [SECONDS]      (default 4; output in ./out/self-check/)
#
# Run by .ci/run after the demo, which has already built the release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-4}"
out="out/self-check"
bpprof="${CARGO_TARGET_DIR:-target}/release/bpprof"
example="${CARGO_TARGET_DIR:-target}/release/examples/slow_operator"
started=$SECONDS

fail() {
    echo "self-check FAILED: $*" >&2
    exit 1
}

echo "==> building bpprof and the example pipeline (release; a no-op after the demo)"
cargo build --release --quiet -p bpprof-cli -p bpprof-scenarios --bin bpprof --example slow_operator
built=$SECONDS

rm -rf "$out"
mkdir -p "$out"

record() { # NAME [EXAMPLE ARGS...]
    local name="$1"
    shift
    echo "==> bpprof record -o ${out}/${name}.bpprof -- ${example} --seconds ${seconds} $*"
    "$bpprof" record -o "${out}/${name}.bpprof" -- "$example" --seconds "$seconds" "$@" \
        || fail "recording ${name} failed"
}

echo "==> load average before: $(cat /proc/loadavg)"
record A1
record A2
record B --slowdown 1.25

echo
echo "==> (a) bpprof check --baseline A1 A2   (A/A: the same build twice, must pass)"
rc=0
"$bpprof" check --no-config --baseline "${out}/A1.bpprof" "${out}/A2.bpprof" \
    >"${out}/check-aa.txt" 2>&1 || rc=$?
cat "${out}/check-aa.txt"
if [[ $rc -ne 0 ]]; then
    fail "(a) the A/A comparison of two recordings of the same build exited ${rc}, expected 0 (a false regression; load average now: $(cat /proc/loadavg))"
fi
echo "==> (a) ok: exit code 0"

echo
echo "==> (b) bpprof check --baseline A1 --baseline A2 B   (Enrich made 1.25x as expensive: must fail)"
rc=0
"$bpprof" check --no-config --baseline "${out}/A1.bpprof" --baseline "${out}/A2.bpprof" \
    "${out}/B.bpprof" --junit "${out}/junit.xml" --markdown "${out}/report.md" \
    >"${out}/check-ab.txt" 2>&1 || rc=$?
cat "${out}/check-ab.txt"
if [[ $rc -ne 1 ]]; then
    fail "(b) the check of the injected regression exited ${rc}, expected exactly 1 (regression)"
fi
grep -q "Enrich" "${out}/check-ab.txt" \
    || fail "(b) the regression report does not name the task Enrich"
grep -q "score_record" "${out}/check-ab.txt" \
    || fail "(b) the regression report does not name the function score_record"
[[ -s "${out}/junit.xml" ]] || fail "(b) --junit wrote no ${out}/junit.xml"
[[ -s "${out}/report.md" ]] || fail "(b) --markdown wrote no ${out}/report.md"
echo "==> (b) ok: exit code 1, Enrich and score_record named; ${out}/junit.xml, ${out}/report.md"

echo
echo "==> (c) bpprof diff A1 B --task Enrich -o ${out}/diff.svg"
"$bpprof" diff "${out}/A1.bpprof" "${out}/B.bpprof" --task Enrich -o "${out}/diff.svg" \
    || fail "(c) bpprof diff failed"
[[ -s "${out}/diff.svg" ]] || fail "(c) bpprof diff exited 0 but wrote no ${out}/diff.svg"
echo "==> (c) ok: ${out}/diff.svg"

echo
echo "==> load average after: $(cat /proc/loadavg)"
echo "==> self-check passed in $((SECONDS - started)) s, $((SECONDS - built)) s after the build (recordings and reports in ${out}/)"
