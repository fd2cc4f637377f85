#!/usr/bin/env bash
# The benchmark: what every part of portcullis costs, side by side with
# nginx and HAProxy on the same upstream.
#
#   tests/load/bench.sh [--duration SECONDS] [--rounds N] [--connections N]
#                       [--rows NAME,NAME...] [--no-latency] [--no-memory]
#
# Fair by construction: each proxy runs one worker (one thread) pinned to
# core 0; the load generator and the upstream (a static nginx) share core
# 1. Every row is run once per round, rows alternated, several rounds;
# medians, min-max and ratios are printed. Every proxy gets the same
# request with the same headers (a JWT, an API key, a forwarded EU client
# address, a signed tenant), whatever it does with them.
#
# Phases:
#   throughput  wrk (HTTP/1.1) or h2load (h2), closed loop, per row
#   latency     h2load --rps at half of nginx's median throughput:
#               p50/p99/p99.9 at a fixed offered rate
#   memory      resident set idle with every built-in plugin loaded, with
#               $idle_connections idle keep-alive connections, and peak under load
#
# Raw output, configs and results.md are kept in target/load/<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options --duration 8 "$@"
install_missing nginx:nginx haproxy:haproxy wrk:wrk h2load:nghttp2-client openssl:openssl curl:curl
[ -f /usr/lib/nginx/modules/ngx_http_modsecurity_module.so ] \
  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-http-modsecurity >/dev/null; }
crs="$root/../shared/corpora/owasp-crs-v4.28.0"
[ -d "$crs/rules" ] || { echo "the CRS corpus is missing: $crs" >&2; exit 1; }

# shellcheck source=tests/load/bench-configs.sh
source "$root/tests/load/bench-configs.sh"

build_portcullis
echo "building the JavaScript and Python authorizers (examples/authorizers)"
"$root/examples/authorizers/js/build.sh" "$out/js-authorizer.wasm" >/dev/null
"$root/examples/authorizers/python/build.sh" "$out/python-authorizer.wasm" >/dev/null
prepare_rows
cat "$out/certs/server.pem" "$out/certs/server.key" > "$out/certs/haproxy.pem"
# The memory phase's idle connections: HAProxy needs two descriptors for
# each, and this machine's hard limit is 20,000.
ulimit -n "$(ulimit -Hn)"
idle_connections=9000
start_origin

write_configs

# Rows: NAME PROXY CONFIG CLIENT. PROXY is nginx, haproxy or portcullis;
# CONFIG names a file under $out; CLIENT is h1 (wrk, plain HTTP/1.1), h1s
# (wrk over TLS) or h2s (h2load over TLS, 10 streams a connection). Each
# row is compared with the nginx row of its client (BASELINE).
all_rows=(
  "nginx nginx nginx h1"
  "haproxy haproxy haproxy.cfg h1"
  "plain portcullis plain.toml h1"
  "ip-filter portcullis ip-filter.toml h1"
  "headers portcullis headers.toml h1"
  "jwt portcullis jwt.toml h1"
  "api-key portcullis api-key.toml h1"
  "rbac portcullis rbac.toml h1"
  "geo portcullis geo.toml h1"
  "mask portcullis mask.toml h1"
  "waf portcullis waf.toml h1"
  "chain portcullis chain.toml h1"
  "chain+waf portcullis chain-waf.toml h1"
  "nginx+modsec nginx modsec h1"
  "js-authorizer portcullis js-authorizer.toml h1"
  "python-authorizer portcullis python-authorizer.toml h1"
  "js-authorizer-uncached portcullis js-authorizer-uncached.toml h1"
  "python-authorizer-uncached portcullis python-authorizer-uncached.toml h1"
  "nginx-tls-h1 nginx nginx-tls h1s"
  "haproxy-tls-h1 haproxy haproxy-tls.cfg h1s"
  "plain-tls-h1 portcullis plain-tls.toml h1s"
  "chain-tls-h1 portcullis chain-tls.toml h1s"
  "nginx-tls-h2 nginx nginx-tls h2s"
  "haproxy-tls-h2 haproxy haproxy-tls.cfg h2s"
  "plain-tls-h2 portcullis plain-tls.toml h2s"
  "chain-tls-h2 portcullis chain-tls.toml h2s"
)
baseline_of() { case $1 in h1) echo nginx ;; h1s) echo nginx-tls-h1 ;; h2s) echo nginx-tls-h2 ;; esac; }
rows=()
for row in "${all_rows[@]}"; do
  read -r name _ <<<"$row"
  if [ -z "$rows_filter" ] || [[ ",$rows_filter," == *",$name,"* ]]; then rows+=("$row"); fi
done

