#!/usr/bin/env bash
# What access logging and metrics cost: portcullis with three trivial Wasm
# plugins, once with the access log and metrics off and once with both on
# (access lines to a file), alternated A/B for several rounds on the same
# upstream, one worker pinned to core 0, wrk and the upstream on core 1.
# Prints the medians and the ratio on/off (target: at least 0.95).
#
#   tests/load/compare-logging.sh [--duration SECONDS] [--rounds N] [--connections N]
#
# Raw wrk output and the configs used are kept in target/load/<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options "$@"
install_missing nginx:nginx wrk:wrk

build_portcullis --noop

start_origin

# shellcheck source=tests/load/logging-config.sh
source "$root/tests/load/logging-config.sh"
logging_config off false > "$out/quiet.toml"
logging_config "$out/access.log" true > "$out/logged.toml"

run_one() { # $1 = quiet | logged, $2 = round
  RUST_LOG=warn taskset -c 0 "$portcullis" run --workers 1 --config "$out/$1.toml" >"$out/$1.log" 2>&1 &
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port
  taskset -c 1 wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$proxy_port/" >/dev/null
  taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency \
    "http://127.0.0.1:$proxy_port/" > "$out/$1-round$2.txt"
  if ! grep -q "Requests/sec" "$out/$1-round$2.txt" || grep -q "Non-2xx" "$out/$1-round$2.txt"; then
    echo "$1 answered with errors:"; cat "$out/$1-round$2.txt"; exit 1
  fi
  stop_proxy
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' "$out/$1-round$2.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$out/$1-round$2.txt" | to_us)
  echo "$1 $2 $rps $p99" >> "$out/samples.txt"
  printf '  %-8s round %s: %10.0f req/s  p99 %8.0f us\n' "$1" "$2" "$rps" "$p99"
}

machine_line
echo "load: wrk -t1 -c$connections -d${duration}s, $rounds rounds, alternated"
: > "$out/samples.txt"
for round in $(seq 1 "$rounds"); do
  for variant in quiet logged; do
    run_one "$variant" "$round"
  done
done

summary() { column_of "$out/samples.txt" "$1" "$2" | median; }
quiet_rps=$(summary quiet 3)
logged_rps=$(summary logged 3)
{
  echo
  echo "| variant | req/s (median) | min-max | p99 us (median) |"
  echo "|---|---|---|---|"
  for variant in quiet logged; do
    awk -v name="$variant" -v rps="$(summary "$variant" 3)" -v p99="$(summary "$variant" 4)" \
      -v rr="$(range_of "$out/samples.txt" "$variant" 3)" \
      'BEGIN { printf "| %s | %.0f | %s | %.0f |\n", name, rps, rr, p99 }'
  done
  awk -v l="$logged_rps" -v q="$quiet_rps" 'BEGIN { printf "\nlogged / quiet throughput: %.3f\n", l/q }'
  echo "quiet: access log and metrics off; logged: an access line per request to a file, metrics on."
  echo "access lines written: $(wc -l < "$out/access.log")"
} | tee "$out/results.md"
echo "raw output: $out"
