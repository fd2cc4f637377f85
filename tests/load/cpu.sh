#!/usr/bin/env bash
# CPU time per request, user and system, for nginx and portcullis rows of
# bench.sh: each proxy (one worker, pinned to core 0) serves a warm-up and
# then REQUESTS requests of the bench's request from h2load (50
# connections, on core 1 with the upstream); the proxy's processes' user
# and system time over those requests, from /proc, divided by their
# number. Rows alternate over the rounds; medians and min-max.
#
# Callgrind (count.sh) counts user-space instructions only; this shows the
# kernel's side as well (the loopback TCP path, wake-ups of the upstream
# and the client on the other core), which is where a change in the order
# of a proxy's writes shows up. It varies less than throughput on a
# shared machine, as the time of other tenants is not counted.
#
#   tests/load/cpu.sh [--rows NAME,NAME...] [--rounds N] [--requests N]
#                     (default: nginx, plain, ip-filter, jwt; 3 rounds;
#                     100,000 requests)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
requests=100000
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) requests=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options ${args[@]+"${args[@]}"}
install_missing nginx:nginx h2load:nghttp2-client openssl:openssl curl:curl

crs="$root/../shared/corpora/owasp-crs-v4.28.0"

# shellcheck source=tests/load/bench-configs.sh
source "$root/tests/load/bench-configs.sh"

build_portcullis
prepare_rows
start_origin
write_configs

# cpu_ticks PID: user and system clock ticks of PID and its children.
cpu_ticks() {
  local total_user=0 total_system=0 pid fields
  for pid in "$1" $(pgrep -P "$1" || true); do
    read -ra fields < <(sed 's/^.*) //' "/proc/$pid/stat")
    # After the command name: state is field 3 of stat(5), so utime (14)
    # and stime (15) are at 11 and 12 here.
    total_user=$((total_user + fields[11]))
    total_system=$((total_system + fields[12]))
  done
  echo "$total_user $total_system"
}

# cpu_per_request NAME COMMAND...: start COMMAND, serve a warm-up, then
# print user and system microseconds per request over $requests.
cpu_per_request() {
  local name=$1 before after ticks_per_second
  shift
  taskset -c 0 "$@" > "$out/$name.log" 2>&1 &
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port 120
  taskset -c 1 h2load --h1 -n 20000 -c 50 ${h2load_headers[@]+"${h2load_headers[@]}"} \
    "http://127.0.0.1:$proxy_port/" > "$out/$name.warm-up.txt"
  before=$(cpu_ticks "$proxy_pid")
  taskset -c 1 h2load --h1 -n "$requests" -c 50 ${h2load_headers[@]+"${h2load_headers[@]}"} \
    "http://127.0.0.1:$proxy_port/" > "$out/$name.h2load.txt"
  after=$(cpu_ticks "$proxy_pid")
  grep -q "status codes: $requests 2xx" "$out/$name.h2load.txt" \
    || { echo "$name did not answer 2xx to every request:" >&2; cat "$out/$name.h2load.txt" >&2; exit 1; }
  stop_proxy
  ticks_per_second=$(getconf CLK_TCK)
  awk -v b="$before" -v a="$after" -v n="$requests" -v t="$ticks_per_second" 'BEGIN {
    split(b, x, " "); split(a, y, " ")
    printf "%.2f %.2f\n", (y[1] - x[1]) / t * 1e6 / n, (y[2] - x[2]) / t * 1e6 / n
  }'
}

rows=${rows_filter:-nginx,plain,ip-filter,jwt}
machine_line
: > "$out/cpu.txt"
IFS=, read -ra wanted <<<"$rows"
for round in $(seq 1 "$rounds"); do
  for row in "${wanted[@]}"; do
    per=$(measure_row cpu_per_request "$row")
    echo "$row $per" >> "$out/cpu.txt"
    printf '  round %d %-12s user %6s us  system %6s us a request\n' "$round" "$row" $per
  done
done
{
  echo
  echo "| row | user µs | system µs | total µs (median, min-max) | total vs nginx |"
  echo "|---|---|---|---|---|"
  awk '{ print $1, $2, $3, $2 + $3 }' "$out/cpu.txt" > "$out/cpu-totals.txt"
  nginx_total=$(column_of "$out/cpu-totals.txt" nginx 4 | median)
  for row in "${wanted[@]}"; do
    user=$(column_of "$out/cpu-totals.txt" "$row" 2 | median)
    system=$(column_of "$out/cpu-totals.txt" "$row" 3 | median)
    total=$(column_of "$out/cpu-totals.txt" "$row" 4 | median)
    ratio=$(awk -v t="$total" -v n="${nginx_total:-0}" 'BEGIN { if (n > 0) printf "%.2fx", t / n }')
    range=$(column_of "$out/cpu-totals.txt" "$row" 4 | sort -n \
      | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo, hi }')
    printf '| %s | %.2f | %.2f | %.2f (%s) | %s |\n' "$row" "$user" "$system" "$total" "$range" "$ratio"
  done
} | tee "$out/results.md"
echo "raw output: $out"
