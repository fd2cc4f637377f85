#!/usr/bin/env bash
# What a proxy holds in memory: its resident set idle (after a few
# requests) and with N idle keep-alive client connections (default 10,000),
# for portcullis (three trivial Wasm plugins, pooled instances) and nginx
# (one worker; master and worker counted), on the same origin. Prints RSS
# and the cost per idle connection.
#
#   tests/load/memory.sh [--connections N]
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options --connections 10000 "$@"
install_missing nginx:nginx
ulimit -n $((connections + 1024))

build_portcullis --noop

start_origin

noop_config 3 "max_connections = $((connections + 1000))
max_connections_per_ip = $((connections + 1000))" > "$out/portcullis.toml"
nginx_worker_connections=$((connections + 1000))
write_nginx_proxy_conf "$out/nginx" "    listen 127.0.0.1:$proxy_port;"

# rss_kb PID...: resident set of the processes together, in KiB.
rss_kb() { for pid in "$@"; do awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; done | awk '{ s += $1 } END { print s }'; }

measure() { # $1 = portcullis | nginx
  case $1 in
    portcullis) RUST_LOG=warn "$portcullis" run --workers 1 --config "$out/portcullis.toml" > "$out/portcullis.log" 2>&1 & ;;
    nginx) "$nginx_bin" -c "$out/nginx/nginx.conf" -p "$out/nginx" & ;;
  esac
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port
  for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$proxy_port/"; done
  local procs=($proxy_pid $(pgrep -P $proxy_pid || true))
  local idle held
  idle=$(rss_kb "${procs[@]}")
  coproc CLIENTS { python3 "$root/tests/load/idle-clients.py" $proxy_port "$connections"; }
  read -r ready <&"${CLIENTS[0]}"
  [ "$ready" = ready ] || { echo "the idle clients did not connect"; exit 1; }
  held=$(rss_kb "${procs[@]}")
  exec {CLIENTS[1]}>&-
  wait "$CLIENTS_PID" 2>/dev/null || true
  stop_proxy
  echo "$1 $idle $held" >> "$out/memory.txt"
  awk -v name="$1" -v idle="$idle" -v held="$held" -v n="$connections" \
    'BEGIN { printf "  %-10s idle %6.1f MiB, with %d idle connections %6.1f MiB: %.1f KiB per connection\n", name, idle/1024, n, held/1024, (held-idle)/n }'
}

machine_line
: > "$out/memory.txt"
measure portcullis
measure nginx
echo "raw output: $out"
