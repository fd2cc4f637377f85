#!/usr/bin/env bash
# Build the Python tenant authorizer: build.sh [OUT.wasm]
# Needs: python3 with pip (componentize-py is installed from PyPI).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tools.sh"
out=${1:-$here/tenant_authorizer.wasm}
python_component "$here" "$wit" "$out"
echo "$out"
