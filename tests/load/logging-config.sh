# The gateway both logging scripts measure: three trivial Wasm plugins on
# one route to the origin. Sourced after lib.sh; needs $proxy_port,
# $origin_port, $out, $noop.

# portcullis_config ACCESS METRICS [RUNTIME_LINES]: the config, with the
# access log going to ACCESS (or off) and metrics on or off.
portcullis_config() {
  cat <<CONF
[server]
listen = "127.0.0.1:$proxy_port"

[runtime]
cache_dir = "$root/target/plugin-cache"
${3:-}

[logging]
access = "$1"
audit = "$out/audit.log"
metrics = $2

[plugins.noop]
path = "$noop"

[[routes]]
id = "origin"
path = { prefix = "/" }
upstream = { targets = ["127.0.0.1:$origin_port"] }
plugins = [{ name = "noop" }, { name = "noop" }, { name = "noop" }]
CONF
}
