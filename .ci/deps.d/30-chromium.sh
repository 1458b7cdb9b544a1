#!/usr/bin/env bash
# Installs Debian's Chromium for the live page's browser test (crates/bpprof/tests/live_page.rs),
# which loads the page headless from the endpoint on loopback and reads the DOM its script built.
# Exits 0 when it cannot: the test then fails loudly under CI=true and says it skipped otherwise.
set -uo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium: already installed: $(chromium --version 2>&1 | head -n 1)"
    exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo -n)
    else
        echo "chromium: NOT INSTALLED: not root and no sudo; the live page test will say so" >&2
        exit 0
    fi
fi
echo "chromium: installing Debian's package: apt-get install -y --no-install-recommends chromium"
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then
    echo "chromium: install failed; updating the package lists and trying once more"
    "${sudo[@]}" apt-get update -q || true
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then
        echo "chromium: NOT INSTALLED: apt-get failed; the live page test will say so" >&2
        exit 0
    fi
fi
echo "chromium: installed: $(chromium --version 2>&1 | head -n 1)"
