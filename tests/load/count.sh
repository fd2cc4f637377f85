#!/usr/bin/env bash
# Instructions per request, for nginx and for portcullis rows of bench.sh:
# callgrind counts each proxy's instructions (user space, every thread and
# process) while it serves 2,000 and then 6,000 requests of the bench's
# request, each after 1,000 uncounted ones that let plugin pools grow; the
# difference over 4,000 is the per-request count, start-up excluded. It
# repeats to within a fraction of a percent where throughput on this
# shared machine swings by 20%, so it shows where time goes; it
# leaves out kernel time (the loopback TCP path, about half of a proxy's
# CPU under load here), so its ratios are not throughput ratios.
#
#   tests/load/count.sh [--rows NAME,NAME...]   (default: nginx, plain,
#                        ip-filter, jwt, rbac, geo, chain; noop-3 is
#                        compare.sh's three trivial plugins)
#
# Portcullis runs with `virtual_memory = "compact"`: valgrind cannot map
# the address space the default reserves for plugin memories.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options "$@"
install_missing nginx:nginx valgrind:valgrind h2load:nghttp2-client openssl:openssl curl:curl
crs="$root/../shared/corpora/owasp-crs-v4.28.0"

# shellcheck source=tests/load/bench-configs.sh
source "$root/tests/load/bench-configs.sh"

build_portcullis --noop
prepare_rows
start_origin
# The chain row's three pools keep two instances ready each.
runtime_lines='max_instances = 8
max_memory_mib = 64
virtual_memory = "compact"'
write_configs
# Without an access log, as compare.sh runs it (and nginx).
noop_config 3 "" "$runtime_lines" '[logging]
access = "off"' > "$out/noop-3.toml"

rows=${rows_filter:-nginx,plain,ip-filter,jwt,rbac,geo,chain}
# nginx's worker drops to an unprivileged user and must write its profile.
chmod a+rwx "$out"

machine_line
: > "$out/counts.txt"
IFS=, read -ra wanted <<<"$rows"
for row in "${wanted[@]}"; do
  per=$(measure_row instructions_per_request "$row")
  echo "$row $per" >> "$out/counts.txt"
  printf '  %-12s %8d instructions per request\n' "$row" "$per"
done
{
  echo
  echo "| row | instructions per request | vs nginx | over plain portcullis |"
  echo "|---|---|---|---|"
  awk '{ n[NR] = $1; v[NR] = $2; by[$1] = $2 } END {
    for (i = 1; i <= NR; i++)
      printf "| %s | %d | %s | %s |\n", n[i], v[i],
        ("nginx" in by ? sprintf("%.2fx", v[i] / by["nginx"]) : ""),
        ("plain" in by && n[i] != "nginx" ? sprintf("%+d", v[i] - by["plain"]) : "")
  }' "$out/counts.txt"
} | tee "$out/results.md"
echo "raw output: $out"
