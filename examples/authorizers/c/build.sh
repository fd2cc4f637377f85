#!/usr/bin/env bash
# Build the C tenant authorizer: build.sh [OUT.wasm]
# Needs: Debian's clang, lld and wasi-libc (installed if missing),
# wit-bindgen-cli (installed with cargo), and the wasm-component-ld that
# rustup's wasm32-wasip2 target ships, which links and makes the component
# in one step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tools.sh"
out=${1:-$here/tenant_authorizer.wasm}
apt_need clang clang lld wasi-libc
[ -f /usr/lib/wasm32-wasi/libc.a ] || apt_need /nonexistent wasi-libc
bindings=$(mktemp -d)
trap 'rm -rf "$bindings"' EXIT
bindgen c "$wit" "$bindings"
clang --target=wasm32-wasi -O2 -Wall -Wextra -Werror -mexec-model=reactor \
  -fuse-ld="$(wasm_component_ld)" -I"$bindings" -I"$here" -o "$out" \
  "$here/authorizer.c" "$here/sha256.c" "$bindings/no_capabilities.c" \
  "$bindings/no_capabilities_component_type.o"
echo "$out"