start_proxy() { # $1 = PROXY, $2 = CONFIG
  case "$1" in
    nginx) taskset -c 0 "$nginx_bin" -c "$out/$2/nginx.conf" -p "$out/$2" & ;;
    haproxy) taskset -c 0 haproxy -f "$out/$2" -db >"$out/haproxy.log" 2>&1 & ;;
    portcullis) RUST_LOG=warn taskset -c 0 "$portcullis" run --workers 1 --config "$out/$2" >"$out/$2.log" 2>&1 & ;;
  esac
  proxy_pid=$!
  pids+=($proxy_pid)
  # The first start compiles the plugins (a JavaScript component: 16 s).
  wait_port $proxy_port 120
}

# load CLIENT SECONDS OUTPUT [EXTRA...]: closed-loop load on core 1.
load() {
  local client=$1 seconds=$2 output=$3 args
  shift 3
  mapfile -d '' args < <(header_args)
  case $client in
    h1) timeout $((seconds + 60)) taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency "${args[@]}" \
          "$@" "http://127.0.0.1:$proxy_port/" > "$output" 2>&1 ;;
    h1s) timeout $((seconds + 60)) taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency "${args[@]}" \
          "$@" "https://127.0.0.1:$proxy_port/" > "$output" 2>&1 ;;
    h2s) timeout $((seconds + 60)) taskset -c 1 h2load -t1 -c"$connections" -m10 -D "$seconds" \
          --log-file="$output.log" "${args[@]}" "$@" "https://127.0.0.1:$proxy_port/" > "$output" 2>&1 ;;
  esac
}

# rate_and_p99 CLIENT OUTPUT: "REQ/S P99_US", or nothing when any answer
# was not 2xx.
rate_and_p99() {
  case $1 in
    h1|h1s)
      grep -q "Non-2xx\|Socket errors" "$2" && return 0
      printf '%s %s\n' "$(awk '/Requests\/sec/ { print $2 }' "$2")" \
        "$(awk '$1 == "99%" { print $2 }' "$2" | to_us)" ;;
    h2s)
      grep -q "status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" "$2" || return 0
      printf '%s %s\n' "$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$2")" \
        "$(percentiles "$2.log" 99)" ;;
  esac
}

# percentiles LOG P...: h2load's --log-file (start, status, microseconds)
# to the given percentiles of latency, in microseconds.
percentiles() {
  local log=$1
  shift
  cut -f3 "$log" | sort -n | awk -v ps="$*" '{ a[NR] = $1 } END {
    n = split(ps, p, " ")
    for (i = 1; i <= n; i++) { k = int(NR * p[i] / 100 + 0.999999); if (k < 1) k = 1; printf "%s%d", (i > 1 ? " " : ""), a[k] }
    print "" }'
}

peak_rss_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

run_row() { # ROW ROUND
  local name proxy config client base result peak=0
  read -r name proxy config client <<<"$1"
  base="$out/$name-round$2"
  headers_file
  start_proxy "$proxy" "$config"
  # A warm-up fills connection pools and plugin instance pools.
  load "$client" 3 "$base-warmup.txt" || true
  load "$client" "$duration" "$base.txt" || true
  [ "$proxy" = portcullis ] && peak=$(peak_rss_kb "$proxy_pid")
  stop_proxy
  result=$(rate_and_p99 "$client" "$base.txt")
  if [ -z "$result" ]; then
    echo "  $name round $2: answered with errors, not counted (see $base.txt)"
    return 0
  fi
  echo "$name $2 $result $peak" >> "$out/samples.txt"
  read -r rps p99 <<<"$result"
  printf '  %-27s round %s: %9.0f req/s  p99 %8.0f us\n' "$name" "$2" "$rps" "$p99"
}

machine_line
echo "throughput: wrk -t1 / h2load -t1 -m10, $connections connections, ${duration}s, $rounds rounds, rows alternated"
: > "$out/samples.txt"
for round in $(seq 1 "$rounds"); do
  for row in "${rows[@]}"; do run_row "$row" "$round"; done
done

summary() { column_of "$out/samples.txt" "$1" "$2" | median; }
{
  echo
  echo "| row | client | req/s (median) | min-max | p99 µs | vs nginx | p99 vs nginx | peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}"; do
    read -r name proxy config client <<<"$row"
    base=$(baseline_of "$client")
    grep -q "^$base " "$out/samples.txt" || base=$name
    awk -v name="$name" -v client="$client" -v rps="$(summary "$name" 3)" -v p99="$(summary "$name" 4)" \
      -v nr="$(summary "$base" 3)" -v np="$(summary "$base" 4)" -v rr="$(range_of "$out/samples.txt" "$name" 3)" \
      -v peak="$(summary "$name" 5)" -v proxy="$proxy" \
      'BEGIN { printf "| %s | %s | %.0f | %s | %.0f | %.2fx | %.2fx | %s |\n", name, client, rps, rr, p99, rps/nr, p99/np,
               (proxy == "portcullis" ? sprintf("%.1f", peak/1024) : "") }'
  done
  if grep -q "^nginx+modsec " "$out/samples.txt"; then
    for name in waf chain+waf; do
      grep -q "^$name " "$out/samples.txt" || continue
      awk -v name="$name" -v rps="$(summary "$name" 3)" -v m="$(summary nginx+modsec 3)" \
        'BEGIN { printf "\n%s vs nginx + ModSecurity (same CRS, PL1): %.2fx", name, rps/m }'
    done
    echo
  fi
} | tee "$out/results.md"

