#!/usr/bin/env bash
# Build the Zig tenant authorizer: build.sh [OUT.wasm]
# Needs: Zig from PyPI (ziglang), wit-bindgen-cli (cargo), jco (npm), all
# installed on first use. Zig compiles this file with the C bindings
# `wit-bindgen c` writes (their object carries the world) into a WASI
# preview 1 reactor, which is adapted into a component.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tools.sh"
out=${1:-$here/tenant_authorizer.wasm}
zig_dir=$(pip_tool ziglang 0.15.2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bindgen c "$wit" "$work"
(cd "$work" && ZIG_GLOBAL_CACHE_DIR="$tools/zig-cache" PYTHONPATH="$zig_dir" python3 -m ziglang \
  build-exe -target wasm32-wasi -O ReleaseSmall -fno-entry -mexec-model=reactor -rdynamic -lc \
  -I. "$here/authorizer.zig" no_capabilities.c no_capabilities_component_type.o \
  -femit-bin="$work/core.wasm")
componentize_reactor "$work/core.wasm" "$out"
echo "$out"
