# shellcheck shell=bash
# fuzz_target_dir: where the fuzz targets are built — inside the workspace's own target directory
# (as cargo reports it, so CARGO_TARGET_DIR and .cargo/config.toml are honoured), in its
# `fuzz` directory, so that the sanitizer builds do not evict the normal ones. Run from the repository root.
fuzz_target_dir() {
    local dir
    dir="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    echo "${dir}/fuzz"
}
