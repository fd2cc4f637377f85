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

machine_line
: > "$out/counts.txt"
for variant in quiet logged; do
  per=$(instructions_per_request "$variant" "$portcullis" run --workers 1 --config "$out/$variant.toml")
  echo "$variant $per" >> "$out/counts.txt"
  printf '  %-8s %8d instructions per request\n' "$variant" "$per"
done
awk '{ n[$1] = $2 } END { printf "\nlogged / quiet instructions: %.3f (cost %.1f%%)\n", n["logged"]/n["quiet"], (n["logged"]/n["quiet"]-1)*100 }' \
  "$out/counts.txt" | tee "$out/results.md"
echo "raw output: $out"
