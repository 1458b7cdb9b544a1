#!/usr/bin/env bash
# Renders an SVG (e.g. from `bpprof locate REC --svg job.svg`) in headless Chromium and saves a
# screenshot, to check that browsers draw it.
#
#   ./scripts/check-svg.sh FILE.svg [OUT.png]      (default OUT: FILE.png)
#
# Installs chromium with apt-get when it is missing (needs root). Exits non-zero when the SVG is
# missing, Chromium fails, or the screenshot is empty.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 FILE.svg [OUT.png]" >&2
    exit 2
fi
svg="$1"
out="${2:-${svg%.svg}.png}"
if [[ ! -s "$svg" ]]; then
    echo "error: '$svg' does not exist or is empty" >&2
    exit 2
fi

browser=""
for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null 2>&1; then
        browser="$candidate"
        break
    fi
done
if [[ -z "$browser" ]]; then
    echo "==> chromium not found; installing it with apt-get" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: chromium is missing and installing it needs root; install it and run again" >&2
        exit 2
    fi
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >&2
    browser=chromium
fi

# The SVG's own size, so that the screenshot shows all of it (at least 1200x600).
width=$(sed -n 's/.*<svg[^>]* width="\([0-9.]*\)".*/\1/p' "$svg" | head -1)
height=$(sed -n 's/.*<svg[^>]* height="\([0-9.]*\)".*/\1/p' "$svg" | head -1)
width=${width%.*}
height=${height%.*}
width=$(( ${width:-1200} > 1200 ? ${width:-1200} : 1200 ))
height=$(( ${height:-600} > 600 ? ${height:-600} : 600 ))

abs="$(cd "$(dirname "$svg")" && pwd)/$(basename "$svg")"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
out_abs="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$out_abs" --window-size="${width},${height}" "file://$abs" \
    >"$profile/chromium.log" 2>&1 || {
    echo "error: $browser failed:" >&2
    tail -20 "$profile/chromium.log" >&2
    exit 1
}
if [[ ! -s "$out_abs" ]]; then
    echo "error: $browser wrote no screenshot" >&2
    tail -20 "$profile/chromium.log" >&2
    exit 1
fi
echo "rendered $svg with $browser (${width}x${height}) into $out"
