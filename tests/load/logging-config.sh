# The gateway both logging scripts measure: three trivial Wasm plugins on
# one route to the origin. Sourced after lib.sh.

# logging_config ACCESS METRICS [RUNTIME_LINES]: that gateway, with the
# access log going to ACCESS (or off) and metrics on or off.
logging_config() {
  noop_config 3 "" "${3:-}" "[logging]
access = \"$1\"
audit = \"$out/audit.log\"
metrics = $2"
}
