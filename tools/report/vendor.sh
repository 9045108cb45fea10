#!/usr/bin/env bash
# Copies Apache ECharts' minified build from the npm package pinned in package.json
# (package-lock.json) into the file the report embeds, sql/report/assets/echarts.min.js,
# or into the path given (CI copies it to a temporary file and compares it with the
# committed one). Run it after changing the echarts version, and update
# sql/report/assets/SOURCE.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../sql/report/assets/echarts.min.js}"
npm ci --prefix "$here" --no-audit --no-fund --silent
mkdir -p "$(dirname "$out")"
cp "$here/node_modules/echarts/dist/echarts.min.js" "$out"
echo "echarts $(node -p "require('$here/node_modules/echarts/package.json').version") -> $out"
