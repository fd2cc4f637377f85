#!/usr/bin/env bash
# Build {{name}}.wasm. Needs Node.js 18+ and npm; componentize-js is
# installed on first use (see tools.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tools.sh"
componentize=$(npm_tool @bytecodealliance/componentize-js 0.23.0 componentize-js)
"$componentize" --wit "$here/wit" --world-name no-capabilities -d http -d fetch-event \
  -o "$here/{{name}}.wasm" "$here/policy.js" >&2
echo "$here/{{name}}.wasm"
