#!/usr/bin/env bash
# `go tool pprof` reads the profiles of `bpprof flame --format pprof` in
# crates/bpprof-cli/tests/pprof.rs: install Debian's golang-go when `go` is missing.
# Exits 0 when it cannot (the tests then fail in CI and say why).
set -uo pipefail

if command -v go >/dev/null 2>&1; then
    echo "golang: already installed: $(go version)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "!!! golang: NOT INSTALLED: no apt-get on this machine; the pprof tests will fail in CI"
    exit 0
fi
as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "!!! golang: NOT INSTALLED: not root and no password-less sudo; the pprof tests will fail in CI"
        exit 0
    fi
fi
echo "golang: running: ${as_root[*]} apt-get install -y golang-go"
if ! "${as_root[@]}" apt-get install -y -q golang-go >/tmp/bpprof-golang-install.log 2>&1; then
    echo "golang: apt-get install failed; running apt-get update first"
    "${as_root[@]}" apt-get update -q >>/tmp/bpprof-golang-install.log 2>&1
    "${as_root[@]}" apt-get install -y -q golang-go >>/tmp/bpprof-golang-install.log 2>&1
fi
if command -v go >/dev/null 2>&1; then
    echo "golang: installed: $(go version)"
else
    echo "!!! golang: NOT INSTALLED (see /tmp/bpprof-golang-install.log):"
    tail -5 /tmp/bpprof-golang-install.log
fi
exit 0
