#!/usr/bin/env bash
# What sharing state in Redis costs, on this machine:
#   1. one gateway (one worker, core 0) with a rate limit counted locally,
#      in Redis with leased tokens (the default), and in Redis exactly
#      (lease = 1, a round trip per request); wrk, the upstream and
#      redis-server on core 1. Rows alternated, medians, ratios to local.
#   2. HAProxy in front of 1 and of 3 gateways (Redis-backed limit, one
#      worker each), nothing pinned: with 2 cores for everything, three
#      instances compete with the balancer, the load generator and the
#      upstream, so this shows the overhead of the layout, not scaling.
#
#   tests/load/bench-redis.sh [--duration SECONDS] [--rounds N] [--connections N]
#
# Raw output and configs are kept in target/load/<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options --duration 8 "$@"
install_missing nginx:nginx haproxy:haproxy wrk:wrk redis-server:redis-server

build_portcullis
start_origin
redis_port=18490
taskset -c 1 redis-server --bind 127.0.0.1 --port $redis_port --save "" --appendonly no >"$out/redis.log" 2>&1 &
pids+=($!)
wait_port $redis_port

# gateway_config PORT STATE_LINES: a route to the origin under a per-client
# limit too high to refuse anyone.
gateway_config() {
  cat <<CONF
[server]
listen = "127.0.0.1:$1"
max_connections_per_ip = 0

[logging]
access = "off"

$2

[rate_limits.per-client]
key = "ip"
requests = 10000000
per_seconds = 1

[[routes]]
id = "origin"
path = { prefix = "/" }
upstream = { targets = ["127.0.0.1:$origin_port"] }
rate_limits = ["per-client"]
CONF
}
redis_state="[state]
backend = \"redis\"
url = \"redis://127.0.0.1:$redis_port\""
gateway_config $proxy_port "" > "$out/local.toml"
gateway_config $proxy_port "$redis_state" > "$out/redis-leased.toml"
gateway_config $proxy_port "$redis_state
lease = 1" > "$out/redis-exact.toml"

start_gateway() { # CONFIG [CPU]
  if [ -n "${2:-}" ]; then
    RUST_LOG=warn taskset -c "$2" "$portcullis" run --workers 1 --config "$out/$1" >"$out/$1.log" 2>&1 &
  else
    RUST_LOG=warn "$portcullis" run --workers 1 --config "$out/$1" >"$out/$1.log" 2>&1 &
  fi
  pids+=($!)
  gateway_pids+=($!)
}
stop_gateways() {
  for pid in "${gateway_pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  gateway_pids=()
}
gateway_pids=()

measure() { # NAME ROUND [CPU for wrk]
  local file="$out/$1-round$2.txt" pin=()
  [ -n "${3:-}" ] && pin=(taskset -c "$3")
  "${pin[@]}" wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$proxy_port/" >/dev/null
  "${pin[@]}" wrk -t1 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$proxy_port/" > "$file"
  if grep -q "Non-2xx\|Socket errors" "$file"; then echo "$1 answered with errors:"; cat "$file"; exit 1; fi
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' "$file")
  p99=$(awk '$1 == "99%" { print $2 }' "$file" | to_us)
  echo "$1 $2 $rps $p99" >> "$out/samples.txt"
  printf '  %-14s round %s: %9.0f req/s  p99 %7.0f us\n' "$1" "$2" "$rps" "$p99"
}

machine_line
: > "$out/samples.txt"
echo "1. one gateway on core 0; wrk, upstream and redis-server on core 1; $rounds rounds of ${duration}s"
for round in $(seq 1 "$rounds"); do
  for row in local redis-leased redis-exact; do
    start_gateway "$row.toml" 0
    wait_port $proxy_port
    measure "$row" "$round" 1
    stop_gateways
  done
done

echo "2. HAProxy (one thread) in front of 1 and 3 gateways, nothing pinned"
for i in 1 2 3; do gateway_config $((proxy_port + 10 + i)) "$redis_state" > "$out/member-$i.toml"; done
haproxy_conf "" "127.0.0.1:$((proxy_port + 11))" > "$out/haproxy-1.cfg"
haproxy_conf "" "127.0.0.1:$((proxy_port + 11))" "127.0.0.1:$((proxy_port + 12))" "127.0.0.1:$((proxy_port + 13))" \
  > "$out/haproxy-3.cfg"
for round in $(seq 1 "$rounds"); do
  for n in 1 3; do
    for i in $(seq 1 $n); do start_gateway "member-$i.toml"; wait_port $((proxy_port + 10 + i)); done
    haproxy -f "$out/haproxy-$n.cfg" -db >"$out/haproxy.log" 2>&1 &
    balancer=$!
    pids+=($balancer)
    wait_port $proxy_port
    measure "haproxy+$n" "$round"
    kill $balancer; wait $balancer 2>/dev/null || true
    stop_gateways
  done
done

summary() { column_of "$out/samples.txt" "$1" "$2" | median; }
{
  echo
  echo "| row | req/s (median) | min-max | p99 µs | vs local |"
  echo "|---|---|---|---|---|"
  for row in local redis-leased redis-exact haproxy+1 haproxy+3; do
    awk -v name="$row" -v rps="$(summary "$row" 3)" -v p99="$(summary "$row" 4)" -v base="$(summary local 3)" \
      -v rr="$(range_of "$out/samples.txt" "$row" 3)" \
      'BEGIN { printf "| %s | %.0f | %s | %.0f | %.2fx |\n", name, rps, rr, p99, rps/base }'
  done
  echo
  echo "local: governor in the process; redis-leased: GCRA in Redis, up to 20 tokens per call"
  echo "(here 20: the burst is large); redis-exact: lease = 1, one round trip per request."
  echo "haproxy+N: one HAProxy thread round-robin over N gateways (Redis-backed limit), unpinned."
} | tee "$out/results.md"
echo "raw output: $out"
