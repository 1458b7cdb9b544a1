#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ (or only the TARGETs named) for SECONDS each (default 60),
# one after the other, and prints how many inputs each ran:
#
#   ./scripts/fuzz.sh [SECONDS [TARGET...]]
#   FUZZ_SANITIZER=none ./scripts/fuzz.sh 1800 folded    # throughput run, no address sanitizer
#
# Needs a nightly toolchain and cargo-fuzz (`cargo +nightly install cargo-fuzz --locked`). Each
# target starts from the committed seeds (fuzz/seeds/TARGET) and keeps what it finds in a corpus of
# its own next to the build (never in the repository). A crash, a hang (10 s on one input) or an
# allocation of 512 MB or more stops the script with exit code 1 and leaves the input in
# fuzz/artifacts/TARGET/; `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...` replays
# it. Inputs are at most 16 KiB (recordings of a few dozen chunks). The build goes to `fuzz/` inside
# cargo's target directory (its own, so that the normal builds keep their cache; CARGO_TARGET_DIR
# is honoured).
#
# FUZZ_SANITIZER: `address` (default: the address sanitizer, `cargo fuzz run -s address`) or
# `none` (`-s none`, several times the executions per second). The fuzzed crates are safe Rust, so
# what the sanitizer adds is little: a panic, a hang and an oversized allocation fail either way
# (the fuzz crate's allocator checks the 512 MB, which libFuzzer's -malloc_limit_mb does only
# through the sanitizer's malloc hooks), and memory that grows in many smaller allocations hits
# -rss_limit_mb (1024 MB without the sanitizer, whose shadow memory and quarantine need more,
# 2048 MB with it). The none build has a directory of its own (`no-sanitizer/` in the fuzz target
# directory), so switching does not rebuild the other; both share the corpora.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -lt 1 ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS [TARGET...]]  (a whole number of seconds per target, got '$seconds')" >&2
    exit 2
fi
shift $(($# > 0 ? 1 : 0))
sanitizer="${FUZZ_SANITIZER:-address}"
case "$sanitizer" in
address) rss_limit_mb=2048 ;;
none) rss_limit_mb=1024 ;;
*)
    echo "scripts/fuzz.sh: FUZZ_SANITIZER is 'address' (the default) or 'none', got '$sanitizer'" >&2
    exit 2
    ;;
esac
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "scripts/fuzz.sh: needs a nightly toolchain and cargo-fuzz: rustup toolchain install nightly && cargo +nightly install cargo-fuzz --locked" >&2
    exit 2
fi
# shellcheck source=scripts/lib/fuzz-target-dir.sh
source ../scripts/lib/fuzz-target-dir.sh
target_dir="$(cd .. && fuzz_target_dir)"
CARGO_TARGET_DIR="$(fuzz_build_dir "$target_dir" "$sanitizer")"
export CARGO_TARGET_DIR

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
echo "==> building the fuzz targets (release, sanitizer: $sanitizer) into $CARGO_TARGET_DIR"
nice -n 10 cargo +nightly fuzz build --release -s "$sanitizer"
for target in "${targets[@]}"; do
    corpus="$target_dir/corpus/$target"
    mkdir -p "$corpus"
    log="$target_dir/fuzz-$target.log"
    echo "==> fuzzing $target for ${seconds} s, sanitizer: $sanitizer (log: $log)"
    if ! nice -n 10 cargo +nightly fuzz run --release -s "$sanitizer" "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb="$rss_limit_mb" -malloc_limit_mb=512 \
        -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log"
        echo "fuzz: $target FAILED: the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "fuzz: $target: ${runs:-?} executions in ${seconds} s (sanitizer: $sanitizer), no crash, hang or oversized allocation"
done
