#!/usr/bin/env bash
# Render `dvc plots show` with Vega from the npm registry (no CDN needed), open it in headless Chromium,
# save a screenshot and fail unless every declared chart drew something.
# Needs npm and Debian's chromium (apt-get install chromium). Run from the project root: make check-plots
set -euo pipefail
out=dvc_plots
mkdir -p "$out"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
(cd "$scratch" && npm pack --silent vega@5.20.2 vega-lite@5.2.0 vega-embed@6.18.2 >/dev/null)
for package in vega-5.20.2 vega-lite-5.2.0 vega-embed-6.18.2; do
    name=${package%-*}
    tar -xzf "$scratch/$package.tgz" -C "$scratch" "package/build/$name.min.js"
    mv "$scratch/package/build/$name.min.js" "$out/"
done
dvc plots show --out "$out" --html-template checks/plots.html >/dev/null
browser=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
         --no-first-run --user-data-dir="$scratch/profile" --virtual-time-budget=15000)
"${browser[@]}" --window-size=1400,5000 --screenshot="$out/screenshot.png" "$out/index.html" 2>/dev/null
charts=$(grep -c '<div id = ' "$out/index.html" || true)
drawn=$("${browser[@]}" --dump-dom "$out/index.html" 2>/dev/null | grep -o "<canvas[^>]*>" | grep -c '<canvas width="[1-9][0-9]*" height="[1-9][0-9]*" class="marks">' || true)
echo "charts declared: $charts, drawn in Chromium: $drawn, screenshot: $out/screenshot.png"
[ "$drawn" -ge "$charts" ] && [ "$charts" -ge 10 ]
