#!/usr/bin/env bash
# Build {{name}}.wasm. Needs Node.js 18+ and npm; componentize-js is
# installed on first use (see tools.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tools.sh"
js_component "$here/policy.js" "$here/wit" "$here/{{name}}.wasm"
echo "$here/{{name}}.wasm"
