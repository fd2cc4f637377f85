#!/usr/bin/env bash
# HTTPS throughput of portcullis against nginx, side by side, with the same
# certificate (ECDSA P-256) and the same plain-HTTP upstream. Each proxy
# runs one worker pinned to core 0; h2load and the upstream (a static
# nginx) share core 1. Runs alternate between the proxies for several
# rounds; medians and the ratios to nginx are printed.
#
#   tests/load/compare-tls.sh [--duration SECONDS] [--rounds N] [--connections N]
#
# Workloads, all over TLS (1.3 where both ends offer it):
#   h2         h2load, 1 thread, N connections, 10 streams each
#   http/1.1   h2load --h1, N keep-alive connections
#   resumed    h2load --h1 with `Connection: close`: a new TCP connection and
#              TLS handshake per request, the session resumed as OpenSSL does
#   full       500 connections opened at once, each one full handshake and
#              one request: handshakes per second of the whole burst
# Raw output and the configs used are kept in target/load/<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options "$@"
install_missing nginx:nginx h2load:nghttp2-client openssl:openssl

build_portcullis
"$root/tests/tls/make-certs.sh" "$out/certs"
start_origin

write_nginx_proxy_conf "$out/nginx" "    listen 127.0.0.1:$proxy_port ssl http2;
    ssl_certificate $out/certs/server.pem;
    ssl_certificate_key $out/certs/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    http2_max_concurrent_streams 100;"

cat > "$out/portcullis.toml" <<CONF
[server]
listen = "127.0.0.1:$proxy_port"
max_connections_per_ip = 0

# No access log, as nginx runs with `access_log off` (lib.sh).
[logging]
access = "off"

[server.tls]
[[server.tls.certificates]]
cert = "$out/certs/server.pem"
key = "$out/certs/server.key"
server_names = ["localhost"]

[[routes]]
id = "origin"
path = { prefix = "/" }
upstream = { targets = ["127.0.0.1:$origin_port"] }
CONF

start_proxy() { # $1 = nginx | portcullis
  case "$1" in
    nginx) taskset -c 0 "$nginx_bin" -c "$out/nginx/nginx.conf" -p "$out/nginx" & ;;
    portcullis) RUST_LOG=warn taskset -c 0 "$portcullis" run --workers 1 --config "$out/portcullis.toml" >"$out/portcullis.log" 2>&1 & ;;
  esac
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port
}

url="https://127.0.0.1:$proxy_port/"
# Requests per second of run time for the resumed workload (a guess at
# what both proxies sustain, so it runs about as long as the others).
resumed_per_second=3000
# h2load on core 1, never for more than a minute past its duration.
load() { timeout $((duration + 60)) taskset -c 1 h2load -t1 "$@"; }
# h2load prints "finished in 10.00s, 12345.67 req/s, ..."
rate_of() { awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$1"; }

run_one() { # $1 = proxy, $2 = round
  local base="$out/$1-round$2" h2 h1 resumed full
  start_proxy "$1"
  load -c"$connections" -m10 -D 2 "$url" >/dev/null 2>&1 || true
  load -c"$connections" -m10 -D "$duration" "$url" > "$base-h2.txt" 2>&1
  load --h1 -c"$connections" -D "$duration" "$url" > "$base-h1.txt" 2>&1
  # Timing mode never ends once servers close connections: count instead.
  load --h1 -c"$connections" -n $((resumed_per_second * duration)) -H 'Connection: close' "$url" > "$base-resumed.txt" 2>&1
  load --h1 -c500 -n500 "$url" > "$base-full.txt" 2>&1
  stop_proxy
  h2=$(rate_of "$base-h2.txt"); h1=$(rate_of "$base-h1.txt")
  resumed=$(rate_of "$base-resumed.txt"); full=$(rate_of "$base-full.txt")
  echo "$1 $2 $h2 $h1 $resumed $full" >> "$out/samples.txt"
  printf '  %-10s round %s: h2 %8.0f  http/1.1 %8.0f  resumed %7.0f  full %7.0f req/s\n' "$1" "$2" "$h2" "$h1" "$resumed" "$full"
}

machine_line
echo "load: h2load -t1 -c$connections, ${duration}s per workload, $rounds rounds, proxies alternated"
: > "$out/samples.txt"
for round in $(seq 1 "$rounds"); do
  for proxy in nginx portcullis; do
    run_one "$proxy" "$round"
  done
done

summary() { column_of "$out/samples.txt" "$1" "$2" | median; }
{
  echo
  echo "| workload | nginx req/s | portcullis req/s | portcullis min-max | vs nginx |"
  echo "|---|---|---|---|---|"
  column=3
  for workload in "h2 (10 streams/conn)" "http/1.1 keep-alive" "new connection, resumed TLS" "new connection, full handshake (burst of 500)"; do
    n=$(summary nginx $column); p=$(summary portcullis $column)
    awk -v w="$workload" -v n="$n" -v p="$p" -v r="$(range_of "$out/samples.txt" portcullis $column)" \
      'BEGIN { printf "| %s | %.0f | %.0f | %s | %.2fx |\n", w, n, p, r, p/n }'
    column=$((column + 1))
  done
} | tee "$out/results.md"
echo "raw output: $out"
