#!/usr/bin/env bash
# Installs Debian's Prometheus server for the live-metrics test (crates/bpprof/tests/prometheus.rs),
# which starts it on loopback, scrapes an example pipeline and queries what it stored.
# Exits 0 when it cannot: the test then fails loudly under CI=true and says it skipped otherwise.
set -uo pipefail

if command -v prometheus >/dev/null 2>&1; then
    echo "prometheus: already installed: $(prometheus --version 2>&1 | head -n 1)"
    exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo -n)
    else
        echo "prometheus: NOT INSTALLED: not root and no sudo; the live-metrics test will say so" >&2
        exit 0
    fi
fi
echo "prometheus: installing Debian's package: apt-get install -y --no-install-recommends prometheus"
# The package's post-install script starts a service where a service manager runs; the test starts
# its own server on another port, so a running one does no harm.
if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; then
    echo "prometheus: install failed; updating the package lists and trying once more"
    "${sudo[@]}" apt-get update -q || true
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; then
        echo "prometheus: NOT INSTALLED: apt-get failed; the live-metrics test will say so" >&2
        exit 0
    fi
fi
echo "prometheus: installed: $(prometheus --version 2>&1 | head -n 1)"
