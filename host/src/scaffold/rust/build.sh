#!/usr/bin/env bash
# Build {{name}}.wasm. Needs Rust (rust-toolchain.toml installs the
# wasm32-wasip2 target through rustup).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --quiet --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm
echo "$(pwd)/{{name}}.wasm"
