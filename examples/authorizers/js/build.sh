#!/usr/bin/env bash
# Build the JavaScript tenant authorizer: build.sh [OUT.wasm]
# Needs: Node.js 18+ and npm; componentize-js (StarlingMonkey) is installed
# from npm on first use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tools.sh"
out=${1:-$here/tenant_authorizer.wasm}
componentize=$(npm_tool @bytecodealliance/componentize-js 0.23.0 componentize-js)
# Without wasi:http: the gateway links WASI's CLI, clock, random and
# filesystem interfaces, not HTTP.
"$componentize" --wit "$wit" --world-name no-capabilities -d http -d fetch-event \
  -o "$out" "$here/authorizer.js" >&2
echo "$out"