if [ "$latency_phase" = yes ] && grep -q "^nginx " "$out/samples.txt"; then
  rate=$(summary nginx 3 | awk '{ printf "%d", $1 / 2 }')
  per_client=$(( (rate + connections - 1) / connections ))
  echo
  echo "latency: h2load --h1 -c$connections --rps $per_client (${rate} req/s offered, half of nginx's median), ${duration}s, $rounds rounds"
  : > "$out/latency.txt"
  for round in $(seq 1 "$rounds"); do
    for row in "nginx nginx nginx" "haproxy haproxy haproxy.cfg" "plain portcullis plain.toml" "chain portcullis chain.toml"; do
      read -r name proxy config <<<"$row"
      headers_file
      start_proxy "$proxy" "$config"
      mapfile -d '' args < <(header_args)
      timeout $((duration + 60)) taskset -c 1 h2load --h1 -t1 -c"$connections" -D 2 "${args[@]}" \
        "http://127.0.0.1:$proxy_port/" >/dev/null 2>&1 || true
      timeout $((duration + 60)) taskset -c 1 h2load --h1 -t1 -c"$connections" --rps "$per_client" -D "$duration" \
        --log-file="$out/latency-$name-round$round.log" "${args[@]}" "http://127.0.0.1:$proxy_port/" \
        > "$out/latency-$name-round$round.txt" 2>&1 || true
      stop_proxy
      read -r p50 p99 p999 <<<"$(percentiles "$out/latency-$name-round$round.log" 50 99 99.9)"
      served=$(awk '/^finished in/ { gsub(",", "", $4); print $4 }' "$out/latency-$name-round$round.txt")
      echo "$name $round $p50 $p99 $p999 $served" >> "$out/latency.txt"
      printf '  %-8s round %s: %7.0f req/s  p50 %6d us  p99 %6d us  p99.9 %6d us\n' "$name" "$round" "$served" "$p50" "$p99" "$p999"
    done
  done
  {
    echo
    echo "| row | offered req/s | p50 µs | p99 µs | p99.9 µs | p99 vs nginx |"
    echo "|---|---|---|---|---|---|"
    for name in nginx haproxy plain chain; do
      awk -v name="$name" -v rate="$rate" -v p50="$(column_of "$out/latency.txt" $name 3 | median)" \
        -v p99="$(column_of "$out/latency.txt" $name 4 | median)" -v p999="$(column_of "$out/latency.txt" $name 5 | median)" \
        -v np99="$(column_of "$out/latency.txt" nginx 4 | median)" \
        'BEGIN { printf "| %s | %d | %.0f | %.0f | %.0f | %.2fx |\n", name, rate, p50, p99, p999, p99/np99 }'
    done
  } | tee -a "$out/results.md"
fi

if [ "$memory_phase" = yes ]; then
  echo
  echo "memory: resident set idle (after 3 requests) and with $idle_connections idle keep-alive connections"
  : > "$out/memory.txt"
  for row in "nginx nginx nginx" "haproxy haproxy haproxy.cfg" "plain portcullis plain.toml" "all-plugins portcullis all-plugins.toml"; do
    read -r name proxy config <<<"$row"
    start_proxy "$proxy" "$config"
    for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$proxy_port/"; done
    procs=($proxy_pid $(pgrep -P $proxy_pid || true))
    idle=$(for pid in "${procs[@]}"; do awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; done | awk '{ s += $1 } END { print s }')
    coproc CLIENTS { python3 "$root/tests/load/idle-clients.py" $proxy_port $idle_connections; }
    read -r ready <&"${CLIENTS[0]}"
    [ "$ready" = ready ] || { echo "the idle clients did not connect to $name"; exit 1; }
    held=$(for pid in "${procs[@]}"; do awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; done | awk '{ s += $1 } END { print s }')
    exec {CLIENTS[1]}>&-
    wait "$CLIENTS_PID" 2>/dev/null || true
    stop_proxy
    echo "$name $idle $held" >> "$out/memory.txt"
  done
  {
    echo
    echo "| proxy | idle MiB | with $idle_connections idle connections MiB | per connection KiB |"
    echo "|---|---|---|---|"
    awk -v n="$idle_connections" '{ printf "| %s | %.1f | %.1f | %.1f |\n", $1, $2/1024, $3/1024, ($3-$2)/n }' "$out/memory.txt"
  } | tee -a "$out/results.md"
fi
echo "raw output: $out"
