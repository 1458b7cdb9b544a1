# shellcheck shell=bash
# fuzz_target_dir: where the fuzz targets are built — inside the workspace's own target directory
# (as cargo reports it, so CARGO_TARGET_DIR and .cargo/config.toml are honoured), in its
# `fuzz` directory, so that the sanitizer builds do not evict the normal ones. The corpora live in
# its `corpus/TARGET`. Run from the repository root.
fuzz_target_dir() {
    local dir
    dir="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    echo "${dir}/fuzz"
}

# fuzz_build_dir TARGET_DIR SANITIZER: the CARGO_TARGET_DIR of the build with SANITIZER
# (`address` or `none`, as `cargo fuzz build -s`): TARGET_DIR itself for the address sanitizer,
# its `no-sanitizer` directory for none, so that switching does not rebuild the other.
fuzz_build_dir() {
    if [[ "$2" == none ]]; then
        echo "$1/no-sanitizer"
    else
        echo "$1"
    fi
}
