#!/usr/bin/env bash
# Throughput and latency of portcullis against nginx, side by side, on the
# same upstream. Each proxy runs one worker pinned to core 0; wrk and the
# upstream (a static nginx) share core 1. Runs alternate A/B/A/B for
# several rounds; the medians and the ratios to nginx are printed. Rows:
# no plugins, three trivial Wasm plugins, and jwt + rbac with a cached token,
# once as configured by default (their decisions given again from the
# gateway's decision cache) and once with `decision_cache_entries = 0`
# (both plugins called on every request).
#
#   tests/load/compare.sh [--duration SECONDS] [--rounds N] [--connections N]
#
# Raw wrk output and the configs used are kept in target/load/<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options "$@"
install_missing nginx:nginx wrk:wrk openssl:openssl

build_portcullis --noop

start_origin

# nginx as a reverse proxy, one worker, keep-alive to the upstream.
write_nginx_proxy_conf "$out/nginx" "    listen 127.0.0.1:$proxy_port;"

# No access log, as nginx runs with `access_log off` (lib.sh): logging
# costs the same kind of work on both sides and is measured on its own
# (tests/load/compare-logging.sh, count-logging.sh).
no_access_log='[logging]
access = "off"'
noop_config 0 "" "" "$no_access_log" > "$out/portcullis-0.toml"
noop_config 3 "" "" "$no_access_log" > "$out/portcullis-3.toml"

# jwt (HS256, so the token can be made here with openssl) then rbac. The
# same token is sent on every request, to every proxy: the plugin's
# verified-token cache answers after the first.
jwt_secret="load-test-secret-of-at-least-32-bytes"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt_header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
jwt_claims=$(printf '{"iss":"https://idp.load","sub":"load","scope":"load:read","exp":%s}' $(( $(date +%s) + 86400 )) | b64url)
jwt_signature=$(printf '%s.%s' "$jwt_header" "$jwt_claims" | openssl dgst -sha256 -hmac "$jwt_secret" -binary | b64url)
authorization="Bearer $jwt_header.$jwt_claims.$jwt_signature"
cat > "$out/portcullis-auth.toml" <<CONF
[server]
listen = "127.0.0.1:$proxy_port"

$no_access_log

[plugins.jwt]
builtin = "jwt"
role = "authentication"
settings = { issuers = [{ issuer = "https://idp.load", algorithms = ["HS256"], secret = "$jwt_secret" }] }

[plugins.rbac]
builtin = "rbac"
capabilities = ["log"]
settings = { rules = [{ methods = ["GET"], paths = ["/**"], scopes = ["load:read"] }] }

[[routes]]
id = "origin"
path = { prefix = "/" }
upstream = { targets = ["127.0.0.1:$origin_port"] }
plugins = [{ name = "jwt" }, { name = "rbac" }]
CONF
# The same, with both plugins called on every request.
sed 's/^builtin = "\(jwt\|rbac\)"$/&\ndecision_cache_entries = 0/' \
  "$out/portcullis-auth.toml" > "$out/portcullis-auth-calls.toml"

start_proxy() { # $1 = nginx | portcullis-0 | portcullis-3 | portcullis-auth[-calls]
  case "$1" in
    nginx) taskset -c 0 "$nginx_bin" -c "$out/nginx/nginx.conf" -p "$out/nginx" & ;;
    portcullis-*) RUST_LOG=warn taskset -c 0 "$portcullis" run --workers 1 --config "$out/$1.toml" >"$out/$1.log" 2>&1 & ;;
  esac
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port
}

run_one() { # $1 = proxy name, $2 = round
  start_proxy "$1"
  # A short warm-up fills connection pools and plugin instance pools.
  taskset -c 1 wrk -t1 -c"$connections" -d2s -H "Authorization: $authorization" "http://127.0.0.1:$proxy_port/" >/dev/null
  taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency -H "Authorization: $authorization" \
    "http://127.0.0.1:$proxy_port/" > "$out/$1-round$2.txt"
  if ! grep -q "Requests/sec" "$out/$1-round$2.txt" || grep -q "Non-2xx" "$out/$1-round$2.txt"; then
    echo "$1 answered with errors:"; cat "$out/$1-round$2.txt"; exit 1
  fi
  stop_proxy
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' "$out/$1-round$2.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$out/$1-round$2.txt" | to_us)
  echo "$1 $2 $rps $p99" >> "$out/samples.txt"
  printf '  %-21s round %s: %10.0f req/s  p99 %8.0f us\n' "$1" "$2" "$rps" "$p99"
}

machine_line
echo "load: wrk -t1 -c$connections -d${duration}s, $rounds rounds, proxies alternated"
: > "$out/samples.txt"
for round in $(seq 1 "$rounds"); do
  for proxy in nginx portcullis-0 portcullis-3 portcullis-auth portcullis-auth-calls; do
    run_one "$proxy" "$round"
  done
done

summary() { column_of "$out/samples.txt" "$1" "$2" | median; }
range() { range_of "$out/samples.txt" "$1" "$2"; }

nginx_rps=$(summary nginx 3)
nginx_p99=$(summary nginx 4)
{
  echo
  echo "| proxy | req/s (median) | min-max | p99 us (median) | throughput vs nginx | p99 vs nginx |"
  echo "|---|---|---|---|---|---|"
  for proxy in nginx portcullis-0 portcullis-3 portcullis-auth portcullis-auth-calls; do
    rps=$(summary "$proxy" 3)
    p99=$(summary "$proxy" 4)
    awk -v name="$proxy" -v rps="$rps" -v p99="$p99" -v nr="$nginx_rps" -v np="$nginx_p99" -v rr="$(range "$proxy" 3)" \
      'BEGIN { printf "| %s | %.0f | %s | %.0f | %.2fx | %.2fx |\n", name, rps, rr, p99, rps/nr, p99/np }'
  done
  echo
  echo "portcullis-0: no plugins; portcullis-3: three trivial Wasm plugins (noop fixture);"
  echo "portcullis-auth: jwt (HS256, cached token) + rbac, their decisions given again by the gateway;"
  echo "portcullis-auth-calls: the same with decision_cache_entries = 0 (both called on every request)."
  echo "Every proxy gets the same Authorization header."
} | tee "$out/results.md"
echo "raw output: $out"
