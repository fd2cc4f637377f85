#!/usr/bin/env bash
# Build {{name}}.wasm. Needs python3 with pip; componentize-py is installed
# on first use (see tools.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tools.sh"
dir=$(pip_tool componentize-py 0.25.1)
(cd "$here" && PYTHONPATH="$dir" "$dir/bin/componentize-py" -d "$here/wit" -w no-capabilities \
  componentize app -o "$here/{{name}}.wasm" >&2)
echo "$here/{{name}}.wasm"
