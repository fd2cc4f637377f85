#!/usr/bin/env bash
# Build {{name}}.wasm. Needs python3 with pip; componentize-py is installed
# on first use (see tools.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tools.sh"
python_component "$here" "$here/wit" "$here/{{name}}.wasm"
echo "$here/{{name}}.wasm"
