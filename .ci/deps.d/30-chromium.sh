#!/usr/bin/env bash
# Installs Debian's Chromium and its chromedriver (package chromium-driver) for the live page's
# browser tests: crates/bpprof/tests/live_page.rs loads the page headless from the endpoint on
# loopback, reads the DOM its script built and clicks a subtask; crates/bpprof-cli/tests/serve.rs
# drives the page of `bpprof serve` through chromedriver (clicks, the time slider, render time).
# Exits 0 when it cannot: the tests then fail loudly under CI=true and say they skipped otherwise.
set -uo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    echo "chromium: already installed: $(chromium --version 2>&1 | head -n 1); $(chromedriver --version 2>&1 | head -n 1)"
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
echo "chromium: installing Debian's package: apt-get install -y --no-install-recommends chromium chromium-driver"
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; then
    echo "chromium: install failed; updating the package lists and trying once more"
    "${sudo[@]}" apt-get update -q || true
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver; then
        echo "chromium: NOT INSTALLED: apt-get failed; the live page test will say so" >&2
        exit 0
    fi
fi
echo "chromium: installed: $(chromium --version 2>&1 | head -n 1); $(chromedriver --version 2>&1 | head -n 1)"
