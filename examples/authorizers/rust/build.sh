#!/usr/bin/env bash
# Build the Rust tenant authorizer: build.sh [OUT.wasm]
# Needs: the workspace's Rust toolchain (rust-toolchain.toml installs the
# wasm32-wasip2 target).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../tools.sh"
out=${1:-$here/tenant_authorizer.wasm}
target_dir=${CARGO_TARGET_DIR:-$repo/target}/wasm
cargo build --quiet --manifest-path "$repo/Cargo.toml" -p portcullis-example-authorizer-rust \
  --target wasm32-wasip2 --profile plugin --target-dir "$target_dir"
cp "$target_dir/wasm32-wasip2/plugin/portcullis_example_authorizer_rust.wasm" "$out"
echo "$out"
