#!/usr/bin/env bash
# Render reports/report.md to HTML (marked, from the npm registry), open it in headless Chromium as a reviewer
# would, save a screenshot, and fail unless every image it links loaded with a size.
# Needs npm and Debian's chromium (apt-get install chromium). Run from the project root: make check-report
set -euo pipefail
out=reports
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
npx --yes marked@15.0.12 --gfm -i "$out/report.md" -o "$scratch/body.html"
{
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Evaluation report</title>'
    echo '<style>body{font-family:sans-serif;max-width:980px;margin:2em auto}table{border-collapse:collapse}'
    echo 'td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}img{max-width:100%}</style></head><body>'
    cat "$scratch/body.html"
    echo '<script>addEventListener("load", () => document.title = "images: "'
    echo '  + [...document.images].filter(i => i.naturalWidth > 0).length + "/" + document.images.length);</script>'
    echo '</body></html>'
} > "$out/report.html"
browser=(chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
         --no-first-run --user-data-dir="$scratch/profile" --virtual-time-budget=5000)
"${browser[@]}" --window-size=1100,6000 --screenshot="$out/report.png" "$out/report.html" 2>/dev/null
title=$("${browser[@]}" --dump-dom "$out/report.html" 2>/dev/null | grep -o '<title>[^<]*</title>')
echo "$title, screenshot: $out/report.png"
linked=$(grep -c '!\[' "$out/report.md")
[[ "$title" == "<title>images: $linked/$linked</title>" ]]
