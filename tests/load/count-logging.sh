#!/usr/bin/env bash
# What access logging and metrics cost, in instructions per request:
# callgrind counts the gateway's instructions (user space, all threads)
# while it serves 2,000 and then 6,000 requests; the difference over 4,000
# is the per-request count, start-up excluded. Unlike throughput on a
# shared machine, the count repeats to within a fraction of a percent, so
# it shows a 5% difference that wall-clock noise hides. Kernel time (the
# log file's writes) is not counted: compare-logging.sh measures it all.
#
#   tests/load/count-logging.sh
#
# The gateway runs with `virtual_memory = "compact"`: valgrind cannot map
# the terabytes of address space the default reserves for plugin memories.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
install_missing nginx:nginx valgrind:valgrind h2load:nghttp2-client

build_portcullis --noop

start_origin

# shellcheck source=tests/load/logging-config.sh
source "$root/tests/load/logging-config.sh"
compact='max_instances = 4
max_memory_mib = 64
virtual_memory = "compact"'
logging_config off false "$compact" > "$out/quiet.toml"
logging_config "$out/access.log" true "$compact" > "$out/logged.toml"

# instructions VARIANT REQUESTS: the gateway's total under callgrind.
instructions() {
  local prefix="$out/callgrind.$1.$2"
  RUST_LOG=warn taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$prefix.%p" \
    "$portcullis" run --workers 1 --config "$out/$1.toml" > "$out/$1.$2.log" 2>&1 &
  proxy_pid=$!
  pids+=($proxy_pid)
  # Start-up under valgrind takes a while.
  for _ in $(seq 1 1200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null && break
    sleep 0.1
  done
  taskset -c 1 h2load --h1 -n "$2" -c 10 "http://127.0.0.1:$proxy_port/" > "$out/$1.$2.h2load.txt"
  grep -q "$2 succeeded" "$out/$1.$2.h2load.txt" || { cat "$out/$1.$2.h2load.txt"; exit 1; }
  kill -INT "$proxy_pid"
  wait "$proxy_pid" || true
  cat "$prefix".* | awk '/^totals:/ { total += $2 } END { printf "%.0f\n", total }'
}

machine_line
: > "$out/counts.txt"
for variant in quiet logged; do
  few=$(instructions "$variant" 2000)
  many=$(instructions "$variant" 6000)
  per=$(( (many - few) / 4000 ))
  echo "$variant $per" >> "$out/counts.txt"
  printf '  %-8s %8d instructions per request\n' "$variant" "$per"
done
awk '{ n[$1] = $2 } END { printf "\nlogged / quiet instructions: %.3f (cost %.1f%%)\n", n["logged"]/n["quiet"], (n["logged"]/n["quiet"]-1)*100 }' \
  "$out/counts.txt" | tee "$out/results.md"
echo "raw output: $out"
