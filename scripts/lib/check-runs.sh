# shellcheck shell=bash
# Shared by scripts/aa-false-positives.sh and scripts/sensitivity.sh: recording the slow_operator
# example, comparing two recordings with `bpprof check`, and summarising the JSON report.
# Source it after `cd` to the repository root and after setting `out` (the output directory).
# It sets (for the caller) `started`, `load_before`, `check_args`, and `rc` after each `check`.
#
# Environment:
#   BPPROF_CHECK_ARGS   extra arguments for every `bpprof check`, split on spaces
#   BPPROF_RECHECK=1    do not record: check the recordings of a previous run again

# shellcheck disable=SC2034 # started, load_before and rc are read by the sourcing script.
: "${out:?set out (the output directory) before sourcing check-runs.sh}"
bpprof="${CARGO_TARGET_DIR:-target}/release/bpprof"
example="${CARGO_TARGET_DIR:-target}/release/examples/slow_operator"
read -r -a check_args <<<"${BPPROF_CHECK_ARGS:-}"
recheck="${BPPROF_RECHECK:-0}"

if ! command -v python3 >/dev/null 2>&1; then
    echo "error: needs python3 to read the JSON reports" >&2
    exit 2
fi

# Builds the binaries, starts the clock (`started`) and clears the previous run's files from $out
# (unless BPPROF_RECHECK=1).
prepare_runs() {
    echo "==> building bpprof and the example pipeline (release)"
    cargo build --release --quiet -p bpprof-cli -p bpprof-scenarios --bin bpprof --example slow_operator
    started=$SECONDS
    mkdir -p "$out"
    if [[ "$recheck" != 1 ]]; then
        rm -f "$out"/run-*.bpprof "$out"/run-*.json "$out"/run-*.log "$out"/run-*.stderr \
            "$out"/summary.txt
    fi
    load_before="$(cat /proc/loadavg)"
    if [[ ${#check_args[@]} -gt 0 ]]; then
        echo "==> extra check arguments: ${check_args[*]}"
    fi
}

# record RUN SIDE SECONDS [EXAMPLE ARGS...]: records $out/RUN-SIDE.bpprof (a no-op with
# BPPROF_RECHECK=1); fails when the recording could not be made.
record() {
    local run="$1" side="$2" seconds="$3"
    shift 3
    [[ "$recheck" == 1 ]] && return 0
    "$bpprof" record -o "${out}/${run}-${side}.bpprof" -- \
        "$example" --seconds "$seconds" "$@" >"${out}/${run}-${side}.log" 2>&1
}

# check RUN BASE_SIDE CURRENT_SIDE: `bpprof check` of the two recordings into $out/RUN.json;
# sets `rc` to its exit code.
check() {
    local run="$1"
    rc=0
    "$bpprof" check --no-config --format json "${check_args[@]}" \
        --baseline "${out}/${run}-$2.bpprof" "${out}/${run}-$3.bpprof" \
        >"${out}/${run}.json" 2>"${out}/${run}.stderr" || rc=$?
}

# summarise RUN: the report's fields, tab-separated (see summarise-check.py).
summarise() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/summarise-check.py" "${out}/$1.json"
}

# finish TABLE SUMMARY: writes both to $out/summary.txt and prints the summary.
finish() {
    printf '%s\n\n%s\n' "$1" "$2" >"${out}/summary.txt"
    echo
    echo "$2"
    echo "JSON reports, recordings and this table (summary.txt) in ${out}/"
}
