#!/usr/bin/env bash
# Fuzzes every target of fuzz/ for a bounded time when a nightly toolchain is present (installing
# cargo-fuzz if it is missing), within about 6 minutes in all, the build included; skips with a
# visible line otherwise. A crash fails CI (scripts/fuzz.sh). FUZZ_SANITIZER (address, the default,
# or none) is passed on to scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

budget=360
started=$SECONDS
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "!!! fuzz: SKIPPED: no nightly toolchain (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (cargo +nightly install cargo-fuzz --locked)"
    if ! cargo +nightly install cargo-fuzz --locked --quiet; then
        echo "!!! fuzz: SKIPPED: cargo-fuzz could not be installed"
        exit 0
    fi
fi
# Build first, then share what is left of the budget among the targets (at most 60 s each).
# Where scripts/fuzz.sh builds, so that it finds the build done.
# shellcheck source=scripts/lib/fuzz-target-dir.sh
source scripts/lib/fuzz-target-dir.sh
target_dir="$(fuzz_target_dir)"
sanitizer="${FUZZ_SANITIZER:-address}"
build_dir="$(fuzz_build_dir "$target_dir" "$sanitizer")"
(cd fuzz && CARGO_TARGET_DIR="$build_dir" nice -n 10 cargo +nightly fuzz build --release -s "$sanitizer")
targets=$(cd fuzz && cargo +nightly fuzz list | wc -l)
left=$((budget - (SECONDS - started)))
each=$((left / targets))
if [[ "$each" -gt 60 ]]; then each=60; fi
if [[ "$each" -lt 15 ]]; then each=15; fi
echo "fuzz: $targets targets, ${each} s each"
./scripts/fuzz.sh "$each"
