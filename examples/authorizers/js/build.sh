#!/usr/bin/env bash
# Build the JavaScript tenant authorizer: build.sh [OUT.wasm]
# Needs: Node.js 18+ and npm; componentize-js (StarlingMonkey) is installed
# from npm on first use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tools.sh"
out=${1:-$here/tenant_authorizer.wasm}
js_component "$here/authorizer.js" "$wit" "$out"
echo "$out"
