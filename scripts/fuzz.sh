#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ (or only the TARGETs named) for SECONDS each (default 60),
# one after the other, and prints how many inputs each ran:
#
#   ./scripts/fuzz.sh [SECONDS [TARGET...]]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo +nightly install cargo-fuzz --locked`). Each
# target starts from the committed seeds (fuzz/seeds/TARGET) and keeps what it finds in a corpus of
# its own next to the build (never in the repository). A crash, a hang (10 s on one input) or an
# allocation beyond 512 MB stops the script with exit code 1 and leaves the input in
# fuzz/artifacts/TARGET/; `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...` replays
# it. Inputs are at most 16 KiB (recordings of a few dozen chunks). The build goes to `fuzz/` inside cargo's target directory (its own, so that the
# normal builds keep their cache).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -lt 1 ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS [TARGET...]]  (a whole number of seconds per target, got '$seconds')" >&2
    exit 2
fi
shift $(($# > 0 ? 1 : 0))
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "scripts/fuzz.sh: needs a nightly toolchain and cargo-fuzz: rustup toolchain install nightly && cargo +nightly install cargo-fuzz --locked" >&2
    exit 2
fi
# shellcheck source=scripts/lib/fuzz-target-dir.sh
source ../scripts/lib/fuzz-target-dir.sh
target_dir="$(cd .. && fuzz_target_dir)"
export CARGO_TARGET_DIR="$target_dir"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for target in "${targets[@]}"; do
    if [[ ! -d "seeds/$target" ]]; then
        echo "scripts/fuzz.sh: no fuzz target '$target'; the targets: $(cargo +nightly fuzz list | tr '\n' ' ')" >&2
        exit 2
    fi
done
echo "==> building the fuzz targets (release, address sanitizer) into $target_dir"
nice -n 10 cargo +nightly fuzz build --release
for target in "${targets[@]}"; do
    corpus="$target_dir/corpus/$target"
    mkdir -p "$corpus"
    log="$target_dir/fuzz-$target.log"
    echo "==> fuzzing $target for ${seconds} s (log: $log)"
    if ! nice -n 10 cargo +nightly fuzz run --release "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz: $target FAILED: the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz: $target: ${runs:-?} executions in ${seconds} s, no crash, hang or oversized allocation"
done
